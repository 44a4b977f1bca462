"""The operator command line, run as a real subprocess against a temporary SQLite database."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from bot.db.models import Bill, Customer, PlannedOutage
from bot.db.session import session_scope

CUSTOMERS = """customer_code,full_name,phone,id_number,address,note
PD01000123456,Nguyễn Thị Hoà,0912 345 678,001203004567,"Số 12 ngõ 34 Phố Huế, Hà Nội",vip
pe0400123456,Trần Văn Bình,+84987654321,,"Số 5 Lê Lợi, phường Bến Thành",
"""


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=db_url)
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def csv_file(tmp_path):
    def write(name: str, content: str):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        return str(path)
    return write


def test_import_customers_round_trips_utf8_and_updates(db_url, csv_file):
    result = cli(db_url, "import", "customers", csv_file("c.csv", CUSTOMERS))
    assert result.returncode == 0, result.stderr
    assert "2 mới, 0 cập nhật" in result.stdout
    again = cli(db_url, "import", "customers", csv_file("c2.csv", CUSTOMERS.replace("Trần Văn Bình", "Trần Văn Bính")))
    assert "0 mới, 2 cập nhật" in again.stdout
    with session_scope() as s:
        hoa = s.get(Customer, "PD01000123456")
        assert (hoa.full_name, hoa.phone, hoa.corporation) == ("Nguyễn Thị Hoà", "0912345678", "EVNHANOI")
        binh = s.get(Customer, "PE0400123456")
        assert (binh.full_name, binh.phone, binh.id_number) == ("Trần Văn Bính", "0987654321", None)


def test_malformed_rows_reported_and_nothing_written(db_url, csv_file):
    bad = CUSTOMERS + "PX12,Lê Văn C,0912345678,,Huế\nPC0300123456,Phạm D,12345,,Huế\nPC0300123457,Phạm E,0912345678,0991234567,Huế\n"
    result = cli(db_url, "import", "customers", csv_file("bad.csv", bad))
    assert result.returncode == 1
    assert "dòng 4: mã khách hàng không hợp lệ 'PX12'" in result.stderr
    assert "dòng 5: số điện thoại không hợp lệ '12345'" in result.stderr
    assert "dòng 6: số CCCD/CMND không hợp lệ '0991234567'" in result.stderr
    assert "không dòng nào được ghi" in result.stderr
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_missing_column_is_reported(db_url, csv_file):
    result = cli(db_url, "import", "customers", csv_file("x.csv", "customer_code,full_name\nPD01000123456,A B\n"))
    assert result.returncode == 1 and "thiếu cột phone, id_number, address" in result.stderr


def test_import_bills_and_outages(db_url, csv_file):
    cli(db_url, "import", "customers", csv_file("c.csv", CUSTOMERS))
    bills = ("customer_code,period,kwh,amount,due_date,paid\n"
             "PD01000123456,2026-09,250,620000,2026-10-15,1\n"
             "PD01000123456,2026-10,300,798660,15/11/2026,0\n")
    assert cli(db_url, "import", "bills", csv_file("b.csv", bills)).returncode == 0
    bad_bills = bills + "PD09999999999,2026-10,1,1,2026-11-15,0\nPD01000123456,2026-13,1,1,2026-11-15,0\n"
    result = cli(db_url, "import", "bills", csv_file("bb.csv", bad_bills))
    assert result.returncode == 1 and "dòng 5: kỳ hóa đơn không hợp lệ '2026-13'" in result.stderr
    outages = ("unit_code,area,start,end,reason\n"
               "PD0100,\"phường Hoàn Kiếm, Hà Nội\",2026-12-01 08:00,2026-12-01 12:00,Bảo dưỡng đường dây\n")
    assert cli(db_url, "import", "outages", csv_file("o.csv", outages)).returncode == 0
    result = cli(db_url, "import", "outages", csv_file("oo.csv", outages + "PD0100,X,2026-12-01 08:00,2026-12-01 07:00,\n"))
    assert result.returncode == 1 and "dòng 3: thời điểm kết thúc phải sau thời điểm bắt đầu" in result.stderr
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Bill)) == 2
        outage = s.scalars(select(PlannedOutage)).one()
        assert outage.reason == "Bảo dưỡng đường dây" and outage.start_at.hour == 1  # 08:00 in Vietnam = 01:00 UTC


def test_seed_only_into_empty_database_and_requests_list(db_url):
    first = cli(db_url, "seed")
    assert first.returncode == 0 and "Đã nạp dữ liệu mẫu" in first.stdout
    assert "bỏ qua dữ liệu mẫu" in cli(db_url, "seed").stdout
    with session_scope() as s:
        customers = s.scalars(select(Customer)).all()
        assert {c.corporation for c in customers} == {"EVNHANOI", "EVNHCMC", "EVNNPC", "EVNCPC", "EVNSPC"}
        assert s.scalar(select(func.count()).select_from(Bill)) == 12 * len(customers)
    assert "Chưa có yêu cầu nào." in cli(db_url, "requests", "list").stdout


def test_seed_is_deterministic(tmp_path):
    from bot.db.migrate import upgrade

    codes = []
    for name in ("a.db", "b.db"):
        url = f"sqlite:///{tmp_path / name}"
        upgrade(url)
        assert cli(url, "seed").returncode == 0
        out = subprocess.run([sys.executable, "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("
                              "'select group_concat(customer_code||full_name||phone) from customers').fetchone()[0])",
                              str(tmp_path / name)], capture_output=True, text=True)
        codes.append(out.stdout)
    assert codes[0] == codes[1] and codes[0].strip()
