"""The one message shape every channel speaks, built from Rasa events, and text helpers for platforms.

A bot-side message (live and in history) is a dict:
  `{id, ts (epoch ms), sender: "bot"|"agent"|"system", sender_name?, text?, quick_replies?: [{content_type,
  title, payload}], custom?, image?, attachment?, elements?}`.
A user message in history: `{id, ts, sender: "user", text}`.

`custom` payloads the actions send (each channel renders them its own way, see `ChannelOutput.render_custom`):
  `{"type": "request_summary", "title", "fields": [{"label", "value"}], "request_code"?, "note"?}`,
  `{"type": "link", "url", "title"?}`, `{"type": "image", "url", "alt"?}`; a `custom` with `text` and no
  known type shows the text.
"""
from __future__ import annotations

import re
import time
import uuid
from typing import Any, Dict, Iterable, List, Optional

from rasa.shared.core.events import BotUttered, UserUttered

SENDERS = ("bot", "agent", "system")
EXTERNAL_PREFIX = "EXTERNAL: "
HISTORY_LIMIT = 200


def bot_message_id(timestamp: Optional[float]) -> str:
    """Stable id of a bot message: the same for the live send and the history entry."""
    if timestamp is None:
        return "b" + uuid.uuid4().hex
    return "b%.6f" % float(timestamp)


def ms(timestamp: Optional[float]) -> int:
    return int(round((timestamp if timestamp is not None else time.time()) * 1000))


def quick_replies(buttons: Any) -> List[Dict[str, str]]:
    """Rasa buttons (`[{title, payload}]`) as quick replies; malformed entries are dropped."""
    result = []
    for button in buttons or []:
        if not isinstance(button, dict):
            continue
        title = button.get("title")
        payload = button.get("payload", title)
        if title is None or payload is None:
            continue
        result.append({"content_type": "text", "title": str(title), "payload": str(payload)})
    return result


def bot_payload(message: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The message shape from a BotUttered message dict (`BotUttered.message()`); None if nothing to show."""
    sender = message.get("sender")
    payload: Dict[str, Any] = {
        "id": message.get("id") or bot_message_id(message.get("timestamp")),
        "ts": ms(message.get("timestamp")),
        "sender": sender if sender in SENDERS else "bot",
    }
    if message.get("sender_name"):
        payload["sender_name"] = str(message["sender_name"])[:80]
    text = message.get("text")
    if text:
        payload["text"] = str(text)
    replies = quick_replies(message.get("quick_replies")) or quick_replies(message.get("buttons"))
    if replies:
        payload["quick_replies"] = replies
    custom = message.get("custom")
    if custom:
        payload["custom"] = custom
    if message.get("image"):
        payload["image"] = message["image"]
    attachment = message.get("attachment")
    if attachment and attachment != message.get("image"):
        payload["attachment"] = attachment
    if message.get("elements"):
        payload["elements"] = message["elements"]
    if not any(key in payload for key in ("text", "quick_replies", "custom", "image", "attachment", "elements")):
        return None
    return payload


def user_payload(event: UserUttered) -> Optional[Dict[str, Any]]:
    """History entry for a UserUttered event; None for external/intent-only events."""
    metadata = event.metadata or {}
    if metadata.get("is_external"):
        return None
    text = event.text or ""
    if text.startswith(EXTERNAL_PREFIX):
        return None
    display = metadata.get("display_text")
    if isinstance(display, str) and display.strip():
        text = display.strip()
    elif text.startswith("/"):
        return None  # a bare intent payload without a button title: nothing readable to show
    if not text:
        return None
    return {"id": event.message_id or ("u%.6f" % event.timestamp), "ts": ms(event.timestamp), "sender": "user",
            "text": text}


def history_from_events(events: Iterable[Any], limit: int = HISTORY_LIMIT) -> List[Dict[str, Any]]:
    """A conversation as the customer saw it: user and bot messages, oldest first, at most `limit`."""
    messages: List[Dict[str, Any]] = []
    for event in events:
        item: Optional[Dict[str, Any]] = None
        if isinstance(event, UserUttered):
            item = user_payload(event)
        elif isinstance(event, BotUttered):
            item = bot_payload(event.message())
        if item:
            messages.append(item)
    return messages[-limit:] if limit else messages


# ------------------------------------------------------------------------------------ text platforms

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def split_text(text: str, limit: int) -> List[str]:
    """Split `text` into parts of at most `limit` characters, at line or sentence ends where possible,
    else at a space, else hard."""
    text = text.strip()
    parts: List[str] = []
    while len(text) > limit:
        window = text[:limit + 1]
        cut = max((m.end() for m in _SENTENCE_END.finditer(window) if m.start() > 0 and m.end() <= limit),
                  default=0)
        if cut == 0:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        parts.append(text)
    return parts


def custom_as_text(custom: Dict[str, Any]) -> Optional[str]:
    """A readable text version of a `custom` payload, for channels without rich cards."""
    kind = custom.get("type")
    if kind == "request_summary":
        lines = [str(custom.get("title") or "Yêu cầu")]
        if custom.get("request_code"):
            lines.append(f"Mã yêu cầu: {custom['request_code']}")
        for field in custom.get("fields") or []:
            if isinstance(field, dict) and field.get("label"):
                lines.append(f"• {field['label']}: {field.get('value', '')}")
        if custom.get("note"):
            lines.append(str(custom["note"]))
        return "\n".join(lines)
    if kind == "link" and custom.get("url"):
        return f"{custom.get('title') or 'Xem thêm'}: {custom['url']}"
    if kind == "image" and custom.get("url"):
        return str(custom.get("alt") or custom["url"])
    text = custom.get("text")
    return str(text) if text else None


def numbered_list(text: str, options: List[Dict[str, str]]) -> str:
    """Options a platform cannot show as buttons, as a list the customer answers by number."""
    lines = [text.strip()] if text and text.strip() else []
    lines += [f"{i}. {option['title']}" for i, option in enumerate(options, 1)]
    lines.append("Anh/chị nhắn số thứ tự để chọn ạ.")
    return "\n".join(lines)
