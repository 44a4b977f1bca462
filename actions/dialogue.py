"""Vietnamese wording, button payloads and slot bookkeeping shared by the actions.

All customer-facing text is built from the catalogue (service `vi`/`short`, slot `vi` and `example`,
value labels, documents, fee, days_text, hotlines), so a catalogue edit changes the replies without code.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any, Iterable, Mapping, Optional, Sequence

from bot.catalogue import Catalogue, Corporation, Service, load_catalogue
from bot.formatting import format_date, format_number, format_short_datetime
from bot.text import fold

FORM_NAME = "service_form"
OUTAGE_SERVICE = "outage_report"  # the one service with a planned-outage check before it is taken
# Intents that start a form for a fixed service (mirrors the `service` slot mappings in domain.yml).
INTENT_SERVICE = {"report_outage": "outage_report", "complain": "complaint"}

# Personal data kept after a submission or a cancel, so the next request does not ask again.
PERSISTENT_SLOTS = ("full_name", "phone", "customer_code", "id_number", "email")
# Helper slots of the form (bookkeeping, never shown as request fields).
HELPER_SLOTS = (
    "confirm", "edit_field", "correcting", "switch_service", "pending_service", "declined_service", "report_anyway",
    "outage_notice", "stop_form", "failed_tries", "slot_error",
)
PREFILL_FROM_CUSTOMER = ("full_name", "phone", "address")
MAX_FAILED_TRIES = 3

YES_NO_BUTTONS = [{"title": "Đúng", "payload": "/affirm"}, {"title": "Sai", "payload": "/deny"}]
HELP_BUTTONS = [
    {"title": "Gặp tư vấn viên", "payload": "/request_human"},
    {"title": "Hủy đăng ký", "payload": "/cancel"},
]


def lower_first(text: str) -> str:
    """'Di dời công tơ' -> 'di dời công tơ', for a catalogue name inside a sentence."""
    return text[:1].lower() + text[1:] if text else text


def payload(intent: str, entities: Optional[Mapping[str, Any]] = None) -> str:
    """Button payload that sets the intent and entities directly: '/request_service{"service":"x"}'."""
    return f"/{intent}" + (json.dumps(dict(entities), ensure_ascii=False, separators=(",", ":")) if entities else "")


# --------------------------------------------------------------------------- catalogue lookups

def service_of(code: Optional[str], catalogue: Optional[Catalogue] = None) -> Optional[Service]:
    """The catalogue service of a slot value; None for no or an unknown code."""
    if not isinstance(code, str) or not code:  # a crafted payload can put any JSON value in the slot
        return None
    return (catalogue or load_catalogue()).services.get(code)


def form_fields(service: Service) -> tuple[str, ...]:
    """Slots shown in the summary and stored with the request: required, then optional ones."""
    return service.slots + tuple(s for s in service.optional_slots if s not in service.slots)


def non_persistent_slots(catalogue: Optional[Catalogue] = None) -> list[str]:
    """Catalogue slots cleared when a form ends (all but personal data and `confirm`)."""
    return [s for s in (catalogue or load_catalogue()).slots if s not in PERSISTENT_SLOTS and s != "confirm"]


def reset_slots(keep: Iterable[str] = (), catalogue: Optional[Catalogue] = None) -> dict[str, Any]:
    """Slot values that end a form: service-specific fields and bookkeeping cleared, personal data kept."""
    keep = set(keep)
    values: dict[str, Any] = {"service": None, "requested_slot": None}
    values.update({s: None for s in non_persistent_slots(catalogue) if s not in keep})
    values.update({s: None for s in HELPER_SLOTS})
    return values


def switch_values(target: Service, catalogue: Optional[Catalogue] = None) -> dict[str, Any]:
    """Slot values that switch the running form to `target`: fields the new service also asks and
    personal data are kept, the rest and the bookkeeping are cleared."""
    keep = set(form_fields(target)) | set(PERSISTENT_SLOTS)
    values: dict[str, Any] = {s: None for s in non_persistent_slots(catalogue) if s not in keep}
    values.update({s: None for s in HELPER_SLOTS})
    values["service"] = target.code
    return values


# --------------------------------------------------------------------------- hotlines

def routed(customer_code: Optional[str], catalogue: Optional[Catalogue] = None) -> Optional[Corporation]:
    """The power corporation serving a customer code (None without a code or for an unrouted one)."""
    return (catalogue or load_catalogue()).route(customer_code) if customer_code else None


def hotline_text(customer_code: Optional[str], default_hotline: str) -> str:
    """'tổng đài 1900 1288 (Tổng công ty Điện lực TP Hà Nội)' for a routed code, else the default hotline."""
    corp = routed(customer_code)
    if corp:
        return f"tổng đài {corp.hotline} ({corp.vi})"
    return f"tổng đài chăm sóc khách hàng {default_hotline}"


def all_hotlines_text() -> str:
    """One line per power corporation with its hotline."""
    return "\n".join(f"• {c.vi}: {c.hotline}" for c in load_catalogue().corporations.values())


def call_hotline(customer_code: Optional[str], purpose: str) -> str:
    """'Anh/chị vui lòng gọi tổng đài 1900 1288 (...) <purpose> ạ.' for a routed code, else with all five."""
    corp = routed(customer_code)
    if corp:
        return f"Anh/chị vui lòng gọi tổng đài {corp.hotline} ({corp.vi}) {purpose} ạ."
    return (f"Anh/chị vui lòng gọi tổng đài của điện lực nơi mình sử dụng điện {purpose} ạ:\n"
            + all_hotlines_text())


# --------------------------------------------------------------------------- values for display

def display_value(slot: str, value: Any, catalogue: Optional[Catalogue] = None) -> str:
    """A slot value as the customer reads it: choice labels, '5,5 kW', '2 hộ', dates as dd/mm/yyyy."""
    catalogue = catalogue or load_catalogue()
    spec = catalogue.slots.get(slot)
    if value is None:
        return ""
    if spec is not None and spec.values:
        choice = spec.value(str(value))
        return choice.vi if choice else str(value)
    if slot == "capacity_kw":
        return f"{format_number(value, keep_decimals=True)} kW"
    if slot == "households":
        return f"{format_number(value, keep_decimals=True)} hộ"
    if slot == "desired_date":
        return format_date(str(value))
    if slot == "customer_code":
        corp = catalogue.route(str(value))
        return f"{value} ({corp.vi})" if corp else str(value)
    return str(value)


def label(slot: str, catalogue: Optional[Catalogue] = None) -> str:
    """The slot's Vietnamese name from the catalogue ('Số điện thoại')."""
    spec = (catalogue or load_catalogue()).slots.get(slot)
    return spec.vi if spec else slot


