"""Answers from the catalogue: tariff, procedure FAQ, payment channels, hotlines, human hand-off,
fallback ladder. Every text is built from data/services.yml so a catalogue edit changes the replies."""
from __future__ import annotations

import logging
import re
from typing import Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import (
    all_hotlines_text, call_hotline, hotline_text, lower_first, payload, routed, service_buttons,
)
from actions.forgiving import (
    OFFER_SLOT, fallback_suggestions, service_from_words, suggestion_button, suggestion_question,
)
from actions.interruptions import free_text_answer, service_answer, validate_as_answer
from actions.tracker_helpers import (
    active_form, clear_pending, escalation_context, known_customer_code, last_customer_words, latest_entity,
    latest_text,
)
from bot.catalogue import Service, load_catalogue
from bot.formatting import format_money, format_number, format_percent
from bot.settings import get_settings
from bot.takeover import escalation
from bot.text import fold

logger = logging.getLogger(__name__)

FALLBACK_SLOT = "fallback_count"

# Common tasks offered after a misunderstanding and in the greeting (payloads are intents).
MENU_BUTTONS: list[dict[str, str]] = [
    {"title": "Đăng ký dịch vụ điện", "payload": "/request_service"},
    {"title": "Báo mất điện", "payload": "/report_outage"},
    {"title": "Tra cứu tiền điện", "payload": "/check_bill"},
    {"title": "Lịch cắt điện", "payload": "/check_outage_schedule"},
    {"title": "Tiến độ yêu cầu", "payload": "/check_request_status"},
    {"title": "Giá điện", "payload": "/ask_tariff"},
]

# --------------------------------------------------------------------------- tariff

_NUMBER_WORDS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "lam": 5, "sau": 6,
                 "bay": 7, "tam": 8, "chin": 9}
_TIER_RE = re.compile(r"\bbac\s*(\d|" + "|".join(_NUMBER_WORDS) + r")\b")
_HUNDREDS_RE = re.compile(
    r"\b(\d+|" + "|".join(_NUMBER_WORDS) + r")\s*tram(?:\s+(ruoi|\d{1,2}|" + "|".join(_NUMBER_WORDS) + r"))?\b")
_THOUSANDS_RE = re.compile(r"\b(\d+)\s*(?:nghin|ngan)\b")
_NUMBER_RE = re.compile(r"(?<![\d.,])(\d{1,3}(?:\.\d{3})+|\d+)(?![\d.,]*\d)\s*(kwh|kw|so|ki|ky)?\b")
_NOT_KWH_BEFORE = re.compile(r"\b(thang|ngay|nam|bac|lan|tuan|hom|gio|phong|nguoi|ho)\s*$")


def _small_number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS[word]


def parse_tier(text: str) -> Optional[int]:
    """'giá điện bậc 3' -> 3."""
    m = _TIER_RE.search(fold(text))
    return _small_number(m.group(1)) if m else None


def parse_kwh(text: str) -> Optional[int]:
    """kWh amount in a message: '300 số', 'dùng 350 kwh', '3 trăm số', 'ba trăm rưỡi', '1.200 số'."""
    folded = _TIER_RE.sub(" ", fold(text))

    def hundreds(m: re.Match) -> str:
        value = _small_number(m.group(1)) * 100
        tail = m.group(2)
        if tail == "ruoi":
            value += 50
        elif tail:  # "3 trăm 5" is 350 in speech, "3 trăm 25" is 325
            n = _small_number(tail)
            value += n * 10 if n < 10 else n
        return f" {value} "

    folded = _HUNDREDS_RE.sub(hundreds, folded)
    folded = _THOUSANDS_RE.sub(lambda m: f" {int(m.group(1)) * 1000} ", folded)
    with_unit, bare = [], []
    for m in _NUMBER_RE.finditer(folded):
        value = int(m.group(1).replace(".", ""))
        if m.group(2):
            with_unit.append(value)
        elif not _NOT_KWH_BEFORE.search(folded[:m.start()]):
            bare.append(value)
    candidates = with_unit or bare
    if not candidates or not 0 < candidates[0] <= 1_000_000:
        return None
    return candidates[0]


