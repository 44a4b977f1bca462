"""Catalogue answers (actions/answers.py): exact replies and events for tracker fixtures."""
from __future__ import annotations


import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import answers
from bot.db.models import CallbackRequest, Conversation
from bot.db.session import session_scope
from bot.settings import get_settings
from bot.takeover import agents, engine
from tests.conftest import user_tracker

MENU = answers.MENU_BUTTONS
ALL_HOTLINES = (
    "• Tổng công ty Điện lực TP Hà Nội: 1900 1288\n"
    "• Tổng công ty Điện lực TP Hồ Chí Minh: 1900 545454\n"
    "• Tổng công ty Điện lực miền Bắc: 1900 6769\n"
    "• Tổng công ty Điện lực miền Trung: 1900 1909\n"
    "• Tổng công ty Điện lực miền Nam: 1900 1006"
)


@pytest.fixture(autouse=True)
def vat_8_percent(monkeypatch):
    monkeypatch.setenv("VAT_RATE", "0.08")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def tracker_for():
    """Tracker whose latest user message is `text` with `intent`, `entities`, `slots` and an active form."""

    def make(text: str = "", intent: str = "ask_tariff", *args, **kwargs) -> Tracker:
        return user_tracker(text, intent, *args, **kwargs)

    return make


def texts(dispatcher: CollectingDispatcher) -> list:
    return [m["text"] for m in dispatcher.messages]


# --------------------------------------------------------------------------- tariff

@pytest.mark.parametrize("text, kwh", [
    ("300 số hết bao nhiêu", 300),
    ("dùng 350 kwh thì bao nhiêu tiền", 350),
    ("dung 350 so dien het bao nhieu tien", 350),
    ("nhà mình dùng 120kWh", 120),
    ("3 trăm số điện hết bao nhiêu", 300),
    ("ba trăm rưỡi số thì sao", 350),
    ("tháng 5 nhà em dùng 1.200 số", 1200),
    ("tháng 5 dùng 300 thì hết bao nhiêu", 300),
    ("giá điện bậc 3", None),
    ("giá điện bao nhiêu", None),
])
def test_parse_kwh(text, kwh):
    assert answers.parse_kwh(text) == kwh


def test_parse_tier():
    assert answers.parse_tier("giá điện bậc 3 bao nhiêu 1 số") == 3
    assert answers.parse_tier("gia dien bac ba") == 3
    assert answers.parse_tier("300 số hết bao nhiêu") is None


async def test_tariff_300_kwh_tier_by_tier(dispatcher, domain, tracker_for):
    # Checked by hand: 50×1984 + 50×2050 + 100×2380 + 100×2998 = 99.200 + 102.500 + 238.000 + 299.800
    # = 739.500 đ before VAT; VAT 8% = 59.160 đ; total 798.660 đ.
    events = await answers.ActionAnswerTariff().run(dispatcher, tracker_for("300 số hết bao nhiêu"), domain)
    assert events == []
    assert texts(dispatcher) == [
        "Tiền điện sinh hoạt cho 300 kWh/tháng:\n"
        "• Bậc 1: 50 kWh × 1.984 đ = 99.200 đ\n"
        "• Bậc 2: 50 kWh × 2.050 đ = 102.500 đ\n"
        "• Bậc 3: 100 kWh × 2.380 đ = 238.000 đ\n"
        "• Bậc 4: 100 kWh × 2.998 đ = 299.800 đ\n"
        "Cộng (chưa VAT): 739.500 đ\n"
        "VAT 8%: 59.160 đ\n"
        "Tổng cộng: 798.660 đ\n"
        "Theo biểu giá Quyết định 1279/QĐ-BCT, áp dụng từ 10/5/2025. Số tiền thực tế có thể khác nếu hộ "
        "dùng chung (định mức nhiều hộ) hoặc kỳ hóa đơn không tròn tháng."
    ]


