"""Form actions (actions/forms.py, ask.py, interruptions.py, submit.py): tracker fixtures and the exact events
they return.

The tracker a form validation action receives is the one Rasa builds: the conversation so far, the latest
user message, `ActionExecuted(service_form)` and then one `SlotSet` per slot candidate of this turn.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions import ask as ask_actions
from actions import dialogue, forms, interruptions, submit
from bot import PROJECT_ROOT
from bot.catalogue import load_catalogue
from bot.db.models import Customer, PlannedOutage, ServiceRequest
from bot.db.session import session_scope
from bot.settings import get_settings
from bot.workdays import add_working_days

CAT = load_catalogue()
DOMAIN: Dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
ALL_SLOTS = list(DOMAIN["slots"])
KNOWN = {"customer_code": "PD01000123456", "full_name": "Nguyễn Văn An", "phone": "0912345678",
         "address": "Số 12 ngõ 34 Phố Huế, phường Hai Bà Trưng, Hà Nội"}
HOTLINE_HN = "tổng đài 1900 1288 (Tổng công ty Điện lực TP Hà Nội)"


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(forms, "today", lambda: date(2026, 11, 18))
    monkeypatch.setenv("DEFAULT_HOTLINE", "1900 9999")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def customers(db_url):
    """The migrated test database with one known EVNHANOI customer (so EVNHANOI codes are checked)."""
    with session_scope() as s:
        s.add(Customer(customer_code=KNOWN["customer_code"], full_name=KNOWN["full_name"], phone=KNOWN["phone"],
                       id_number="001203004567", address=KNOWN["address"], corporation="EVNHANOI"))
    return db_url


def form_tracker(slots: Optional[Dict[str, Any]] = None, candidates: Optional[Dict[str, Any]] = None, *,
                 requested: Optional[str] = None, text: str = "", intent: str = "inform",
                 entities: Optional[Dict[str, str]] = None, active: bool = True,
                 sender: str = "conv-1") -> Tracker:
    """A tracker as Rasa sends it to validate_service_form: earlier slot values, the user message,
    the form action, then the slot candidates of this turn."""
    slots, candidates = dict(slots or {}), dict(candidates or {})
    values = {name: None for name in ALL_SLOTS}
    values.update(slots)
    values.update(candidates)
    values["requested_slot"] = requested
    message = {"text": text, "intent": {"name": intent, "confidence": 0.99},
               "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()]}
    events: List[Dict[str, Any]] = [{"event": "action", "name": "action_session_start"}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in slots.items()]
    events += [{"event": "slot", "name": "requested_slot", "value": requested},
               {"event": "action", "name": "action_listen"},
               {"event": "user", "text": text, "parse_data": message},
               {"event": "action", "name": "service_form"}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in candidates.items()]
    return Tracker(sender, values, message, events, False, None,
                   {"name": "service_form"} if active else {}, "action_listen")


async def validate(tracker: Tracker, dispatcher: CollectingDispatcher) -> list:
    return await forms.ValidateServiceForm().run(dispatcher, tracker, DOMAIN)


def texts(dispatcher: CollectingDispatcher) -> List[str]:
    return [m["text"] for m in dispatcher.messages]


RELOCATION = {"service": "meter_relocation"}
RELOCATION_FILLED = {**RELOCATION, "customer_code": "PD02001234567", "full_name": "Trần Thị Bình",
                     "phone": "0987654321", "new_location": "ra cột điện đầu ngõ"}


# --------------------------------------------------------------------------- required slots from the catalogue

@pytest.mark.parametrize("code", sorted(CAT.services))
async def test_required_slots_are_the_catalogue_slots_then_confirm(code, dispatcher):
    tracker = form_tracker({"service": code}, requested=None)
    slots = await forms.ValidateServiceForm().required_slots([], dispatcher, tracker, DOMAIN)
    assert slots == list(CAT.services[code].slots) + ["confirm"]


async def test_required_slots_without_a_service(dispatcher):
    slots = await forms.ValidateServiceForm().required_slots([], dispatcher, form_tracker(), DOMAIN)
    assert slots == ["service"]


def test_every_question_has_an_ask_action_in_the_domain():
    asked = {"service", "switch_service", "report_anyway", "edit_field", "confirm"} | set(CAT.slots)
    assert {f"action_ask_{s}" for s in asked} <= set(DOMAIN["actions"])
    assert set(DOMAIN["forms"]["service_form"]["required_slots"]) >= asked


# --------------------------------------------------------------------------- activation and the service question

async def test_activation_with_a_service_introduces_it_and_asks_the_first_slot(dispatcher):
    tracker = form_tracker({}, {"service": "meter_relocation"}, text="cho mình di dời công tơ",
                           intent="request_service", entities={"service": "meter_relocation"})
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("service", "meter_relocation"), SlotSet("requested_slot", "customer_code")]
    assert texts(dispatcher) == [
        "Dạ, em giúp anh/chị đăng ký: Thay đổi vị trí thiết bị đo đếm (di dời công tơ).\n"
        "Em cần: mã khách hàng, họ và tên, số điện thoại, vị trí mới của công tơ.\n"
        "Anh/chị gõ \"hủy\" bất cứ lúc nào để dừng."]


async def test_values_from_earlier_in_the_conversation_are_reused(dispatcher):
    tracker = form_tracker({"full_name": "Trần Thị Bình"},
                           {"service": "complaint", "full_name": "Trần Thị Bình", "phone": "0987654321"},
                           intent="complain")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("service", "complaint"), SlotSet("full_name", "Trần Thị Bình"),
                      SlotSet("phone", "0987654321"), SlotSet("requested_slot", "description")]
    assert "Thông tin em đã có: Họ và tên: Trần Thị Bình; Số điện thoại: 0987654321." \
        in texts(dispatcher)[0]


async def test_outage_message_that_describes_the_problem_becomes_the_description(dispatcher):
    text = "nhà tôi mất điện từ 7h sáng, cả xóm vẫn có điện"
    tracker = form_tracker({"phone": "0912345678"}, {"service": "outage_report", "phone": "0912345678"},
                           intent="report_outage", text=text)
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("service", "outage_report"), SlotSet("phone", "0912345678"),
                      SlotSet("description", text), SlotSet("requested_slot", "address")]


async def test_bare_outage_report_asks_for_the_description_later(dispatcher):
    tracker = form_tracker({}, {"service": "outage_report"}, intent="report_outage", text="báo mất điện")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("service", "outage_report"), SlotSet("requested_slot", "address")]


async def test_service_answer_typed_as_text(dispatcher):
    tracker = form_tracker({}, {"service": "sang tên hợp đồng"}, requested="service", text="sang tên hợp đồng")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("service", "holder_change"), SlotSet("requested_slot", "customer_code")]


async def test_unknown_service_is_asked_again(dispatcher):
    tracker = form_tracker({}, {"service": "abc xyz"}, requested="service", text="abc xyz")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("service", None),
                      SlotSet("slot_error", {"slot": "service", "text": "Em chưa rõ anh/chị cần đăng ký dịch vụ nào."}),
                      SlotSet("requested_slot", "service")]


# --------------------------------------------------------------------------- valid and invalid values per slot

@pytest.mark.parametrize("slot,text,value", [
    ("full_name", "tên mình là trần thị bình", "Trần Thị Bình"),
    ("phone", "+84 987 654 321", "0987654321"),
    ("phone", "sđt mình là 0987.654.321", "0987654321"),
    ("new_location", "ra cột điện đầu ngõ", "ra cột điện đầu ngõ"),
])
async def test_valid_answer_fills_the_requested_slot(slot, text, value, dispatcher):
    filled = {k: v for k, v in RELOCATION_FILLED.items() if k != slot}
    tracker = form_tracker(filled, {slot: text}, requested=slot, text=text)
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet(slot, value), SlotSet("requested_slot", "confirm")]
    assert dispatcher.messages == []


@pytest.mark.parametrize("service,slot,text,value", [
    ("new_connection_lv", "id_number", "cccd 001 203 004 567", "001203004567"),
    ("new_connection_lv", "address", "Số 5 ngõ 10 Kim Mã, phường Ngọc Hà, Hà Nội",
     "Số 5 ngõ 10 Kim Mã, phường Ngọc Hà, Hà Nội"),
    ("new_connection_lv", "usage_purpose", "để kinh doanh", "non_residential"),
    ("new_connection_lv", "phase", "ba pha", "3"),
    ("new_connection_mv", "capacity_kw", "5,5 kw", 5.5),
    ("quota_change", "households", "8 người", 2),
    ("payment_method_change", "payment_method", '/inform{"payment_method":"e_wallet"}', "e_wallet"),
    ("contract_renewal", "desired_date", "thứ 2 tuần sau", "2026-11-23"),
    ("meter_inspection", "description", "Công tơ chạy nhanh bất thường", "Công tơ chạy nhanh bất thường"),
])
async def test_each_kind_of_slot_is_normalised(service, slot, text, value, dispatcher):
    tracker = form_tracker({"service": service}, {slot: text}, requested=slot, text=text)
    events = await validate(tracker, dispatcher)
    assert events[0] == SlotSet(slot, value)


@pytest.mark.parametrize("slot,text,reason", [
    ("phone", "0212345678", "Số điện thoại chưa đúng; em cần số di động 10 chữ số, bắt đầu bằng 03, 05, 07, 08 hoặc 09."),
    ("full_name", "An", "Anh/chị cho em xin đầy đủ họ và tên (cả họ lẫn tên)."),
    ("new_location", "ok", "Nội dung ngắn quá, anh/chị ghi rõ hơn giúp em (ít nhất 3 ký tự)."),
])
async def test_invalid_answer_is_asked_again_with_the_reason(slot, text, reason, dispatcher):
    filled = {k: v for k, v in RELOCATION_FILLED.items() if k != slot}
    tracker = form_tracker(filled, {slot: text}, requested=slot, text=text)
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet(slot, None), SlotSet("failed_tries", {slot: 1}),
                      SlotSet("slot_error", {"slot": slot, "text": reason}), SlotSet("requested_slot", slot)]


async def test_reask_shows_the_reason_and_the_catalogue_example(dispatcher):
    error = {"slot": "phone", "text": "Số điện thoại chưa đúng."}
    tracker = form_tracker({**RELOCATION, "slot_error": error}, requested="phone")
    events = await ask_actions.ASK_ACTIONS["phone"]().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("slot_error", None)]
    assert dispatcher.messages[0]["text"] == (
        "Số điện thoại chưa đúng.\nAnh/chị cho em xin số điện thoại (ví dụ: 0912345678) ạ.")


async def test_choice_question_has_buttons_with_entity_payloads(dispatcher):
    tracker = form_tracker({"service": "new_connection_lv"}, requested="phase")
    await ask_actions.ASK_ACTIONS["phase"]().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "1 pha", "payload": '/inform{"phase":"1"}'},
        {"title": "3 pha", "payload": '/inform{"phase":"3"}'}]


async def test_several_values_in_one_message(dispatcher):
    text = "Nguyễn Văn An, sđt 0912345678"
    tracker = form_tracker({"service": "complaint"}, {"full_name": text, "phone": "0912345678"},
                           requested="full_name", text=text, entities={"phone": "0912345678"})
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("full_name", "Nguyễn Văn An"), SlotSet("phone", "0912345678"),
                      SlotSet("requested_slot", "description")]


async def test_phone_typed_in_another_answer_is_picked_up_without_an_entity(dispatcher):
    text = "Nguyễn Văn An 0912 345 678"
    tracker = form_tracker({"service": "complaint"}, {"full_name": text}, requested="full_name", text=text)
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("full_name", "Nguyễn Văn An"), SlotSet("phone", "0912345678"),
                      SlotSet("requested_slot", "description")]


async def test_answer_that_only_fills_another_slot_is_not_a_failed_try(dispatcher):
    tracker = form_tracker({"service": "complaint"}, {"full_name": "0912345678", "phone": "0912345678"},
                           requested="full_name", text="0912345678", entities={"phone": "0912345678"})
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("full_name", None), SlotSet("phone", "0912345678"),
                      SlotSet("requested_slot", "full_name")]


async def test_bad_entity_for_another_slot_keeps_the_earlier_good_value(dispatcher):
    slots = {"service": "complaint", "full_name": "Nguyễn Văn An", "phone": "0912345678"}
    tracker = form_tracker(slots, {"description": "hóa đơn cao bất thường", "phone": "123"},
                           requested="description", text="hóa đơn cao bất thường 123")
    events = await validate(tracker, dispatcher)
    assert events == [
        SlotSet("description", "hóa đơn cao bất thường"), SlotSet("phone", "0912345678"),
        SlotSet("slot_error", {"slot": "phone", "text": "Số điện thoại chưa đúng; em cần số di động 10 chữ số, "
                                                        "bắt đầu bằng 03, 05, 07, 08 hoặc 09."}),
        SlotSet("requested_slot", "confirm")]


# --------------------------------------------------------------------------- three failed tries

async def test_third_failed_try_offers_the_routed_hotline_and_a_person(dispatcher):
    slots = {**RELOCATION, "customer_code": "PD02001234567", "full_name": "Trần Thị Bình",
             "failed_tries": {"phone": 2}}
    tracker = form_tracker(slots, {"phone": "12345"}, requested="phone", text="12345")
    events = await validate(tracker, dispatcher)
    reason = "Số điện thoại chưa đúng; em cần số di động 10 chữ số, bắt đầu bằng 03, 05, 07, 08 hoặc 09."
    escalation = (f"Nếu khó nhập, anh/chị có thể gọi {HOTLINE_HN} để gặp tư vấn viên hỗ trợ trực tiếp, hoặc nhập "
                  "lại theo ví dụ bên dưới. Muốn dừng thì bấm \"Hủy đăng ký\".")
    assert events == [SlotSet("phone", None), SlotSet("failed_tries", None),
                      SlotSet("slot_error", {"slot": "phone", "text": reason + "\n" + escalation, "escalate": True}),
                      SlotSet("requested_slot", "phone")]
    # the question that follows carries the help buttons; the form goes on (the customer may retry)
    ask = CollectingDispatcher()
    asked = form_tracker({**slots, "slot_error": events[2].get("value")}, requested="phone")
    assert await ask_actions.ASK_ACTIONS["phone"]().run(ask, asked, DOMAIN) == [SlotSet("slot_error", None)]
    assert ask.messages[0]["buttons"] == dialogue.HELP_BUTTONS
    assert ask.messages[0]["text"].endswith("Anh/chị cho em xin số điện thoại (ví dụ: 0912345678) ạ.")


async def test_third_failed_try_without_a_customer_code_uses_the_default_hotline(dispatcher):
    tracker = form_tracker({"service": "complaint", "failed_tries": {"full_name": 2}}, {"full_name": "A"},
                           requested="full_name", text="A")
    events = await validate(tracker, dispatcher)
    assert "tổng đài chăm sóc khách hàng 1900 9999" in events[2].get("value")["text"]


async def test_second_failed_try_counts(dispatcher):
    tracker = form_tracker({"service": "complaint", "failed_tries": {"full_name": 1}}, {"full_name": "A"},
                           requested="full_name", text="A")
    events = await validate(tracker, dispatcher)
    assert events[1] == SlotSet("failed_tries", {"full_name": 2})
    assert "escalate" not in events[2].get("value")


# --------------------------------------------------------------------------- customer code: table check and prefill

async def test_known_customer_fills_name_and_phone_from_the_table(customers, dispatcher):
    tracker = form_tracker(RELOCATION, {"customer_code": "pd01 000 123 456"}, requested="customer_code",
                           text="pd01 000 123 456")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("customer_code", "PD01000123456"), SlotSet("full_name", "Nguyễn Văn An"),
                      SlotSet("phone", "0912345678"),
                      SlotSet("prefilled_fields", {"full_name": "Nguyễn Văn An", "phone": "0912345678",
                                                    "customer_code": "PD01000123456"}),
                      SlotSet("requested_slot", "new_location")]
    assert texts(dispatcher) == [
        "Em lấy họ và tên, số điện thoại theo hồ sơ của mã khách hàng PD01000123456. "
        "Họ và tên: Nguyễn Văn An; Số điện thoại: 0912345678. Anh/chị kiểm tra lại ở bước xác nhận nhé."]


async def test_known_customer_does_not_overwrite_what_the_customer_gave(customers, dispatcher):
    tracker = form_tracker({**RELOCATION, "phone": "0987654321"}, {"customer_code": "PD01000123456"},
                           requested="customer_code", text="PD01000123456")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("customer_code", "PD01000123456"), SlotSet("full_name", "Nguyễn Văn An"),
                      SlotSet("prefilled_fields", {"full_name": "Nguyễn Văn An", "customer_code": "PD01000123456"}),
                      SlotSet("requested_slot", "new_location")]


async def test_corrected_customer_code_drops_what_came_from_the_old_record(customers, dispatcher):
    slots = {**RELOCATION, "customer_code": None, "full_name": "Nguyễn Văn An", "phone": "0987654321",
             "prefilled_fields": {"full_name": "Nguyễn Văn An", "phone": "0912345678",
                                  "customer_code": "PD01000123456"}}  # the code was just cleared for correction
    tracker = form_tracker(slots, {"customer_code": "PE04001234567"}, requested="customer_code",
                           text="PE04001234567")
    events = await validate(tracker, dispatcher)
    # the name came from the old record and goes; the phone was changed by the customer and stays
    assert events == [SlotSet("customer_code", "PE04001234567"), SlotSet("full_name", None),
                      SlotSet("prefilled_fields", None), SlotSet("requested_slot", "full_name")]


async def test_holder_change_does_not_take_the_old_holder_name(customers, dispatcher):
    tracker = form_tracker({"service": "holder_change"}, {"customer_code": "PD01000123456"},
                           requested="customer_code", text="PD01000123456")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("customer_code", "PD01000123456"), SlotSet("requested_slot", "full_name")]


async def test_unknown_code_of_a_loaded_corporation_is_rejected(customers, dispatcher):
    tracker = form_tracker(RELOCATION, {"customer_code": "PD01000999999"}, requested="customer_code",
                           text="PD01000999999")
    events = await validate(tracker, dispatcher)
    reason = ("Em không tìm thấy mã khách hàng PD01000999999 trong dữ liệu của Tổng công ty Điện lực TP Hà Nội; "
              "anh/chị kiểm tra lại mã in trên hóa đơn tiền điện giúp em.")
    assert events == [SlotSet("customer_code", None), SlotSet("failed_tries", {"customer_code": 1}),
                      SlotSet("slot_error", {"slot": "customer_code", "text": reason}),
                      SlotSet("requested_slot", "customer_code")]


async def test_code_of_a_corporation_without_loaded_customers_is_accepted(customers, dispatcher):
    tracker = form_tracker(RELOCATION, {"customer_code": "PE04001234567"}, requested="customer_code",
                           text="PE04001234567")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("customer_code", "PE04001234567"), SlotSet("requested_slot", "full_name")]


async def test_database_trouble_degrades_to_a_format_check(monkeypatch, dispatcher, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")  # no tables at all
    get_settings.cache_clear()
    from bot.db import session as db_session
    db_session.get_engine.cache_clear()
    tracker = form_tracker(RELOCATION, {"customer_code": "PD01000123456"}, requested="customer_code",
                           text="PD01000123456")
    events = await validate(tracker, dispatcher)
    db_session.get_engine.cache_clear()
    assert events == [SlotSet("customer_code", "PD01000123456"), SlotSet("requested_slot", "full_name")]


# --------------------------------------------------------------------------- outage reports

async def test_outage_report_takes_the_address_from_the_code_and_tells_about_a_planned_outage(customers, dispatcher):
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    end = datetime.now(timezone.utc) + timedelta(hours=3)
    with session_scope() as s:
        s.add(PlannedOutage(unit_code="PD0100", area="phường Hai Bà Trưng, Hà Nội", start_at=start, end_at=end,
                            reason="Bảo dưỡng lưới điện"))
    tracker = form_tracker({"service": "outage_report"}, {"address": "PD01000123456"}, requested="address",
                           text="PD01000123456", intent="inform")
    events = await validate(tracker, dispatcher)
    notice = dialogue.outage_notice("phường Hai Bà Trưng, Hà Nội", start, end, "Bảo dưỡng lưới điện")
    assert events == [SlotSet("address", KNOWN["address"]), SlotSet("customer_code", "PD01000123456"),
                      SlotSet("phone", "0912345678"),
                      SlotSet("prefilled_fields", {"phone": "0912345678", "address": KNOWN["address"],
                                                    "customer_code": "PD01000123456"}),
                      SlotSet("outage_notice", notice),
                      SlotSet("requested_slot", "report_anyway")]
    assert notice["text"].startswith("Khu vực phường Hai Bà Trưng, Hà Nội đang trong lịch tạm ngừng cấp điện "
                                     "theo kế hoạch từ ")
    assert "(lý do: bảo dưỡng lưới điện)" in notice["text"]

    ask = CollectingDispatcher()
    await ask_actions.ActionAskReportAnyway().run(ask, form_tracker({"outage_notice": notice}), DOMAIN)
    assert ask.messages[0]["text"] == notice["text"] + "\nAnh/chị vẫn muốn báo mất điện chứ ạ?"


async def test_outage_report_declined_because_of_the_planned_outage_stops_the_form(dispatcher):
    notice = {"text": "Khu vực ... ", "end": "18/11 17:00"}
    slots = {"service": "outage_report", "address": KNOWN["address"], "outage_notice": notice}
    tracker = form_tracker(slots, {"report_anyway": False}, requested="report_anyway", intent="deny")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("report_anyway", False), SlotSet("stop_form", True), SlotSet("requested_slot", None)]
    assert texts(dispatcher) == [
        "Dạ vâng. Điện sẽ được cấp lại khi công việc theo kế hoạch hoàn thành (dự kiến 18/11 17:00). Nếu quá thời "
        "gian đó vẫn chưa có điện, anh/chị nhắn em để báo mất điện nhé."]


async def test_outage_report_confirmed_anyway_goes_on(dispatcher):
    slots = {"service": "outage_report", "address": KNOWN["address"], "outage_notice": {"text": "x", "end": "y"}}
    tracker = form_tracker(slots, {"report_anyway": True}, requested="report_anyway", intent="affirm")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("report_anyway", True), SlotSet("requested_slot", "phone")]


async def test_outage_report_without_planned_outage(customers, dispatcher):
    tracker = form_tracker({"service": "outage_report"}, {"address": "thôn 3, xã Hải Hậu, tỉnh Ninh Bình"},
                           requested="address", text="thôn 3, xã Hải Hậu, tỉnh Ninh Bình")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("address", "thôn 3, xã Hải Hậu, tỉnh Ninh Bình"), SlotSet("requested_slot", "phone")]


# --------------------------------------------------------------------------- confirmation and correction

async def test_summary_lists_every_field_with_catalogue_labels(dispatcher):
    slots = {"service": "new_connection_lv", "full_name": "Nguyễn Văn An", "phone": "0912345678",
             "id_number": "001203004567", "address": KNOWN["address"], "usage_purpose": "residential", "phase": "1"}
    await ask_actions.ActionAskConfirm().run(dispatcher, form_tracker(slots, requested="confirm"), DOMAIN)
    assert dispatcher.messages[0]["text"] == (
        "Anh/chị kiểm tra lại thông tin đăng ký cấp điện mới từ lưới điện hạ áp (220/380V):\n"
        "• Họ và tên: Nguyễn Văn An\n"
        "• Số điện thoại: 0912345678\n"
        "• Số CCCD/CMND: 001203004567\n"
        "• Địa chỉ sử dụng điện: Số 12 ngõ 34 Phố Huế, phường Hai Bà Trưng, Hà Nội\n"
        "• Mục đích sử dụng điện: Sinh hoạt\n"
        "• Loại công tơ: 1 pha\n"
        "Thông tin trên đã đúng chưa ạ?")
    assert dispatcher.messages[0]["buttons"] == [{"title": "Đúng", "payload": "/affirm"},
                                                 {"title": "Sai", "payload": "/deny"}]


async def test_confirmed_summary_ends_the_form(dispatcher):
    tracker = form_tracker(RELOCATION_FILLED, {"confirm": True}, requested="confirm", intent="affirm")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("confirm", True), SlotSet("correcting", None), SlotSet("edit_field", None),
                      SlotSet("requested_slot", None)]


async def test_deny_at_the_summary_asks_which_field(dispatcher):
    tracker = form_tracker(RELOCATION_FILLED, {"confirm": False}, requested="confirm", intent="deny", text="sai rồi")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("confirm", None), SlotSet("correcting", True), SlotSet("requested_slot", "edit_field")]
    ask = CollectingDispatcher()
    await ask_actions.ActionAskEditField().run(ask, form_tracker({**RELOCATION_FILLED, "correcting": True}), DOMAIN)
    assert ask.messages[0]["buttons"] == [
        {"title": "Mã khách hàng", "payload": '/correct_field{"field":"customer_code"}'},
        {"title": "Họ và tên", "payload": '/correct_field{"field":"full_name"}'},
        {"title": "Số điện thoại", "payload": '/correct_field{"field":"phone"}'},
        {"title": "Vị trí mới của công tơ", "payload": '/correct_field{"field":"new_location"}'},
        {"title": "Thông tin đã đúng", "payload": "/affirm"}]


async def test_deny_naming_the_field_clears_it_and_asks_it_again(dispatcher):
    tracker = form_tracker(RELOCATION_FILLED, {"confirm": False, "edit_field": "phone"}, requested="confirm",
                           intent="deny", text="sai số điện thoại rồi", entities={"field": "phone"})
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("confirm", None), SlotSet("edit_field", None), SlotSet("correcting", None),
                      SlotSet("phone", None), SlotSet("requested_slot", "phone")]


async def test_field_chosen_by_text_after_the_question(dispatcher):
    slots = {**RELOCATION_FILLED, "correcting": True}
    tracker = form_tracker(slots, {"edit_field": "vị trí"}, requested="edit_field", text="vị trí")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("edit_field", None), SlotSet("new_location", None), SlotSet("correcting", None),
                      SlotSet("confirm", None), SlotSet("requested_slot", "new_location")]


async def test_new_value_in_the_correction_message_is_taken_at_once(dispatcher):
    tracker = form_tracker(RELOCATION_FILLED, {"edit_field": "phone", "phone": "0911222333"}, requested="confirm",
                           intent="correct_field", text="sửa sđt thành 0911222333",
                           entities={"field": "phone", "phone": "0911222333"})
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("edit_field", None), SlotSet("phone", "0911222333"), SlotSet("correcting", None),
                      SlotSet("confirm", None), SlotSet("requested_slot", "confirm")]


async def test_field_not_in_this_request(dispatcher):
    slots = {**RELOCATION_FILLED, "correcting": True}
    tracker = form_tracker(slots, {"edit_field": "địa chỉ"}, requested="edit_field", text="địa chỉ")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("edit_field", None), SlotSet("correcting", True), SlotSet("confirm", None),
                      SlotSet("slot_error", {"slot": "edit_field",
                                             "text": "Yêu cầu này không có mục địa chỉ sử dụng điện."}),
                      SlotSet("requested_slot", "edit_field")]


async def test_correction_without_field_name_mid_form(dispatcher):
    tracker = form_tracker(RELOCATION, intent="correct_field", text="sửa lại thông tin")
    events = await interruptions.ActionStartCorrection().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("correcting", True), SlotSet("edit_field", None), SlotSet("confirm", None)]
    assert dispatcher.messages == []


async def test_yes_before_everything_is_collected_does_not_skip_the_summary(dispatcher):
    slots = {**RELOCATION, "customer_code": "PD02001234567", "correcting": True}
    tracker = form_tracker(slots, {"confirm": True}, requested="edit_field", intent="affirm")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("confirm", None), SlotSet("correcting", None), SlotSet("edit_field", None),
                      SlotSet("requested_slot", "full_name")]


# --------------------------------------------------------------------------- switching service mid-form

async def test_another_service_mid_form_asks_before_switching(dispatcher):
    tracker = form_tracker({**RELOCATION, "customer_code": "PD02001234567"}, requested="full_name",
                           intent="request_service", text="à mình muốn sang tên",
                           entities={"service": "holder_change"})
    events = await interruptions.ActionRequestSwitch().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("pending_service", "holder_change"), SlotSet("switch_service", None)]
    ask = CollectingDispatcher()
    await ask_actions.ActionAskSwitchService().run(ask, form_tracker({**RELOCATION, "pending_service": "holder_change"}),
                                             DOMAIN)
    assert ask.messages[0]["text"] == (
        "Anh/chị đang đăng ký thay đổi vị trí thiết bị đo đếm (di dời công tơ). Anh/chị muốn chuyển sang thay đổi "
        "chủ thể hợp đồng mua bán điện (sang tên) không ạ? Họ tên, số điện thoại đã nhập em vẫn giữ lại.")


async def test_switch_accepted_keeps_shared_fields(dispatcher):
    slots = {**RELOCATION_FILLED, "pending_service": "holder_change"}
    tracker = form_tracker(slots, {"switch_service": True}, requested="switch_service", intent="affirm")
    events = await validate(tracker, dispatcher)
    expected = {"switch_service": None, **dialogue.switch_values(CAT.services["holder_change"], CAT)}
    assert events == [SlotSet(k, v) for k, v in expected.items()] + [SlotSet("requested_slot", "id_number")]
    assert texts(dispatcher)[0].startswith(
        "Dạ, em giúp anh/chị đăng ký: Thay đổi chủ thể hợp đồng mua bán điện (sang tên).")


async def test_switch_declined_goes_on_with_the_same_service(dispatcher):
    slots = {**RELOCATION, "pending_service": "holder_change"}
    tracker = form_tracker(slots, {"switch_service": False}, requested="switch_service", intent="deny")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("switch_service", None), SlotSet("declined_service", "holder_change"),
                      SlotSet("pending_service", None), SlotSet("requested_slot", "customer_code")]
    assert texts(dispatcher) == ["Dạ, mình tiếp tục đăng ký thay đổi vị trí thiết bị đo đếm (di dời công tơ) nhé."]


@pytest.mark.parametrize("requested,text,intent,entities", [
    ("new_location", "ra cột điện trước cổng nhà số 12", "report_outage", {}),
    ("new_location", "chuyển công tơ ra ngoài tường rào", "request_service", {"service": "meter_relocation"}),
    ("address", "số 12 ngõ 34 Hoa Bằng, phường Yên Hòa, Cầu Giấy, Hà Nội", "report_outage", {}),
])
async def test_free_text_answer_read_as_another_intent_is_the_answer(dispatcher, requested, text, intent, entities):
    slots = {**RELOCATION, "customer_code": "PD02001234567"}
    tracker = form_tracker(slots, requested=requested, intent=intent, text=text, entities=entities)
    events = await interruptions.ActionRequestSwitch().run(dispatcher, tracker, DOMAIN)
    assert SlotSet(requested, text) in events
    assert not any(e["name"] == "pending_service" for e in events)


def test_free_text_answer_only_for_statements_while_a_free_text_slot_is_asked():
    slots = {**RELOCATION, "customer_code": "PD02001234567"}
    statement = "Dời công tơ ra cột điện trước cổng, số 12 ngõ 34 Hoa Bằng"
    assert interruptions.free_text_answer(form_tracker(slots, requested="new_location", text=statement), CAT)
    assert not interruptions.free_text_answer(form_tracker(slots, requested="new_location", text="bao lâu thì xong?"), CAT)
    assert not interruptions.free_text_answer(form_tracker(slots, requested="phone", text=statement), CAT)
    assert not interruptions.free_text_answer(form_tracker(slots, requested="new_location", text=statement, active=False),
                                      CAT)


async def test_same_service_asked_again_mid_form(dispatcher):
    tracker = form_tracker(RELOCATION, requested="confirm", intent="request_service", text="di dời công tơ",
                           entities={"service": "meter_relocation"})
    assert await interruptions.ActionRequestSwitch().run(dispatcher, tracker, DOMAIN) == []
    assert texts(dispatcher) == ["Dạ, em đang ghi nhận yêu cầu thay đổi vị trí thiết bị đo đếm (di dời công tơ) "
                                 "cho anh/chị đây ạ."]


async def test_answer_that_sounds_like_the_same_service_is_taken_as_the_answer(dispatcher):
    slots = {k: v for k, v in RELOCATION_FILLED.items() if k != "new_location"}
    text = "dời công tơ ra cột điện đầu ngõ"
    tracker = form_tracker(slots, requested="new_location", intent="request_service", text=text,
                           entities={"service": "meter_relocation"})
    events = await interruptions.ActionRequestSwitch().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("new_location", text)]
    assert dispatcher.messages == []


async def test_service_declined_before_is_read_as_an_answer(dispatcher):
    text = "hóa đơn cao bất thường, chắc công tơ chạy nhanh"
    tracker = form_tracker({"service": "complaint", "full_name": "Nguyễn Văn An", "phone": "0912345678",
                            "declined_service": "meter_inspection"}, requested="description",
                           intent="request_service", text=text, entities={"service": "meter_inspection"})
    events = await interruptions.ActionRequestSwitch().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("description", text)]


async def test_description_naming_another_service_is_the_description(dispatcher):
    text = "Đồng hồ điện nhà tôi chạy nhanh bất thường từ tháng trước"
    tracker = form_tracker({"service": "info_change", "customer_code": "PD02001234567", "full_name": "Trần Thị Bình",
                            "phone": "0987654321"}, requested="description", intent="request_service", text=text,
                           entities={"service": "meter_inspection"})
    events = await interruptions.ActionRequestSwitch().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("description", text)]


async def test_short_request_for_another_service_at_a_free_text_question_asks_to_switch(dispatcher):
    tracker = form_tracker(RELOCATION_FILLED, requested="new_location", intent="request_service",
                           text="à thôi cho mình đổi hình thức thanh toán",
                           entities={"service": "payment_method_change"})
    events = await interruptions.ActionRequestSwitch().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("pending_service", "payment_method_change"), SlotSet("switch_service", None)]


async def test_outage_address_typed_with_the_outage_is_taken_as_the_answer(dispatcher):
    text = "nhà mình ở thôn 3, xã Hải Hậu, tỉnh Ninh Bình, mất điện từ sáng"
    tracker = form_tracker({"service": "outage_report"}, requested="address", intent="report_outage", text=text)
    events = await interruptions.ActionRequestSwitch().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet("address", "thôn 3, xã Hải Hậu, tỉnh Ninh Bình, mất điện từ sáng")]


# --------------------------------------------------------------------------- submission

def submit_tracker(slots: Dict[str, Any], sender: str = "conv-42") -> Tracker:
    return form_tracker({**slots, "confirm": True}, active=False, sender=sender, intent="affirm")


async def test_submission_stores_once_and_answers_with_code_due_date_documents_fee_hotline(customers, dispatcher):
    slots = {**RELOCATION, "customer_code": KNOWN["customer_code"], "full_name": KNOWN["full_name"],
             "phone": KNOWN["phone"], "new_location": "ra cột điện đầu ngõ"}
    events = await submit.ActionSubmitRequest().run(dispatcher, submit_tracker(slots), DOMAIN)
    with session_scope() as s:
        rows = s.scalars(select(ServiceRequest)).all()
        assert len(rows) == 1
        request = rows[0]
        assert request.service == "meter_relocation" and request.conversation_id == "conv-42"
        assert request.fields == {"customer_code": "PD01000123456", "full_name": "Nguyễn Văn An",
                                  "phone": "0912345678", "new_location": "ra cột điện đầu ngõ"}
        assert request.corporation == "EVNHANOI" and request.priority == "normal"
        assert request.idempotency_key == dialogue.idempotency_key("conv-42", "meter_relocation", request.fields)
        code, due = request.code, request.due_date
    assert due == add_working_days(date.today(), 5)
    assert events == [SlotSet("request_code", code)] + [SlotSet(k, v) for k, v in dialogue.reset_slots().items()]
    kept = {e.get("name") for e in events if e.get("name") in ("full_name", "phone", "customer_code")}
    assert kept == set()  # personal data is not reset
    assert texts(dispatcher)[-1] is None  # the request-summary card follows the text (every channel)
    assert texts(dispatcher)[:-1] == [
        "Dạ, em đã tiếp nhận yêu cầu thay đổi vị trí thiết bị đo đếm (di dời công tơ) của anh/chị.\n"
        f"• Mã yêu cầu: {code} (anh/chị lưu lại để tra cứu tiến độ)\n"
        f"• Hạn giải quyết: {due:%d/%m/%Y} (tối đa 5 ngày làm việc)\n"
        "• Giấy tờ cần chuẩn bị: Giấy đề nghị; Giấy tờ chứng minh quyền sử dụng vị trí mới nếu không thuộc sở hữu\n"
        "• Chi phí: Khách hàng chịu chi phí di dời (trừ công tơ, TU, TI của điện lực)\n"
        "• Tổng đài Tổng công ty Điện lực TP Hà Nội: 1900 1288"]


async def test_retried_confirmation_gives_the_same_request(customers):
    slots = {"service": "complaint", "full_name": "Nguyễn Văn An", "phone": "0912345678",
             "description": "Hóa đơn tháng này cao bất thường"}
    first, again = CollectingDispatcher(), CollectingDispatcher()
    events1 = await submit.ActionSubmitRequest().run(first, submit_tracker(slots), DOMAIN)
    events2 = await submit.ActionSubmitRequest().run(again, submit_tracker(slots), DOMAIN)
    assert events1[0] == events2[0]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(ServiceRequest)) == 1
    assert again.messages[0]["text"].startswith("Dạ, yêu cầu khiếu nại / góp ý này em đã ghi nhận trước đó rồi ạ.")
    # another conversation with the same data is another request
    await submit.ActionSubmitRequest().run(CollectingDispatcher(), submit_tracker(slots, sender="conv-43"), DOMAIN)
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(ServiceRequest)) == 2


async def test_outage_report_is_urgent_and_due_today(customers, dispatcher):
    slots = {"service": "outage_report", "address": KNOWN["address"], "phone": "0912345678",
             "description": "Mất điện từ 7 giờ sáng", "customer_code": KNOWN["customer_code"]}
    events = await submit.ActionSubmitRequest().run(dispatcher, submit_tracker(slots), DOMAIN)
    with session_scope() as s:
        request = s.scalars(select(ServiceRequest)).one()
        assert request.priority == "urgent" and request.due_date == date.today()
        assert request.fields["customer_code"] == "PD01000123456"
    assert events[0] == SlotSet("request_code", request.code)
    text = texts(dispatcher)[0]
    assert "• Mức ưu tiên: khẩn cấp; mục tiêu khôi phục trong 2 giờ\n" in text
    assert f"• Hạn giải quyết: {date.today():%d/%m/%Y} (điện lực cử người xử lý ngay" in text
    assert "• Giấy tờ cần chuẩn bị: không cần giấy tờ thêm\n" in text


async def test_stopped_form_is_only_cleared(customers, dispatcher):
    slots = {"service": "outage_report", "address": KNOWN["address"], "stop_form": True, "report_anyway": False}
    tracker = form_tracker(slots, active=False)
    events = await submit.ActionSubmitRequest().run(dispatcher, tracker, DOMAIN)
    assert events == [SlotSet(k, v) for k, v in dialogue.reset_slots().items()]
    assert dispatcher.messages == []
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(ServiceRequest)) == 0


async def test_database_error_at_submission_is_answered_politely(monkeypatch, dispatcher):
    def broken(*args, **kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(submit, "create_request", broken)
    slots = {**RELOCATION_FILLED}
    events = await submit.ActionSubmitRequest().run(dispatcher, submit_tracker(slots), DOMAIN)
    assert events == [SlotSet("confirm", None), SlotSet("requested_slot", None)]
    assert texts(dispatcher)[0].startswith("Xin lỗi, hệ thống đang bận nên em chưa lưu được yêu cầu.")
    assert "tổng đài 1900 1288 (Tổng công ty Điện lực TP Hà Nội)" in texts(dispatcher)[0]


# --------------------------------------------------------------------------- cancel

async def test_cancel_inside_the_form(dispatcher):
    tracker = form_tracker(RELOCATION_FILLED, requested="new_location", intent="cancel", text="thôi hủy đi")
    events = await submit.ActionCancelForm().run(dispatcher, tracker, DOMAIN)
    assert events == [ActiveLoop(None)] + [SlotSet(k, v) for k, v in dialogue.reset_slots().items()]
    assert "full_name" not in {e.get("name") for e in events}
    assert texts(dispatcher) == ["Dạ, em đã hủy đăng ký thay đổi vị trí thiết bị đo đếm (di dời công tơ); thông "
                                 "tin chưa được gửi đi. Anh/chị cần gì thêm cứ nhắn em nhé."]


async def test_cancel_with_nothing_in_progress(dispatcher):
    events = await submit.ActionCancelForm().run(dispatcher, form_tracker(active=False, intent="cancel"), DOMAIN)
    assert events == []
    assert texts(dispatcher) == ["Dạ, hiện không có yêu cầu nào đang làm dở ạ. Anh/chị cần em hỗ trợ gì ạ?"]


def test_reset_keeps_personal_data_only():
    reset = dialogue.reset_slots()
    assert not set(dialogue.PERSISTENT_SLOTS) & set(reset)
    assert {"service", "address", "new_location", "description", "confirm", "requested_slot"} <= set(reset)


def test_every_intent_the_form_rejects_has_a_rule_inside_the_form():
    """Intents excluded from the form's from_text mappings make the form reject the message; each of them
    needs a rule (with the form active) so the conversation goes on instead of falling back."""
    rules = yaml.safe_load((PROJECT_ROOT / "data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    handled = {r["steps"][0]["intent"] for r in rules
               if {"active_loop": "service_form"} in r.get("condition", []) and "intent" in r["steps"][0]}
    excluded = set()
    for slot in DOMAIN["slots"].values():
        for mapping in slot.get("mappings", []):
            if mapping["type"] == "from_text" and any(c.get("active_loop") == "service_form"
                                                      for c in mapping.get("conditions", [])):
                excluded |= set(mapping.get("not_intent", []))
    excluded -= {"affirm", "deny"}  # at the field question these fill `confirm` instead
    assert excluded <= handled, excluded - handled


async def test_a_crash_while_validating_is_answered_and_contained(monkeypatch, dispatcher):
    def boom(self):
        raise ValueError("unexpected")

    monkeypatch.setattr(forms.FormTurn, "run", boom)
    tracker = form_tracker(RELOCATION, {"phone": "0912345678"}, requested="phone", text="0912345678")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("phone", None), SlotSet("requested_slot", "customer_code")]
    assert texts(dispatcher) == ["Xin lỗi, em gặp trục trặc khi kiểm tra thông tin vừa nhập. Anh/chị gửi lại giúp em nhé."]


@pytest.mark.parametrize("channel", ["webchat", "zalo", "messenger", "rest"])
async def test_every_channel_gets_the_same_request_summary_card(customers, dispatcher, channel):
    """Actions send one payload; each channel renders it (connectors/base/output.py)."""
    slots = {"service": "complaint", "full_name": "Nguyễn Văn An", "phone": "0912345678",
             "description": "Hóa đơn tháng này cao bất thường"}
    tracker = submit_tracker(slots, sender=f"conv-{channel}")
    tracker.events.append({"event": "user", "text": "đúng", "input_channel": channel})
    events = await submit.ActionSubmitRequest().run(dispatcher, tracker, DOMAIN)
    code = events[0]["value"]
    card = dispatcher.messages[-1]["custom"]
    due = add_working_days(date.today(), 5).strftime("%d/%m/%Y")
    assert card == {"type": "request_summary", "title": "Yêu cầu đã được tiếp nhận", "request_code": code,
                    "fields": [{"label": "Dịch vụ", "value": "Khiếu nại / góp ý"},
                               {"label": "Hạn giải quyết", "value": due},
                               {"label": "Tổng đài", "value": "1900 9999"}]}
    assert len(dispatcher.messages) == 2 and code in dispatcher.messages[0]["text"]


async def test_an_outage_report_with_danger_words_goes_to_a_person_at_once(customers, dispatcher, monkeypatch):
    from bot.settings import get_settings
    from bot.takeover import agents, engine

    monkeypatch.setenv("OFFICE_HOURS", "00:00-24:00")
    monkeypatch.setenv("OFFICE_DAYS", "1-7")
    get_settings.cache_clear()
    agents.add_agent("lan", "mat-khau-lan", "Lan")  # logged in = online
    agents.login("lan", "mat-khau-lan")
    slots = {"service": "outage_report", "address": "Số 5 ngõ 12 Phố Huế, phường Hai Bà Trưng, Hà Nội",
             "phone": "0912345678", "description": "dây điện trước nhà bị đứt, tóe lửa liên tục"}
    await submit.ActionSubmitRequest().run(dispatcher, submit_tracker(slots, sender="conv-danger"), DOMAIN)
    assert dispatcher.messages[-1]["sender"] == "system" and "khẩn cấp" in dispatcher.messages[-1]["text"]
    assert engine.is_held("conv-danger")
    calm = {**slots, "description": "mất điện cả xóm từ chiều"}
    await submit.ActionSubmitRequest().run(CollectingDispatcher(), submit_tracker(calm, sender="conv-calm"), DOMAIN)
    assert not engine.is_held("conv-calm")
    get_settings.cache_clear()


# --------------------------------------------------------------------------- forgiving dialogue

def after_procedure_answer(tracker: Tracker) -> Tracker:
    """The same tracker with a procedure answer as the bot's previous turn."""
    listen = max(i for i, e in enumerate(tracker.events) if e.get("name") == "action_listen")
    tracker.events.insert(listen, {"event": "action", "name": "action_answer_procedure"})
    return tracker


