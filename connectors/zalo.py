"""Zalo Official Account channel (`zalo`), registered in credentials.yml as `connectors.zalo.ZaloInput:`.

Webhook `POST /webhooks/zalo/webhook`. Every event is checked before anything is read or stored:
`X-ZEvent-Signature: mac=<hex sha256(app_id + raw body + timestamp + OA secret key)>` (plain SHA-256 over the
raw bytes, `timestamp` from the body, compared in constant time) and `app_id` must be ours; otherwise 4xx.
The 200 goes back at once; turns run later through the shared base (connectors/base): exactly once per
`message.msg_id` (database claim, survives restarts), in order per user, concurrent across users.

Events: `user_send_text` (also template-button taps, whose payload comes back as text) -> a Rasa turn;
`user_send_location` and images during an outage report -> evidence attached to the stored request;
other attachments -> a polite line; `follow` / `user_click_chatnow` -> the greeting with the main menu;
`unfollow` -> remembered; `oa_send_*` echoes -> ignored if we sent them, else recorded as a person answering
from Zalo's own OA chat; receipts -> ignored; anything else -> logged and acknowledged.

Sending (OA API v3 `POST /v3.0/oa/message/cs`, aiohttp): text split under 2000 characters at sentence ends;
up to 5 buttons as template buttons (`oa.query.hide` for intent payloads, `oa.query.show` for plain text,
`oa.open.url` for links, `oa.open.phone` for the hotline), more as a numbered list; images as media
templates; cards as text. Errors are classified (token -> refresh and retry once; -32 -> bounded back-off;
window/follower/blocked -> no retry, user marked unreachable; network -> bounded retries).

Tokens: OAuth v4 for an OA with PKCE (`python -m bot zalo login-url`, callback
`GET /webhooks/zalo/oauth/callback`); access + refresh token in `channel_tokens`; the single-use refresh
token is spent under a database row lock, so two processes never spend it twice. Choices on unverified
API details and their reasons: docs/channels.md, "Zalo OA".
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text, Tuple
from urllib.parse import urlencode

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db.models import ChannelToken
from bot.db.session import session_scope
from bot.localtime import as_utc, utcnow
from connectors.base import (AppBlueprint, ChannelInput, ChannelOutput, Delivery, Incoming, TOO_LONG_TEXT,
                             conversation_id_for, retrying, user_id_in)
from connectors.base import evidence, store
from connectors.base.message import numbered_list, split_text

logger = logging.getLogger(__name__)

CHANNEL_NAME = "zalo"
TEXT_LIMIT = 2000
MAX_BUTTONS = 5
TITLE_LIMIT = 100
QUERY_PAYLOAD_LIMIT = 1000
TOKEN_ROW = "zalo"
BOOTSTRAP_ROW = "zalo:bootstrap"  # fingerprint of the ZALO_ACCESS_TOKEN/ZALO_REFRESH_TOKEN last imported

TOKEN_ERRORS = {-216, -220, -124}
RATE_LIMIT_ERRORS = {-32}
TRANSIENT_ERRORS = {-100}
UNREACHABLE_ERRORS = {-213, -217, -227, -230, -232, -244}
REPLY_MODES = ("message_id", "user_id")

IMAGE_EVENTS = {"user_send_image", "user_send_gif"}
OTHER_MEDIA_EVENTS = {"user_send_file", "user_send_sticker", "user_send_audio", "user_send_video",
                      "user_send_link", "user_send_business_card"}
RECEIPT_EVENTS = {"user_received_message", "user_seen_message", "user_reacted_message", "oa_reacted_message"}

TEXT_ONLY = ("Dạ, em là trợ lý tự động nên hiện chỉ đọc được tin nhắn chữ. "
             "Anh/chị nhắn nội dung cần hỗ trợ giúp em nhé.")
CONNECTED_PAGE = ("<!doctype html><meta charset=utf-8><title>Zalo OA</title>"
                  "<h1>Đã kết nối Zalo OA</h1><p>Trợ lý đã nhận quyền gửi tin nhắn của OA. Có thể đóng trang này.</p>")
_HOTLINE_RE = re.compile(r"\b(1900[\s.]?\d{3,4}(?:[\s.]?\d{2,3})?|1800[\s.]?\d{4})\b")
_URL_RE = re.compile(r"^https?://", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZaloConfig:
    """Settings of the channel. Secrets come from the environment (bot/settings.py), options from
    credentials.yml. `__repr__` never shows secrets."""

    app_id: str = ""
    oa_secret_key: str = field(default="", repr=False)
    app_secret_key: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    api_base: str = "https://openapi.zalo.me"
    oauth_base: str = "https://oauth.zaloapp.com"
    public_url: str = ""
    reply_mode: str = "message_id"  # "message_id": reply to the user's message (free reply quota); "user_id"
    quote_replies: bool = False  # also quote the customer's message in the first reply of a turn
    echo_delay: float = 2.0  # wait before judging an oa_send_* echo (our own send's response may be late)
    refresh_margin: float = 600.0  # refresh this many seconds before the access token expires
    refresh_cooldown: float = 60.0  # after a rejected refresh, wait before trying again
    http_timeout: float = 10.0
    max_attempts: int = 3
    backoff: float = 1.0  # first back-off after -32 / 5xx, doubled per attempt (bounded by the base)

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self.oa_secret_key)

    @classmethod
    def from_settings(cls, options: Optional[Dict[str, Any]] = None) -> "ZaloConfig":
        from bot.settings import get_settings

        s = get_settings()
        config = cls(app_id=s.zalo_app_id, oa_secret_key=s.zalo_oa_secret_key, app_secret_key=s.zalo_app_secret_key,
                     access_token=s.zalo_access_token, refresh_token=s.zalo_refresh_token,
                     api_base=s.zalo_api_base.rstrip("/"), oauth_base=s.zalo_oauth_base.rstrip("/"),
                     public_url=s.webhook_base)
        known = {"reply_mode", "quote_replies", "echo_delay", "refresh_margin", "refresh_cooldown",
                 "http_timeout", "max_attempts", "backoff"}
        values = {k: v for k, v in (options or {}).items() if k in known and v is not None}
        if values.get("reply_mode") not in (None, *REPLY_MODES):
            raise ValueError(f"zalo reply_mode must be one of {REPLY_MODES}")
        return replace(config, **values)


# --------------------------------------------------------------------------------------------------
# Signature and events
# --------------------------------------------------------------------------------------------------


def signature(app_id: str, raw_body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """Zalo's webhook MAC: hex SHA-256 of app_id + raw body + timestamp + OA secret key (not an HMAC)."""
    digest = hashlib.sha256()
    digest.update(app_id.encode("utf-8"))
    digest.update(raw_body)
    digest.update(str(timestamp).encode("utf-8"))
    digest.update(oa_secret_key.encode("utf-8"))
    return digest.hexdigest()