async def test_tariff_350_kwh_reaches_tier_5(dispatcher, domain, tracker_for):
    # 739.500 + 50×3350 = 907.000 đ; VAT 72.560 đ; total 979.560 đ.
    await answers.ActionAnswerTariff().run(dispatcher, tracker_for("dùng 350 kwh thì bao nhiêu tiền"), domain)
    lines = texts(dispatcher)[0].split("\n")
    assert lines[5:9] == [
        "• Bậc 5: 50 kWh × 3.350 đ = 167.500 đ",
        "Cộng (chưa VAT): 907.000 đ",
        "VAT 8%: 72.560 đ",
        "Tổng cộng: 979.560 đ",
    ]


async def test_tariff_vat_rate_comes_from_settings(dispatcher, domain, tracker_for, monkeypatch):
    monkeypatch.setenv("VAT_RATE", "0.1")
    get_settings.cache_clear()
    await answers.ActionAnswerTariff().run(dispatcher, tracker_for("50 số"), domain)
    # 50 × 1984 = 99.200 đ; VAT 10% = 9.920 đ
    assert texts(dispatcher)[0].split("\n")[2:5] == [
        "Cộng (chưa VAT): 99.200 đ", "VAT 10%: 9.920 đ", "Tổng cộng: 109.120 đ"]


async def test_tariff_one_tier(dispatcher, domain, tracker_for):
    await answers.ActionAnswerTariff().run(dispatcher, tracker_for("giá điện bậc 3"), domain)
    assert texts(dispatcher) == [
        "Giá điện sinh hoạt bậc 3 (101–200 kWh): 2.380 đ/kWh, chưa gồm VAT 8% "
        "(Quyết định 1279/QĐ-BCT, áp dụng từ 10/5/2025)."
    ]


async def test_tariff_table_without_a_number(dispatcher, domain, tracker_for):
    await answers.ActionAnswerTariff().run(dispatcher, tracker_for("giá điện hiện nay thế nào"), domain)
    assert texts(dispatcher) == [
        "Giá bán lẻ điện sinh hoạt (Quyết định 1279/QĐ-BCT, áp dụng từ 10/5/2025), chưa gồm VAT 8%:\n"
        "• Bậc 1 (0–50 kWh): 1.984 đ/kWh\n"
        "• Bậc 2 (51–100 kWh): 2.050 đ/kWh\n"
        "• Bậc 3 (101–200 kWh): 2.380 đ/kWh\n"
        "• Bậc 4 (201–300 kWh): 2.998 đ/kWh\n"
        "• Bậc 5 (301–400 kWh): 3.350 đ/kWh\n"
        "• Bậc 6 (từ 401 kWh): 3.460 đ/kWh\n"
        "• Công tơ thẻ trả trước: 2.909 đ/kWh\n"
        "Anh/chị cho em số kWh (số điện) dùng trong tháng, em tính giúp tiền điện ạ."
    ]


async def test_answer_clears_an_open_lookup_question(dispatcher, domain, tracker_for):
    tracker = tracker_for("giá điện bậc 1", slots={"lookup_pending": "bill"})
    events = await answers.ActionAnswerTariff().run(dispatcher, tracker, domain)
    assert events == [SlotSet("lookup_pending", None)]


# --------------------------------------------------------------------------- procedure FAQ

async def test_procedure_full_answer_with_register_button(dispatcher, domain, tracker_for):
    tracker = tracker_for("di dời công tơ cần giấy tờ gì", "ask_procedure", {"service": "meter_relocation"})
    events = await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert events == [SlotSet("offered_service", "meter_relocation")]  # "đăng ký luôn" registers it
    assert dispatcher.messages[0]["text"] == (
        "Thay đổi vị trí thiết bị đo đếm (di dời công tơ):\n"
        "• Giấy tờ cần chuẩn bị:\n"
        "  - Giấy đề nghị\n"
        "  - Giấy tờ chứng minh quyền sử dụng vị trí mới nếu không thuộc sở hữu\n"
        "• Thời gian giải quyết: tối đa 5 ngày làm việc\n"
        "• Chi phí: Khách hàng chịu chi phí di dời (trừ công tơ, TU, TI của điện lực)\n"
        "Anh/chị muốn đăng ký luôn thì bấm nút bên dưới hoặc nhắn \"đăng ký luôn\" ạ."
    )
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "Đăng ký di dời công tơ", "payload": '/request_service{"service":"meter_relocation"}'}]


