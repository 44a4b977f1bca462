"""Facebook Messenger channel (`messenger`), replacing Rasa's built-in `facebook` connector.

Registered in credentials.yml as `connectors.messenger.MessengerInput:`; settings (bot/settings.py, names
fixed): MESSENGER_APP_SECRET, MESSENGER_VERIFY_TOKEN, MESSENGER_PAGE_ACCESS_TOKEN, MESSENGER_APP_ID,
MESSENGER_GRAPH_BASE, MESSENGER_GRAPH_VERSION. Without the first three the channel still loads, logs one
warning and answers 503 to everything. Setup and choices: docs/channels.md ("Facebook Messenger").

Receiving (`GET|POST /webhooks/messenger/webhook`):
* GET: `hub.mode == "subscribe"` with our verify token echoes `hub.challenge`; anything else is 403.
* POST: `X-Hub-Signature-256` = HMAC-SHA256(app secret, raw body), compared in constant time; a missing,
  wrong or SHA-1-only signature is 403 and nothing is processed; an unreadable body is 400. Otherwise 200
  at once, then every event of every entry is handled in the background, in order per user (the intake
  queue), concurrently across users. Customer messages go through the shared base (`accept`: exactly-once
  on the `mid`, ordered turns, takeover gate).
* Event mapping: text; quick reply -> its payload; postback -> its payload; `referral` (m.me `ref`) -> the
  named catalogue service or a greeting; a location, or an image during an outage report -> outage evidence
  (connectors/base/evidence.py, as on Zalo); other attachments -> a polite line; `standby` -> never answered
  (a person's echo there is still recorded); `messaging_handovers` -> recorded; echoes of our sends ->
  ignored; echoes from the Page inbox or another app -> recorded as a human reply (tracker +
  channel_messages + channel_users.human_reply_at); delivery / read -> ignored.

Sending (Graph API Send API over aiohttp): text split at 2000 characters on sentence ends; options as quick
replies (at most 13, titles shortened to 20 characters; when a title had to be cut the full titles are
listed by number too) or, with links, a button template (at most 3 buttons); longer option lists as a
numbered list answered by number; images as image attachments; the request summary as readable text.
Bot messages go as `RESPONSE` inside the 24 h window and are not sent outside it (recorded as failed and the
user as unreachable); agent messages between 24 h and 7 days go as `MESSAGE_TAG` + `HUMAN_AGENT`. Rate
limits and transient errors are retried with bounded back-off; a refused recipient is recorded; a rejected
token is logged for the operator.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import IntegrityError

from bot.takeover import engine, notify
from connectors.base import AppBlueprint, ChannelInput, ChannelOutput, Delivery, Incoming, TOO_LONG_TEXT
from connectors.base import conversation_id_for, evidence, retrying, store, user_id_in
from connectors.base.message import custom_as_text, numbered_list, split_text
from connectors.base.turns import TurnRunner

logger = logging.getLogger(__name__)

CHANNEL_NAME = "messenger"
PAGE_INBOX_APP_ID = "263902037430900"  # Meta's Page Inbox app (handover target, echo sender)
WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
MAX_TEXT = 2000
MAX_TEMPLATE_TEXT = 640
MAX_QUICK_REPLIES = 13
MAX_BUTTONS = 3
MAX_TITLE = 20
MAX_PAYLOAD = 1000
RATE_LIMIT_CODES = {4, 17, 32, 613}
UNREACHABLE_CODES = {10, 551}
UNREACHABLE_SUBCODES = {2018278, 2018108, 1545041}
TOKEN_CODES = {190}
TRANSIENT_CODES = {1, 2}
PROFILE_RETRY = timedelta(hours=1)
ECHO_DELAY = 2.0  # without MESSENGER_APP_ID an echo is judged after our own send has been logged

UNSUPPORTED_TEXT = ("Dạ em chưa xem được loại nội dung này ạ. Anh/chị nhắn bằng chữ giúp em nhé; khi báo mất điện, "
                    "anh/chị có thể gửi ảnh hoặc vị trí.")
CHOOSE_TEXT = "Mời anh/chị chọn:"
HUMAN_NAMES = {PAGE_INBOX_APP_ID: "Nhân viên (hộp thư Trang)"}

Handler = Callable[[UserMessage], Awaitable[Any]]


class MalformedBody(ValueError):
    """The webhook body is not a Messenger batch."""


# ------------------------------------------------------------------------------------------ settings

@dataclass(frozen=True)
class MessengerConfig:
    app_secret: str = ""
    verify_token: str = ""
    page_access_token: str = ""
    app_id: str = ""
    graph_base: str = "https://graph.facebook.com"
    graph_version: str = "v25.0"

    @property
    def configured(self) -> bool:
        return bool(self.app_secret and self.verify_token and self.page_access_token)

    @classmethod
    def from_settings(cls, overrides: Optional[Dict[str, Any]] = None) -> "MessengerConfig":
        from bot.settings import get_settings

        s = get_settings()
        values = dict(app_secret=s.messenger_app_secret, verify_token=s.messenger_verify_token,
                      page_access_token=s.messenger_page_access_token, app_id=s.messenger_app_id,
                      graph_base=s.messenger_graph_base, graph_version=s.messenger_graph_version)
        values.update({k: str(v) for k, v in (overrides or {}).items() if k in values and v})
        return cls(**values)


# ----------------------------------------------------------------------------------------- signature

def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends with `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: Optional[str]) -> bool:
    if not secret or not header:
        return False
    provided = header.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(sign(secret, body).encode("ascii"), provided)


# ------------------------------------------------------------------------------------------- parsing

@dataclass
class Event:
    """One messaging event of a webhook batch."""

    kind: str  # message | echo | postback | referral | handover | receipt | other
    psid: str  # the customer (for echoes: the recipient)
    timestamp: int  # epoch ms
    data: Dict[str, Any]
    standby: bool = False


HANDOVER_KEYS = ("pass_thread_control", "take_thread_control", "request_thread_control", "app_roles")


def _kind(item: Dict[str, Any]) -> str:
    message = item.get("message")
    if isinstance(message, dict):
        return "echo" if message.get("is_echo") else "message"
    for key in ("postback", "referral"):
        if isinstance(item.get(key), dict):
            return key
    if any(key in item for key in HANDOVER_KEYS):
        return "handover"
    if "delivery" in item or "read" in item:
        return "receipt"
    return "other"


def _event(item: Any, standby: bool) -> Optional[Event]:
    if not isinstance(item, dict):
        return None
    kind = _kind(item)
    party = item.get("recipient" if kind == "echo" else "sender")
    psid = party.get("id") if isinstance(party, dict) else None
    if not isinstance(psid, (str, int)) or isinstance(psid, bool) or not str(psid):
        return None
    timestamp = item.get("timestamp")
    return Event(kind, str(psid), timestamp if isinstance(timestamp, int) else 0, item, standby)


def parse_batch(body: bytes) -> List[Event]:
    """Every event of every entry, in order; raises MalformedBody for a body that is not a batch."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody("not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise MalformedBody("no entry list")
    if data.get("object") != "page":
        return []  # another product's webhook (e.g. Instagram): nothing for this channel
    events: List[Event] = []
    for entry in data["entry"]:
        if not isinstance(entry, dict):
            raise MalformedBody("entry is not an object")
        for key, standby in (("messaging", False), ("standby", True)):
            items = entry.get(key, [])
            if not isinstance(items, list):
                raise MalformedBody(f"{key} is not a list")
            for item in items:
                event = _event(item, standby)
                if event is None:
                    logger.warning("messenger: skipped an event without a sender")
                else:
                    events.append(event)
    return events