def check_webhook(config: ZaloConfig, headers: Any, raw_body: bytes) -> Tuple[int, str, Optional[Dict[str, Any]]]:
    """(status, reason, event): 200 with the parsed event, or the 4xx to answer and why."""
    try:
        event = json.loads(raw_body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return 400, "malformed JSON", None
    if not isinstance(event, dict):
        return 400, "malformed event", None
    header = headers.get("X-ZEvent-Signature") or headers.get("x-zevent-signature") or ""
    if not header:
        return 401, "missing signature", None
    provided = header.split("=", 1)[1] if header.lower().startswith("mac=") else header
    expected = signature(config.app_id, raw_body, str(event.get("timestamp", "")), config.oa_secret_key)
    if not hmac.compare_digest(provided.strip().lower().encode(), expected.encode()):
        return 401, "bad signature", None
    if str(event.get("app_id", "")) != config.app_id:
        return 403, "unknown app_id", None
    return 200, "ok", event


def _id(value: Any) -> str:
    """Zalo ids are big integers sent as strings; keep them as strings (never through float)."""
    return str(value) if value not in (None, "") else ""


def event_user_id(event: Dict[str, Any]) -> str:
    """The customer's OA-scoped id: sender for user_* events, recipient for oa_* echoes, follower for follow."""
    name = str(event.get("event_name", ""))
    sender = event.get("sender") or {}
    recipient = event.get("recipient") or {}
    follower = event.get("follower") or {}
    if name.startswith("oa_") or name in ("user_received_message", "user_seen_message"):
        return _id(recipient.get("id"))
    return _id(sender.get("id")) or _id(follower.get("id")) or _id(event.get("user_id"))


def event_message_id(event: Dict[str, Any]) -> str:
    """`message.msg_id`, or for events without one a stable id from name, user and timestamp."""
    message = event.get("message") or {}
    msg_id = _id(message.get("msg_id"))
    if msg_id:
        return msg_id
    return f"{event.get('event_name', '')}:{event_user_id(event)}:{event.get('timestamp', '')}"


def attachments(event: Dict[str, Any]) -> List[Dict[str, Any]]:
    items = (event.get("message") or {}).get("attachments") or []
    return [a for a in items if isinstance(a, dict)]


def location_of(event: Dict[str, Any]) -> Optional[Dict[str, float]]:
    for item in attachments(event):
        coordinates = (item.get("payload") or {}).get("coordinates") or {}
        try:
            lat, lng = float(coordinates["latitude"]), float(coordinates["longitude"])
        except (KeyError, TypeError, ValueError):
            continue
        if -90 <= lat <= 90 and -180 <= lng <= 180:
            return {"latitude": lat, "longitude": lng}
    return None


def media_urls(event: Dict[str, Any]) -> List[str]:
    urls = []
    for item in attachments(event):
        url = (item.get("payload") or {}).get("url")
        if isinstance(url, str) and _URL_RE.match(url):
            urls.append(url)
    return urls


# --------------------------------------------------------------------------------------------------
# OA API client
# --------------------------------------------------------------------------------------------------


class ZaloApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"zalo error {code}: {message}")
        self.code = code
        self.message = message