@pytest.mark.parametrize("text, intent", [("đăng ký luôn", "request_service"), ("ok em", "affirm"),
                                          ("dang ky luon nhe", "request_service")])
async def test_yes_right_after_a_procedure_answer_registers_that_service(text, intent, dispatcher):
    tracker = after_procedure_answer(form_tracker({"offered_service": "meter_relocation"}, text=text, intent=intent))
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("service", "meter_relocation"), SlotSet("requested_slot", "customer_code")]
    assert texts(dispatcher)[0].startswith("Dạ, em giúp anh/chị đăng ký: Thay đổi vị trí thiết bị đo đếm")


async def test_an_old_offer_is_not_taken_after_another_answer(dispatcher):
    tracker = form_tracker({"offered_service": "meter_relocation"}, text="đăng ký luôn", intent="request_service")
    tracker.events.insert(1, {"event": "action", "name": "action_answer_procedure"})  # long before
    tracker.events.insert(-3, {"event": "action", "name": "action_check_bill"})       # the previous turn
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("requested_slot", "service")]


@pytest.mark.parametrize("text, code", [
    ("Tiệm chị tính gắn thêm 3 cái máy lạnh, làm giùm chị với", "capacity_change"),
    ("tôi đã trả hết nợ tiền điện rồi, làm ơn làm thủ tục giúp tôi", "reconnection"),
    ("em mới mua lại căn nhà của ông chủ cũ, làm giúp em hợp đồng", "holder_change"),
])
async def test_request_told_as_a_situation_finds_its_service(text, code, dispatcher):
    events = await validate(form_tracker(text=text, intent="request_service"), dispatcher)
    assert events[0] == SlotSet("service", code)
    assert texts(dispatcher)[0].startswith(f"Dạ, em giúp anh/chị đăng ký: {CAT.services[code].vi}.")