def _service_payload(ref: Any) -> Optional[Tuple[str, str]]:
    """(payload, title) of the catalogue service an m.me `ref` names, if any."""
    from bot.catalogue import load_catalogue

    code = str(ref or "").strip().lower()
    services = load_catalogue().services
    if code in services:
        return '/request_service{"service":"%s"}' % code, services[code].short
    return None


def _referral_incoming(psid: str, conversation_id: str, referral: Dict[str, Any], message_id: str) -> Incoming:
    found = _service_payload(referral.get("ref"))
    metadata = {"referral": {k: referral.get(k) for k in ("ref", "source", "type") if referral.get(k)}}
    if found:
        return Incoming(conversation_id, found[0], message_id, {**metadata, "display_text": found[1]})
    return Incoming(conversation_id, "/greet", message_id, {**metadata, "display_text": "Bắt đầu"})


def _coordinates(payload: Dict[str, Any]) -> Optional[Tuple[float, float]]:
    coords = payload.get("coordinates") if isinstance(payload.get("coordinates"), dict) else payload
    lat = coords.get("lat", coords.get("latitude"))
    lon = coords.get("long", coords.get("longitude"))
    try:
        return float(lat), float(lon)
    except (TypeError, ValueError):
        return None


def media_of(event: Event) -> Optional[Tuple[Optional[Dict[str, float]], List[str]]]:
    """(location, image urls) of a customer message made only of attachments; None when it has neither."""
    message = event.data.get("message") if event.kind == "message" else None
    if not isinstance(message, dict) or (isinstance(message.get("text"), str) and message["text"].strip()):
        return None
    location, urls = None, []
    for item in message.get("attachments") or []:
        if not isinstance(item, dict):
            continue
        kind, payload = item.get("type"), item.get("payload") if isinstance(item.get("payload"), dict) else {}
        if kind == "location" and _coordinates(payload) and location is None:
            lat, lon = _coordinates(payload)
            location = {"latitude": lat, "longitude": lon}
        elif kind == "image" and payload.get("url") and not payload.get("sticker_id"):
            urls.append(str(payload["url"]))
    return (location, urls) if location or urls else None


