"""Reading the tracker, shared by every action: the latest message, its intent and entities, slot
values before this turn, and the open look-up question (slot `lookup_pending`)."""
from __future__ import annotations

import logging
import re
from typing import Any, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from bot.identifiers import CUSTOMER_CODE_IN_TEXT_RE
from bot.takeover.engine import is_held
from bot.takeover.escalation import context_from_tracker

# Which look-up asked for a code or an area ("bill", "outage", "request_status"), so that the customer's
# next `inform` reaches the same action (data/rules_lookups.yml).
PENDING_SLOT = "lookup_pending"
logger = logging.getLogger(__name__)


def latest_text(tracker: Tracker) -> str:
    """Text of the latest user message ('' when there is none)."""
    return (tracker.latest_message or {}).get("text") or ""


def latest_intent(tracker: Tracker) -> Optional[str]:
    """Intent name of the latest user message."""
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def latest_entity(tracker: Tracker, name: str) -> Optional[str]:
    """Value of the first entity `name` of the latest user message, stripped; None when absent."""
    for value in tracker.get_latest_entity_values(name):
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def customer_code_in_message(tracker: Tracker) -> Optional[str]:
    """Customer code given in the latest message: the NLU entity, else a code-shaped word in the text."""
    value = latest_entity(tracker, "customer_code")
    if value:
        return re.sub(r"\s+", "", value).upper()
    m = CUSTOMER_CODE_IN_TEXT_RE.search(latest_text(tracker))
    return m.group(1).upper() if m else None


def known_customer_code(tracker: Tracker) -> Optional[str]:
    """Customer code of this conversation: the latest message first, then slot `customer_code`."""
    code = customer_code_in_message(tracker)
    if code:
        return code
    slot = tracker.get_slot("customer_code")
    return str(slot).strip().upper() if slot else None


def previous_value(tracker: Tracker, slot: str) -> Any:
    """Value of `slot` before the latest user message (what this turn may have overwritten)."""
    last_user = max((i for i, e in enumerate(tracker.events) if e.get("event") == "user"), default=len(tracker.events))
    value = None
    for event in tracker.events[:last_user]:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
        elif event.get("event") in ("restart", "session_started"):
            value = None
    return value


def active_form(tracker: Tracker) -> Optional[str]:
    """Name of the form running now, if any."""
    return (tracker.active_loop or {}).get("name")


def pending_events(tracker: Tracker, value: Optional[str]) -> list[EventType]:
    """Set slot `lookup_pending` to `value` (the look-up waiting for an answer, or None) if it changes."""
    return [SlotSet(PENDING_SLOT, value)] if tracker.get_slot(PENDING_SLOT) != value else []


def clear_pending(tracker: Tracker) -> list[EventType]:
    """Another topic was understood: a look-up question left open is dropped."""
    return pending_events(tracker, None)


def held_by_person(tracker: Tracker) -> bool:
    """A person holds the conversation (human takeover): a running form keeps its place but asks nothing,
    so the rules' path (request_human -> form) stays intact for when the bot gets the conversation back."""
    try:
        return is_held(tracker.sender_id)
    except Exception:  # noqa: BLE001 - without the takeover store nobody can hold a conversation
        logger.exception("could not read the takeover state of %s", tracker.sender_id)
        return False


def last_customer_words(tracker: Tracker) -> str:
    """The customer's latest typed text (a button payload such as /request_human says nothing)."""
    texts = [latest_text(tracker)] + [e.get("text") for e in reversed(tracker.events) if e.get("event") == "user"]
    return next((t for t in texts if t and not t.startswith("/")), "")


def escalation_context(tracker: Tracker) -> dict:
    """What the bot had understood, handed to the agent with an escalation."""
    messages = [{"sender": "user" if e.get("event") == "user" else "bot", "text": e.get("text")}
                for e in tracker.events if e.get("event") in ("user", "bot") and e.get("text")]
    return context_from_tracker(dict(tracker.slots), active_form(tracker), latest_intent(tracker), messages)
