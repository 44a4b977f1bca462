"""Database lookups (actions/lookups.py) against a migrated temporary SQLite database with seeded rows:
exact replies and events for tracker fixtures."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timezone

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import OperationalError

from actions import lookups
from bot.db.models import Bill, Customer, PlannedOutage, ServiceRequest
from bot.formatting import format_date, format_number, mask_address, mask_id_number, mask_name, mask_phone
from tests.conftest import user_tracker

NOW = datetime(2025, 5, 20, 1, 0, tzinfo=timezone.utc)  # 08:00 on 20/05/2025 in Vietnam
CODE_HELP = ("Mã khách hàng gồm 13 ký tự, bắt đầu bằng chữ P (ví dụ PD01000123456), in trên hóa đơn "
             "tiền điện, giấy báo tiền điện hoặc hợp đồng mua bán điện.")
DB_ERROR = "Xin lỗi, hệ thống tra cứu đang gián đoạn, anh/chị vui lòng thử lại sau ít phút. "


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def seeded(session):
    """Two customers with bills, five planned outages, two service requests."""
    session.add_all([
        Customer(customer_code="PD01000123456", full_name="Nguyễn Văn An", phone="0912345678",
                 id_number="001203004567", address="Số 12 ngõ 34 Phố Huế, phường Hai Bà Trưng, Hà Nội",
                 corporation="EVNHANOI"),
        Customer(customer_code="PE01001234567", full_name="Trần Thị Bích Ngọc", phone="0987654321",
                 address="25 Lê Lợi, phường Bến Nghé, Quận 1, TP Hồ Chí Minh", corporation="EVNHCMC"),
    ])
    session.flush()
    session.add_all([
        Bill(customer_code="PD01000123456", period="2025-02", kwh=210, amount=540000,
             due_date=date(2025, 2, 20), paid=True),
        Bill(customer_code="PD01000123456", period="2025-03", kwh=250, amount=650000,
             due_date=date(2025, 3, 20), paid=True),
        Bill(customer_code="PD01000123456", period="2025-04", kwh=280, amount=735420,
             due_date=date(2025, 4, 20), paid=False),
        Bill(customer_code="PD01000123456", period="2025-05", kwh=320, amount=872611,
             due_date=date(2025, 5, 20), paid=False),
        PlannedOutage(unit_code="PE0100", area="Phường Bến Nghé, Quận 1", start_at=utc(2025, 5, 22, 1, 0),
                      end_at=utc(2025, 5, 22, 10, 0), reason="Bảo trì, sửa chữa lưới điện"),
        PlannedOutage(unit_code="PE0100", area="Phường Bến Thành, Quận 1", start_at=utc(2025, 5, 25, 23, 30),
                      end_at=utc(2025, 5, 26, 4, 0), reason=""),
        PlannedOutage(unit_code="PE0100", area="Phường Bến Nghé, Quận 1", start_at=utc(2025, 6, 10, 1, 0),
                      end_at=utc(2025, 6, 10, 8, 0), reason="Ngoài 14 ngày tới"),
        PlannedOutage(unit_code="PE0100", area="Phường Bến Nghé, Quận 1", start_at=utc(2025, 5, 10, 1, 0),
                      end_at=utc(2025, 5, 10, 8, 0), reason="Đã qua"),
        PlannedOutage(unit_code="PB0100", area="Xã Tân Phú, huyện Đồng Phú, Bình Phước",
                      start_at=utc(2025, 5, 21, 0, 30), end_at=utc(2025, 5, 21, 8, 0),
                      reason="Thay máy biến áp"),
        ServiceRequest(code="YC7K4M9P", idempotency_key="k1", service="meter_relocation", status="processing",
                       phone="0912345678", customer_code="PD01000123456", corporation="EVNHANOI",
                       fields={}, due_date=date(2025, 5, 19), created_at=utc(2025, 5, 12, 3, 0)),
        ServiceRequest(code="YC3H8R2T", idempotency_key="k2", service="holder_change", status="received",
                       phone="0912345678", fields={}, due_date=date(2025, 5, 20),
                       created_at=utc(2025, 5, 14, 18, 0)),  # 01:00 on 15/05 in Vietnam
    ])
    session.commit()
    return session


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setattr(lookups, "utcnow", lambda: NOW)


@pytest.fixture
def tracker_for():
    """Tracker whose latest user message is `text` with `intent`, `entities` and `slots`."""

    def make(text: str = "", intent: str = "check_bill", *args, **kwargs) -> Tracker:
        return user_tracker(text, intent, *args, **kwargs)

    return make


@pytest.fixture
def broken_db(monkeypatch):
    @contextmanager
    def failing_scope(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))
        yield  # pragma: no cover

    monkeypatch.setattr(lookups, "session_scope", failing_scope)


def texts(dispatcher: CollectingDispatcher) -> list:
    return [m["text"] for m in dispatcher.messages]


# --------------------------------------------------------------------------- display helpers

def test_format_number_rounds_unless_decimals_are_kept():
    assert format_number(1234567) == "1.234.567"
    assert format_number(5.5) == "6"  # money and kWh are whole numbers
    assert format_number(5.5, keep_decimals=True) == "5,5"  # a capacity of 5,5 kW
    assert format_number(5, keep_decimals=True) == "5"
    assert format_number(1234.25, keep_decimals=True) == "1.234,25"
    assert format_number(-1234.4) == "-1.234"
    assert format_number("không rõ") == "không rõ"


def test_format_date_takes_dates_datetimes_and_iso_text():
    assert format_date(date(2026, 5, 20)) == "20/05/2026"
    assert format_date("2026-05-20") == "20/05/2026"
    assert format_date(datetime(2026, 5, 19, 18, 30, tzinfo=timezone.utc)) == "20/05/2026"  # Vietnam time
    assert format_date("sáng mai") == "sáng mai"
    assert format_date(None) == ""


# --------------------------------------------------------------------------- masking helpers

def test_masking():
    assert mask_name("Nguyễn Văn An") == "Nguyễn V** A*"
    assert mask_phone("0912345678") == "0912***678"
    assert mask_id_number("001203004567") == "0012******67"
    assert mask_address("Số 12 ngõ 34 Phố Huế, phường Hai Bà Trưng, Hà Nội") == "***, phường Hai Bà Trưng, Hà Nội"
    assert mask_address("25 Lê Lợi, phường Bến Nghé, Quận 1, TP Hồ Chí Minh") == "***, Quận 1, TP Hồ Chí Minh"
    assert mask_address("Số 12 Lê Lợi") == "Số ** Lê Lợi"


# --------------------------------------------------------------------------- bills

BILL_PD = (
    "Khách hàng Nguyễn V** A*, mã PD01000123456, địa chỉ ***, phường Hai Bà Trưng, Hà Nội:\n"
    "• Kỳ 05/2025: 320 kWh, 872.611 đ, hạn thanh toán 20/05/2025, chưa thanh toán\n"
    "• Kỳ 04/2025: 280 kWh, 735.420 đ, hạn thanh toán 20/04/2025, chưa thanh toán\n"
    "• Kỳ 03/2025: 250 kWh, 650.000 đ, hạn thanh toán 20/03/2025, đã thanh toán\n"
    "Tổng tiền chưa thanh toán: 1.608.031 đ."
)


async def test_bill_by_entity_sets_customer_code(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("tra tiền điện mã PD01000123456", entities={"customer_code": "PD01000123456"})
    events = await lookups.ActionCheckBill().run(dispatcher, tracker, domain)
    assert events == [SlotSet("customer_code", "PD01000123456")]
    assert texts(dispatcher) == [BILL_PD]


async def test_bill_by_code_in_text_lower_case(seeded, dispatcher, domain, tracker_for):
    events = await lookups.ActionCheckBill().run(
        dispatcher, tracker_for("tien dien ma pd01000123456 thang nay"), domain)
    assert events == [SlotSet("customer_code", "PD01000123456")]
    assert texts(dispatcher) == [BILL_PD]


async def test_bill_by_slot_from_earlier(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("tháng này nhà mình hết bao nhiêu tiền điện", slots={"customer_code": "PD01000123456"})
    events = await lookups.ActionCheckBill().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher) == [BILL_PD]


async def test_bill_asks_for_the_code(seeded, dispatcher, domain, tracker_for):
    events = await lookups.ActionCheckBill().run(dispatcher, tracker_for("tra cứu tiền điện"), domain)
    assert events == [SlotSet("lookup_pending", "bill")]
    assert texts(dispatcher) == ["Anh/chị cho em xin mã khách hàng để tra cứu tiền điện ạ. " + CODE_HELP]


async def test_bill_code_given_after_the_question(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("PD01000123456", "inform", {"customer_code": "PD01000123456"},
                          slots={"lookup_pending": "bill"})
    events = await lookups.ActionCheckBill().run(dispatcher, tracker, domain)
    assert events == [SlotSet("customer_code", "PD01000123456"), SlotSet("lookup_pending", None)]
    assert texts(dispatcher) == [BILL_PD]


async def test_bill_unknown_code(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("PD01999999999", "inform", {"customer_code": "PD01999999999"},
                          slots={"lookup_pending": "bill"})
    events = await lookups.ActionCheckBill().run(dispatcher, tracker, domain)
    assert events == []  # still waiting for a code
    assert texts(dispatcher) == [
        "Em không tìm thấy mã khách hàng PD01999999999 trong dữ liệu. " + CODE_HELP
        + " Anh/chị kiểm tra lại giúp em, hoặc anh/chị vui lòng gọi tổng đài 1900 1288 "
          "(Tổng công ty Điện lực TP Hà Nội) để được hỗ trợ ạ."]


async def test_bill_malformed_code(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("mã PD0100012", entities={"customer_code": "PD0100012"})
    events = await lookups.ActionCheckBill().run(dispatcher, tracker, domain)
    assert events == [SlotSet("lookup_pending", "bill")]
    assert texts(dispatcher) == [
        f"Mã khách hàng PD0100012 chưa đúng định dạng. {CODE_HELP} Anh/chị kiểm tra và gửi lại giúp em ạ."]


async def test_bill_customer_without_bills(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("tiền điện", slots={"customer_code": "PE01001234567"})
    await lookups.ActionCheckBill().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [
        "Khách hàng Trần T** B*** N***, mã PE01001234567, địa chỉ ***, Quận 1, TP Hồ Chí Minh:\n"
        "Hiện chưa có dữ liệu hóa đơn tiền điện của mã khách hàng này."]


async def test_bill_all_paid(seeded, dispatcher, domain, tracker_for):
    seeded.query(Bill).update({Bill.paid: True})
    seeded.commit()
    await lookups.ActionCheckBill().run(dispatcher, tracker_for("", slots={"customer_code": "PD01000123456"}), domain)
    assert texts(dispatcher)[0].split("\n")[-1] == "Anh/chị không còn nợ tiền điện."


async def test_bill_database_error_is_answered(broken_db, dispatcher, domain, tracker_for):
    tracker = tracker_for("tiền điện", slots={"customer_code": "PE01001234567"})
    events = await lookups.ActionCheckBill().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher) == [DB_ERROR + "Anh/chị vui lòng gọi tổng đài 1900 545454 "
                                            "(Tổng công ty Điện lực TP Hồ Chí Minh) để được hỗ trợ ạ."]


# --------------------------------------------------------------------------- planned outages

OUTAGE_TAIL = "Thời gian theo giờ Việt Nam; điện có thể được cấp lại sớm hơn dự kiến."


@pytest.mark.parametrize("text, area", [
    ("mai phường Bến Nghé có cắt điện không", "phường Bến Nghé"),
    ("lich cat dien phuong ben nghe ngay mai", "phuong ben nghe"),
    ("xã Tân Phú có cúp điện ko", "xã Tân Phú"),
    ("ấp 3, xã Tân Phú có lịch cắt điện không", "xã Tân Phú"),
    ("P.Bến Nghé, Q.1 mai cúp điện ko", "phường Bến Nghé"),
    ("quận 1 có lịch cắt điện không", "quận 1"),
    ("mai khu mình có cắt điện không", None),
    ("có lịch cắt điện ở phường Mai Dịch không", "phường Mai Dịch"),
])
def test_parse_area(text, area):
    assert lookups.parse_area(text) == area


async def test_outages_by_area(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("mai phường Bến Nghé có cắt điện không", "check_outage_schedule")
    events = await lookups.ActionCheckOutageSchedule().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher) == [
        "Lịch tạm ngừng cung cấp điện 14 ngày tới cho phường Bến Nghé:\n"
        "• 22/05 08:00 – 22/05 17:00: Phường Bến Nghé, Quận 1. Lý do: Bảo trì, sửa chữa lưới điện\n"
        + OUTAGE_TAIL]


async def test_outages_by_area_without_accents(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("lich cat dien xa tan phu", "check_outage_schedule")
    await lookups.ActionCheckOutageSchedule().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [
        "Lịch tạm ngừng cung cấp điện 14 ngày tới cho xa tan phu:\n"
        "• 21/05 07:30 – 21/05 15:00: Xã Tân Phú, huyện Đồng Phú, Bình Phước. Lý do: Thay máy biến áp\n"
        + OUTAGE_TAIL]


async def test_outages_by_customer_code_unit(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("lịch cắt điện mã PE01001234567", "check_outage_schedule",
                          {"customer_code": "PE01001234567"})
    events = await lookups.ActionCheckOutageSchedule().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher) == [
        "Lịch tạm ngừng cung cấp điện 14 ngày tới cho mã khách hàng PE01001234567:\n"
        "• 22/05 08:00 – 22/05 17:00: Phường Bến Nghé, Quận 1. Lý do: Bảo trì, sửa chữa lưới điện\n"
        "• 26/05 06:30 – 26/05 11:00: Phường Bến Thành, Quận 1\n"
        + OUTAGE_TAIL]


async def test_outages_by_customer_code_slot(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("mai khu mình có cắt điện không", "check_outage_schedule",
                          slots={"customer_code": "PE01001234567"})
    await lookups.ActionCheckOutageSchedule().run(dispatcher, tracker, domain)
    assert texts(dispatcher)[0].startswith("Lịch tạm ngừng cung cấp điện 14 ngày tới cho mã khách hàng "
                                           "PE01001234567:\n• 22/05 08:00")


async def test_no_outages(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("phường Bàn Cờ có cắt điện không", "check_outage_schedule")
    events = await lookups.ActionCheckOutageSchedule().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher) == [
        "Trong 14 ngày tới (đến 03/06/2025) chưa có lịch tạm ngừng cung cấp điện nào cho phường Bàn Cờ. "
        "Nếu nhà anh/chị đang mất điện, anh/chị nhắn \"báo mất điện\" để em ghi nhận ngay ạ."]


async def test_outages_ask_for_area(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("mai khu mình có cắt điện không", "check_outage_schedule")
    events = await lookups.ActionCheckOutageSchedule().run(dispatcher, tracker, domain)
    assert events == [SlotSet("lookup_pending", "outage")]
    assert texts(dispatcher) == [
        "Anh/chị cho em xin tên phường/xã (ví dụ: phường Bến Nghé) hoặc mã khách hàng "
        "để em tra lịch tạm ngừng cung cấp điện ạ."]


async def test_outages_bare_area_after_the_question(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("Bến Nghé nhé", "inform", slots={"lookup_pending": "outage"})
    events = await lookups.ActionCheckOutageSchedule().run(dispatcher, tracker, domain)
    assert events == [SlotSet("lookup_pending", None)]
    assert texts(dispatcher)[0].split("\n")[:2] == [
        "Lịch tạm ngừng cung cấp điện 14 ngày tới cho Bến Nghé:",
        "• 22/05 08:00 – 22/05 17:00: Phường Bến Nghé, Quận 1. Lý do: Bảo trì, sửa chữa lưới điện"]


async def test_outages_database_error_is_answered(broken_db, dispatcher, domain, tracker_for):
    tracker = tracker_for("phường Bến Nghé có cắt điện không", "check_outage_schedule")
    events = await lookups.ActionCheckOutageSchedule().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher)[0].startswith(DB_ERROR + "Anh/chị vui lòng gọi tổng đài của điện lực nơi mình")


# --------------------------------------------------------------------------- request status

REQ_7K4 = (
    "Yêu cầu YC7K4M9P – Thay đổi vị trí thiết bị đo đếm (di dời công tơ):\n"
    "• Trạng thái: Đang xử lý\n"
    "• Ngày tiếp nhận: 12/05/2025\n"
    "• Hẹn hoàn thành: 19/05/2025"
)


async def test_status_by_request_code_entity(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("hồ sơ yc-7k4m9p đến đâu rồi", "check_request_status", {"request_code": "yc-7k4m9p"})
    events = await lookups.ActionCheckRequestStatus().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher) == [REQ_7K4]


async def test_status_by_request_code_in_text(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("YC7K4M9P", "inform", slots={"lookup_pending": "request_status"})
    events = await lookups.ActionCheckRequestStatus().run(dispatcher, tracker, domain)
    assert events == [SlotSet("lookup_pending", None)]
    assert texts(dispatcher) == [REQ_7K4]


async def test_status_from_request_code_slot(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("hồ sơ của tôi đến đâu rồi", "check_request_status", slots={"request_code": "YC3H8R2T"})
    await lookups.ActionCheckRequestStatus().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [
        "Yêu cầu YC3H8R2T – Thay đổi chủ thể hợp đồng mua bán điện (sang tên):\n"
        "• Trạng thái: Đã tiếp nhận\n"
        "• Ngày tiếp nhận: 15/05/2025\n"
        "• Hẹn hoàn thành: 20/05/2025"]


async def test_status_by_phone(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("sđt 0912 345 678", "check_request_status", {"phone": "0912345678"})
    events = await lookups.ActionCheckRequestStatus().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher) == [
        "Các yêu cầu gần đây của số 0912***678:\n"
        "• YC3H8R2T – Sang tên hợp đồng mua bán điện: Đã tiếp nhận, tiếp nhận 15/05/2025, hẹn hoàn thành 20/05/2025\n"
        "• YC7K4M9P – Di dời công tơ: Đang xử lý, tiếp nhận 12/05/2025, hẹn hoàn thành 19/05/2025"]


async def test_status_by_phone_in_text(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("+84 912 345 678", "inform", slots={"lookup_pending": "request_status"})
    events = await lookups.ActionCheckRequestStatus().run(dispatcher, tracker, domain)
    assert events == [SlotSet("lookup_pending", None)]
    assert texts(dispatcher)[0].startswith("Các yêu cầu gần đây của số 0912***678:\n• YC3H8R2T")


async def test_status_unknown_code(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("YC2222AA", "check_request_status", {"request_code": "YC2222AA"})
    events = await lookups.ActionCheckRequestStatus().run(dispatcher, tracker, domain)
    assert events == [SlotSet("lookup_pending", "request_status")]
    assert texts(dispatcher) == [
        "Em không tìm thấy yêu cầu mã YC2222AA. Anh/chị kiểm tra lại mã (gồm YC và 6 ký tự, ví dụ YC7K4M9P) "
        "hoặc cho em số điện thoại đã dùng khi đăng ký ạ."]


async def test_status_unknown_phone(seeded, dispatcher, domain, tracker_for):
    tracker = tracker_for("0399999999", "check_request_status", {"phone": "0399999999"})
    await lookups.ActionCheckRequestStatus().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [
        "Em chưa thấy yêu cầu nào đăng ký bằng số 0399***999. Anh/chị kiểm tra lại số điện thoại hoặc cho em "
        "mã yêu cầu (dạng YC và 6 ký tự) ạ."]


async def test_status_asks_for_code_or_phone(seeded, dispatcher, domain, tracker_for):
    events = await lookups.ActionCheckRequestStatus().run(
        dispatcher, tracker_for("hồ sơ của tôi đến đâu rồi", "check_request_status"), domain)
    assert events == [SlotSet("lookup_pending", "request_status")]
    assert texts(dispatcher) == [
        "Anh/chị cho em xin mã yêu cầu (dạng YC và 6 ký tự, ví dụ YC7K4M9P) hoặc số điện thoại đã dùng "
        "khi đăng ký để em tra cứu tiến độ ạ."]


async def test_status_database_error_is_answered(broken_db, dispatcher, domain, tracker_for):
    tracker = tracker_for("YC7K4M9P", "check_request_status", {"request_code": "YC7K4M9P"})
    events = await lookups.ActionCheckRequestStatus().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher)[0].startswith(DB_ERROR)