class TokenUnavailable(Exception):
    """No usable access token (never authorised, or the refresh token was rejected)."""


def classify(code: int, message: str, attempt: int, backoff: float) -> Delivery:
    """A Zalo error code as a Delivery: retry (with back-off), unreachable user, or plain failure."""
    error = f"zalo {code}: {message}"[:300]
    if code in RATE_LIMIT_ERRORS or code in TRANSIENT_ERRORS:
        return Delivery.failed(error, retry_after=backoff * 2 ** (attempt - 1))
    if code in UNREACHABLE_ERRORS:
        return Delivery.failed(error, unreachable=True)
    return Delivery.failed(error)


class ZaloApi:
    """The OA Open API calls we use. One aiohttp session per event loop; tokens from `Tokens`."""

    def __init__(self, config: ZaloConfig, tokens: "Tokens") -> None:
        self.config = config
        self.tokens = tokens
        self._session: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def _http(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.http_timeout))
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Dict[str, Any]:
        """One call with the current access token; on a token error, refresh once and call again."""
        token = await self.tokens.access_token()
        for attempt in (1, 2):
            body = await self._raw(method, path, token, **kwargs)
            code = int(body.get("error", 0) or 0)
            if code == 0:
                return body
            if code in TOKEN_ERRORS and attempt == 1:
                logger.info("zalo: access token refused (%s); refreshing", code)
                token = await self.tokens.refresh(stale=token)
                continue
            raise ZaloApiError(code, str(body.get("message", ""))[:200])
        raise AssertionError("unreachable")

    async def _raw(self, method: str, path: str, token: str, **kwargs: Any) -> Dict[str, Any]:
        url = f"{self.config.api_base}{path}"
        async with self._http().request(method, url, headers={"access_token": token}, **kwargs) as resp:
            if resp.status >= 500:
                raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status, message="server error")
            try:
                body = await resp.json(content_type=None)
            except ValueError as exc:
                raise aiohttp.ClientPayloadError(f"not JSON (HTTP {resp.status})") from exc
        if not isinstance(body, dict):
            raise aiohttp.ClientPayloadError("unexpected body")
        return body

    async def send(self, recipient: Dict[str, str], message: Dict[str, Any]) -> str:
        """Send one CS message; returns Zalo's message id."""
        body = await self._call("POST", "/v3.0/oa/message/cs", json={"recipient": recipient, "message": message})
        return _id((body.get("data") or {}).get("message_id"))

    async def profile(self, user_id: str) -> Dict[str, Any]:
        body = await self._call("GET", "/v3.0/oa/user/detail", params={"data": json.dumps({"user_id": user_id})})
        return body.get("data") or {}


# --------------------------------------------------------------------------------------------------
# Tokens: bootstrap, refresh under a cross-process lock, OAuth v4 with PKCE
# --------------------------------------------------------------------------------------------------


@dataclass
class TokenState:
    access_token: str
    expires_at: Optional[datetime]

    def expiring(self, margin: float) -> bool:
        if not self.access_token:
            return True
        return self.expires_at is not None and utcnow() >= as_utc(self.expires_at) - timedelta(seconds=margin)


def _fingerprint(config: ZaloConfig) -> str:
    raw = f"{config.app_id}\n{config.access_token}\n{config.refresh_token}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def load_tokens(config: ZaloConfig) -> Optional[TokenState]:
    """The stored token; bootstrap tokens from the settings win when they differ from the last imported ones
    (an operator pasting new tokens, or a simulator run with fresh ones), else the stored, refreshed row wins."""
    with session_scope() as session:
        row = session.execute(select(ChannelToken).where(ChannelToken.channel == TOKEN_ROW)
                              .with_for_update()).scalar_one_or_none()
        if config.access_token or config.refresh_token:
            marker = session.get(ChannelToken, BOOTSTRAP_ROW)
            fingerprint = _fingerprint(config)
            if row is None or marker is None or marker.access_token != fingerprint:
                if row is None:
                    row = ChannelToken(channel=TOKEN_ROW)
                    session.add(row)
                row.access_token, row.refresh_token = config.access_token, config.refresh_token or None
                row.expires_at, row.last_error = None, None  # a pasted token's age is unknown: refresh on error
                if marker is None:
                    session.add(ChannelToken(channel=BOOTSTRAP_ROW, access_token=fingerprint))
                else:
                    marker.access_token = fingerprint
        if row is None:
            return None
        return TokenState(row.access_token, row.expires_at)