async def test_procedure_service_found_from_catalogue_phrase(dispatcher, domain, tracker_for):
    tracker = tracker_for("cấp điện trở lại mất phí không", "ask_procedure")
    await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert texts(dispatcher)[0].split("\n")[0] == (
        "Chi phí cấp điện trở lại: 98.000 đ/lần cho khách hàng sinh hoạt ≤ 0,38 kV (chưa VAT), "
        "Thông tư 23/2020/TT-BCT.")


async def test_procedure_fee_question_mid_form_is_concise(dispatcher, domain, tracker_for):
    tracker = tracker_for("mất phí không?", "ask_procedure", slots={"service": "holder_change"},
                          form="service_form")
    events = await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert events == []
    assert dispatcher.messages == [{
        "text": "Sang tên hợp đồng mua bán điện: miễn phí.", "buttons": [], "elements": [],
        "custom": {}, "template": None, "response": None, "image": None, "attachment": None,
    }]


async def test_procedure_duration_question_mid_form(dispatcher, domain, tracker_for):
    tracker = tracker_for("bao lâu thì xong?", "ask_procedure", slots={"service": "new_connection_lv"},
                          form="service_form")
    await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [
        "Thời gian giải quyết lắp đặt công tơ, cấp điện mới hạ áp: 3 ngày làm việc ở thành phố, thị xã; "
        "5 ngày ở nông thôn; 7 ngày nếu phải trồng thêm cột hoặc kéo cáp ngầm."]
    assert dispatcher.messages[0]["buttons"] == []


async def test_procedure_statement_answering_a_free_text_question_is_the_answer(dispatcher, domain, tracker_for):
    text = "Dời công tơ ra cột điện trước cổng, số 12 ngõ 34 Hoa Bằng, Cầu Giấy, Hà Nội"
    tracker = tracker_for(text, "ask_procedure", {"service": "meter_relocation"}, form="service_form",
                          slots={"service": "meter_relocation", "customer_code": "PD02001234567",
                                 "full_name": "Trần Thị Bình", "phone": "0987654321",
                                 "requested_slot": "new_location"})
    events = await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert SlotSet("new_location", text) in events
    assert dispatcher.messages == []  # no procedure answer: the form goes on to the summary


async def test_procedure_question_while_a_free_text_slot_is_asked_is_answered(dispatcher, domain, tracker_for):
    tracker = tracker_for("dời ra cột điện có mất phí không", "ask_procedure", form="service_form",
                          slots={"service": "meter_relocation", "requested_slot": "new_location"})
    events = await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher) == ["Chi phí di dời công tơ: Khách hàng chịu chi phí di dời (trừ công tơ, TU, TI "
                                 "của điện lực)."]


async def test_procedure_statement_while_a_choice_slot_is_asked_is_answered(dispatcher, domain, tracker_for):
    tracker = tracker_for("di dời công tơ", "ask_procedure", form="service_form",
                          slots={"service": "meter_relocation", "requested_slot": "phone"})
    await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert texts(dispatcher)[0].startswith("Thay đổi vị trí thiết bị đo đếm (di dời công tơ):")


async def test_procedure_fee_and_duration(dispatcher, domain, tracker_for):
    tracker = tracker_for("di doi cong to mat phi ko, may ngay xong", "ask_procedure")
    await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert texts(dispatcher)[0].split("\n")[0] == (
        "Chi phí di dời công tơ: Khách hàng chịu chi phí di dời (trừ công tơ, TU, TI của điện lực). "
        "Thời gian giải quyết di dời công tơ: tối đa 5 ngày làm việc.")


async def test_procedure_without_service_asks_which(dispatcher, domain, tracker_for):
    tracker = tracker_for("cần giấy tờ gì", "ask_procedure")
    events = await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher) == ["Anh/chị muốn hỏi thủ tục của dịch vụ nào ạ?"]
    buttons = dispatcher.messages[0]["buttons"]
    assert len(buttons) == 15
    assert buttons[0] == {"title": "Lắp đặt công tơ, cấp điện mới hạ áp",
                          "payload": '/ask_procedure{"service":"new_connection_lv"}'}
    assert {"title": "Di dời công tơ", "payload": '/ask_procedure{"service":"meter_relocation"}'} in buttons