def to_incoming(event: Event) -> Optional[Incoming]:
    """A customer event as a message for Rasa; None when there is nothing to hand on (unsupported)."""
    conversation_id = conversation_id_for(CHANNEL_NAME, event.psid)
    item = event.data
    if event.kind == "message":
        message = item["message"]
        mid = str(message.get("mid") or f"m:{event.psid}:{event.timestamp}")
        quick = message.get("quick_reply") if isinstance(message.get("quick_reply"), dict) else {}
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        if quick.get("payload"):
            return Incoming(conversation_id, str(quick["payload"]), mid, {"display_text": text[:200]})
        if text.strip():
            return Incoming(conversation_id, text, mid, {})
        return None
    if event.kind == "postback":
        postback = item["postback"]
        mid = str(postback.get("mid") or f"postback:{event.psid}:{event.timestamp}")
        referral = postback.get("referral")
        if isinstance(referral, dict) and _service_payload(referral.get("ref")):
            return _referral_incoming(event.psid, conversation_id, referral, mid)
        payload = postback.get("payload") or postback.get("title") or ""
        return Incoming(conversation_id, str(payload), mid, {"display_text": str(postback.get("title") or "")[:200]})
    if event.kind == "referral":
        return _referral_incoming(event.psid, conversation_id, item["referral"],
                                  f"referral:{event.psid}:{event.timestamp}")
    return None


def event_message_id(event: Event) -> str:
    """A stable id of any customer event (unsupported attachments included), for the exactly-once claim."""
    inner = event.data.get("message") or event.data.get("postback") or {}
    mid = inner.get("mid") if isinstance(inner, dict) else None
    return str(mid or f"{event.kind}:{event.psid}:{event.timestamp}")


# ------------------------------------------------------------------------------------------ rendering