@pytest.mark.parametrize("text, code", [
    ("nhà mới xây xong, chưa có điện để ở", "new_connection_lv"),
    ("quán mình mở thêm lò nướng, điện hay nhảy aptomat", "capacity_change"),
    ("Lắp công tơ, cấp điện mới hạ áp", "new_connection_lv"),  # a button title typed back
])
async def test_which_service_accepts_a_description(text, code, dispatcher):
    tracker = form_tracker({}, {"service": text}, requested="service", text=text)
    events = await validate(tracker, dispatcher)
    assert events[0] == SlotSet("service", code)


async def test_which_service_accepts_the_button(dispatcher):
    tracker = form_tracker({}, {"service": "quota_change"}, requested="service",
                           text='/request_service{"service":"quota_change"}', intent="request_service",
                           entities={"service": "quota_change"})
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("service", "quota_change"), SlotSet("requested_slot", "customer_code")]


OUTAGE_COMPLAINT = "Mất điện từ 6 giờ sáng tới giờ vẫn chưa có, gọi tổng đài không ai nghe, bực mình quá"


async def test_complaint_describing_an_outage_is_offered_the_outage_report(dispatcher):
    tracker = form_tracker({}, {"service": "complaint"}, text=OUTAGE_COMPLAINT, intent="complain")
    events = await validate(tracker, dispatcher)
    assert events == [SlotSet("service", "complaint"), SlotSet("description", OUTAGE_COMPLAINT),
                      SlotSet("pending_service", "outage_report"), SlotSet("switch_service", None),
                      SlotSet("requested_slot", "switch_service")]
    assert texts(dispatcher) == []  # the switch question comes first
    ask = CollectingDispatcher()
    slots = {"service": "complaint", "pending_service": "outage_report", "description": OUTAGE_COMPLAINT}
    await ask_actions.ActionAskSwitchService().run(ask, form_tracker(slots, requested="switch_service"), DOMAIN)
    assert ask.messages[0]["text"].startswith("Dạ, em rất tiếc vì sự bất tiện này. Nếu hiện giờ chỗ anh/chị vẫn "
                                              "đang mất điện, em lập ngay phiếu báo mất điện, sự cố")
    assert ask.messages[0]["buttons"] == [{"title": "Báo mất điện ngay", "payload": "/affirm"},
                                          {"title": "Vẫn gửi khiếu nại", "payload": "/deny"}]