def store_tokens(access_token: str, refresh_token: Optional[str], expires_in: Any) -> None:
    with session_scope() as session:
        row = session.get(ChannelToken, TOKEN_ROW)
        if row is None:
            row = ChannelToken(channel=TOKEN_ROW)
            session.add(row)
        _set_tokens(row, {"access_token": access_token, "refresh_token": refresh_token, "expires_in": expires_in})


def _set_tokens(row: ChannelToken, data: Dict[str, Any]) -> None:
    now = utcnow()
    row.access_token = str(data["access_token"])
    row.refresh_token = str(data.get("refresh_token") or row.refresh_token or "") or None
    try:
        row.expires_at = now + timedelta(seconds=int(data.get("expires_in")))
    except (TypeError, ValueError):
        row.expires_at = now + timedelta(hours=1)  # unknown lifetime: assume the short one
    row.refreshed_at, row.last_error = now, None


def token_post(config: ZaloConfig, form: Dict[str, str]) -> Dict[str, Any]:
    """POST to Zalo's OAuth v4 token endpoint. Synchronous: runs in a worker thread (never the event loop)."""
    import requests  # noqa: PLC0415 - only ever called through run_db, off the event loop

    resp = requests.post(f"{config.oauth_base}/v4/oa/access_token", data=form, timeout=config.http_timeout,
                         headers={"secret_key": config.app_secret_key})
    try:
        body = resp.json()
    except ValueError:
        return {"error": -1, "error_description": f"HTTP {resp.status_code}, not JSON"}
    return body if isinstance(body, dict) else {"error": -1, "error_description": "unexpected body"}


def refresh_locked(config: ZaloConfig, stale: str, margin: float) -> Tuple[Optional[TokenState], Optional[str]]:
    """Spend the refresh token once across every process: the token row is locked (PostgreSQL: FOR UPDATE;
    SQLite: the IMMEDIATE transaction holds the write lock) while we check whether someone else already
    refreshed and, if not, call Zalo and store the new pair. Returns (state, error)."""
    with session_scope() as session:
        row = session.execute(select(ChannelToken).where(ChannelToken.channel == TOKEN_ROW)
                              .with_for_update()).scalar_one_or_none()
        if row is None:
            return None, "no Zalo token stored: authorise the OA (python -m bot zalo login-url)"
        current = TokenState(row.access_token, row.expires_at)
        if row.access_token != stale and not current.expiring(margin):
            return current, None  # another worker refreshed while we waited for the lock
        if not row.refresh_token:
            row.last_error = "no refresh token"
            return None, "no Zalo refresh token: authorise the OA again (python -m bot zalo login-url)"
        body = token_post(config, {"app_id": config.app_id, "grant_type": "refresh_token",
                                   "refresh_token": row.refresh_token})
        if not body.get("access_token"):
            reason = str(body.get("error_description") or body.get("message") or body.get("error_name")
                          or body.get("error") or "no access token")[:200]
            row.last_error = f"refresh rejected: {reason}"
            return None, f"Zalo refused the refresh token ({reason}); authorise the OA again " \
                         f"(python -m bot zalo login-url)"
        _set_tokens(row, body)
        return TokenState(row.access_token, row.expires_at), None


class Tokens:
    """The OA access token of this process: read from the database, refreshed before expiry and on
    token errors, never logged."""

    def __init__(self, config: ZaloConfig) -> None:
        self.config = config
        self._state: Optional[TokenState] = None
        self._lock: Optional[asyncio.Lock] = None
        self._failed_at = 0.0
        self._failure = ""

    def _async_lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def access_token(self) -> str:
        state = self._state
        if state is None:
            try:
                state = await store.run_db(load_tokens, self.config)
            except IntegrityError:  # another process imported the bootstrap row at the same moment
                state = await store.run_db(load_tokens, self.config)
            self._state = state
            if state is None:
                raise TokenUnavailable("no Zalo access token: authorise the OA (python -m bot zalo login-url)")
        if state.expiring(self.config.refresh_margin):
            return await self.refresh(stale=state.access_token)
        return state.access_token

    async def refresh(self, stale: str) -> str:
        async with self._async_lock():
            state = self._state
            if state is not None and state.access_token != stale and not state.expiring(self.config.refresh_margin):
                return state.access_token  # a coroutine of this process refreshed meanwhile
            if time.monotonic() - self._failed_at < self.config.refresh_cooldown:
                raise TokenUnavailable(self._failure)
            state, error = await store.run_db(refresh_locked, self.config, stale, self.config.refresh_margin)
            if state is None:
                self._failed_at, self._failure = time.monotonic(), error or "refresh failed"
                logger.error("zalo: %s", self._failure)
                raise TokenUnavailable(self._failure)
            self._state = state
            logger.info("zalo: access token refreshed")
            return state.access_token

    def forget(self) -> None:
        """Read the database again on next use (after an OAuth callback stored new tokens)."""
        self._state, self._failed_at = None, 0.0


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _state_mac(config: ZaloConfig, body: str) -> str:
    return hmac.new(config.app_secret_key.encode(), f"state|{body}".encode(), hashlib.sha256).hexdigest()[:32]