def _tier_range(tiers: tuple, index: int) -> str:
    """'51–100 kWh' for the tier at 0-based `index`."""
    start = tiers[index - 1][0] + 1 if index > 0 else 0
    upper = tiers[index][0]
    return f"{start}–{upper} kWh" if upper is not None else f"từ {start} kWh"


def tariff_table_text() -> str:
    tariff = load_catalogue().tariff
    vat = format_percent(get_settings().vat_rate)
    lines = [f"Giá bán lẻ điện sinh hoạt ({tariff.source}), chưa gồm VAT {vat}:"]
    for i, (_upper, price) in enumerate(tariff.tiers):
        lines.append(f"• Bậc {i + 1} ({_tier_range(tariff.tiers, i)}): {format_number(price)} đ/kWh")
    lines.append(f"• Công tơ thẻ trả trước: {format_number(tariff.prepaid_meter)} đ/kWh")
    lines.append("Anh/chị cho em số kWh (số điện) dùng trong tháng, em tính giúp tiền điện ạ.")
    return "\n".join(lines)


def tariff_tier_text(tier: int) -> Optional[str]:
    tariff = load_catalogue().tariff
    if not 1 <= tier <= len(tariff.tiers):
        return None
    vat = format_percent(get_settings().vat_rate)
    price = tariff.tiers[tier - 1][1]
    return (f"Giá điện sinh hoạt bậc {tier} ({_tier_range(tariff.tiers, tier - 1)}): "
            f"{format_number(price)} đ/kWh, chưa gồm VAT {vat} ({tariff.source}).")


def tariff_cost_text(kwh: int) -> str:
    tariff = load_catalogue().tariff
    vat_rate = get_settings().vat_rate
    before, vat, total = tariff.cost(kwh, vat_rate)
    lines = [f"Tiền điện sinh hoạt cho {format_number(kwh)} kWh/tháng:"]
    for tier, in_tier, price, amount in tariff.breakdown(kwh):
        lines.append(f"• Bậc {tier}: {format_number(in_tier)} kWh × {format_number(price)} đ = {format_money(amount)}")
    lines.append(f"Cộng (chưa VAT): {format_money(before)}")
    lines.append(f"VAT {format_percent(vat_rate)}: {format_money(vat)}")
    lines.append(f"Tổng cộng: {format_money(total)}")
    lines.append(f"Theo biểu giá {tariff.source}. Số tiền thực tế có thể khác nếu hộ dùng chung "
                 f"(định mức nhiều hộ) hoặc kỳ hóa đơn không tròn tháng.")
    return "\n".join(lines)


class ActionAnswerTariff(Action):
    """Intent ask_tariff: cost of N kWh tier by tier, the price of one tier, or the tier table."""

    def name(self) -> str:
        return "action_answer_tariff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        text = latest_text(tracker)
        kwh = parse_kwh(text)
        tier = parse_tier(text)
        if kwh:
            dispatcher.utter_message(text=tariff_cost_text(kwh))
        elif tier and tariff_tier_text(tier):
            dispatcher.utter_message(text=tariff_tier_text(tier))
        else:
            dispatcher.utter_message(text=tariff_table_text())
        return clear_pending(tracker)


# --------------------------------------------------------------------------- procedure FAQ

_FEE_RE = re.compile(r"\b(phi|chi phi|le phi|tien|bao nhieu tien|mat tien|tra tien|ton tien|tinh tien)\b")
_DURATION_RE = re.compile(
    r"\b(bao lau|may ngay|bao nhieu ngay|may hom|bao nhieu hom|bao gio|khi nao|thoi gian|lau (khong|ko|k|hong|hok)"
    r"|mat may|trong bao|nhanh khong)\b")


def service_in_message(tracker: Tracker) -> Optional[str]:
    """Service code of the latest message: the NLU entity, else the longest catalogue wording in the text,
    else a described situation ("nhà mới xây thì cần giấy tờ gì")."""
    catalogue = load_catalogue()
    value = latest_entity(tracker, "service")
    if value in catalogue.services:
        return value
    return service_from_words(latest_text(tracker), catalogue)


def fee_sentence(service: Service) -> str:
    if service.fee.strip().lower() == "miễn phí":
        return f"{service.short}: miễn phí."
    return f"Chi phí {lower_first(service.short)}: {service.fee}."


