"""Client for the webchat connector's push endpoints (for the agent console and other back-office code).

    await push_message(settings, session_id, "Chào anh/chị, em là Lan.", sender_name="Lan")
    await set_typing(settings, session_id, True)

The message is stored in the conversation tracker (so it is part of the history) and shown in every open
widget tab of the session. Raises PushError with the HTTP status on failure (401 token, 404 unknown
conversation, 400 invalid message, 503 Rasa not ready).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import aiohttp

from bot.settings import Settings


class PushError(RuntimeError):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"webchat push failed ({status}): {detail}")
        self.status = status
        self.detail = detail


async def _post(settings: Settings, path: str, body: Dict[str, Any], base_url: Optional[str],
                http: Optional[aiohttp.ClientSession]) -> Dict[str, Any]:
    url = f"{(base_url or settings.rasa_url).rstrip('/')}/webhooks/webchat/{path}"
    headers = {"Authorization": f"Bearer {settings.rasa_token}"}
    own = http is None
    http = http or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    try:
        async with http.post(url, json=body, headers=headers) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {"error": await resp.text()}
            if resp.status != 200:
                raise PushError(resp.status, str((data or {}).get("error", data)))
            return data
    finally:
        if own:
            await http.close()


async def push_message(settings: Settings, session_id: str, text: str, *, sender: str = "agent",
                       sender_name: Optional[str] = None, buttons: Optional[List[Dict[str, str]]] = None,
                       custom: Optional[Dict[str, Any]] = None, base_url: Optional[str] = None,
                       http: Optional[aiohttp.ClientSession] = None) -> Dict[str, Any]:
    """Show a message from `sender` ("agent", "bot" or "system") in the customer's widget.

    Returns {"ok": True, "id": <message id>, "delivered": <open sockets of the session>}.
    """
    body: Dict[str, Any] = {"session_id": session_id, "text": text, "sender": sender}
    if sender_name:
        body["sender_name"] = sender_name
    if buttons:
        body["buttons"] = buttons
    if custom:
        body["custom"] = custom
    return await _post(settings, "push", body, base_url, http)


async def set_typing(settings: Settings, session_id: str, typing: bool, *, sender: str = "agent",
                     base_url: Optional[str] = None, http: Optional[aiohttp.ClientSession] = None) -> None:
    """Show or hide the typing indicator in the customer's widget (nothing is stored)."""
    await _post(settings, "typing", {"session_id": session_id, "typing": typing, "sender": sender}, base_url, http)