def code_verifier(config: ZaloConfig, state: str) -> str:
    """PKCE verifier derived from the state and the app secret: the callback (any process) can recompute it,
    nobody without the secret can, and nothing has to be stored between the login URL and the callback."""
    return _b64url(hmac.new(config.app_secret_key.encode(), f"pkce|{state}".encode(), hashlib.sha256).digest())


def code_challenge(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def new_state(config: ZaloConfig) -> str:
    body = f"{int(time.time())}.{secrets.token_urlsafe(12)}"
    return f"{body}.{_state_mac(config, body)}"


def valid_state(config: ZaloConfig, state: str, max_age: float = 3600.0) -> bool:
    body, _, mac = state.rpartition(".")
    if not body or not hmac.compare_digest(mac, _state_mac(config, body)):
        return False
    try:
        issued = int(body.split(".", 1)[0])
    except ValueError:
        return False
    return 0 <= time.time() - issued <= max_age


def callback_url(config: ZaloConfig) -> str:
    return f"{config.public_url.rstrip('/')}/webhooks/{CHANNEL_NAME}/oauth/callback"


def login_url(config: ZaloConfig, redirect_uri: Optional[str] = None) -> str:
    """The OA permission URL (OAuth v4 with PKCE, S256)."""
    state = new_state(config)
    query = urlencode({"app_id": config.app_id, "redirect_uri": redirect_uri or callback_url(config),
                       "code_challenge": code_challenge(code_verifier(config, state)), "state": state})
    return f"{config.oauth_base}/v4/oa/permission?{query}"


def exchange_code(config: ZaloConfig, code: str, state: str) -> Optional[str]:
    """Authorisation code -> tokens stored in the database. Returns an error text or None. Runs in a thread."""
    body = token_post(config, {"app_id": config.app_id, "grant_type": "authorization_code", "code": code,
                               "code_verifier": code_verifier(config, state)})
    if not body.get("access_token"):
        return str(body.get("error_description") or body.get("error_name") or body.get("error") or "no token")[:200]
    store_tokens(str(body["access_token"]), body.get("refresh_token"), body.get("expires_in"))
    return None


def cli_login_url(args: Any) -> int:
    """`python -m bot zalo login-url [--redirect-uri URL]`: print the OA permission URL."""
    config = ZaloConfig.from_settings()
    if not (config.app_id and config.app_secret_key):
        print("Thiếu ZALO_APP_ID hoặc ZALO_APP_SECRET_KEY trong .env; không tạo được đường dẫn cấp quyền.")
        return 2
    redirect = getattr(args, "redirect_uri", None) or callback_url(config)
    print("Mở đường dẫn sau bằng tài khoản quản trị OA để cấp quyền cho trợ lý:")
    print(login_url(config, redirect))
    print(f"(Callback phải khai báo trong ứng dụng Zalo: {redirect})")
    return 0


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def _phone_button(title: str, number: str) -> Dict[str, Any]:
    return {"title": title[:TITLE_LIMIT], "type": "oa.open.phone", "payload": {"phone_code": re.sub(r"\D", "", number)}}


def zalo_button(option: Dict[str, str]) -> Dict[str, Any]:
    """One of our quick replies as a Zalo template button."""
    title, payload = option["title"][:TITLE_LIMIT], option["payload"]
    if _URL_RE.match(payload):
        return {"title": title, "type": "oa.open.url", "payload": {"url": payload}}
    if payload.startswith("tel:"):
        return _phone_button(title, payload[4:])
    kind = "oa.query.hide" if payload.startswith("/") else "oa.query.show"  # hide: no raw intent in the chat
    return {"title": title, "type": kind, "payload": payload[:QUERY_PAYLOAD_LIMIT]}


def hotline_in(text: str) -> Optional[str]:
    match = _HOTLINE_RE.search(text or "")
    return match.group(1) if match else None


def render(message: Dict[str, Any], render_custom: Callable[[Dict[str, Any]], Optional[str]]
           ) -> Tuple[List[Dict[str, Any]], Optional[List[Dict[str, str]]]]:
    """One message of the shared shape -> Zalo `message` objects (in order) and the numbered choices, if any."""
    parts: List[Dict[str, Any]] = []
    choices = None
    text = message.get("text") or ""
    buttons: List[Dict[str, Any]] = []
    custom = message.get("custom")
    if isinstance(custom, dict):
        if custom.get("type") == "link" and custom.get("url"):
            title = str(custom.get("title") or "Xem chi tiết")
            text = text or title
            buttons.append({"title": title[:TITLE_LIMIT], "type": "oa.open.url", "payload": {"url": custom["url"]}})
        elif custom.get("type") == "image" and custom.get("url"):
            parts.append(_image(str(custom["url"]), str(custom.get("alt") or "")))
        else:
            extra = render_custom(custom)
            text = f"{text}\n\n{extra}" if text and extra else (text or extra or "")
    options = message.get("quick_replies") or []
    if len(options) + len(buttons) > MAX_BUTTONS:
        text, choices = numbered_list(text, options), options
    else:
        buttons = [zalo_button(o) for o in options] + buttons
    phone = hotline_in(text)
    if phone and len(buttons) < MAX_BUTTONS and not any(b["type"] == "oa.open.phone" for b in buttons):
        buttons.append(_phone_button(f"Gọi {phone}", phone))
    for extra in (message.get("attachment"), message.get("elements")):
        if extra:
            text = f"{text}\n{_describe(extra)}".strip()
    chunks = split_text(text, TEXT_LIMIT) if text.strip() else []
    if buttons and not chunks:
        chunks = ["Anh/chị chọn giúp em:"]
    for i, chunk in enumerate(chunks):
        part: Dict[str, Any] = {"text": chunk}
        if buttons and i == len(chunks) - 1:
            part["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
        parts.append(part)
    if message.get("image"):
        parts.append(_image(str(message["image"]), ""))
    return parts, choices


def _image(url: str, text: str) -> Dict[str, Any]:
    part: Dict[str, Any] = {"attachment": {"type": "template", "payload": {
        "template_type": "media", "elements": [{"media_type": "image", "url": url}]}}}
    if text:
        part["text"] = text[:TEXT_LIMIT]
    return part


def _describe(extra: Any) -> str:
    if isinstance(extra, dict):
        payload = extra.get("payload") if isinstance(extra.get("payload"), dict) else extra
        return str(payload.get("url") or payload.get("src") or payload.get("title") or "")
    if isinstance(extra, list):
        return "\n".join(f"• {e.get('title', '')}" for e in extra if isinstance(e, dict))
    return str(extra)


class ReplyContext:
    """The customer's latest message id per conversation: replies reference it (reply-by-message-id keeps
    them in the free reply quota) and may quote it. In memory: after a restart the next inbound sets it."""

    def __init__(self) -> None:
        self._latest: Dict[str, Tuple[str, float]] = {}
        self._quoted: Set[str] = set()

    def inbound(self, conversation_id: str, msg_id: str) -> None:
        self._latest[conversation_id] = (msg_id, time.time())
        if len(self._latest) > 20000:
            self._latest.pop(next(iter(self._latest)))

    def latest(self, conversation_id: str, max_age: float = 48 * 3600) -> Optional[str]:
        item = self._latest.get(conversation_id)
        return item[0] if item and time.time() - item[1] < max_age else None

    def quote_once(self, msg_id: str) -> bool:
        if msg_id in self._quoted:
            return False
        self._quoted.add(msg_id)
        return True


class ZaloOutput(ChannelOutput):
    """Sends the shared message shape through the OA API; Delivery carries Zalo's message ids (echoes)."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def __init__(self, config: ZaloConfig, api: ZaloApi, replies: ReplyContext, sent_ids: Set[str]) -> None:
        super().__init__()
        self.config = config
        self.api = api
        self.replies = replies
        self.sent_ids = sent_ids
        self._message_id_mode = config.reply_mode == "message_id"

    def _recipient(self, conversation_id: str, user_id: str) -> Dict[str, str]:
        msg_id = self.replies.latest(conversation_id) if self._message_id_mode else None
        return {"message_id": msg_id} if msg_id else {"user_id": user_id}

    async def deliver(self, conversation_id: str, message: Dict[str, Any]) -> Delivery:
        user_id = user_id_in(CHANNEL_NAME, conversation_id)
        parts, choices = render(message, self.render_custom)
        ids: List[str] = []
        for part in parts:
            result = await self._send_part(conversation_id, user_id, part)
            if not result.ok:
                return Delivery(False, ids, result.error, result.unreachable)
            ids += result.message_ids
        return Delivery(True, ids, choices=choices)

    async def _send_part(self, conversation_id: str, user_id: str, part: Dict[str, Any]) -> Delivery:
        recipient = self._recipient(conversation_id, user_id)
        latest = self.replies.latest(conversation_id)
        if self.config.quote_replies and latest and "text" in part and self.replies.quote_once(latest):
            part = {**part, "quote_message_id": latest}
        result = await self._send_with_retries(conversation_id, recipient, part)
        if not result.ok and "message_id" in recipient and not result.unreachable and not result.retry_after \
                and not (result.error or "").startswith(("token", "network")):
            logger.warning("zalo: reply by message id refused (%s); sending by user id from now on", result.error)
            self._message_id_mode = False
            result = await self._send_with_retries(conversation_id, {"user_id": user_id}, part)
        return result

    async def _send_with_retries(self, conversation_id: str, recipient: Dict[str, str],
                                 part: Dict[str, Any]) -> Delivery:
        attempt_no = 0

        async def attempt() -> Delivery:
            nonlocal attempt_no
            attempt_no += 1
            try:
                msg_id = await self.api.send(recipient, part)
            except ZaloApiError as exc:
                return classify(exc.code, exc.message, attempt_no, self.config.backoff)
            except TokenUnavailable as exc:
                return Delivery.failed(f"token: {exc}"[:300])
            if msg_id:
                self.sent_ids.add(msg_id)  # before any echo can be judged
            return Delivery(True, [msg_id] if msg_id else [])

        return await retrying(attempt, f"zalo send to {conversation_id}", self.config.max_attempts)


# --------------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------------


class ZaloInput(ChannelInput):
    """The Zalo OA webhook. See the module docstring."""

    max_message_chars = TEXT_LIMIT

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ZaloInput":
        return cls(ZaloConfig.from_settings(credentials or {}))

    def __init__(self, config: Optional[ZaloConfig] = None) -> None:
        super().__init__()
        self.config = config or ZaloConfig()
        if not self.config.configured:
            logger.warning("zalo: ZALO_APP_ID / ZALO_OA_SECRET_KEY not set; the Zalo webhook answers 503")
        self.tokens = Tokens(self.config)
        self.api = ZaloApi(self.config, self.tokens)
        self.replies = ReplyContext()
        self.sent_ids: Set[str] = set()
        self._profiles_asked: Set[str] = set()
        self._tasks: Set[asyncio.Task] = set()

    def get_output_channel(self) -> Optional[OutputChannel]:
        return self.output() if self.config.configured else None

    def output(self) -> ZaloOutput:
        return ZaloOutput(self.config, self.api, self.replies, self.sent_ids)

    def _background(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait for queued turns and background work (tests, shutdown)."""
        while self._tasks or self.turns.busy:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.turns.idle()

    # -- blueprint -----------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = AppBlueprint(self, "zalo_webhook", url_prefix=None)
        output = self.output()

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.config.configured else "not configured"})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.config.configured:
                return response.json({"error": "not configured"}, status=503)
            status, reason, event = check_webhook(self.config, request.headers, request.body or b"")
            if event is None:
                logger.warning("zalo: webhook rejected (%s) from %s", reason, request.ip)
                return response.json({"error": reason}, status=status)
            result = await self.handle(event, on_new_message, output)
            return response.json({"status": result})

        @bp.route("/oauth/callback", methods=["GET"])
        async def oauth_callback(request: Request) -> HTTPResponse:
            return await self._oauth_callback(request)

        return bp

    async def _oauth_callback(self, request: Request) -> HTTPResponse:
        code, state = request.args.get("code"), request.args.get("state") or ""
        if not self.config.app_secret_key or not code or not valid_state(self.config, state):
            logger.warning("zalo: OAuth callback without a valid code/state")
            return response.text("Liên kết cấp quyền không hợp lệ hoặc đã hết hạn; chạy lại "
                                 "`python -m bot zalo login-url`.", status=400)
        error = await store.run_db(exchange_code, self.config, code, state)
        if error:
            logger.error("zalo: exchanging the authorisation code failed: %s", error)
            return response.text(f"Zalo không cấp token: {error}", status=502)
        self.tokens.forget()
        logger.info("zalo: OA authorised (oa_id %s); tokens stored", request.args.get("oa_id", "?"))
        return response.html(CONNECTED_PAGE)

    # -- events --------------------------------------------------------------------------------

    async def handle(self, event: Dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]],
                     output: ZaloOutput) -> str:
        """Route one verified event; returns what happened (for the webhook answer and the logs)."""
        name = str(event.get("event_name", ""))
        user_id = event_user_id(event)
        if not user_id:
            logger.info("zalo: event %s without a user id acknowledged", name)
            return "ignored"
        conversation_id = conversation_id_for(CHANNEL_NAME, user_id)
        if name.startswith("oa_send_"):
            self._background(self._echo(event, conversation_id, user_id))
            return "echo"
        if name in RECEIPT_EVENTS or name.startswith("anonymous_"):
            logger.debug("zalo: %s acknowledged", name)
            return "ignored"
        if name == "unfollow":
            await store.run_db(store.update_user, CHANNEL_NAME, user_id, followed=False)
            return "recorded"
        if not (name.startswith("user_") or name == "follow"):
            logger.info("zalo: unknown event %s acknowledged", name)
            return "ignored"
        await self._inbound_seen(conversation_id, user_id, event, name)
        handler = on_new_message
        if name == "user_send_text":
            return await self._text(event, conversation_id, evidence.with_evidence(self, handler), output)
        if name in ("follow", "user_click_chatnow"):
            return await self._welcome(event, conversation_id, handler, output)
        if name == "user_send_location" or name in IMAGE_EVENTS or name in OTHER_MEDIA_EVENTS:
            return await self._media(event, name, conversation_id, output)
        logger.info("zalo: user event %s acknowledged without an answer", name)
        return "ignored"

    async def _inbound_seen(self, conversation_id: str, user_id: str, event: Dict[str, Any], name: str) -> None:
        msg_id = _id((event.get("message") or {}).get("msg_id"))
        if msg_id:
            self.replies.inbound(conversation_id, msg_id)
        values: Dict[str, Any] = {"last_inbound_at": utcnow(), "reachable": True, "unreachable_reason": None}
        if name == "follow":
            values["followed"] = True
        await store.run_db(store.update_user, CHANNEL_NAME, user_id, **values)
        if user_id not in self._profiles_asked:
            self._profiles_asked.add(user_id)
            self._background(self._fetch_profile(user_id))

    async def _text(self, event: Dict[str, Any], conversation_id: str, handler: Callable[[UserMessage], Awaitable[Any]],
                    output: ZaloOutput) -> str:
        message = event.get("message") or {}
        msg_id = event_message_id(event)
        metadata = {"zalo": {"msg_id": msg_id, "event": "user_send_text"}}
        status = await self.accept(handler, Incoming(conversation_id, str(message.get("text") or ""), msg_id,
                                                     metadata), output)
        if status == "too_long" and await self.inbox.claim(conversation_id, msg_id, "(quá dài)"):
            self.turns.submit(conversation_id, lambda: self.tell(output, conversation_id,
                                                                 TOO_LONG_TEXT.format(limit=self.max_message_chars)))
        return status

    async def _welcome(self, event: Dict[str, Any], conversation_id: str,
                       handler: Callable[[UserMessage], Awaitable[Any]], output: ZaloOutput) -> str:
        msg_id = event_message_id(event)
        metadata = {"zalo": {"event": event.get("event_name")}, "display_text": "(Quan tâm OA)"}
        return await self.accept(handler, Incoming(conversation_id, "/greet", msg_id, metadata), output)

    async def _media(self, event: Dict[str, Any], name: str, conversation_id: str, output: ZaloOutput) -> str:
        msg_id = event_message_id(event)
        location = location_of(event) if name == "user_send_location" else None
        urls = media_urls(event) if name in IMAGE_EVENTS else []
        label = f"[{name[len('user_send_'):]}] " + (f"{location['latitude']}, {location['longitude']}"
                                                      if location else " ".join(urls))
        if not await self.inbox.claim(conversation_id, msg_id, label):
            return "duplicate"
        self.turns.submit(conversation_id, lambda: self._media_turn(conversation_id, location, urls, output))
        return "ok"

    async def _media_turn(self, conversation_id: str, location: Optional[Dict[str, float]], urls: List[str],
                          output: ZaloOutput) -> None:
        if not await evidence.media_turn(self, output, conversation_id, location, urls):
            await self.tell(output, conversation_id, TEXT_ONLY)

    # -- echoes: our own sends, or a person answering from Zalo's OA chat -----------------------

    async def _echo(self, event: Dict[str, Any], conversation_id: str, user_id: str) -> None:
        msg_id = event_message_id(event)
        await asyncio.sleep(self.config.echo_delay)
        if msg_id in self.sent_ids:
            return
        try:
            if await store.run_db(store.was_sent_by_us, CHANNEL_NAME, msg_id):
                return
            text = str((event.get("message") or {}).get("text") or f"[{event.get('event_name')}]")
            await self.record_human_reply(conversation_id, user_id, msg_id, text, "Zalo OA")
        except Exception:  # noqa: BLE001 - an echo must never break anything else
            logger.exception("zalo: could not record an OA echo in %s", conversation_id)

    # -- profile -------------------------------------------------------------------------------

    async def _fetch_profile(self, user_id: str) -> None:
        try:
            known = await store.run_db(store.get_user, CHANNEL_NAME, user_id)
            if known and known.get("display_name"):
                return
            data = await self.api.profile(user_id)
            name = str(data.get("display_name") or "").strip()[:200]
            if name:
                await store.run_db(store.update_user, CHANNEL_NAME, user_id, display_name=name)
        except Exception as exc:  # noqa: BLE001 - a missing name only makes greetings plainer
            self._profiles_asked.discard(user_id)
            logger.warning("zalo: profile of %s not fetched: %s", user_id, exc)
