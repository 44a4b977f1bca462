"""REST channel (`rest`) on the shared base: Rasa's request/response protocol, with the takeover gate.

`POST /webhooks/rest/webhook {"sender", "message", "metadata"?, "message_id"?}` answers with the bot's messages
as Rasa's built-in REST channel does (`[{"recipient_id", "text"?, "buttons"?, "image"?, "custom"?}]`), but it
goes through the same machinery as every channel: a held conversation gets no bot message (the customer's
message is logged for the agent), sends are recorded, and a `message_id` given by the caller makes a retry
exactly-once (a duplicate answers `[]`). Without `message_id` every call is a new message.

Rasa's REST channel has no authentication: keep it off the public internet (REST_CHANNEL, docs/channels.md).
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.base import TOO_LONG_TEXT, AppBlueprint, ChannelInput, ChannelOutput, Delivery, Incoming

CHANNEL_NAME = "rest"


def rest_messages(recipient_id: str, message: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The shared message shape as Rasa's REST channel renders it (text split at blank lines, as Rasa does)."""
    out: List[Dict[str, Any]] = []
    buttons = [{"title": q["title"], "payload": q["payload"]} for q in message.get("quick_replies") or []]
    text = message.get("text")
    if buttons:
        out.append({"recipient_id": recipient_id, "text": text, "buttons": buttons})
    elif text:
        out += [{"recipient_id": recipient_id, "text": part} for part in text.strip().split("\n\n")]
    for key in ("image", "attachment", "custom", "elements"):
        if message.get(key):
            out.append({"recipient_id": recipient_id, key: message[key]})
    return out


class RestOutput(ChannelOutput):
    """Collects the turn's messages for the HTTP response."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def __init__(self) -> None:
        super().__init__()
        self.messages: List[Dict[str, Any]] = []

    async def deliver(self, conversation_id: str, message: Dict[str, Any]) -> Delivery:
        self.messages += rest_messages(conversation_id, message)
        return Delivery(True)


class RestPushOutput(RestOutput):
    """What Rasa's API gets for `output_channel=rest`: a REST client cannot be pushed to, so a pushed message
    is recorded as not delivered (it stays in the conversation for when the client asks)."""

    async def deliver(self, conversation_id: str, message: Dict[str, Any]) -> Delivery:
        return Delivery.failed("the REST channel cannot push messages to its client")


class RestInput(ChannelInput):
    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def get_output_channel(self) -> ChannelOutput:
        return RestPushOutput()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "RestInput":
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = AppBlueprint(self, "custom_webhook_RestInput", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else None
            if body is None or not isinstance(body.get("message"), str):
                return response.json({"error": "JSON {sender, message} expected"}, status=400)
            sender = str(body.get("sender") or "default")[:128]
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            message_id = str(body.get("message_id") or uuid.uuid4().hex)[:128]
            output = RestOutput()
            done = asyncio.get_running_loop().create_future()
            status = await self.accept(on_new_message, Incoming(sender, body["message"], message_id, metadata, done),
                                       output)
            if status == "ok":
                await done
            elif status == "too_long":
                await self.tell(output, sender, TOO_LONG_TEXT.format(limit=self.max_message_chars))
            elif status == "empty":
                return response.json({"error": "empty message"}, status=400)
            return response.json(output.messages)

        return bp
