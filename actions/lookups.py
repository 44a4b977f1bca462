"""Database lookups: bills, planned outages, request status.

Each action answers from the latest message first (entities, then the text), then from slots of
the conversation, and asks for what is missing; slot `lookup_pending` remembers the question so
that the customer's next `inform` reaches the same action (see data/rules_lookups.yml).
Database errors never end the conversation: they are logged and answered politely.
"""
from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import call_hotline, lower_first
from actions.tracker_helpers import (
    PENDING_SLOT, customer_code_in_message, latest_entity, latest_intent, latest_text, pending_events,
)
from bot.catalogue import load_catalogue
from bot.db.models import status_label
from bot.db.repository import (
    find_request, get_customer, latest_bills, planned_outages, requests_by_phone, unpaid_total,
)
from bot.db.session import session_scope
from bot.formatting import (
    format_date, format_money, format_number, format_period, format_short_datetime, mask_address,
    mask_name, mask_phone,
)
from bot.identifiers import CUSTOMER_CODE_RE, normalise_request_code
from bot.localtime import utcnow
from bot.text import fold
from bot.validators import normalise_phone

logger = logging.getLogger(__name__)

OUTAGE_WINDOW_DAYS = 14
MAX_OUTAGES_SHOWN = 10

DB_ERROR_TEXT = "Xin lỗi, hệ thống tra cứu đang gián đoạn, anh/chị vui lòng thử lại sau ít phút. "
CODE_HELP = ("Mã khách hàng gồm 13 ký tự, bắt đầu bằng chữ P (ví dụ PD01000123456), in trên hóa đơn "
             "tiền điện, giấy báo tiền điện hoặc hợp đồng mua bán điện.")


def _customer_code(tracker: Tracker) -> tuple[Optional[str], bool]:
    """(code, from_message): the latest message wins over slot `customer_code`."""
    code = customer_code_in_message(tracker)
    if code:
        return code, True
    slot = tracker.get_slot("customer_code")
    return (str(slot).strip().upper(), False) if slot else (None, False)


# --------------------------------------------------------------------------- bills

class ActionCheckBill(Action):
    """Intent check_bill: latest bills and the unpaid total of a customer code, personal data masked."""

    def name(self) -> str:
        return "action_check_bill"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        code, from_message = _customer_code(tracker)
        if not code:
            dispatcher.utter_message(
                text="Anh/chị cho em xin mã khách hàng để tra cứu tiền điện ạ. " + CODE_HELP)
            return pending_events(tracker, "bill")
        if not CUSTOMER_CODE_RE.match(code):
            dispatcher.utter_message(text=f"Mã khách hàng {code} chưa đúng định dạng. {CODE_HELP} "
                                          "Anh/chị kiểm tra và gửi lại giúp em ạ.")
            return pending_events(tracker, "bill")
        try:
            with session_scope() as session:
                customer = get_customer(session, code)
                if customer is None:
                    answer, found = None, False
                else:
                    found = True
                    bills = latest_bills(session, code)
                    answer = _bill_text(customer, bills, unpaid_total(session, code))
        except Exception:  # noqa: BLE001 - any database failure is answered, never raised
            logger.exception("bill lookup failed for %s", code)
            dispatcher.utter_message(text=DB_ERROR_TEXT + call_hotline(code, "để được hỗ trợ"))
            return []
        if not found:
            dispatcher.utter_message(
                text=f"Em không tìm thấy mã khách hàng {code} trong dữ liệu. {CODE_HELP} "
                     "Anh/chị kiểm tra lại giúp em, hoặc " + lower_first(call_hotline(code, "để được hỗ trợ")))
            return pending_events(tracker, "bill")
        dispatcher.utter_message(text=answer)
        events = pending_events(tracker, None)
        if from_message and tracker.get_slot("customer_code") != code:
            events.insert(0, SlotSet("customer_code", code))
        return events