# --------------------------------------------------------------------------- questions

def question(slot: str, service: Optional[Service], catalogue: Optional[Catalogue] = None) -> str:
    """'Anh/chị cho em xin số điện thoại (ví dụ: 0912345678) ạ.' built from the slot's vi and example."""
    catalogue = catalogue or load_catalogue()
    spec = catalogue.slots[slot]
    text = f"Anh/chị cho em xin {lower_first(spec.vi)}"
    if service is not None and slot == "address" and "customer_code" in service.optional_slots:
        text += " (hoặc mã khách hàng nếu có)"
    if spec.values:
        return text + " ạ? Anh/chị chọn bên dưới hoặc gõ trả lời (ví dụ: " + spec.example + ")."
    return text + (f" (ví dụ: {spec.example})" if spec.example else "") + " ạ."


def choice_buttons(slot: str, catalogue: Optional[Catalogue] = None) -> list[dict[str, str]]:
    """One button per value of a choice slot (none for a free-text slot)."""
    spec = (catalogue or load_catalogue()).slots.get(slot)
    if spec is None or not spec.values:
        return []
    return [{"title": v.vi, "payload": payload("inform", {slot: v.code})} for v in spec.values]


def service_buttons(intent: str, catalogue: Optional[Catalogue] = None) -> list[dict[str, str]]:
    """One button per catalogue service sending `intent` with that service ('request_service' to
    register it, 'ask_procedure' to ask about it)."""
    return [{"title": s.short, "payload": payload(intent, {"service": s.code})}
            for s in (catalogue or load_catalogue()).services.values()]