# --------------------------------------------------------------------------- payment, hotline, human

CHANNELS = (
    "Các kênh thanh toán tiền điện:\n"
    "• Ví điện tử: MoMo, ZaloPay, ViettelPay (Viettel Money), VNPay, ShopeePay\n"
    "• Ngân hàng: Internet/Mobile Banking, chuyển khoản theo mã khách hàng\n"
    "• Ủy nhiệm thu / trích nợ tự động hằng tháng qua ngân hàng\n"
    "• Tiền mặt tại quầy giao dịch của điện lực, bưu điện, điểm thu hộ\n"
    "Khi thanh toán chỉ cần mã khách hàng (in trên hóa đơn tiền điện)."
)


async def test_payment_channels(dispatcher, domain, tracker_for):
    events = await answers.ActionAnswerPaymentChannels().run(
        dispatcher, tracker_for("đóng tiền điện ở đâu", "ask_payment_channels"), domain)
    assert events == []
    assert texts(dispatcher) == [CHANNELS]


async def test_payment_channel_named_by_the_customer(dispatcher, domain, tracker_for):
    await answers.ActionAnswerPaymentChannels().run(
        dispatcher, tracker_for("trả tiền điện qua momo được không", "ask_payment_channels"), domain)
    assert texts(dispatcher) == [
        "Dạ được ạ, anh/chị có thể thanh toán tiền điện qua ví điện tử (MoMo, ZaloPay, ViettelPay, VNPay).\n"
        + CHANNELS]


async def test_hotline_routed_by_customer_code_slot(dispatcher, domain, tracker_for):
    tracker = tracker_for("số tổng đài là gì", "ask_hotline", slots={"customer_code": "PB04002152945"})
    await answers.ActionAnswerHotline().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [
        "Tổng đài chăm sóc khách hàng của Tổng công ty Điện lực TP Hồ Chí Minh "
        "(phụ trách mã khách hàng PB04002152945): 1900 545454."]


async def test_hotline_routed_by_code_in_message(dispatcher, domain, tracker_for):
    tracker = tracker_for("tổng đài cho mã PC03004416672", "ask_hotline")
    await answers.ActionAnswerHotline().run(dispatcher, tracker, domain)
    assert texts(dispatcher)[0].endswith("Tổng công ty Điện lực miền Trung "
                                         "(phụ trách mã khách hàng PC03004416672): 1900 1909.")


async def test_all_hotlines_without_customer_code(dispatcher, domain, tracker_for):
    await answers.ActionAnswerHotline().run(dispatcher, tracker_for("số tổng đài điện lực", "ask_hotline"), domain)
    assert texts(dispatcher) == [
        "Tổng đài chăm sóc khách hàng ngành điện:\n" + ALL_HOTLINES
        + "\nAnh/chị cho em mã khách hàng, em sẽ chỉ đúng tổng đài phụ trách khu vực của mình ạ."]


async def test_request_human_with_nobody_to_answer_stores_a_callback(db_url, dispatcher, domain, tracker_for):
    tracker = tracker_for("cho tôi gặp nhân viên", "request_human",
                          slots={"customer_code": "PD01001494350", "phone": "0912345678"})
    events = await answers.ActionRequestHuman().run(dispatcher, tracker, domain)
    assert events == []  # the bot carries on (a running form goes on asking)
    [message] = dispatcher.messages
    assert message["sender"] == "system"
    assert "Tư vấn viên sẽ gọi lại cho anh/chị theo số 0912345678" in message["text"]
    assert "tổng đài 1900 1288 (Tổng công ty Điện lực TP Hà Nội)" in message["text"]
    with session_scope() as s:
        callback = s.execute(select(CallbackRequest)).scalar_one()
    assert (callback.phone, callback.topic) == ("0912345678", "Khách muốn gặp tư vấn viên: cho tôi gặp nhân viên")