def short_title(title: str, limit: int = MAX_TITLE) -> str:
    """A button title within Meta's limit: drop a parenthesis, else keep the first clause, else cut at a word
    boundary; a cut title ends with '…'."""
    text = " ".join(str(title).split())
    if len(text) <= limit:
        return text
    text = re.sub(r"\s*[(\[][^)\]]*[)\]]", "", text).strip() or text
    if len(text) <= limit:
        return text
    clause = re.split(r"[,;:]\s", text)[0]
    if limit // 2 <= len(clause) <= limit - 1:
        return clause + "…"
    cut = text[:limit - 1]
    if text[limit - 1] != " " and " " in cut[limit // 2:]:
        cut = cut[:cut.rfind(" ")]
    return cut.rstrip(" ,;:-/") + "…"


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and bool(re.match(r"^https?://\S+$", value))


def _image(url: str) -> Dict[str, Any]:
    return {"attachment": {"type": "image", "payload": {"url": url, "is_reusable": True}}}


def _generic(elements: List[Any]) -> Optional[Dict[str, Any]]:
    cards = []
    for element in elements[:10]:
        if not isinstance(element, dict) or not element.get("title"):
            continue
        card = {"title": str(element["title"])[:80]}
        if element.get("subtitle"):
            card["subtitle"] = str(element["subtitle"])[:80]
        if _is_url(element.get("image_url")):
            card["image_url"] = element["image_url"]
        buttons = [b for b in element.get("buttons") or [] if isinstance(b, dict)][:MAX_BUTTONS]
        if buttons:
            card["buttons"] = buttons
        cards.append(card)
    if not cards:
        return None
    return {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": cards}}}


@dataclass
class Rendering:
    parts: List[Dict[str, Any]] = field(default_factory=list)  # Send API `message` objects, in order
    choices: Optional[List[Dict[str, str]]] = None  # options answerable by number


def _options(text: str, options: List[Dict[str, str]]) -> Tuple[str, List[Dict[str, str]], Optional[list]]:
    """(text, quick replies, numbered choices) for the postback options of a message."""
    if not options:
        return text, [], None
    if len(options) > MAX_QUICK_REPLIES or any(len(o["payload"]) > MAX_PAYLOAD for o in options):
        choices = [{"title": o["title"], "payload": o["payload"]} for o in options]
        return numbered_list(text, options), [], choices
    if all(len(" ".join(o["title"].split())) <= MAX_TITLE for o in options):
        return text, [{"content_type": "text", "title": " ".join(o["title"].split()), "payload": o["payload"]}
                      for o in options], None
    # some title had to be cut: number the chips and list the full titles, so nothing is lost
    replies = [{"content_type": "text", "title": f"{i}. " + short_title(o["title"], MAX_TITLE - len(f"{i}. ")),
                "payload": o["payload"]} for i, o in enumerate(options, 1)]
    lines = [text.strip()] if text.strip() else []
    lines += [f"{i}. {o['title']}" for i, o in enumerate(options, 1)]
    choices = [{"title": o["title"], "payload": o["payload"]} for o in options]
    return "\n".join(lines), replies, choices


def _button_template(text: str, options: List[Dict[str, str]], links: List[Dict[str, str]]) -> Dict[str, Any]:
    buttons = [{"type": "postback", "title": short_title(o["title"]), "payload": o["payload"]} for o in options]
    buttons += [{"type": "web_url", "title": short_title(l["title"]), "url": l["url"]} for l in links]
    return {"attachment": {"type": "template",
                           "payload": {"template_type": "button", "text": text, "buttons": buttons}}}


def render(message: Dict[str, Any], render_custom: Callable[[Dict[str, Any]], Optional[str]] = custom_as_text
           ) -> Rendering:
    """The shared message shape as Send API `message` objects."""
    texts = [str(message["text"])] if message.get("text") else []
    attachments: List[Dict[str, Any]] = []
    links: List[Dict[str, str]] = []
    custom = message.get("custom") if isinstance(message.get("custom"), dict) else None
    if custom and custom.get("type") == "image" and _is_url(custom.get("url")):
        attachments.append(_image(custom["url"]))
    elif custom and custom.get("type") == "link" and _is_url(custom.get("url")):
        links.append({"title": str(custom.get("title") or "Xem thêm"), "url": custom["url"]})
    elif custom:
        text = render_custom(custom)
        if text:
            texts.append(text)
    if _is_url(message.get("image")):
        attachments.append(_image(message["image"]))
    if isinstance(message.get("elements"), list) and _generic(message["elements"]):
        attachments.append(_generic(message["elements"]))
    attachment = message.get("attachment")
    if isinstance(attachment, dict) and attachment.get("type") and isinstance(attachment.get("payload"), dict):
        attachments.append({"attachment": attachment})
    elif attachment:
        texts.append(str(attachment))
    options = []
    for option in message.get("quick_replies") or []:
        if _is_url(option.get("payload")):
            links.append({"title": option["title"], "url": option["payload"]})
        else:
            options.append({"title": option["title"], "payload": option["payload"]})
    return _assemble("\n\n".join(t.strip() for t in texts if t.strip()), options, links, attachments)


def _assemble(text: str, options: List[Dict[str, str]], links: List[Dict[str, str]],
              attachments: List[Dict[str, Any]]) -> Rendering:
    result = Rendering()
    if links and text and len(options) + len(links) <= MAX_BUTTONS and len(text) <= MAX_TEMPLATE_TEXT:
        result.parts.append(_button_template(text, options, links))
        result.parts += attachments
        return result
    if links:
        text = "\n".join([text] + [f"{link['title']}: {link['url']}" for link in links]).strip()
    text, replies, result.choices = _options(text, options)
    if replies and not text and not attachments:
        text = CHOOSE_TEXT
    result.parts = [{"text": part} for part in split_text(text, MAX_TEXT)] if text else []
    result.parts += attachments
    if replies:
        result.parts[-1]["quick_replies"] = replies
    return result


# --------------------------------------------------------------------------------------- Graph API

def _aware(value: Optional[datetime]) -> Optional[datetime]:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC


def _now() -> datetime:
    return datetime.now(timezone.utc)


class GraphClient:
    """The Graph API calls of the channel; one aiohttp session, bounded retries, errors classified."""

    def __init__(self, config: MessengerConfig, timeout: float = 10.0, backoff: float = 1.0,
                 max_attempts: int = 4) -> None:
        self.config = config
        self.timeout = timeout
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.sent_ids: "OrderedDict[str, None]" = OrderedDict()  # recent mids we sent (echoes may beat the log)
        self._session: Optional[aiohttp.ClientSession] = None

    def url(self, path: str) -> str:
        return f"{self.config.graph_base.rstrip('/')}/{self.config.graph_version}/{path.lstrip('/')}"

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def call(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
                   params: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, Any]]:
        """(HTTP status, JSON body or {}) of one request; network errors raise."""
        http = await self._http()
        query = {**(params or {}), "access_token": self.config.page_access_token}
        async with http.request(method, self.url(path), params=query, json=body) as resp:
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = {}
            return resp.status, data if isinstance(data, dict) else {}

    def classify(self, status: int, data: Dict[str, Any], attempt: int) -> Delivery:
        error = data.get("error") if isinstance(data.get("error"), dict) else None
        if status < 300 and error is None:
            mid = data.get("message_id")
            return Delivery(True, [str(mid)] if mid else [])
        error = error or {}
        code, subcode = error.get("code"), error.get("error_subcode")
        what = f"#{code}{'/' + str(subcode) if subcode else ''} {str(error.get('message') or status)[:160]}"
        if code in RATE_LIMIT_CODES:
            return Delivery.failed(f"rate limited: {what}", retry_after=self.backoff * 2 ** (attempt - 1))
        if code in UNREACHABLE_CODES or subcode in UNREACHABLE_SUBCODES:
            return Delivery.failed(f"recipient unavailable: {what}", unreachable=True)
        if code in TOKEN_CODES:
            logger.error("messenger: Meta rejected MESSENGER_PAGE_ACCESS_TOKEN (%s). Generate a new Page access "
                         "token for the page in the Meta app (Messenger > Settings) and restart.", what)
            return Delivery.failed(f"page access token rejected: {what}")
        if status >= 500 or code in TRANSIENT_CODES:
            return Delivery.failed(f"temporary error: {what}", retry_after=self.backoff * 2 ** (attempt - 1))
        return Delivery.failed(f"graph error: {what}")

    async def _post(self, path: str, body: Dict[str, Any], what: str) -> Delivery:
        attempts = 0

        async def attempt() -> Delivery:
            nonlocal attempts
            attempts += 1
            status, data = await self.call("POST", path, body)
            return self.classify(status, data, attempts)

        return await retrying(attempt, what, self.max_attempts)

    async def send(self, psid: str, message: Dict[str, Any], messaging_type: str = "RESPONSE",
                   tag: Optional[str] = None) -> Delivery:
        body: Dict[str, Any] = {"recipient": {"id": psid}, "messaging_type": messaging_type, "message": message}
        if tag:
            body["tag"] = tag
        result = await self._post("me/messages", body, f"messenger send to {psid}")
        for mid in result.message_ids:
            self.sent_ids[mid] = None
            while len(self.sent_ids) > 5000:
                self.sent_ids.popitem(last=False)
        return result

    async def sender_action(self, psid: str, action: str) -> bool:
        """typing_on / typing_off / mark_seen: one attempt, failures only logged (cosmetic)."""
        try:
            status, data = await self.call("POST", "me/messages",
                                           {"recipient": {"id": psid}, "sender_action": action})
        except Exception as exc:  # noqa: BLE001 - a missing typing indicator is harmless
            logger.debug("messenger: %s for %s failed: %s", action, psid, exc.__class__.__name__)
            return False
        return self.classify(status, data, 1).ok

    async def profile(self, psid: str) -> Optional[Dict[str, Any]]:
        try:
            status, data = await self.call("GET", psid, params={"fields": "first_name,last_name"})
        except Exception as exc:  # noqa: BLE001 - the name is a nicety
            logger.info("messenger: profile of %s not fetched: %s", psid, exc.__class__.__name__)
            return None
        if status >= 300 or "error" in data:
            self.classify(status, data, 1)  # logs a token problem
            return None
        return data


# ------------------------------------------------------------------------------------------- output

class MessengerOutput(ChannelOutput):
    """Renders the shared message shape for the Send API under the messaging-window rules."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def __init__(self, client: GraphClient) -> None:
        super().__init__()
        self.client = client

    async def messaging_mode(self, psid: str, sender: str) -> Optional[Tuple[str, Optional[str]]]:
        """(messaging_type, tag) allowed now for this sender, or None outside every window."""
        user = await store.run_db(store.get_user, CHANNEL_NAME, psid)
        last = _aware(user.get("last_inbound_at")) if user else None
        if last is None:
            return None
        age = _now() - last
        if age <= WINDOW:
            return "RESPONSE", None
        if sender == "agent" and age <= HUMAN_AGENT_WINDOW:
            return "MESSAGE_TAG", "HUMAN_AGENT"
        return None

    async def deliver(self, conversation_id: str, message: Dict[str, Any]) -> Delivery:
        psid = user_id_in(CHANNEL_NAME, conversation_id)
        sender = message.get("sender", "bot")
        mode = await self.messaging_mode(psid, sender)
        if mode is None:
            limit = "7-day human agent" if sender == "agent" else "24-hour messaging"
            return Delivery.failed(f"outside the {limit} window: not sent", unreachable=True)
        rendering = render(message, self.render_custom)
        sent: List[str] = []
        for part in rendering.parts:
            result = await self.client.send(psid, part, *mode)
            if not result.ok:
                return Delivery(False, sent, result.error, result.unreachable)
            sent += result.message_ids
        return Delivery(True, sent, choices=rendering.choices)

    async def typing(self, conversation_id: str, on: bool, sender: str = "bot") -> None:
        await self.client.sender_action(user_id_in(CHANNEL_NAME, conversation_id),
                                        "typing_on" if on else "typing_off")


# -------------------------------------------------------------------------------------------- input

def _record_handover(conversation_id: str, event_id: str, text: str) -> bool:
    from bot.db.models import ChannelMessage
    from bot.db.session import session_scope

    try:
        with session_scope() as session:
            session.add(ChannelMessage(channel=CHANNEL_NAME, conversation_id=conversation_id, direction="in",
                                       sender="system", platform_message_id=event_id, text=text[:4000],
                                       status="handover"))
        return True
    except IntegrityError:
        return False


def handover_text(item: Dict[str, Any]) -> str:
    """`pass_thread_control new_owner_app_id=… metadata=…`: what the takeover work reads."""
    for key in HANDOVER_KEYS:
        if key in item:
            details = item[key] if isinstance(item[key], dict) else {"value": item[key]}
            return key + " " + " ".join(f"{k}={v}" for k, v in sorted(details.items()))
    return "handover"


class MessengerInput(ChannelInput):
    """The Messenger webhook. See the module docstring."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "MessengerInput":
        return cls(MessengerConfig.from_settings(credentials))

    def __init__(self, config: Optional[MessengerConfig] = None, client: Optional[GraphClient] = None) -> None:
        super().__init__()
        self.config = config or MessengerConfig.from_settings()
        self.client = client or GraphClient(self.config)
        self.output = MessengerOutput(self.client)
        self.intake = TurnRunner("messenger-intake")  # events of one user in order, before their turns
        self._profile_tries: Dict[str, datetime] = {}
        self._background: set = set()
        if not self.config.configured:
            logger.warning("messenger: MESSENGER_APP_SECRET / MESSENGER_VERIFY_TOKEN / MESSENGER_PAGE_ACCESS_TOKEN "
                           "not set; the webhook answers 503")

    def get_output_channel(self) -> Optional[OutputChannel]:
        return self.output if self.config.configured else None

    # -- webhook -----------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        bp = AppBlueprint(self, "messenger_webhook")

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "configured": self.config.configured})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if not self.config.configured:
                return response.text("messenger channel not configured", status=503)
            token = request.args.get("hub.verify_token") or ""
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                    token.encode("utf-8"), self.config.verify_token.encode("utf-8")):
                return response.text(request.args.get("hub.challenge") or "")
            logger.warning("messenger: webhook verification refused (wrong mode or verify token)")
            return response.text("forbidden", status=403)

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.config.configured:
                return response.text("messenger channel not configured", status=503)
            body = request.body or b""
            if not signature_ok(self.config.app_secret, body, request.headers.get("X-Hub-Signature-256")):
                logger.warning("messenger: webhook with a missing or wrong X-Hub-Signature-256 refused")
                return response.text("forbidden", status=403)
            try:
                events = parse_batch(body)
            except MalformedBody as exc:
                return response.text(f"bad request: {exc}", status=400)
            for event in events:
                self.intake.submit(event.psid, lambda e=event: self.handle(e, on_new_message))
            return response.text("EVENT_RECEIVED")

        @bp.listener("after_server_stop")
        async def close(*_: Any) -> None:
            await self.client.close()

        return bp

    # -- events ------------------------------------------------------------------------------------

    async def handle(self, event: Event, on_new_message: Handler) -> None:
        """One event, in the intake queue of its user."""
        if event.kind == "echo" and self.config.app_id:
            await self._echo(event)
        elif event.kind == "echo":  # no app id to tell ours apart: give our send's log time to land
            self._later(self._echo(event, delay=ECHO_DELAY))
        elif event.standby:
            logger.debug("messenger: standby %s of %s not answered (another app owns the thread)",
                         event.kind, event.psid)
        elif event.kind == "handover":
            conversation_id = conversation_id_for(CHANNEL_NAME, event.psid)
            event_id = f"handover:{event.psid}:{event.timestamp}"
            await store.run_db(_record_handover, conversation_id, event_id, handover_text(event.data))
            await self._thread_owner(conversation_id, event)
        elif event.kind in ("message", "postback", "referral"):
            await self._customer(event, on_new_message)
        else:
            logger.debug("messenger: %s event of %s ignored", event.kind, event.psid)

    async def _thread_owner(self, conversation_id: str, event: Event) -> None:
        """Thread control passed to another app (the Page inbox): a person holds the conversation and the bot
        steps aside. Passed back to us: the bot answers again, unless a console agent holds it."""
        passed = event.data.get("pass_thread_control") or event.data.get("take_thread_control")
        if not isinstance(passed, dict) or not passed.get("new_owner_app_id"):
            return
        ours = str(passed["new_owner_app_id"]) == str(self.config.app_id or "")
        try:
            if ours:
                await store.run_db(engine.platform_release, conversation_id)
            else:
                await store.run_db(engine.platform_reply, conversation_id, CHANNEL_NAME)
            await notify.announce("handover", conversation_id)
        except Exception:  # noqa: BLE001 - recorded in channel_messages either way
            logger.exception("messenger: thread control change of %s not applied", conversation_id)

    async def _customer(self, event: Event, on_new_message: Handler) -> None:
        conversation_id = conversation_id_for(CHANNEL_NAME, event.psid)
        await self._touch(event)
        media = media_of(event)
        if media is not None:
            await self._media(conversation_id, event, *media)
            return
        incoming = to_incoming(event)
        if incoming is None:
            if await self.inbox.claim(conversation_id, event_message_id(event), f"[{event.kind}: unsupported]"):
                await self.tell(self.output, conversation_id, UNSUPPORTED_TEXT)
            return
        name = await self._display_name(event.psid)
        if name:
            incoming.metadata["user_name"] = name
        status = await self.accept(evidence.with_evidence(self, on_new_message), incoming, self.output)
        if status == "ok":
            self._later(self.client.sender_action(event.psid, "mark_seen"))
        elif status == "too_long" and await self.inbox.claim(conversation_id, incoming.message_id, "[too long]"):
            await self.tell(self.output, conversation_id, TOO_LONG_TEXT.format(limit=self.max_message_chars))

    async def _media(self, conversation_id: str, event: Event, location: Optional[Dict[str, float]],
                     urls: List[str]) -> None:
        """A location, or images during an outage report, kept as evidence (in turn order, exactly once)."""
        label = f"[location] {location['latitude']}, {location['longitude']}" if location else \
            "[image] " + " ".join(urls)
        if not await self.inbox.claim(conversation_id, event_message_id(event), label):
            return

        async def turn() -> None:
            if not await evidence.media_turn(self, self.output, conversation_id, location, urls):
                await self.tell(self.output, conversation_id, UNSUPPORTED_TEXT)
        self.turns.submit(conversation_id, turn)

    async def _touch(self, event: Event) -> None:
        """The customer wrote: the 24 h window starts at the message (never moved back by a redelivery)."""
        when = _now()
        if event.timestamp:
            when = min(when, datetime.fromtimestamp(event.timestamp / 1000, timezone.utc))
        user = await store.run_db(store.get_user, CHANNEL_NAME, event.psid)
        last = _aware(user.get("last_inbound_at")) if user else None
        if last is None or last < when or not user.get("reachable"):
            await store.run_db(store.touch_inbound, CHANNEL_NAME, event.psid, max(when, last or when))

    async def _display_name(self, psid: str) -> Optional[str]:
        """The customer's name, fetched from the Graph API once and kept in channel_users."""
        user = await store.run_db(store.get_user, CHANNEL_NAME, psid)
        if user and user.get("display_name"):
            return user["display_name"]
        tried = self._profile_tries.get(psid)
        if tried and _now() - tried < PROFILE_RETRY:
            return None
        self._profile_tries[psid] = _now()
        profile = await self.client.profile(psid)
        name = " ".join(str(profile.get(k) or "") for k in ("first_name", "last_name")).strip() if profile else ""
        if name:
            await store.run_db(store.update_user, CHANNEL_NAME, psid, display_name=name[:200])
        return name or None

    async def _echo(self, event: Event, delay: float = 0.0) -> None:
        """Ours -> ignored. Another app's or the Page inbox's -> a human reply on the conversation."""
        await asyncio.sleep(delay)
        message = event.data["message"]
        mid = str(message.get("mid") or "")
        app_id = str(message.get("app_id") or "")
        if mid in self.client.sent_ids or (app_id and app_id == self.config.app_id):
            return
        if mid and await store.run_db(store.was_sent_by_us, CHANNEL_NAME, mid):
            return
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        app_id = app_id or PAGE_INBOX_APP_ID
        await self.record_human_reply(conversation_id_for(CHANNEL_NAME, event.psid), event.psid, mid or None,
                                      text or "[tệp đính kèm]", HUMAN_NAMES.get(app_id, f"Ứng dụng khác ({app_id})"))

    def _later(self, job: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(job)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("messenger: background job failed", exc_info=task.exception())


# ---------------------------------------------------------------------------------------- page setup

def messenger_profile() -> Dict[str, Any]:
    """The page's Messenger profile: Get Started, greeting, persistent menu, ice breakers (Vietnamese)."""
    menu = [("Đăng ký dịch vụ điện", "/request_service"), ("Tra cứu tiền điện", "/check_bill"),
            ("Lịch cắt điện", "/check_outage_schedule"), ("Tiến độ yêu cầu", "/check_request_status"),
            ("Gặp nhân viên", "/request_human")]
    questions = [("Tôi muốn đăng ký dịch vụ điện", "/request_service"), ("Nhà tôi bị mất điện", "/report_outage"),
                 ("Tra cứu tiền điện tháng này", "/check_bill"), ("Khi nào bị cắt điện?", "/check_outage_schedule")]
    return {
        "get_started": {"payload": "/greet"},
        "greeting": [{"locale": "default",
                      "text": "Chào {{user_first_name}}! Trợ lý ảo ngành điện hỗ trợ đăng ký dịch vụ, báo mất điện, "
                              "tra cứu tiền điện và lịch cắt điện 24/7."}],
        "persistent_menu": [{"locale": "default", "composer_input_disabled": False,
                             "call_to_actions": [{"type": "postback", "title": t, "payload": p} for t, p in menu]}],
        "ice_breakers": [{"locale": "default",
                          "call_to_actions": [{"question": q, "payload": p} for q, p in questions]}],
    }


async def setup_page(config: MessengerConfig, out: Callable[[str], None] = print) -> int:
    client = GraphClient(config, max_attempts=2)
    wanted = messenger_profile()
    try:
        status, current = await client.call("GET", "me/messenger_profile", params={"fields": ",".join(wanted)})
        existing = (current.get("data") or [{}])[0] if status < 300 else {}
        if all(existing.get(k) == v for k, v in wanted.items()):
            out("Hồ sơ Messenger của trang đã đúng; không cần thay đổi.")
            return 0
        result = await client._post("me/messenger_profile", wanted, "messenger profile")
    finally:
        await client.close()
    if not result.ok:
        out(f"Không đặt được hồ sơ Messenger: {result.error}")
        return 1
    out("Đã đặt hồ sơ Messenger của trang:")
    out(f"  Nút Bắt đầu: payload {wanted['get_started']['payload']}")
    out(f"  Lời chào: {wanted['greeting'][0]['text']}")
    out("  Menu cố định: " + "; ".join(c["title"] for c in wanted["persistent_menu"][0]["call_to_actions"]))
    out("  Câu hỏi gợi ý: " + "; ".join(c["question"] for c in wanted["ice_breakers"][0]["call_to_actions"]))
    return 0


def cli_setup(args: argparse.Namespace) -> int:
    """`python -m bot messenger setup`."""
    config = MessengerConfig.from_settings()
    if not config.page_access_token:
        print("Chưa có MESSENGER_PAGE_ACCESS_TOKEN: không thể đặt hồ sơ Messenger của trang.")
        return 2
    try:
        return asyncio.run(setup_page(config))
    except aiohttp.ClientError as exc:
        print(f"Không kết nối được Graph API ({config.graph_base}): {exc.__class__.__name__}")
        return 1
