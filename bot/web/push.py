"""Send an agent, system or bot message into a conversation, on whatever channel the customer uses.

    await push_message(settings, conversation_id, "Chào anh/chị, em là Lan.", sender_name="Lan")
    await set_typing(settings, session_id, True)   # web chat only

One way for every channel: Rasa's own HTTP API appends a `bot` event to the conversation
(`POST /conversations/{id}/tracker/events?output_channel=latest&execute_side_effects=true`), so the message
is part of the record, and Rasa hands it to the output channel of the conversation's latest input channel
(web chat, Zalo, Messenger), which delivers it and logs the outcome in `channel_messages`. Raises PushError
with the HTTP status on failure (401 token, 404 unknown conversation, 400 invalid message).
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from bot.settings import Settings

SENDERS = ("agent", "bot", "system")
MAX_TEXT = 4000


class PushError(RuntimeError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"push failed ({status}): {detail}")
        self.status = status
        self.detail = detail


async def _call(settings: Settings, method: str, path: str, http: Optional[aiohttp.ClientSession],
                base_url: Optional[str], **kwargs: Any) -> Any:
    url = f"{(base_url or settings.rasa_url).rstrip('/')}{path}"
    # Rasa's --auth-token is read from the `token` query parameter (an Authorization header means a JWT there)
    params = {**kwargs.pop("params", {}), "token": settings.rasa_token}
    own = http is None
    http = http or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    try:
        async with http.request(method, url, params=params, **kwargs) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {"message": await resp.text()}
            if resp.status != 200:
                detail = data.get("message", data) if isinstance(data, dict) else data
                raise PushError(resp.status, str(detail))
            return data
    finally:
        if own:
            await http.close()


def bot_event(text: Optional[str], *, sender: str = "agent", sender_name: Optional[str] = None,
              buttons: Optional[List[Dict[str, str]]] = None, custom: Optional[Dict[str, Any]] = None,
              timestamp: Optional[float] = None) -> Dict[str, Any]:
    """The `bot` event of a pushed message."""
    if sender not in SENDERS:
        raise PushError(400, f"sender must be one of {SENDERS}")
    if not (text and text.strip()) and not custom:
        raise PushError(400, "text or custom required")
    if text and len(text) > MAX_TEXT:
        raise PushError(400, "text too long")
    metadata: Dict[str, Any] = {"sender": sender}
    if sender_name:
        metadata["sender_name"] = sender_name[:80]
    data: Dict[str, Any] = {}
    if buttons:
        data["buttons"] = buttons
    if custom:
        data["custom"] = custom
    return {"event": "bot", "text": text.strip() if text else None, "data": data, "metadata": metadata,
            "timestamp": timestamp if timestamp is not None else time.time()}


async def push_message(settings: Settings, conversation_id: str, text: Optional[str], *, sender: str = "agent",
                       sender_name: Optional[str] = None, buttons: Optional[List[Dict[str, str]]] = None,
                       custom: Optional[Dict[str, Any]] = None, base_url: Optional[str] = None,
                       http: Optional[aiohttp.ClientSession] = None) -> Dict[str, Any]:
    """Deliver a message on the conversation's own channel and keep it in the conversation.

    Returns {"ok": True, "timestamp": <the event's timestamp, from which the channels derive the message id>}.
    """
    event = bot_event(text, sender=sender, sender_name=sender_name, buttons=buttons, custom=custom)
    path = f"/conversations/{quote(conversation_id, safe='')}/tracker"
    tracker = await _call(settings, "GET", path, http, base_url, params={"include_events": "APPLIED"})
    if not tracker.get("events"):
        raise PushError(404, "unknown conversation")
    await _call(settings, "POST", path + "/events", http, base_url, json=event,
                params={"output_channel": "latest", "execute_side_effects": "true",
                        "include_events": "NONE"})
    return {"ok": True, "timestamp": event["timestamp"]}


async def set_typing(settings: Settings, session_id: str, typing: bool, *, sender: str = "agent",
                     base_url: Optional[str] = None, http: Optional[aiohttp.ClientSession] = None) -> None:
    """Show or hide the typing indicator in the customer's web chat widget (nothing is stored)."""
    await _call(settings, "POST", "/webhooks/webchat/typing", http, base_url,
                json={"session_id": session_id, "typing": typing, "sender": sender})