async def test_request_human_in_office_hours_queues_and_silences_the_form(db_url, monkeypatch, dispatcher, domain,
                                                                          tracker_for):
    monkeypatch.setenv("OFFICE_HOURS", "00:00-24:00")
    monkeypatch.setenv("OFFICE_DAYS", "1-7")
    get_settings.cache_clear()
    agents.add_agent("lan", "mat-khau-lan", "Lan")
    agents.session_agent(agents.login("lan", "mat-khau-lan")[0])
    tracker = tracker_for("gap tu van vien", "request_human", slots={"service": "meter_relocation",
                          "requested_slot": "phone"}, form="service_form")
    events = await answers.ActionRequestHuman().run(dispatcher, tracker, domain)
    assert events == []  # the rules go on to the form, whose ask actions stay silent while held
    assert dispatcher.messages[0]["sender"] == "system" and "vị trí số 1" in dispatcher.messages[0]["text"]
    assert engine.is_held("test-user")
    with session_scope() as s:
        row = s.execute(select(Conversation)).scalar_one()
    assert row.context["form"] == "service_form" and row.context["slots"]["service"] == "meter_relocation"
    get_settings.cache_clear()


async def test_request_human_without_the_takeover_store_gives_the_hotline(monkeypatch, dispatcher, domain,
                                                                         tracker_for):
    def broken(*_args, **_kwargs):
        raise ConnectionError("database down")

    monkeypatch.setattr(answers.escalation, "escalate", broken)
    await answers.ActionRequestHuman().run(dispatcher, tracker_for("gap tu van vien", "request_human"), domain)
    assert texts(dispatcher) == [
        "Hiện em chưa chuyển được cuộc trò chuyện cho nhân viên. Anh/chị vui lòng gọi tổng đài của điện lực "
        "nơi mình sử dụng điện để gặp trực tiếp tư vấn viên ạ:\n" + ALL_HOTLINES]


# --------------------------------------------------------------------------- fallback ladder

async def test_first_fallback_asks_to_rephrase(dispatcher, domain, tracker_for):
    events = await answers.ActionFallbackLadder().run(
        dispatcher, tracker_for("asdfgh", "nlu_fallback"), domain)
    assert events == [SlotSet("fallback_count", 1.0)]
    assert texts(dispatcher) == ["Xin lỗi, em chưa hiểu ý anh/chị. Anh/chị nói lại theo cách khác giúp em, "
                                 "hoặc chọn một việc bên dưới ạ."]
    assert dispatcher.messages[0]["buttons"] == MENU


async def test_second_fallback_in_a_row_offers_a_human(dispatcher, domain, tracker_for):
    tracker = tracker_for("qwerty", "nlu_fallback", slots={"fallback_count": 1.0, "customer_code": "PE01004496132"})
    events = await answers.ActionFallbackLadder().run(dispatcher, tracker, domain)
    assert events == [SlotSet("fallback_count", 2.0)]
    assert texts(dispatcher) == [
        "Em vẫn chưa hiểu được yêu cầu của anh/chị, em xin lỗi. Anh/chị có muốn gặp nhân viên tư vấn không? "
        "Anh/chị vui lòng gọi tổng đài 1900 545454 (Tổng công ty Điện lực TP Hồ Chí Minh) để gặp nhân viên ạ."]
    assert dispatcher.messages[0]["buttons"] == [{"title": "Gặp nhân viên", "payload": "/request_human"}] + MENU


async def test_fallback_keeps_an_open_lookup_question(dispatcher, domain, tracker_for):
    tracker = tracker_for("???", "nlu_fallback", slots={"lookup_pending": "outage"})
    events = await answers.ActionFallbackLadder().run(dispatcher, tracker, domain)
    assert events == [SlotSet("fallback_count", 1.0)]


# --------------------------------------------------------------------------- forgiving dialogue

def fallback_tracker(text: str, ranking: list, entities: dict | None = None, slots: dict | None = None) -> Tracker:
    """A tracker whose latest message fell below the fallback threshold, with the classifier's ranking."""
    message = {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.4},
               "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.4}]
               + [{"name": n, "confidence": c} for n, c in ranking],
               "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()]}
    return Tracker("test-user", dict(slots or {}), message, [], False, None, {}, "action_listen")