def field_buttons(service: Service, values: Mapping[str, Any],
                  catalogue: Optional[Catalogue] = None) -> list[dict[str, str]]:
    """One button per field of the request (optional ones only when given)."""
    return [{"title": label(s, catalogue), "payload": payload("correct_field", {"field": s})}
            for s in form_fields(service) if s in service.slots or values.get(s) is not None]


# --------------------------------------------------------------------------- form messages

def service_intro(service: Service, reused: Mapping[str, Any], catalogue: Optional[Catalogue] = None,
                  note: str = "") -> str:
    """First message of a request: what is being registered, what is needed, what is already known."""
    catalogue = catalogue or load_catalogue()
    lines = [f"Dạ, em giúp anh/chị đăng ký: {service.vi}."]
    if service.priority == "urgent":
        lines.append("Đây là yêu cầu khẩn, em sẽ chuyển ngay cho điện lực sau khi có đủ thông tin.")
    lines.append("Em cần: " + ", ".join(lower_first(label(s, catalogue)) for s in service.slots) + ".")
    if reused:
        lines.append("Thông tin em đã có: "
                     + "; ".join(f"{label(s, catalogue)}: {display_value(s, v, catalogue)}"
                                 for s, v in reused.items()) + ".")
        if not service.prefill_from_customer:
            lines.append("Lưu ý: thông tin cá nhân là của người sẽ đứng tên hợp đồng; nếu khác, anh/chị bấm "
                         "\"Sai\" ở bước xác nhận để sửa.")
    if note:
        lines.append(note)
    lines.append("Anh/chị gõ \"hủy\" bất cứ lúc nào để dừng.")
    return "\n".join(lines)


def summary(service: Service, values: Mapping[str, Any], catalogue: Optional[Catalogue] = None) -> str:
    """The confirmation question: every field of the request with its value."""
    catalogue = catalogue or load_catalogue()
    lines = [f"Anh/chị kiểm tra lại thông tin đăng ký {lower_first(service.vi)}:"]
    for slot in form_fields(service):
        value = values.get(slot)
        if value is None and slot not in service.slots:
            continue
        lines.append(f"• {label(slot, catalogue)}: {display_value(slot, value, catalogue)}")
    lines.append("Thông tin trên đã đúng chưa ạ?")
    return "\n".join(lines)


def escalation_text(customer_code: Optional[str], default_hotline: str) -> str:
    """Added to the third failed answer to the same question."""
    return (f"Nếu khó nhập, anh/chị có thể gọi {hotline_text(customer_code, default_hotline)} để gặp "
            "tư vấn viên hỗ trợ trực tiếp, hoặc nhập lại theo ví dụ bên dưới. Muốn dừng thì bấm \"Hủy đăng ký\".")


def outage_notice(area: str, start: datetime, end: datetime, reason: str) -> dict[str, str]:
    """Planned outage covering now, as stored in slot `outage_notice` and shown before asking."""
    text = (f"Khu vực {area} đang trong lịch tạm ngừng cấp điện theo kế hoạch từ {format_short_datetime(start)} "
            f"đến {format_short_datetime(end)}" + (f" (lý do: {lower_first(reason)})" if reason else "") + ".")
    return {"text": text, "end": format_short_datetime(end)}


def submission_text(service: Service, code: str, due: date, corporation: Optional[Corporation],
                    default_hotline: str, created: bool) -> str:
    """The answer to a stored request: code, priority, due date, documents, fee and hotline."""
    head = (f"Dạ, em đã tiếp nhận yêu cầu {lower_first(service.vi)} của anh/chị."
            if created else f"Dạ, yêu cầu {lower_first(service.vi)} này em đã ghi nhận trước đó rồi ạ.")
    lines = [head, f"• Mã yêu cầu: {code} (anh/chị lưu lại để tra cứu tiến độ)"]
    if service.priority == "urgent":
        target = (f"; mục tiêu khôi phục trong {service.restore_target_hours} giờ"
                  if service.restore_target_hours else "")
        lines.append(f"• Mức ưu tiên: khẩn cấp{target}")
    lines.append(f"• Hạn giải quyết: {format_date(due)} ({service.days_text})")
    if service.documents:
        lines.append("• Giấy tờ cần chuẩn bị: " + "; ".join(service.documents))
    else:
        lines.append("• Giấy tờ cần chuẩn bị: không cần giấy tờ thêm")
    lines.append(f"• Chi phí: {service.fee}")
    if corporation:
        lines.append(f"• Tổng đài {corporation.vi}: {corporation.hotline}")
    else:
        lines.append(f"• Tổng đài chăm sóc khách hàng: {default_hotline}")
    return "\n".join(lines)


