"""Queries and writes the assistant needs; every function takes an open Session."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Optional, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.catalogue import load_catalogue
from bot.db.models import (
    FINAL_STATUSES, LEGACY_STATUSES, REQUEST_STATUSES, Bill, Customer, PlannedOutage, RequestStatusHistory,
    ServiceRequest,
)
from bot.identifiers import normalise_request_code
from bot.localtime import LOCAL_TZ, as_utc, utcnow
from bot.localtime import today as local_today
from bot.text import fold
from bot.workdays import add_working_days

# Codes are read out over the phone: no 0/O, 1/I/L, and a fixed "YC" (yêu cầu) prefix.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6  # bot.identifiers.REQUEST_CODE_RE reads these codes back


def new_request_code() -> str:
    return "YC" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True)
class NewRequest:
    service: str
    fields: dict[str, Any]
    idempotency_key: str
    channel: str = "unknown"
    conversation_id: str = ""
    customer_code: Optional[str] = None
    phone: Optional[str] = None


def create_request(session: Session, new: NewRequest, *, today: Optional[date] = None) -> tuple[ServiceRequest, bool]:
    """Store a request once per idempotency key; returns (request, created).

    Uniqueness is enforced by the database (unique code and key), so concurrent callers in other
    processes are safe: a code collision retries with a fresh code, a key collision returns the
    row the other caller stored.
    """
    existing = find_by_idempotency_key(session, new.idempotency_key)
    if existing is not None:
        return existing, False
    service = load_catalogue().service(new.service)
    route = load_catalogue().route(new.customer_code) if new.customer_code else None
    due = add_working_days(today or date.today(), service.due_working_days)
    for _ in range(10):
        request = ServiceRequest(
            code=new_request_code(), idempotency_key=new.idempotency_key, service=new.service,
            status="received", priority=service.priority, channel=new.channel,
            conversation_id=new.conversation_id, customer_code=new.customer_code, phone=new.phone,
            corporation=route.code if route else None, fields=dict(new.fields), due_date=due,
        )
        request.history.append(RequestStatusHistory(status="received", note="Tiếp nhận qua trợ lý ảo"))
        try:
            with session.begin_nested():
                session.add(request)
                session.flush()
            return request, True
        except IntegrityError:
            existing = find_by_idempotency_key(session, new.idempotency_key)
            if existing is not None:
                return existing, False
    raise RuntimeError("could not allocate a unique request code")


def find_by_idempotency_key(session: Session, key: str) -> Optional[ServiceRequest]:
    return session.scalars(select(ServiceRequest).where(ServiceRequest.idempotency_key == key)).first()


def find_request(session: Session, code: str) -> Optional[ServiceRequest]:
    normalised = normalise_request_code(code) or code.strip().upper()
    return session.scalars(select(ServiceRequest).where(ServiceRequest.code == normalised)).first()


def requests_by_phone(session: Session, phone: str, limit: int = 5) -> Sequence[ServiceRequest]:
    stmt = (select(ServiceRequest).where(ServiceRequest.phone == phone)
            .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc()).limit(limit))
    return session.scalars(stmt).all()


def list_requests(session: Session, limit: int = 50) -> Sequence[ServiceRequest]:
    stmt = select(ServiceRequest).order_by(ServiceRequest.id.desc()).limit(limit)
    return session.scalars(stmt).all()


@dataclass(frozen=True)
class RequestFilter:
    """The request desk's filters; None means any."""
    status: Optional[str] = None
    service: Optional[str] = None
    corporation: Optional[str] = None
    channel: Optional[str] = None
    created_from: Optional[date] = None  # Vietnam dates, inclusive
    created_to: Optional[date] = None
    overdue: bool = False  # due date passed and not done / rejected
    text: Optional[str] = None  # request code, customer code or phone


def _statuses(status: str) -> list[str]:
    """A status and the old stored values that mean it."""
    return [status] + [old for old, new in LEGACY_STATUSES.items() if new == status]