def duration_sentence(service: Service) -> str:
    return f"Thời gian giải quyết {lower_first(service.short)}: {service.days_text}."


def procedure_text(service: Service) -> str:
    lines = [f"{service.vi}:"]
    if service.documents:
        lines.append("• Giấy tờ cần chuẩn bị:")
        lines.extend(f"  - {doc}" for doc in service.documents)
    else:
        lines.append("• Giấy tờ: không cần giấy tờ kèm theo.")
    lines.append(f"• Thời gian giải quyết: {service.days_text}")
    lines.append(f"• Chi phí: {service.fee}")
    return "\n".join(lines)


class ActionAnswerProcedure(Action):
    """Intent ask_procedure (also called mid-form): documents, duration and fee of a service.

    A question about the fee ("mất phí không?") or the duration ("bao lâu thì xong?") gets that
    part only, concisely; inside a form no buttons are added so the form can re-ask its question.
    While the form asks a free-text slot or which service, a statement read as ask_procedure ("dời công tơ
    ra cột điện trước cổng", "nhà mới xây cần có điện") is the answer: it is validated as such, nothing
    is said and the form goes on. Outside a form the answer offers the registration (a button; slot
    `offered_service` lets "đăng ký luôn" or a "yes" start it).
    """

    def name(self) -> str:
        return "action_answer_procedure"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        catalogue = load_catalogue()
        if free_text_answer(tracker, catalogue) or service_answer(tracker, catalogue):
            events = validate_as_answer(tracker, dispatcher, catalogue)
            if events is not None:
                return events
        code = service_in_message(tracker) or tracker.get_slot("service")
        service = catalogue.services.get(code) if code else None
        if service is None:
            dispatcher.utter_message(text="Anh/chị muốn hỏi thủ tục của dịch vụ nào ạ?",
                                     buttons=service_buttons("ask_procedure", catalogue))
            return clear_pending(tracker) + _offer(tracker, None)
        text = fold(latest_text(tracker))
        parts = []
        if _FEE_RE.search(text):
            parts.append(fee_sentence(service))
        if _DURATION_RE.search(text):
            parts.append(duration_sentence(service))
        if parts:
            answer = " ".join(parts)
        else:
            answer = procedure_text(service)
        if active_form(tracker):
            dispatcher.utter_message(text=answer)
            return clear_pending(tracker)
        dispatcher.utter_message(
            text=answer + "\nAnh/chị muốn đăng ký luôn thì bấm nút bên dưới hoặc nhắn \"đăng ký luôn\" ạ.",
            buttons=[{"title": f"Đăng ký {lower_first(service.short)}",
                      "payload": payload("request_service", {"service": service.code})}])
        return clear_pending(tracker) + _offer(tracker, service.code)


def _offer(tracker: Tracker, code: Optional[str]) -> list[EventType]:
    """Remember which service a procedure answer offered (None: nothing offered)."""
    return [SlotSet(OFFER_SLOT, code)] if tracker.get_slot(OFFER_SLOT) != code else []


# --------------------------------------------------------------------------- payment, hotline, human

def matched_payment_method(text: str) -> Optional[str]:
    """Vietnamese label of the payment method the customer names ('momo' -> 'Ví điện tử (...)')."""
    spec = load_catalogue().slots.get("payment_method")
    folded = fold(text)
    if not spec:
        return None
    best, best_len = None, 0
    for value in spec.values:
        for word in value.words:
            w = fold(word)
            if len(w) >= 3 and len(w) > best_len and re.search(rf"\b{re.escape(w)}\b", folded):
                best, best_len = value.vi, len(w)
    return best


class ActionAnswerPaymentChannels(Action):
    def name(self) -> str:
        return "action_answer_payment_channels"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        channels = load_catalogue().payment_channels
        lines = []
        method = matched_payment_method(latest_text(tracker))
        if method:
            lines.append(f"Dạ được ạ, anh/chị có thể thanh toán tiền điện qua {lower_first(method)}.")
        lines.append("Các kênh thanh toán tiền điện:")
        lines.extend(f"• {c}" for c in channels)
        lines.append("Khi thanh toán chỉ cần mã khách hàng (in trên hóa đơn tiền điện).")
        dispatcher.utter_message(text="\n".join(lines))
        return clear_pending(tracker)