async def test_fallback_with_plausible_readings_asks_which_one_with_buttons(dispatcher, domain):
    tracker = fallback_tracker("điện nhà tôi lúc có lúc không, bực quá",
                               [("report_outage", 0.38), ("complain", 0.33), ("greet", 0.2), ("ask_tariff", 0.05)])
    events = await answers.ActionFallbackLadder().run(dispatcher, tracker, domain)
    assert events == [SlotSet("fallback_count", 1.0)]
    assert texts(dispatcher) == ["Dạ, ý anh/chị là “báo mất điện, sự cố” hay “gửi khiếu nại, phản ánh” ạ? "
                                 "Anh/chị chọn bên dưới giúp em, hoặc nói rõ hơn một chút nhé."]
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "Báo mất điện, sự cố", "payload": "/report_outage"},
        {"title": "Gửi khiếu nại, phản ánh", "payload": "/complain"}]


async def test_fallback_reading_keeps_the_service_named(dispatcher, domain):
    tracker = fallback_tracker("cái vụ dời đồng hồ", [("ask_procedure", 0.36), ("request_service", 0.31)],
                               entities={"service": "meter_relocation"})
    await answers.ActionFallbackLadder().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "Hỏi thủ tục di dời công tơ", "payload": '/ask_procedure{"service":"meter_relocation"}'},
        {"title": "Đăng ký di dời công tơ", "payload": '/request_service{"service":"meter_relocation"}'}]


async def test_fallback_without_a_plausible_reading_asks_to_rephrase(dispatcher, domain):
    tracker = fallback_tracker("hmmm", [("greet", 0.3), ("affirm", 0.25), ("check_bill", 0.1)])
    await answers.ActionFallbackLadder().run(dispatcher, tracker, domain)
    assert texts(dispatcher)[0].startswith("Xin lỗi, em chưa hiểu ý anh/chị.")
    assert dispatcher.messages[0]["buttons"] == MENU


async def test_second_fallback_offers_a_human_even_with_readings(dispatcher, domain):
    tracker = fallback_tracker("vẫn thế", [("complain", 0.35)], slots={"fallback_count": 1.0})
    await answers.ActionFallbackLadder().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["buttons"][0] == {"title": "Gặp nhân viên", "payload": "/request_human"}


async def test_procedure_for_a_described_situation(dispatcher, domain, tracker_for):
    tracker = tracker_for("nhà mới xây xong chưa có điện thì cần giấy tờ gì", "ask_procedure")
    events = await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert events == [SlotSet("offered_service", "new_connection_lv")]
    assert texts(dispatcher)[0].startswith("Cấp điện mới từ lưới điện hạ áp (220/380V):")


async def test_procedure_without_a_service_withdraws_an_earlier_offer(dispatcher, domain, tracker_for):
    tracker = tracker_for("thủ tục thế nào", "ask_procedure", slots={"offered_service": "holder_change"})
    events = await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert events == [SlotSet("offered_service", None)]
    assert texts(dispatcher) == ["Anh/chị muốn hỏi thủ tục của dịch vụ nào ạ?"]


async def test_description_typed_at_which_service_is_the_answer(dispatcher, domain, tracker_for):
    text = "quán em mới lắp thêm 2 cái máy lạnh nên điện không đủ tải"
    tracker = tracker_for(text, "ask_procedure", form="service_form", slots={"requested_slot": "service"})
    events = await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert SlotSet("service", "capacity_change") in events
    assert texts(dispatcher)[0].startswith("Dạ, em giúp anh/chị đăng ký: Thay đổi công suất sử dụng điện")


async def test_question_typed_at_which_service_is_still_answered(dispatcher, domain, tracker_for):
    tracker = tracker_for("sang tên mất bao lâu?", "ask_procedure", {"service": "holder_change"},
                          form="service_form", slots={"requested_slot": "service"})
    events = await answers.ActionAnswerProcedure().run(dispatcher, tracker, domain)
    assert events == []
    assert texts(dispatcher)[0].startswith("Thời gian giải quyết sang tên hợp đồng mua bán điện")