def _bill_text(customer: Any, bills: list[Any], unpaid: Any) -> str:
    header = f"Khách hàng {mask_name(customer.full_name)}, mã {customer.customer_code}"
    address = mask_address(customer.address)
    if address:
        header += f", địa chỉ {address}"
    if not bills:
        return header + ":\nHiện chưa có dữ liệu hóa đơn tiền điện của mã khách hàng này."
    lines = [header + ":"]
    for bill in bills:
        state = "đã thanh toán" if bill.paid else "chưa thanh toán"
        lines.append(f"• Kỳ {format_period(bill.period)}: {format_number(bill.kwh)} kWh, "
                     f"{format_money(bill.amount)}, hạn thanh toán {format_date(bill.due_date)}, {state}")
    if unpaid > 0:
        lines.append(f"Tổng tiền chưa thanh toán: {format_money(unpaid)}.")
    else:
        lines.append("Anh/chị không còn nợ tiền điện.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- planned outages

# Words that introduce an area name ("phường Bến Nghé", "xã Tân Phú"), accent-free; longest first.
_AREA_KEYWORDS = sorted([
    "phuong", "xa", "quan", "huyen", "thi tran", "thi xa", "thanh pho", "tinh", "khu pho", "kp",
    "khu vuc", "khu do thi", "khu", "thon", "ap", "xom", "to dan pho", "ban", "duong", "pho", "ngo", "hem",
], key=lambda k: -len(k.split()))
_ABBREVIATIONS = [  # "P.Bến Nghé", "Q.1", "TP.HCM", "TX.", "TT."
    (re.compile(r"(?<!\w)p\.\s*", re.I), "phường "), (re.compile(r"(?<!\w)q\.\s*", re.I), "quận "),
    (re.compile(r"(?<!\w)tp\.?\s*", re.I), "thành phố "), (re.compile(r"(?<!\w)tx\.\s*", re.I), "thị xã "),
    (re.compile(r"(?<!\w)tt\.\s*", re.I), "thị trấn "),
]
# Words that end an area name ("phường Bến Nghé có cắt điện không", "khu mình"). Capitalised words
# always belong to the name; accented words are compared with accents, plain ones accent-free.
_STOP_ACCENTED = {
    "có", "không", "bị", "cắt", "cúp", "mất", "điện", "lịch", "ngày", "mai", "hôm", "nay", "tuần", "tháng",
    "tới", "sáng", "chiều", "trưa", "tối", "đêm", "mình", "nhà", "em", "anh", "chị", "bạn", "nhé", "nha",
    "vậy", "thế", "nào", "bao", "giờ", "khi", "ở", "tại", "của", "thì", "là", "sẽ", "đang", "được", "với",
    "và", "hay", "hoặc", "ơi", "nhỉ", "chưa", "gì", "hết", "từ", "đến", "lúc", "vào", "đâu", "sao", "ạ",
    "à", "tạm", "ngừng", "cấp", "bây", "này", "đó", "kia", "tôi", "tui", "mik", "mk", "ko", "k", "kg", "hok",
    "hông", "khum", "dc", "đc", "j", "ntn", "bn", "cho", "xem", "hỏi", "biết", "tra", "cứu", "dây",
}
_STOP_PLAIN = {fold(w) for w in _STOP_ACCENTED} - {"ban", "tu", "den", "tra", "cho", "hoi", "bao", "sao", "toi"}
_PUNCT = re.compile(r"[,.;:!?()\[\]\"'“”…]")


def _ends_name(token: str) -> bool:
    if token[:1].isupper() or token[:1].isdigit():
        return False
    lower = token.lower()
    return lower in _STOP_ACCENTED or (lower == fold(lower) and lower in _STOP_PLAIN)


# Which named area to search when a message names several ("ấp 3, xã Tân Phú"): outage notices
# are published per ward/commune, so that level comes first.
_AREA_PRIORITY = ["phuong", "xa", "thi tran", "thon", "ap", "xom", "ban", "khu pho", "kp", "to dan pho",
                  "khu vuc", "khu do thi", "khu", "duong", "pho", "ngo", "hem", "quan", "huyen", "thi xa",
                  "thanh pho", "tinh"]


def _keyword_at(folded: list[str], i: int) -> Optional[str]:
    return next((k for k in _AREA_KEYWORDS if folded[i:i + len(k.split())] == k.split()), None)


def parse_area(text: str) -> Optional[str]:
    """'mai phường Bến Nghé có cắt điện không' -> 'phường Bến Nghé' (accent-insensitive keywords)."""
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text or "")
    tokens = [t for t in re.split(r"\s+", _PUNCT.sub(" , ", text)) if t]
    folded = [fold(t) for t in tokens]
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        keyword = _keyword_at(folded, i)
        if keyword is None:
            i += 1
            continue
        j = i + len(keyword.split())
        name_start = j
        while j < len(tokens) and tokens[j] != "," and not _ends_name(tokens[j]) \
                and not (j > name_start and _keyword_at(folded, j)):
            j += 1
        if j > name_start:  # a keyword without a name ("khu mình") is skipped
            found.append((keyword, " ".join(tokens[i:j])))
            i = j
        else:
            i += 1
    if not found:
        return None
    return min(found, key=lambda f: _AREA_PRIORITY.index(f[0]))[1]