async def test_outage_report_accepted_keeps_the_description(dispatcher):
    slots = {"service": "complaint", "pending_service": "outage_report", "description": OUTAGE_COMPLAINT}
    tracker = form_tracker(slots, {"switch_service": True}, requested="switch_service", intent="affirm")
    events = await validate(tracker, dispatcher)
    assert SlotSet("service", "outage_report") in events
    assert SlotSet("description", None) not in events
    assert events[-1] == SlotSet("requested_slot", "address")
    assert texts(dispatcher)[0].startswith("Dạ, em giúp anh/chị đăng ký: Báo mất điện / sự cố lưới điện.")


async def test_outage_report_declined_goes_on_with_the_complaint(dispatcher):
    slots = {"service": "complaint", "pending_service": "outage_report", "description": OUTAGE_COMPLAINT}
    tracker = form_tracker(slots, {"switch_service": False}, requested="switch_service", intent="deny")
    events = await validate(tracker, dispatcher)
    assert SlotSet("declined_service", "outage_report") in events
    assert texts(dispatcher) == ["Dạ, mình tiếp tục đăng ký khiếu nại / góp ý nhé."]


@pytest.mark.parametrize("text", [
    "Tuần trước mất điện 3 lần mà không ai thông báo, tôi muốn khiếu nại",
    "hóa đơn tháng này cao bất thường",
    "nhân viên ghi điện thái độ rất kém",
])
async def test_complaint_about_a_past_outage_or_the_bill_is_not_offered_the_outage_report(text, dispatcher):
    events = await validate(form_tracker({}, {"service": "complaint"}, text=text, intent="complain"), dispatcher)
    assert SlotSet("pending_service", "outage_report") not in events
    assert texts(dispatcher)[0].startswith("Dạ, em giúp anh/chị đăng ký: Khiếu nại / góp ý.")
