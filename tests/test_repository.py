"""Repository tests, run against SQLite and PostgreSQL alike (fixture any_db_url)."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.db import repository
from bot.db.models import Bill, Customer, PlannedOutage, ServiceRequest
from bot.db.repository import NewRequest, create_request, find_request
from bot.db.session import session_scope
from bot.identifiers import normalise_request_code
from sqlalchemy import func, select


def _new(key: str, **kw) -> NewRequest:
    base = dict(service="meter_relocation", fields={"full_name": "Nguyễn Văn An", "new_location": "đầu ngõ"},
                idempotency_key=key, channel="rest", conversation_id="c1",
                customer_code="PD01000123456", phone="0912345678")
    base.update(kw)
    return NewRequest(**base)


def test_create_and_find(any_db_url):
    with session_scope() as s:
        req, created = create_request(s, _new("k1"), today=date(2026, 11, 20))
        code = req.code
    assert created and len(code) == 8 and code.startswith("YC")
    with session_scope() as s:
        found = find_request(s, code.lower())
        assert found.service == "meter_relocation" and found.status == "received"
        assert found.due_date == date(2026, 11, 27)  # Fri + 5 working days
        assert found.corporation == "EVNHANOI" and found.priority == "normal"
        assert found.fields["full_name"] == "Nguyễn Văn An"   # UTF-8 round trip
        assert [h.status for h in found.history] == ["received"]
        assert [r.code for r in repository.requests_by_phone(s, "0912345678")] == [code]


def test_outage_report_is_urgent_and_due_today(any_db_url):
    with session_scope() as s:
        req, _ = create_request(s, _new("k-out", service="outage_report"), today=date(2026, 11, 22))
        assert req.priority == "urgent" and req.due_date == date(2026, 11, 22)


def test_create_is_idempotent(any_db_url):
    with session_scope() as s:
        first, created1 = create_request(s, _new("same-key"))
    with session_scope() as s:
        again, created2 = create_request(s, _new("same-key"))
        count = s.scalar(select(func.count()).select_from(ServiceRequest))
    assert created1 and not created2 and again.code == first.code and count == 1


def _in_threads(n: int, work) -> list:
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_concurrent_creations_get_unique_codes(any_db_url, monkeypatch):
    # A tiny code space forces collisions, so the retry path is exercised, not just luck.
    pool = iter([f"YCAAAA{c}{d}" for c in "BCDEFG" for d in "BCDEFGH" for _ in range(2)])
    lock = threading.Lock()

    def next_code():
        with lock:
            return next(pool)

    monkeypatch.setattr(repository, "new_request_code", next_code)

    def work(i):
        with session_scope() as s:
            return create_request(s, _new(f"key-{i}"))[0].code

    codes = _in_threads(16, work)
    assert len(set(codes)) == 16


def test_concurrent_duplicate_submissions_store_once(any_db_url):
    def work(_i):
        with session_scope() as s:
            return create_request(s, _new("retry-key"))[0].code

    codes = _in_threads(8, work)
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(ServiceRequest)) == 1
    assert len(set(codes)) == 1


def test_normalise_request_code():
    assert normalise_request_code("mã hồ sơ yc-7k4m9p nhé") == "YC7K4M9P"
    assert normalise_request_code("YC 7K4M9P") == "YC7K4M9P"
    assert normalise_request_code("YC1234OO") is None  # 0/O/1/I are never used


def test_bills_and_unpaid_total(any_db_url):
    with session_scope() as s:
        s.add(Customer(customer_code="PE0400123456", full_name="Trần Thị Bình", phone="0987654321",
                       address="Số 5 Lê Lợi, phường Bến Thành", corporation="EVNHCMC"))
        s.flush()
        for period, amount, paid in [("2026-08", 500000, True), ("2026-09", 600000, False), ("2026-10", 700000, False)]:
            s.add(Bill(customer_code="PE0400123456", period=period, kwh=200, amount=amount,
                       due_date=date(2026, 11, 15), paid=paid))
    with session_scope() as s:
        assert [b.period for b in repository.latest_bills(s, "pe0400123456", limit=2)] == ["2026-10", "2026-09"]
        assert repository.unpaid_total(s, "PE0400123456") == 1300000
        assert repository.corporation_has_customers(s, "EVNHCMC")
        assert not repository.corporation_has_customers(s, "EVNCPC")
        assert repository.get_customer(s, "pe0400123456").full_name == "Trần Thị Bình"


def test_planned_outages_by_unit_and_area(any_db_url):
    now = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)
    with session_scope() as s:
        s.add_all([
            PlannedOutage(unit_code="PD0100", area="phường Hoàn Kiếm, Hà Nội", start_at=now + timedelta(days=1),
                          end_at=now + timedelta(days=1, hours=4), reason="Bảo dưỡng"),
            PlannedOutage(unit_code="PE0100", area="phường Bến Thành, TP Hồ Chí Minh", start_at=now - timedelta(days=3),
                          end_at=now - timedelta(days=3, hours=-2), reason="Đã qua"),
        ])
    with session_scope() as s:
        by_code = repository.planned_outages(s, customer_code="PD01000123456", start=now)
        assert [o.reason for o in by_code] == ["Bảo dưỡng"]
        by_area = repository.planned_outages(s, area="hoan kiem", start=now)
        assert [o.unit_code for o in by_area] == ["PD0100"]
        assert repository.planned_outages(s, area="ben thanh", start=now) == []  # already over
        assert repository.planned_outages(s, area="Kiế", start=now) == []  # whole words only
        address = "Số 5 Tràng Tiền, phường Hoàn Kiếm, Hà Nội"  # an address containing the outage area
        assert [o.unit_code for o in repository.planned_outages(s, area=address, start=now)] == ["PD0100"]
        assert repository.planned_outages(s, area="hoan kiem", start=now, end=now + timedelta(hours=1)) == []
