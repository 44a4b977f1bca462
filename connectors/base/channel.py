"""The input side every channel shares: accept a customer message once, acknowledge, run the turn later.

A channel module parses its platform's webhook (after its own signature check), turns each customer
message into an `Incoming` and calls `accept()`, then answers the platform at once. `accept()`:
  1. rejects empty and over-long text (the channel decides how to tell the customer),
  2. claims the platform message id (`Inbox`: a redelivery is acknowledged and dropped, also after a
     restart and on another Rasa instance),
  3. maps a typed number to the option it names when our last message offered a numbered list,
  4. queues the turn (`TurnRunner`: in order per conversation, concurrent across conversations).
When the turn's time comes the takeover gate is asked: first whether the takeover engine takes the message
itself (a satisfaction rating), then whether a person holds the conversation: then the message is logged in
the tracker (NLU only, no prediction, nothing sent); otherwise Rasa handles it, with a typing indicator
meanwhile. A turn that fails releases the claim and tells the customer to try again.
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, Sanic
from sqlalchemy.exc import IntegrityError

from bot.localtime import utcnow
from bot.takeover import engine, notify

from connectors.base import store
from connectors.base.gate import GATE, Gate
from connectors.base.inbox import Inbox
from connectors.base.output import ChannelOutput
from connectors.base.turns import TurnRunner

logger = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 2000
TURN_FAILED_TEXT = ("Xin lỗi, hệ thống đang bận nên em chưa xử lý được tin nhắn vừa rồi. "
                    "Anh/chị vui lòng gửi lại sau ít phút ạ.")
TOO_LONG_TEXT = ("Tin nhắn của anh/chị dài quá {limit} ký tự nên em chưa đọc được. "
                 "Anh/chị tách thành vài tin ngắn giúp em nhé.")
_NUMBER = re.compile(r"^\s*(?:số\s*)?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)

Handler = Callable[[UserMessage], Awaitable[Any]]


@dataclass
class Incoming:
    """A customer message, platform details removed."""

    conversation_id: str
    text: str
    message_id: str
    metadata: Dict[str, Any] = field(default_factory=dict)
    done: Optional[asyncio.Future] = None  # set when the turn has run (for channels that answer in the request)


class AppBlueprint(Blueprint):
    """A Sanic blueprint that hands the app (agent, tracker and lock stores) to its channel on registration."""

    def __init__(self, channel: "ChannelInput", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ctx.channel = channel

    def register(self, app: Sanic, options: Dict[Text, Any]) -> None:
        self.ctx.channel.app = app
        super().register(app, options)


class ChannelInput(InputChannel):
    """Base of our input channels. Subclasses build the blueprint and call `accept()`."""

    max_message_chars = MAX_MESSAGE_CHARS

    def __init__(self, gate: Gate = GATE) -> None:
        self.app: Optional[Sanic] = None
        self.gate = gate
        self.inbox = Inbox(self.name())
        self.turns = TurnRunner(self.name())
        self._known: set = set()  # conversations registered with the takeover engine by this process

    @property
    def agent(self) -> Any:
        return getattr(self.app.ctx, "agent", None) if self.app is not None else None

    async def accept(self, on_new_message: Handler, incoming: Incoming, output: ChannelOutput) -> str:
        """"ok" (queued), "duplicate", "empty" or "too_long"."""
        text = incoming.text.strip() if isinstance(incoming.text, str) else ""
        if not text:
            return "empty"
        if len(text) > self.max_message_chars:
            return "too_long"
        if not await self.inbox.claim(incoming.conversation_id, incoming.message_id, text):
            return "duplicate"
        await self._register(incoming.conversation_id)
        metadata = dict(incoming.metadata)
        if not text.startswith("/"):
            text, metadata = await self._resolve_choice(incoming.conversation_id, text, metadata)
        message = UserMessage(text, output, incoming.conversation_id, input_channel=self.name(),
                              message_id=incoming.message_id, metadata=metadata)
        self.turns.submit(incoming.conversation_id, lambda: self._turn(on_new_message, message, output, incoming.done))
        return "ok"

    async def _register(self, conversation_id: str) -> None:
        """The conversation's takeover row, so agents can browse live bot conversations and take one over."""
        if conversation_id in self._known:
            return
        try:
            await store.run_db(engine.register, conversation_id, self.name())
            self._known.add(conversation_id)
        except Exception:  # noqa: BLE001 - only the console's list depends on it
            logger.exception("%s: could not register conversation %s", self.name(), conversation_id)

    async def _resolve_choice(self, conversation_id: str, text: str,
                              metadata: Dict[str, Any]) -> tuple[str, Dict[str, Any]]:
        match = _NUMBER.match(text)
        if not match:
            return text, metadata
        try:
            choices = await store.run_db(store.latest_choices, conversation_id)
        except Exception:  # noqa: BLE001 - then the number is read as typed
            logger.exception("%s: could not read the offered choices of %s", self.name(), conversation_id)
            return text, metadata
        index = int(match.group(1)) - 1
        if not choices or not 0 <= index < len(choices):
            return text, metadata
        return choices[index]["payload"], {**metadata, "display_text": choices[index]["title"]}

    async def _turn(self, on_new_message: Handler, message: UserMessage, output: ChannelOutput,
                    done: Optional[asyncio.Future] = None) -> None:
        try:
            await self._run_turn(on_new_message, message, output)
        finally:
            if done is not None and not done.done():
                done.set_result(None)

    async def _run_turn(self, on_new_message: Handler, message: UserMessage, output: ChannelOutput) -> None:
        conversation_id = message.sender_id
        answer = await self.gate.intercept(self.name(), conversation_id, message.text)
        if answer is not None:  # e.g. a satisfaction rating: the takeover engine took it, Rasa never sees it
            await output.send(conversation_id, {"sender": "system", "text": answer})
            return
        if not await self.gate.bot_may_answer(self.name(), conversation_id):
            await self.log_only(message)
            return
        await output.typing(conversation_id, True)
        try:
            await on_new_message(message)
        except Exception as exc:  # noqa: BLE001 - contained: this conversation is told, others carry on
            logger.exception("%s: the turn of %s failed", self.name(), conversation_id)
            await self.inbox.release(conversation_id, message.message_id, f"turn failed: {exc.__class__.__name__}")
            await output.send(conversation_id, {"sender": "bot", "text": TURN_FAILED_TEXT})
        finally:
            await output.typing(conversation_id, False)

    async def log_only(self, message: UserMessage) -> None:
        """Put a message on the conversation's record without letting the bot act on it."""
        agent = self.agent
        try:
            async with agent.lock_store.lock(message.sender_id):
                await agent.processor.log_message(message, should_save_tracker=True)
            await store.run_db(store.mark_inbound, self.name(), message.message_id, "held")
            await notify.announce("message", message.sender_id)  # the agent sees it at once
        except Exception:  # noqa: BLE001 - the inbound row still holds the text
            logger.exception("%s: could not log a held message of %s", self.name(), message.sender_id)

    async def record_human_reply(self, conversation_id: str, user_id: str, platform_message_id: Optional[str],
                                 text: str, sender_name: str) -> bool:
        """A person answered from the platform's own inbox (Zalo OA chat, Meta Business Suite): log it
        (channel_messages, the channel user, the tracker as an agent message) and hand the conversation to a
        person in the takeover engine, so the bot steps aside until someone hands it back. Nothing is sent.
        False if this echo was recorded before."""
        channel = self.name()
        try:
            await store.run_db(store.record_outbound, channel, conversation_id, "agent", text, "sent",
                               [platform_message_id] if platform_message_id else None, sender_name=sender_name)
        except IntegrityError:
            return False  # a redelivered echo
        await store.run_db(store.update_user, channel, user_id, human_reply_at=utcnow())
        try:
            await store.run_db(engine.platform_reply, conversation_id, channel)
            await notify.announce("platform_reply", conversation_id)
        except Exception:  # noqa: BLE001 - still recorded; the gate fails closed on its own errors
            logger.exception("%s: could not hand %s to a person", channel, conversation_id)
        agent = self.agent
        if agent is not None and getattr(agent, "tracker_store", None) is not None:
            try:
                async with agent.lock_store.lock(conversation_id):
                    tracker = await agent.tracker_store.get_or_create_tracker(conversation_id)
                    tracker.update(BotUttered(text, metadata={"sender": "agent", "sender_name": sender_name}))
                    await agent.tracker_store.save(tracker)
            except Exception:  # noqa: BLE001 - the channel_messages row still holds it
                logger.exception("%s: could not add a human reply to the tracker of %s", channel, conversation_id)
        logger.info("%s: a person answered %s from the platform's inbox; the bot steps aside", channel,
                    conversation_id)
        return True

    async def tell(self, output: ChannelOutput, conversation_id: str, text: str) -> None:
        """A short bot line outside a Rasa turn (too-long text, unsupported attachment...); gated as usual."""
        await output.send(conversation_id, {"sender": "bot", "text": text})
