"""Escalating to a person, as the customer experiences it: wording, office hours, callbacks.

Inside office hours with an agent online the conversation joins the queue (the bot goes silent) and the
customer is told their place in it. Otherwise nobody would answer for hours, so the conversation stays with
the bot, a callback request is stored for the agents (with the phone number when known) and the customer is
told when people work and which hotline to call.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Dict, List, Optional

from bot.db.models import CallbackRequest
from bot.db.session import session_scope
from bot.localtime import as_local, utcnow
from bot.settings import Settings
from bot.takeover import engine, notify
from bot.takeover.agents import agents_online
from bot.text import fold

# Danger words that make an escalation urgent (đứt dây, tóe lửa, cháy, giật, nổ). Accented forms are matched
# on the text as typed; folded ones only where folding is unambiguous ("chay" is also "chạy", "giat" "giặt").
DANGER_ACCENTED = re.compile(r"\b(cháy|giật|nổ|chập)\b")
DANGER_FOLDED = re.compile(r"\bdut\b.{0,15}\bday\b|\bday\b.{0,25}\bdut\b|\b(toe|xet|phat|boc|toa) lua\b|"
                           r"\bboc (chay|khoi)\b|\b(dien|bi) giat\b|\bphat no\b|\bchap dien\b|\broi day\b")
WEEKDAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")


def is_urgent(text: str) -> bool:
    text = unicodedata.normalize("NFC", (text or "").lower())
    return bool(DANGER_ACCENTED.search(text) or DANGER_FOLDED.search(fold(text)))


def _parse_hours(spec: str) -> tuple:
    start, end = (part.strip() for part in spec.split("-", 1))
    return time.fromisoformat(start), time.max if end == "24:00" else time.fromisoformat(end)


def _parse_days(spec: str) -> set:
    days: set = set()
    for part in spec.split(","):
        low, _, high = part.strip().partition("-")
        days.update(range(int(low), int(high or low) + 1))
    return days


def office_open(settings: Settings, moment: Optional[datetime] = None) -> bool:
    local = as_local(moment or utcnow())
    start, end = _parse_hours(settings.office_hours)
    return local.isoweekday() in _parse_days(settings.office_days) and start <= local.time() < end


def hours_text(settings: Settings) -> str:
    start, end = _parse_hours(settings.office_hours)
    days = sorted(_parse_days(settings.office_days))
    span = (f"{WEEKDAYS_VI[days[0] - 1]} đến {WEEKDAYS_VI[days[-1] - 1]}" if len(days) > 1
            else WEEKDAYS_VI[days[0] - 1])
    return f"{start:%H:%M}–{'24:00' if end == time.max else f'{end:%H:%M}'}, {span}"


@dataclass
class Outcome:
    text: str
    queued: bool  # True: a person will answer here; the bot is silent from now on
    created: bool  # False: already escalated (a retry, a second tap)
    position: int = 0
    callback_id: Optional[int] = None


def add_callback(conversation_id: str, phone: Optional[str], topic: str) -> int:
    with session_scope() as session:
        row = CallbackRequest(conversation_id=conversation_id, phone=phone, topic=topic[:500])
        session.add(row)
        session.flush()
        return row.id


def escalate(settings: Settings, conversation_id: str, reason: str, hotline: str, *, channel: Optional[str] = None,
             urgent: bool = False, context: Optional[Dict[str, Any]] = None, customer_code: Optional[str] = None,
             phone: Optional[str] = None, now: Optional[datetime] = None) -> Outcome:
    """Queue the conversation for a person, or store a callback when nobody can answer now."""
    if not (office_open(settings, now) and agents_online() > 0):
        callback = add_callback(conversation_id, phone, reason)
        notify.publish("callback", conversation_id)
        when = "Hiện đang ngoài giờ làm việc" if not office_open(settings, now) else "Hiện chưa có tư vấn viên trực"
        reach = (f"Tư vấn viên sẽ gọi lại cho anh/chị theo số {phone}" if phone
                 else "Tư vấn viên sẽ nhắn lại cho anh/chị tại đây")
        text = (f"{when} (tư vấn viên làm việc {hours_text(settings)}). Em đã ghi nhận đề nghị của anh/chị: "
                f"{reach} khi vào ca. Nếu cần gấp, anh/chị gọi {hotline} (24/7) ạ.")
        return Outcome(text, queued=False, created=True, callback_id=callback)
    result = engine.escalate(conversation_id, reason, priority="urgent" if urgent else "normal", channel=channel,
                             context=context, customer_code=customer_code, phone=phone)
    if result.created:
        notify.publish("escalated", conversation_id, priority="urgent" if urgent else "normal")
    state = result.conversation["state"]
    if state == "agent":
        return Outcome("Dạ, tư vấn viên đang hỗ trợ anh/chị tại đây ạ.", queued=True, created=False)
    place = f" Anh/chị đang ở vị trí số {result.position} trong hàng chờ." if result.position else ""
    urgent_line = " Em đã đánh dấu là sự cố khẩn cấp." if urgent else ""
    text = (f"Dạ, em đã chuyển cuộc trò chuyện cho tư vấn viên.{urgent_line}{place} Tư vấn viên sẽ trả lời "
            f"anh/chị ngay tại đây (giờ làm việc {hours_text(settings)}). Nếu nguy hiểm đến người hoặc tài sản, "
            f"anh/chị gọi ngay {hotline} ạ.")
    return Outcome(text, queued=True, created=result.created, position=result.position)


def context_from_tracker(slots: Dict[str, Any], active_form: Optional[str], latest_intent: Optional[str],
                         last_messages: List[Dict[str, str]]) -> Dict[str, Any]:
    """What the bot had understood, for the agent who picks the conversation up."""
    collected = {k: v for k, v in slots.items() if v not in (None, "", [], {}) and not k.startswith("fallback")}
    return {"slots": collected, "form": active_form, "requested_slot": slots.get("requested_slot"),
            "intent": latest_intent, "last_messages": last_messages[-10:]}