def _free_text_area(text: str) -> Optional[str]:
    """A short reply that only names a place ('Bến Nghé') after the assistant asked for the area."""
    words = [t for t in re.split(r"\s+", _PUNCT.sub(" ", text or "")) if t]
    words = [w for w in words if not _ends_name(w)]
    if not words or len(words) > 6 or CUSTOMER_CODE_RE.match(words[0].upper()):
        return None
    return " ".join(words)


def _area_name(area: str) -> str:
    """'phường Bến Nghé' -> 'Bến Nghé' for matching; numeric names keep their keyword ('quận 1')."""
    folded = fold(area).split()
    words = area.split()
    for keyword in _AREA_KEYWORDS:
        kw = keyword.split()
        if folded[:len(kw)] == kw and len(words) > len(kw):
            name = " ".join(words[len(kw):])
            return area if name[:1].isdigit() else name
    return area


class ActionCheckOutageSchedule(Action):
    """Intent check_outage_schedule: planned outages of the next 14 days by area text or customer code."""

    def name(self) -> str:
        return "action_check_outage_schedule"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        text = latest_text(tracker)
        area = parse_area(text)
        code = customer_code_in_message(tracker)
        if not area and not code and tracker.get_slot(PENDING_SLOT) == "outage" \
                and latest_intent(tracker) != "check_outage_schedule":
            area = _free_text_area(text)
        if not area and not code:
            slot = tracker.get_slot("customer_code")
            code = str(slot).strip().upper() if slot else None
        if code and not CUSTOMER_CODE_RE.match(code):
            code = None
        if not area and not code:
            dispatcher.utter_message(
                text="Anh/chị cho em xin tên phường/xã (ví dụ: phường Bến Nghé) hoặc mã khách hàng "
                     "để em tra lịch tạm ngừng cung cấp điện ạ.")
            return pending_events(tracker, "outage")

        start = utcnow()
        end = start + timedelta(days=OUTAGE_WINDOW_DAYS)
        needle = _area_name(area) if area else None
        try:
            with session_scope() as session:
                rows = planned_outages(session, customer_code=code, area=needle, start=start, end=end)
                items = [(o.start_at, o.end_at, o.area, o.reason) for o in rows]
        except Exception:  # noqa: BLE001
            logger.exception("outage lookup failed (area=%r, code=%r)", area, code)
            dispatcher.utter_message(text=DB_ERROR_TEXT + call_hotline(code, "để được hỗ trợ"))
            return []

        where = " và ".join(x for x in (area, f"mã khách hàng {code}" if code else None) if x)
        if not items:
            dispatcher.utter_message(
                text=f"Trong {OUTAGE_WINDOW_DAYS} ngày tới (đến {format_date(end)}) chưa có lịch tạm ngừng "
                     f"cung cấp điện nào cho {where}. Nếu nhà anh/chị đang mất điện, anh/chị nhắn "
                     "\"báo mất điện\" để em ghi nhận ngay ạ.")
        else:
            lines = [f"Lịch tạm ngừng cung cấp điện {OUTAGE_WINDOW_DAYS} ngày tới cho {where}:"]
            for s, e, place, reason in items[:MAX_OUTAGES_SHOWN]:
                line = f"• {format_short_datetime(s)} – {format_short_datetime(e)}: {place}"
                lines.append(line + (f". Lý do: {reason}" if reason else ""))
            if len(items) > MAX_OUTAGES_SHOWN:
                lines.append(f"… và {len(items) - MAX_OUTAGES_SHOWN} lịch khác.")
            lines.append("Thời gian theo giờ Việt Nam; điện có thể được cấp lại sớm hơn dự kiến.")
            dispatcher.utter_message(text="\n".join(lines))
        return pending_events(tracker, None)