def submission_card(service: Service, code: str, due: date, corporation: Optional[Corporation],
                    default_hotline: str) -> dict[str, Any]:
    """The same submission as a request-summary card, for channels that render one (the web widget)."""
    hotline = corporation.hotline if corporation else default_hotline
    return {"type": "request_summary", "title": "Yêu cầu đã được tiếp nhận", "request_code": code,
            "fields": [{"label": "Dịch vụ", "value": service.vi},
                       {"label": "Hạn giải quyết", "value": format_date(due)},
                       {"label": "Tổng đài", "value": hotline}]}


# --------------------------------------------------------------------------- submission helpers

def collected_fields(service: Service, slots: Mapping[str, Any]) -> dict[str, Any]:
    """The request's fields that have a value, as stored with it."""
    return {s: slots[s] for s in form_fields(service) if slots.get(s) is not None}


def idempotency_key(conversation_id: str, service: str, fields: Mapping[str, Any]) -> str:
    """Same conversation + service + collected fields -> same key (a retried confirmation stores once)."""
    blob = json.dumps({"conversation": conversation_id, "service": service, "fields": dict(fields)},
                      ensure_ascii=False, sort_keys=True, default=str)
    return "dlg-" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


_FILLER_WORDS = {
    "toi", "minh", "em", "anh", "chi", "a", "e", "c", "muon", "can", "nhe", "nha", "oi", "cho", "voi", "duoc", "dc",
    "khong", "ko", "k", "bao", "gui", "lam", "dang", "ky", "giup", "hay", "la", "thi", "roi", "r", "xin", "yeu",
    "cau", "ve", "viec", "di", "vay", "nhe", "ad", "shop", "ban", "oi", "mk", "mik", "tui",
}


# Answers to these questions are free text: a service mentioned in them is usually part of the answer, and a
# statement the NLU reads as another intent (ask_procedure, request_service...) is the answer too.
FREE_TEXT_SLOTS = ("description", "new_location", "address", "full_name")


def content_words(text: str, service: Optional[Service] = None) -> list[str]:
    """Words of a message beyond the service's own phrases and chat fillers ('tôi muốn', 'giúp mình')."""
    folded = fold(text or "")
    for phrase in sorted((fold(p) for p in (service.phrases if service else ())), key=len, reverse=True):
        folded = folded.replace(phrase, " ")
    return [w for w in folded.replace(",", " ").replace(".", " ").split() if w not in _FILLER_WORDS]


def description_from_message(text: str, service: Service) -> Optional[str]:
    """The message that started an outage report or complaint, as its description, when it says more than
    'I want to report/complain' ('nhà tôi mất điện từ sáng, cả xóm vẫn có điện')."""
    text = (text or "").strip()
    if not text or text.startswith("/") or len(text) > 1000:
        return None
    return text if len(content_words(text, service)) >= 3 else None


def ask_order(service: Optional[Service], slots: Mapping[str, Any]) -> list[str]:
    """Slots the form still has to fill, in the order they are asked (None-valued ones are asked)."""
    if service is None:
        return ["service"]
    if slots.get("stop_form"):
        return []
    order: list[str] = []
    if slots.get("pending_service"):
        order.append("switch_service")
    if slots.get("outage_notice"):
        order.append("report_anyway")
    if slots.get("correcting"):
        order.append("edit_field")
    return order + list(service.slots) + ["confirm"]


def first_missing(order: Sequence[str], slots: Mapping[str, Any]) -> Optional[str]:
    """The next slot to ask: the first of `order` without a value."""
    return next((s for s in order if slots.get(s) is None), None)
