"""Forgiving dialogue: what the assistant does when the customer's wording did not fit the first reading.

- After a procedure answer the registration is one step away: the answer sets slot `offered_service`,
  and a "yes" or "đăng ký luôn" right after it starts the form for that service (`offered_service`).
- A request told as a situation ("quán lắp thêm máy lạnh", "đã trả nợ rồi") finds its service from
  the situation cues of bot/nlu/situations.py when no service was named (`service_from_words`).
- A low-confidence message with a plausible second reading is asked back ("Ý anh/chị là …?") with
  one button per reading instead of a bare "please rephrase" (`fallback_suggestions`).
"""
from __future__ import annotations

from typing import Any, Optional

from rasa_sdk import Tracker

from actions.dialogue import lower_first, payload
from bot.catalogue import Catalogue, load_catalogue
from bot.nlu.mentions import parse_service
from bot.nlu.situations import guess_service

OFFER_SLOT = "offered_service"
PROCEDURE_ACTION = "action_answer_procedure"
# Actions that run between a bot answer and the next user message without being a reply of their own.
_SILENT_ACTIONS = {"action_listen", "action_extract_slots", "action_session_start"}
# A reading is offered when the classifier gave it at least this confidence (the fallback threshold is 0.4).
SUGGESTION_MIN_CONFIDENCE = 0.15
MAX_SUGGESTIONS = 2

# What a reading means to the customer; intents missing here (affirm, deny, greet, inform, ...) are never offered.
INTENT_LABELS: dict[str, str] = {
    "request_service": "Đăng ký dịch vụ điện",
    "ask_procedure": "Hỏi thủ tục, giấy tờ",
    "report_outage": "Báo mất điện, sự cố",
    "complain": "Gửi khiếu nại, phản ánh",
    "check_bill": "Tra cứu tiền điện",
    "check_outage_schedule": "Xem lịch cắt điện",
    "check_request_status": "Xem tiến độ yêu cầu",
    "ask_tariff": "Hỏi giá điện",
    "ask_payment_channels": "Hỏi cách thanh toán tiền điện",
    "ask_hotline": "Hỏi số tổng đài",
    "request_human": "Gặp nhân viên tư vấn",
}


def previous_bot_action(tracker: Tracker) -> Optional[str]:
    """The last action that ran before the latest user message (ignoring listen/slot extraction)."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in reversed(events[:last_user]):
        if event.get("event") == "action" and event.get("name") not in _SILENT_ACTIONS:
            return event.get("name")
    return None


def offered_service(tracker: Tracker) -> Optional[str]:
    """The service whose procedure was just answered (the customer's previous turn), else None."""
    code = tracker.get_slot(OFFER_SLOT)
    if not code or previous_bot_action(tracker) != PROCEDURE_ACTION:
        return None
    return code if code in load_catalogue().services else None


def service_from_words(text: str, catalogue: Optional[Catalogue] = None) -> Optional[str]:
    """A service named ("dời công tơ") or described ("nhà mới xây chưa có điện") in free text."""
    catalogue = catalogue or load_catalogue()
    return parse_service(text, catalogue) or guess_service(text)


def fallback_suggestions(parse: dict[str, Any]) -> list[tuple[str, float]]:
    """Plausible readings of a message the NLU was unsure about: (intent, confidence), best first."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") in INTENT_LABELS]
    plausible = [(r["name"], float(r.get("confidence") or 0.0)) for r in ranking
                 if float(r.get("confidence") or 0.0) >= SUGGESTION_MIN_CONFIDENCE]
    return plausible[:MAX_SUGGESTIONS]


def suggestion_button(intent: str, service: Optional[str], catalogue: Optional[Catalogue] = None) -> dict[str, str]:
    """'Đăng ký di dời công tơ' / 'Hỏi thủ tục di dời công tơ' when the message named a service."""
    catalogue = catalogue or load_catalogue()
    svc = catalogue.services.get(service) if service else None
    if svc is not None and intent == "request_service":
        return {"title": f"Đăng ký {lower_first(svc.short)}", "payload": payload(intent, {"service": svc.code})}
    if svc is not None and intent == "ask_procedure":
        return {"title": f"Hỏi thủ tục {lower_first(svc.short)}", "payload": payload(intent, {"service": svc.code})}
    return {"title": INTENT_LABELS[intent], "payload": payload(intent)}


def suggestion_question(titles: list[str]) -> str:
    """'Ý anh/chị là "Báo mất điện, sự cố" hay "Gửi khiếu nại, phản ánh" ạ?'"""
    quoted = [f"“{lower_first(t)}”" for t in titles]
    return "Dạ, ý anh/chị là " + " hay ".join(quoted) + " ạ? Anh/chị chọn bên dưới giúp em, hoặc nói rõ hơn một chút nhé."