# --------------------------------------------------------------------------- request status

def _request_line(req: Any) -> str:
    service = load_catalogue().services.get(req.service)
    label = service.short if service else req.service
    return (f"• {req.code} – {label}: {status_label(req.status)}, tiếp nhận "
            f"{format_date(req.created_at)}, hẹn hoàn thành {format_date(req.due_date)}")


def _request_text(req: Any) -> str:
    service = load_catalogue().services.get(req.service)
    return "\n".join([
        f"Yêu cầu {req.code} – {service.vi if service else req.service}:",
        f"• Trạng thái: {status_label(req.status)}",
        *_latest_note(req),
        f"• Ngày tiếp nhận: {format_date(req.created_at)}",
        f"• Hẹn hoàn thành: {format_date(req.due_date)}",
    ])


def _latest_note(req: Any) -> list[str]:
    """The request desk's note on the latest status change, if it has one."""
    latest = req.history[-1] if req.history else None
    return [f"• Ghi chú: {latest.note}"] if latest is not None and latest.note and len(req.history) > 1 else []


class ActionCheckRequestStatus(Action):
    """Intent check_request_status: a request by its code, or the recent requests of a phone number."""

    def name(self) -> str:
        return "action_check_request_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        text = latest_text(tracker)
        code = normalise_request_code(latest_entity(tracker, "request_code") or "") \
            or normalise_request_code(text)
        phone = None
        if not code:
            phone = normalise_phone(latest_entity(tracker, "phone")) or normalise_phone(text)
        if not code and not phone:
            code = normalise_request_code(tracker.get_slot("request_code") or "")
        if not code and not phone:
            phone = normalise_phone(tracker.get_slot("phone"))
        if not code and not phone:
            dispatcher.utter_message(
                text="Anh/chị cho em xin mã yêu cầu (dạng YC và 6 ký tự, ví dụ YC7K4M9P) hoặc số điện "
                     "thoại đã dùng khi đăng ký để em tra cứu tiến độ ạ.")
            return pending_events(tracker, "request_status")
        try:
            with session_scope() as session:
                if code:
                    req = find_request(session, code)
                    answer = _request_text(req) if req else None
                else:
                    reqs = requests_by_phone(session, phone)
                    answer = None
                    if reqs:
                        answer = "\n".join([f"Các yêu cầu gần đây của số {mask_phone(phone)}:"]
                                           + [_request_line(r) for r in reqs])
        except Exception:  # noqa: BLE001
            logger.exception("request status lookup failed (code=%r)", code)
            dispatcher.utter_message(text=DB_ERROR_TEXT + call_hotline(tracker.get_slot("customer_code"),
                                                                       "để được hỗ trợ"))
            return []
        if answer is None:
            if code:
                msg = (f"Em không tìm thấy yêu cầu mã {code}. Anh/chị kiểm tra lại mã (gồm YC và 6 ký tự, "
                       "ví dụ YC7K4M9P) hoặc cho em số điện thoại đã dùng khi đăng ký ạ.")
            else:
                msg = (f"Em chưa thấy yêu cầu nào đăng ký bằng số {mask_phone(phone)}. Anh/chị kiểm tra lại "
                       "số điện thoại hoặc cho em mã yêu cầu (dạng YC và 6 ký tự) ạ.")
            dispatcher.utter_message(text=msg)
            return pending_events(tracker, "request_status")
        dispatcher.utter_message(text=answer)
        return pending_events(tracker, None)