class ActionAnswerHotline(Action):
    """Intent ask_hotline: the routed corporation's hotline for a known customer code, else all five."""

    def name(self) -> str:
        return "action_answer_hotline"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        code = known_customer_code(tracker)
        corp = routed(code)
        if corp:
            text = (f"Tổng đài chăm sóc khách hàng của {corp.vi} "
                    f"(phụ trách mã khách hàng {code}): {corp.hotline}.")
        else:
            text = ("Tổng đài chăm sóc khách hàng ngành điện:\n" + all_hotlines_text()
                    + "\nAnh/chị cho em mã khách hàng, em sẽ chỉ đúng tổng đài phụ trách khu vực của mình ạ.")
        dispatcher.utter_message(text=text)
        return clear_pending(tracker)


class ActionRequestHuman(Action):
    """Intent request_human (any time, also mid-form; the "Gặp tư vấn viên" buttons): hand the conversation to
    a person (bot/takeover/escalation.py). Queued: the customer is told their place, the bot goes silent
    (the channels' gate; a running form asks nothing while held: actions/ask.py) and a half-filled form stays
    active, so it resumes after the hand back. Nobody can
    answer now: a callback request is stored and the bot carries on. The takeover store unreachable: the
    hotline, as before takeover existed."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        code = known_customer_code(tracker)
        settings = get_settings()
        said = last_customer_words(tracker)
        try:
            outcome = escalation.escalate(
                settings, tracker.sender_id, f"Khách muốn gặp tư vấn viên: {said}" if said else
                "Khách muốn gặp tư vấn viên", hotline_text(code, settings.default_hotline),
                channel=tracker.get_latest_input_channel(), urgent=escalation.is_urgent(said),
                context=escalation_context(tracker), customer_code=code, phone=tracker.get_slot("phone"))
        except Exception:  # noqa: BLE001 - the customer still gets a way to a person
            logger.exception("escalation failed for %s", tracker.sender_id)
            dispatcher.utter_message(text=human_handoff_text(code))
            return clear_pending(tracker)
        # "system": this line must pass the gate that the escalation has just closed for the bot
        dispatcher.utter_message(text=outcome.text, sender="system")
        return clear_pending(tracker)


def human_handoff_text(customer_code: Optional[str]) -> str:
    return ("Hiện em chưa chuyển được cuộc trò chuyện cho nhân viên. "
            + call_hotline(customer_code, "để gặp trực tiếp tư vấn viên"))


# --------------------------------------------------------------------------- fallback ladder

class ActionFallbackLadder(Action):
    """Intent nlu_fallback: first, when the classifier had plausible readings, ask "Ý anh/chị là …?" with
    one button per reading (actions/forgiving.py), else ask to rephrase with the menu; from the second
    fallback in a row offer a human. The counter slot is reset by its from_intent mapping on any other
    intent."""

    def name(self) -> str:
        return "action_fallback_ladder"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        try:
            count = int(float(tracker.get_slot(FALLBACK_SLOT) or 0)) + 1
        except (TypeError, ValueError):
            count = 1
        suggestions = fallback_suggestions(tracker.latest_message or {})
        if count < 2 and suggestions:
            service = latest_entity(tracker, "service")
            buttons = [suggestion_button(intent, service) for intent, _ in suggestions]
            dispatcher.utter_message(text=suggestion_question([b["title"] for b in buttons]), buttons=buttons)
        elif count < 2:
            dispatcher.utter_message(
                text="Xin lỗi, em chưa hiểu ý anh/chị. Anh/chị nói lại theo cách khác giúp em, "
                     "hoặc chọn một việc bên dưới ạ.",
                buttons=MENU_BUTTONS)
        else:
            dispatcher.utter_message(
                text="Em vẫn chưa hiểu được yêu cầu của anh/chị, em xin lỗi. Anh/chị có muốn gặp nhân viên "
                     "tư vấn không? " + call_hotline(known_customer_code(tracker), "để gặp nhân viên"),
                buttons=[{"title": "Gặp nhân viên", "payload": "/request_human"}] + MENU_BUTTONS)
        return [SlotSet(FALLBACK_SLOT, float(count))]
