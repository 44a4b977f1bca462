"""The output side every channel shares: one message shape in, one `deliver()` per platform, nothing lost.

Rasa calls `send_response()` (or one of the `send_*` methods) with a BotUttered message dict. Here it
becomes the one message shape (`message.bot_payload`), passes the takeover gate (a bot message to a
conversation a person holds is not sent and is logged as `suppressed`), and goes to the channel's
`deliver()`. The outcome of every send is written to `channel_messages` (`sent` with the platform's ids,
or `failed` with the reason), a platform saying the user cannot be reached is written on the channel user,
and no failure ever propagates into the Rasa turn.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import OutputChannel

from connectors.base import store
from connectors.base.gate import GATE, Gate
from connectors.base.message import bot_payload, custom_as_text

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
MAX_BACKOFF = 8.0


def conversation_id_for(channel: str, user_id: str) -> str:
    """Conversation ids of platform channels carry the channel, so ids never collide across channels."""
    return f"{channel}:{user_id}"


def user_id_in(channel: str, conversation_id: str) -> str:
    prefix = f"{channel}:"
    return conversation_id[len(prefix):] if conversation_id.startswith(prefix) else conversation_id


@dataclass
class Delivery:
    """What a platform said to one send (or to all parts of one message)."""

    ok: bool
    message_ids: List[str] = field(default_factory=list)
    error: Optional[str] = None
    unreachable: bool = False  # the platform refuses this user now (window closed, blocked, not a follower)
    retry_after: Optional[float] = None  # transient failure: worth another try after this many seconds
    choices: Optional[List[Dict[str, str]]] = None  # options sent as a numbered list, answerable by number

    @classmethod
    def failed(cls, error: str, *, unreachable: bool = False, retry_after: Optional[float] = None) -> "Delivery":
        return cls(False, error=error, unreachable=unreachable, retry_after=retry_after)


def summary(message: Dict[str, Any]) -> str:
    """The text of a message as the log shows it."""
    parts = [message.get("text") or ""]
    if message.get("custom"):
        parts.append(custom_as_text(message["custom"]) or "")
    if message.get("image"):
        parts.append(str(message["image"]))
    if message.get("quick_replies"):
        parts.append(" | ".join(q["title"] for q in message["quick_replies"]))
    return "\n".join(p for p in parts if p)


async def retrying(attempt: Callable[[], Awaitable[Delivery]], what: str,
                   max_attempts: int = MAX_ATTEMPTS) -> Delivery:
    """One platform call with bounded retries of transient failures (rate limits, network, 5xx)."""
    result = Delivery.failed("not attempted")
    for n in range(1, max_attempts + 1):
        try:
            result = await attempt()
        except Exception as exc:  # noqa: BLE001 - network errors are transient by nature
            logger.warning("%s: attempt %d failed: %s", what, n, exc.__class__.__name__)
            result = Delivery.failed(f"network: {exc.__class__.__name__}", retry_after=0.5 * 2 ** (n - 1))
        if result.ok or result.retry_after is None or n == max_attempts:
            return result
        await asyncio.sleep(min(result.retry_after, MAX_BACKOFF))
    return result


class ChannelOutput(OutputChannel):
    """Base of our output channels. Subclasses implement `deliver()` and may override `typing()`."""

    def __init__(self, gate: Gate = GATE) -> None:
        self.gate = gate

    # -- what subclasses implement --------------------------------------------------------------

    async def deliver(self, conversation_id: str, message: Dict[str, Any]) -> Delivery:
        raise NotImplementedError

    async def typing(self, conversation_id: str, on: bool, sender: str = "bot") -> None:
        """Show or hide a typing indicator, where the platform has one."""

    def render_custom(self, custom: Dict[str, Any]) -> Optional[str]:
        """A `custom` payload as text, for platforms without rich cards (web chat renders cards itself)."""
        return custom_as_text(custom)

    # -- Rasa's OutputChannel interface -----------------------------------------------------------

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        shaped = bot_payload(dict(message))
        if shaped is None:
            return
        await self.send(recipient_id, shaped)

    async def send(self, conversation_id: str, message: Dict[str, Any]) -> Delivery:
        """Gate, deliver and record one message in the shared shape; never raises."""
        channel = self.name()
        sender = message.get("sender", "bot")
        if sender == "bot" and not await self.gate.bot_may_answer(channel, conversation_id):
            logger.info("%s: bot message to %s held back (a person holds the conversation)", channel, conversation_id)
            await self._record(conversation_id, message, Delivery.failed("held by an agent"), status="suppressed")
            return Delivery.failed("held by an agent")
        try:
            result = await self.deliver(conversation_id, message)
        except Exception as exc:  # noqa: BLE001 - a failed send never crashes the turn
            logger.exception("%s: delivering to %s failed", channel, conversation_id)
            result = Delivery.failed(f"error: {exc.__class__.__name__}")
        if not result.ok:
            logger.warning("%s: message to %s not delivered: %s", channel, conversation_id, result.error)
        await self._record(conversation_id, message, result)
        return result

    async def _record(self, conversation_id: str, message: Dict[str, Any], result: Delivery,
                      status: Optional[str] = None) -> None:
        channel = self.name()
        text = summary(message)
        sender = message.get("sender", "bot")
        status = status or ("sent" if result.ok else "failed")
        try:
            await store.run_db(store.record_outbound, channel, conversation_id, sender, text, status,
                               result.message_ids, result.error, result.choices, message.get("sender_name"))
            if result.unreachable:
                await store.run_db(store.update_user, channel, user_id_in(channel, conversation_id),
                                   reachable=False, unreachable_reason=result.error)
        except Exception:  # noqa: BLE001 - the log must not break the conversation
            logger.exception("%s: could not record a message to %s", channel, conversation_id)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text})

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text, "buttons": buttons})

    async def send_quick_replies(self, recipient_id: Text, text: Text,
                                 quick_replies: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text, "quick_replies": quick_replies})

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "custom": json_message})

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "image": image})

    async def send_attachment(self, recipient_id: Text, attachment: Any,  # type: ignore[override]
                              **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "attachment": attachment})

    async def send_elements(self, recipient_id: Text, elements: Iterable[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "elements": list(elements)})