def _matching(flt: RequestFilter, today: Optional[date]) -> list[Any]:
    """The WHERE conditions of the desk's filters."""
    conditions: list[Any] = []
    if flt.status:
        conditions.append(ServiceRequest.status.in_(_statuses(flt.status)))
    for column, value in ((ServiceRequest.service, flt.service), (ServiceRequest.corporation, flt.corporation),
                          (ServiceRequest.channel, flt.channel)):
        if value:
            conditions.append(column == value)
    if flt.created_from:
        start = datetime.combine(flt.created_from, datetime.min.time(), LOCAL_TZ)
        conditions.append(ServiceRequest.created_at >= as_utc(start))
    if flt.created_to:
        end = datetime.combine(flt.created_to, datetime.max.time(), LOCAL_TZ)
        conditions.append(ServiceRequest.created_at <= as_utc(end))
    if flt.overdue:
        final = [s for f in FINAL_STATUSES for s in _statuses(f)]
        conditions += [ServiceRequest.due_date < (today or local_today()), ServiceRequest.status.not_in(final)]
    if flt.text:
        needle = flt.text.strip().upper()
        conditions.append((ServiceRequest.code == needle) | (ServiceRequest.customer_code == needle)
                          | (ServiceRequest.phone == flt.text.strip()))
    return conditions


def search_requests(session: Session, flt: RequestFilter, *, today: Optional[date] = None,
                    limit: int = 200, before_id: Optional[int] = None) -> Sequence[ServiceRequest]:
    """Requests matching the desk's filters, newest first; `before_id` continues a list (keyset paging)."""
    stmt = select(ServiceRequest).where(*_matching(flt, today))
    if before_id is not None:
        stmt = stmt.where(ServiceRequest.id < before_id)
    return session.scalars(stmt.order_by(ServiceRequest.id.desc()).limit(limit)).all()


def count_requests(session: Session, flt: RequestFilter, *, today: Optional[date] = None) -> int:
    """How many requests match the desk's filters."""
    return session.scalar(select(func.count(ServiceRequest.id)).where(*_matching(flt, today))) or 0


def set_status(session: Session, request: ServiceRequest, status: str, note: str = "",
               agent_id: Optional[int] = None) -> RequestStatusHistory:
    """Move a request to `status` and keep the change in its history (the same status again adds a note)."""
    if status not in REQUEST_STATUSES:
        raise ValueError(f"status must be one of {REQUEST_STATUSES}")
    request.status = status
    request.updated_at = utcnow()
    entry = RequestStatusHistory(status=status, note=note.strip(), agent_id=agent_id, changed_at=utcnow())
    request.history.append(entry)
    session.flush()
    return entry


def get_customer(session: Session, customer_code: str) -> Optional[Customer]:
    return session.get(Customer, customer_code.strip().upper())


def corporation_has_customers(session: Session, corporation: str) -> bool:
    """True once the operator loaded any customer of this corporation (enables existence checks)."""
    stmt = select(Customer.customer_code).where(Customer.corporation == corporation).limit(1)
    return session.scalars(stmt).first() is not None


def latest_bills(session: Session, customer_code: str, limit: int = 3) -> Sequence[Bill]:
    stmt = (select(Bill).where(Bill.customer_code == customer_code.upper())
            .order_by(Bill.period.desc()).limit(limit))
    return session.scalars(stmt).all()


def unpaid_total(session: Session, customer_code: str) -> int:
    """Sum of unpaid bills in đồng."""
    stmt = select(func.coalesce(func.sum(Bill.amount), 0)).where(
        Bill.customer_code == customer_code.upper(), Bill.paid.is_(False))
    return int(session.scalar(stmt))


def planned_outages(
    session: Session, *, customer_code: Optional[str] = None, area: Optional[str] = None,
    start: Optional[datetime] = None, end: Optional[datetime] = None,
) -> Sequence[PlannedOutage]:
    """Outages overlapping [start, end] for a customer's unit code and/or an area text."""
    start = as_utc(start or utcnow())
    stmt = select(PlannedOutage).where(PlannedOutage.end_at >= start)
    if end is not None:
        stmt = stmt.where(PlannedOutage.start_at <= as_utc(end))
    rows = session.scalars(stmt.order_by(PlannedOutage.start_at)).all()
    unit = customer_code.strip().upper()[:6] if customer_code else None
    needle = fold(area) if area else None
    return [
        o for o in rows
        if (unit and o.unit_code == unit)
        or (needle and (_has_words(fold(o.area), needle) or _has_words(needle, fold(o.area))))
    ]


def _has_words(haystack: str, words: str) -> bool:
    """Whole words only: 'ba' is not in 'bach mai', 'hoan kiem' is in 'phuong hoan kiem, ha noi'."""
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", haystack) is not None
