"""CSV imports for operator data: customers, bills, planned outages.

Each import is one transaction: every row is checked first; if any row is bad, all problems are
reported with their line numbers and nothing from the file is written.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalogue import load_catalogue
from bot.db.models import Bill, Customer, PlannedOutage
from bot.identifiers import CUSTOMER_CODE_RE
from bot.localtime import LOCAL_TZ, as_utc
from bot.validators import normalise_phone, validate_id_number

PHONE_CHARS_RE = re.compile(r"^[\d\s.\-()+]+$")
PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ImportFailed(Exception):
    """Raised with every bad row of a file; nothing was written."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def _rows(path: Path, required: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ImportFailed([f"dòng 1: thiếu cột {', '.join(missing)}"])
        # line numbers as an editor shows them: the header is line 1
        return [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader]


def _check_all(rows, parse: Callable[[dict[str, str]], object]) -> list[object]:
    parsed, errors = [], []
    for line, row in rows:
        try:
            parsed.append(parse(row))
        except ValueError as exc:
            errors.append(f"dòng {line}: {exc}")
    if errors:
        raise ImportFailed(errors)
    return parsed


def _phone_field(raw: str) -> str:
    """A CSV field must hold only the number (any common format), unlike a chat message."""
    phone = normalise_phone(raw) if PHONE_CHARS_RE.match(raw) else None
    if not phone:
        raise ValueError(f"số điện thoại không hợp lệ '{raw}'")
    return phone


def _customer(row: dict[str, str]) -> dict:
    code = row["customer_code"].upper()
    if not CUSTOMER_CODE_RE.match(code):
        raise ValueError(f"mã khách hàng không hợp lệ '{row['customer_code']}'")
    corp = load_catalogue().route(code)
    if corp is None:
        raise ValueError(f"mã khách hàng '{code}' không thuộc tổng công ty điện lực nào")
    if not (2 <= len(row["full_name"]) <= 120):
        raise ValueError("thiếu họ tên")
    id_number = row.get("id_number", "")
    if id_number:
        check = validate_id_number(id_number)
        if not check.ok or check.value != id_number:
            raise ValueError(f"số CCCD/CMND không hợp lệ '{id_number}'")
    phone = _phone_field(row["phone"]) if row.get("phone") else None
    return dict(customer_code=code, full_name=row["full_name"], phone=phone, id_number=id_number or None,
                address=row.get("address", ""), corporation=corp.code)


def import_customers(session: Session, path: Path) -> ImportResult:
    rows = _check_all(_rows(path, ["customer_code", "full_name", "phone", "id_number", "address"]), _customer)
    _no_duplicates(rows, "customer_code", path)
    return _upsert(session, Customer, rows, lambda v: session.get(Customer, v["customer_code"]))


def _upsert(session: Session, model: type, rows: list[dict], find: Callable[[dict], object]) -> ImportResult:
    """Insert new rows, update the ones `find` returns."""
    created = updated = 0
    for values in rows:
        existing = find(values)
        if existing is None:
            session.add(model(**values))
            created += 1
        else:
            for key, value in values.items():
                setattr(existing, key, value)
            updated += 1
    session.flush()
    return ImportResult(created, updated)


def _no_duplicates(rows: list[dict], key: str, path: Path) -> None:
    seen: set = set()
    dups = sorted({r[key] for r in rows if r[key] in seen or seen.add(r[key])})
    if dups:
        raise ImportFailed([f"{path.name}: trùng {key}: {', '.join(map(str, dups))}"])


def _parse_date(raw: str, what: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"{what} không hợp lệ '{raw}' (dạng YYYY-MM-DD hoặc dd/mm/yyyy)")


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "y", "co", "có", "x"}:
        return True
    if value in {"0", "false", "no", "n", "khong", "không", ""}:
        return False
    raise ValueError(f"giá trị paid không hợp lệ '{raw}' (1/0)")


def _bill(row: dict[str, str]) -> dict:
    if not PERIOD_RE.match(row["period"]):
        raise ValueError(f"kỳ hóa đơn không hợp lệ '{row['period']}' (dạng YYYY-MM)")
    try:
        kwh = int(row["kwh"])
        amount = int(row["amount"].replace(".", "").replace(",", ""))
    except ValueError:
        raise ValueError("kwh và amount phải là số") from None
    if kwh < 0 or amount < 0:
        raise ValueError("kwh và amount không được âm")
    return dict(customer_code=row["customer_code"].upper(), period=row["period"], kwh=kwh, amount=amount,
                due_date=_parse_date(row["due_date"], "hạn thanh toán"), paid=_parse_bool(row.get("paid", "")))


def import_bills(session: Session, path: Path) -> ImportResult:
    raw = _rows(path, ["customer_code", "period", "kwh", "amount", "due_date", "paid"])
    rows = _check_all(raw, _bill)
    known = set(session.scalars(select(Customer.customer_code).where(
        Customer.customer_code.in_({r["customer_code"] for r in rows}))))
    unknown = [f"dòng {line}: khách hàng '{r['customer_code']}' chưa có trong danh sách khách hàng"
               for (line, _), r in zip(raw, rows) if r["customer_code"] not in known]
    if unknown:
        raise ImportFailed(unknown)
    return _upsert(session, Bill, rows, lambda v: session.scalars(select(Bill).where(
        Bill.customer_code == v["customer_code"], Bill.period == v["period"])).first())


def _local_moment(raw: str, what: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"):
        try:
            return as_utc(datetime.strptime(raw, fmt).replace(tzinfo=LOCAL_TZ))
        except ValueError:
            pass
    raise ValueError(f"{what} không hợp lệ '{raw}' (dạng YYYY-MM-DD HH:MM, giờ Việt Nam)")


def _outage(row: dict[str, str]) -> dict:
    unit = row.get("unit_code", "").upper()
    if unit and not re.match(r"^P[A-Z][A-Z0-9]{4}$", unit):
        raise ValueError(f"mã đơn vị không hợp lệ '{unit}' (6 ký tự đầu của mã khách hàng)")
    if not row["area"]:
        raise ValueError("thiếu khu vực (area)")
    start, end = _local_moment(row["start"], "thời điểm bắt đầu"), _local_moment(row["end"], "thời điểm kết thúc")
    if end <= start:
        raise ValueError("thời điểm kết thúc phải sau thời điểm bắt đầu")
    return dict(unit_code=unit, area=row["area"], start_at=start, end_at=end, reason=row.get("reason", ""))


def import_outages(session: Session, path: Path) -> ImportResult:
    rows = _check_all(_rows(path, ["unit_code", "area", "start", "end", "reason"]), _outage)
    return _upsert(session, PlannedOutage, rows, lambda v: session.scalars(select(PlannedOutage).where(
        PlannedOutage.unit_code == v["unit_code"], PlannedOutage.area == v["area"],
        PlannedOutage.start_at == v["start_at"])).first())


IMPORTERS = {"customers": import_customers, "bills": import_bills, "outages": import_outages}
