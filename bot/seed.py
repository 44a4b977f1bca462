"""Deterministic demo data: customers of all five corporations, 12 months of bills, planned outages.

Fixed seed, so two runs on the same day produce the same rows; bill periods and outages are placed
relative to today so the demo always has recent bills and upcoming outages.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.catalogue import load_catalogue
from bot.db.models import Bill, Customer, PlannedOutage
from bot.localtime import LOCAL_TZ, as_utc
from bot.settings import get_settings

SEED = 20251122


@dataclass(frozen=True)
class Unit:
    code: str          # first 6 characters of the customer codes it serves
    areas: tuple[str, ...]


UNITS = (
    Unit("PD0100", ("phường Hoàn Kiếm, Hà Nội", "phường Cửa Nam, Hà Nội")),
    Unit("PD0200", ("phường Hai Bà Trưng, Hà Nội", "phường Bạch Mai, Hà Nội")),
    Unit("PE0100", ("phường Sài Gòn, TP Hồ Chí Minh", "phường Bến Thành, TP Hồ Chí Minh")),
    Unit("PE0400", ("phường Gia Định, TP Hồ Chí Minh", "phường Bình Thạnh, TP Hồ Chí Minh")),
    Unit("PB0400", ("phường Thủ Dầu Một, TP Hồ Chí Minh", "phường Dĩ An, TP Hồ Chí Minh")),
    Unit("PA0100", ("phường Nam Định, tỉnh Ninh Bình", "xã Hải Hậu, tỉnh Ninh Bình")),
    Unit("PA0300", ("phường Hạ Long, tỉnh Quảng Ninh", "phường Cẩm Phả, tỉnh Quảng Ninh")),
    Unit("PP0100", ("phường Hải Châu, TP Đà Nẵng", "phường Sơn Trà, TP Đà Nẵng")),
    Unit("PC0300", ("phường Thuận Hóa, TP Huế", "xã Phú Vang, TP Huế")),
    Unit("PB0600", ("phường Tân An, tỉnh Tây Ninh", "xã Đức Hòa, tỉnh Tây Ninh")),
    Unit("PK0100", ("phường Biên Hòa, tỉnh Đồng Nai", "phường Long Bình, tỉnh Đồng Nai")),
)
SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ")
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Thanh", "Ngọc", "Quang", "Thu", "Hữu", "Kim")
GIVEN = ("An", "Bình", "Cường", "Dung", "Giang", "Hà", "Hải", "Hòa", "Hùng", "Lan", "Long", "Mai",
         "Nam", "Nga", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Việt", "Yến")
STREETS = ("Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung",
           "Phan Chu Trinh", "Nguyễn Huệ", "Hùng Vương", "Điện Biên Phủ")
PREFIXES = ("090", "091", "093", "094", "096", "097", "098", "032", "035", "038", "070", "077", "083", "086")
REASONS = ("Bảo dưỡng, sửa chữa lưới điện", "Thay máy biến áp", "Lắp đặt thiết bị đóng cắt",
           "Phát quang hành lang tuyến", "Nâng cấp đường dây trung áp")
CUSTOMERS_PER_UNIT = 4


def _customers(rng: random.Random) -> list[Customer]:
    catalogue, rows = load_catalogue(), []
    for unit in UNITS:
        for _ in range(CUSTOMERS_PER_UNIT):
            code = f"{unit.code}{rng.randrange(10**6, 10**7):07d}"
            name = f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
            address = f"Số {rng.randint(1, 250)} {rng.choice(STREETS)}, {rng.choice(unit.areas)}"
            phone = f"{rng.choice(PREFIXES)}{rng.randrange(10**7):07d}"
            id_number = f"0{rng.randint(1, 96):02d}{rng.choice('0123')}{rng.randint(60, 99) % 100:02d}{rng.randrange(10**6):06d}"
            rows.append(Customer(customer_code=code, full_name=name, phone=phone, id_number=id_number,
                                 address=address, corporation=catalogue.route(code).code))
    return rows


def _months_back(today: date, count: int) -> list[date]:
    first = today.replace(day=1)
    months = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        months.append(first)
    return months


def _bills(rng: random.Random, customers: list[Customer], today: date) -> list[Bill]:
    tariff, vat = load_catalogue().tariff, get_settings().vat_rate
    rows = []
    for customer in customers:
        base = rng.randint(90, 450)
        unpaid_recent = rng.random() < 0.35
        for i, month in enumerate(_months_back(today, 12)):
            kwh = max(20, int(base * rng.uniform(0.75, 1.3)))
            due = (month + timedelta(days=40)).replace(day=15)
            rows.append(Bill(customer_code=customer.customer_code, period=month.strftime("%Y-%m"), kwh=kwh,
                             amount=tariff.cost(kwh, vat)[2], due_date=due, paid=not (i == 0 and unpaid_recent)))
    return rows


def _outages(rng: random.Random, today: date) -> list[PlannedOutage]:
    tz, rows = LOCAL_TZ, []
    for unit in UNITS:
        for _ in range(rng.randint(1, 2)):
            day = today + timedelta(days=rng.randint(1, 14))
            start = datetime.combine(day, time(rng.choice((6, 7, 8, 13)), 0), tz)
            rows.append(PlannedOutage(unit_code=unit.code, area=rng.choice(unit.areas), start_at=as_utc(start),
                                      end_at=as_utc(start + timedelta(hours=rng.choice((3, 4, 5, 8)))),
                                      reason=rng.choice(REASONS)))
    return rows


def is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Customer)) == 0


def seed(session: Session, today: date | None = None) -> dict[str, int]:
    """Insert demo data; the caller decides whether the database may receive it (see is_empty)."""
    rng, today = random.Random(SEED), today or date.today()
    customers = _customers(rng)
    bills, outages = _bills(rng, customers, today), _outages(rng, today)
    session.add_all(customers)
    session.flush()
    session.add_all(bills + outages)
    session.flush()
    return {"customers": len(customers), "bills": len(bills), "outages": len(outages)}
