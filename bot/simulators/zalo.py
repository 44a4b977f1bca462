"""A local Zalo OA stand-in speaking Zalo's wire format (facts and sources: docs/channels.md, "Zalo OA").

Towards our Rasa server it behaves like Zalo: webhook events signed `X-ZEvent-Signature: mac=<sha256(app_id +
body + timestamp + OA secret key)>`, the OA API (`POST /v3.0/oa/message/cs`, `GET /v3.0/oa/user/detail`)
checking the `access_token` header, OAuth v4 (`GET /v4/oa/permission`, `POST /v4/oa/access_token` with
single-use refresh tokens and PKCE S256), `oa_send_*` echoes of every message sent, and Zalo's error codes
on demand. Towards a person or a test: the shared chat page and API (bot/simulators/__init__.py) plus
control endpoints:

  POST /api/control  {fail_send: {code, count}, network_fail: n, expire_access: true, revoke_refresh: true,
                      echo: bool, reset_stats: true}
  GET  /api/stats    {refresh_calls, send_calls, token_calls, webhook_statuses, sent: [raw send bodies]}
  POST /api/replay   {msg_id, times, concurrent}   re-deliver a recorded event byte for byte
  POST /api/event    kinds: follow, unfollow, chatnow, location, image, sticker, file, agent_reply, seen

The bootstrap tokens in the settings (ZALO_ACCESS_TOKEN / ZALO_REFRESH_TOKEN) are accepted, as Zalo accepts
tokens pasted from its API explorer.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import aiohttp
from aiohttp import web

from bot.settings import Settings
from bot.simulators.page import add_chat_page

TITLE = "Zalo OA"
SIM = web.AppKey("sim", object)
OA_ID = "1800000000000000001"
EVENTS = ("follow", "location", "image", "sticker")
ACCESS_LIFETIME = 90000  # seconds, as Zalo's v4 token endpoint answers
DEFAULT_LOCATION = (21.0285, 105.8542)
ERRORS = {-216: "Access token is invalid", -220: "Access token has expired", -32: "Exceeded the limit of requests",
          -201: "Parameters are invalid", -230: "User has not interacted with the OA in the past 7 days",
          -213: "User has not followed the OA", -227: "User is banned or inactive", -244: "User has restricted"}


def sign(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    return "mac=" + hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode()).hexdigest()


@dataclass
class Delivered:
    body: bytes
    headers: Dict[str, str]


@dataclass
class ZaloSimulator:
    """The simulator's state; tests drive it through HTTP or directly."""

    app_id: str
    oa_secret_key: str
    app_secret_key: str
    webhook_url: str
    access_tokens: Dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch seconds)
    refresh_tokens: set = field(default_factory=set)
    codes: Dict[str, Dict[str, str]] = field(default_factory=dict)
    inbox: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)  # user id -> what the OA sent
    events: Dict[str, Delivered] = field(default_factory=dict)  # msg_id -> delivered webhook (for replays)
    inbound_ids: Dict[str, str] = field(default_factory=dict)  # user msg_id -> user id (reply by message id)
    sent: List[Dict[str, Any]] = field(default_factory=list)
    webhook_statuses: List[int] = field(default_factory=list)
    fail_send: List[int] = field(default_factory=list)
    network_fail: int = 0
    echo: bool = True
    echo_delay: float = 0.3
    refresh_calls: int = 0
    token_calls: int = 0
    send_calls: int = 0
    counter: int = 0
    http: Optional[aiohttp.ClientSession] = None
    tasks: set = field(default_factory=set)

    @classmethod
    def from_settings(cls, settings: Settings, webhook_url: Optional[str] = None) -> "ZaloSimulator":
        sim = cls(app_id=settings.zalo_app_id or "2000000000000000001",
                  oa_secret_key=settings.zalo_oa_secret_key or "sim-oa-secret",
                  app_secret_key=settings.zalo_app_secret_key or "sim-app-secret",
                  webhook_url=webhook_url or f"{settings.rasa_url}/webhooks/zalo/webhook")
        if settings.zalo_access_token:
            sim.access_tokens[settings.zalo_access_token] = time.time() + ACCESS_LIFETIME
        if settings.zalo_refresh_token:
            sim.refresh_tokens.add(settings.zalo_refresh_token)
        return sim

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:06d}{secrets.token_hex(6)}"

    # -- webhooks towards the OA's server --------------------------------------------------------

    def event(self, name: str, user_id: str, message: Optional[Dict[str, Any]] = None,
              from_oa: bool = False) -> Dict[str, Any]:
        event: Dict[str, Any] = {"app_id": self.app_id, "user_id_by_app": "9" + user_id[-15:],
                                 "event_name": name, "timestamp": str(int(time.time() * 1000))}
        if name in ("follow", "unfollow"):
            event.update({"oa_id": OA_ID, "source": "oa_profile", "follower": {"id": user_id}})
        elif from_oa:
            event.update({"sender": {"id": OA_ID}, "recipient": {"id": user_id}})
        else:
            event.update({"sender": {"id": user_id}, "recipient": {"id": OA_ID}})
        if message is not None:
            event["message"] = message
        return event

    async def deliver(self, event: Dict[str, Any]) -> int:
        """Sign and POST one event to the webhook; returns the HTTP status."""
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "X-ZEvent-Signature":
                   sign(self.app_id, body, str(event.get("timestamp", "")), self.oa_secret_key)}
        msg_id = (event.get("message") or {}).get("msg_id")
        if msg_id:
            self.events[msg_id] = Delivered(body, headers)
        return await self.post(body, headers)

    async def post(self, body: bytes, headers: Dict[str, str], retry: int = 0) -> int:
        try:
            async with self._http().post(self.webhook_url, data=body,
                                         headers={**headers, "num_retry": str(retry)}) as resp:
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError):
            status = 0
        self.webhook_statuses.append(status)
        return status

    async def replay(self, msg_id: str, times: int, concurrent: bool) -> List[int]:
        delivered = self.events[msg_id]
        if concurrent:
            return list(await asyncio.gather(*(self.post(delivered.body, delivered.headers, i + 1)
                                               for i in range(times))))
        return [await self.post(delivered.body, delivered.headers, i + 1) for i in range(times)]

    async def say(self, user_id: str, text: str) -> Dict[str, Any]:
        msg_id = self.next_id("u")
        self.inbound_ids[msg_id] = user_id
        status = await self.deliver(self.event("user_send_text", user_id, {"text": text, "msg_id": msg_id}))
        return {"ok": status == 200, "webhook_status": status, "msg_id": msg_id}

    async def user_event(self, user_id: str, kind: str, body: Dict[str, Any]) -> Dict[str, Any]:
        msg_id = self.next_id("u")
        message: Optional[Dict[str, Any]] = {"msg_id": msg_id, "text": ""}
        if kind in ("follow", "unfollow"):
            event = self.event(kind, user_id)
        elif kind == "chatnow":
            event = self.event("user_click_chatnow", user_id)
        elif kind == "location":
            lat, lng = body.get("latitude", DEFAULT_LOCATION[0]), body.get("longitude", DEFAULT_LOCATION[1])
            message["attachments"] = [{"type": "location", "payload": {
                "coordinates": {"latitude": str(lat), "longitude": str(lng)}}}]
            event = self.event("user_send_location", user_id, message)
        elif kind in ("image", "sticker", "file", "gif", "audio", "video"):
            url = body.get("url") or f"https://zalo.example/{kind}/{msg_id}.jpg"
            message["attachments"] = [{"type": kind, "payload": {"url": url, "thumbnail": url}}]
            event = self.event(f"user_send_{kind}", user_id, message)
        elif kind == "agent_reply":  # a person answers from Zalo's own OA chat: only the echo reaches us
            text = str(body.get("text") or "Chào anh/chị, em là nhân viên CSKH.")
            self._to_inbox(user_id, {"text": text, "sender_name": "Nhân viên (OA chat)"})
            event = self.event("oa_send_text", user_id, {"text": text, "msg_id": self.next_id("o")}, from_oa=True)
        elif kind == "seen":
            event = self.event("user_seen_message", user_id, {"msg_ids": []}, from_oa=True)
        else:
            return {"ok": False, "error": f"unknown kind {kind}"}
        if event.get("event_name", "").startswith("user_send"):
            self.inbound_ids[msg_id] = user_id
        status = await self.deliver(event)
        return {"ok": status == 200, "webhook_status": status, "msg_id": msg_id}

    def _http(self) -> aiohttp.ClientSession:
        if self.http is None or self.http.closed:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self.http

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.http is not None:
            await self.http.close()

    # -- the OA API --------------------------------------------------------------------------------

    def token_error(self, token: Optional[str]) -> Optional[Dict[str, Any]]:
        expiry = self.access_tokens.get(token or "")
        if expiry is None:
            return {"error": -216, "message": ERRORS[-216]}
        if expiry < time.time():
            return {"error": -220, "message": ERRORS[-220]}
        return None

    def send(self, token: Optional[str], body: Any) -> Dict[str, Any]:
        self.send_calls += 1
        problem = self.token_error(token)
        if problem:
            return problem
        if self.fail_send:
            code = self.fail_send.pop(0)
            return {"error": code, "message": ERRORS.get(code, "simulated error")}
        user_id, error = self._recipient(body)
        if error:
            return {"error": -201, "message": error}
        message = body.get("message") if isinstance(body, dict) else None
        rendered, error = render(message)
        if error:
            return {"error": -201, "message": error}
        msg_id = self.next_id("o")
        self.sent.append({"message_id": msg_id, "body": body})
        self._to_inbox(user_id, rendered)
        if self.echo:
            echo = self.event("oa_send_text", user_id, {"text": rendered.get("text", ""), "msg_id": msg_id},
                              from_oa=True)
            self._later(lambda: self.deliver(echo))
        return {"error": 0, "message": "Success", "data": {"message_id": msg_id, "user_id": user_id,
                                                           "sent_time": int(time.time() * 1000),
                                                           "quota": {"quota_type": "reply"}}}

    def _recipient(self, body: Any) -> tuple:
        recipient = body.get("recipient") if isinstance(body, dict) else None
        if not isinstance(recipient, dict):
            return None, "recipient is required"
        if recipient.get("message_id"):
            user_id = self.inbound_ids.get(str(recipient["message_id"]))
            return (user_id, None) if user_id else (None, "message_id not found")
        if recipient.get("user_id"):
            return str(recipient["user_id"]), None
        return None, "recipient.user_id is required"

    def _to_inbox(self, user_id: str, rendered: Dict[str, Any]) -> None:
        box = self.inbox.setdefault(user_id, [])
        self.counter += 1
        box.append({"n": self.counter, **rendered})

    def _later(self, make: Any) -> None:
        async def run() -> None:
            await asyncio.sleep(self.echo_delay)
            await make()
        task = asyncio.ensure_future(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- OAuth v4 ------------------------------------------------------------------------------------

    def issue(self) -> Dict[str, Any]:
        access, refresh = "sim-at-" + secrets.token_hex(12), "sim-rt-" + secrets.token_hex(12)
        self.access_tokens[access] = time.time() + ACCESS_LIFETIME
        self.refresh_tokens.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "expires_in": str(ACCESS_LIFETIME)}

    def token(self, secret_key: Optional[str], form: Dict[str, str]) -> Dict[str, Any]:
        self.token_calls += 1
        if secret_key != self.app_secret_key or form.get("app_id") != self.app_id:
            return {"error": -14002, "error_name": "Invalid app", "error_description": "app_id or secret_key is invalid"}
        if form.get("grant_type") == "refresh_token":
            self.refresh_calls += 1
            token = form.get("refresh_token", "")
            if token not in self.refresh_tokens:
                return {"error": -14014, "error_name": "Invalid refresh token",
                        "error_description": "Refresh token is invalid or has been used"}
            self.refresh_tokens.discard(token)  # single use
            return self.issue()
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            if grant is None or pkce(verifier) != grant["challenge"]:
                return {"error": -14019, "error_name": "Invalid code", "error_description": "code or verifier invalid"}
            return self.issue()
        return {"error": -14001, "error_name": "Invalid grant_type", "error_description": "unsupported grant_type"}


def pkce(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def render(message: Any) -> tuple:
    """A CS `message` as the chat page shows it, or an error text (Zalo's -201 checks)."""
    if not isinstance(message, dict):
        return None, "message is required"
    text = message.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > 2000):
        return None, "text must be at most 2000 characters"
    shown: Dict[str, Any] = {"text": text} if text else {}
    payload = (message.get("attachment") or {}).get("payload") or {}
    if payload.get("template_type") == "media":
        urls = [e.get("url") for e in payload.get("elements") or [] if e.get("media_type") == "image"]
        if not urls:
            return None, "media element without url"
        shown["image"] = urls[0]
    buttons = payload.get("buttons") or []
    if len(buttons) > 5:
        return None, "at most 5 buttons"
    shown_buttons = []
    for b in buttons:
        title, kind, value = b.get("title"), b.get("type"), b.get("payload")
        if not title or len(title) > 100:
            return None, "button title must be 1-100 characters"
        if kind in ("oa.query.show", "oa.query.hide") and isinstance(value, str) and len(value) <= 1000:
            shown_buttons.append({"title": title, "payload": value})
        elif kind == "oa.open.url" and isinstance(value, dict) and value.get("url"):
            shown_buttons.append({"title": title, "url": value["url"]})
        elif kind == "oa.open.phone" and isinstance(value, dict) and str(value.get("phone_code", "")).isdigit():
            shown_buttons.append({"title": title, "phone": value["phone_code"]})
        else:
            return None, f"invalid button {kind}"
    if shown_buttons:
        shown["buttons"] = shown_buttons
    if not shown:
        return None, "empty message"
    return shown, None


def create_app(settings: Settings, webhook_url: Optional[str] = None) -> web.Application:
    sim = ZaloSimulator.from_settings(settings, webhook_url)
    app = web.Application()
    app[SIM] = sim
    add_chat_page(app, TITLE, events=EVENTS)
    routes = web.RouteTableDef()

    async def body_of(request: web.Request) -> Dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @routes.post("/v3.0/oa/message/cs")
    async def send(request: web.Request) -> web.StreamResponse:
        if sim.network_fail > 0:
            sim.network_fail -= 1
            sim.send_calls += 1
            request.transport.close()  # the connection drops without an answer
            return web.Response(status=502)
        try:
            body = await request.json()
        except ValueError:
            body = None
        return web.json_response(sim.send(request.headers.get("access_token"), body))

    @routes.get("/v3.0/oa/user/detail")
    async def detail(request: web.Request) -> web.Response:
        problem = sim.token_error(request.headers.get("access_token"))
        if problem:
            return web.json_response(problem)
        try:
            user_id = str(json.loads(request.query.get("data", "{}"))["user_id"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": -201, "message": ERRORS[-201]})
        return web.json_response({"error": 0, "message": "Success", "data": {
            "user_id": user_id, "display_name": f"Khách Zalo {user_id[-4:]}", "user_is_follower": True}})

    @routes.post("/v4/oa/access_token")
    async def access_token(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        return web.json_response(sim.token(request.headers.get("secret_key"), form))

    @routes.get("/v4/oa/permission")
    async def permission(request: web.Request) -> web.Response:
        q = request.query
        if q.get("app_id") != sim.app_id or not q.get("redirect_uri") or not q.get("code_challenge"):
            return web.Response(status=400, text="app_id, redirect_uri and code_challenge are required")
        code = "sim-code-" + secrets.token_hex(8)
        sim.codes[code] = {"challenge": q["code_challenge"]}
        sep = "&" if "?" in q["redirect_uri"] else "?"
        raise web.HTTPFound(f"{q['redirect_uri']}{sep}code={code}&oa_id={OA_ID}&state={q.get('state', '')}")

    @routes.post("/api/say")
    async def say(request: web.Request) -> web.Response:
        data = await body_of(request)
        if not str(data.get("user_id", "")).strip() or not isinstance(data.get("text"), str):
            return web.json_response({"ok": False, "error": "user_id and text required"}, status=400)
        return web.json_response(await sim.say(str(data["user_id"]).strip(), data["text"]))

    @routes.post("/api/tap")
    async def tap(request: web.Request) -> web.Response:
        data = await body_of(request)  # a query button: Zalo sends its payload as the user's text
        if not str(data.get("user_id", "")).strip() or not isinstance(data.get("payload"), str):
            return web.json_response({"ok": False, "error": "user_id and payload required"}, status=400)
        return web.json_response(await sim.say(str(data["user_id"]).strip(), data["payload"]))

    @routes.post("/api/event")
    async def user_event(request: web.Request) -> web.Response:
        data = await body_of(request)
        if not str(data.get("user_id", "")).strip():
            return web.json_response({"ok": False, "error": "user_id required"}, status=400)
        result = await sim.user_event(str(data["user_id"]).strip(), str(data.get("kind", "")), data)
        return web.json_response(result, status=200 if "error" not in result else 400)

    @routes.get("/api/messages")
    async def messages(request: web.Request) -> web.Response:
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            after = 0
        box = sim.inbox.get(request.query.get("user_id", ""), [])
        return web.json_response({"messages": [m for m in box if m["n"] > after]})

    @routes.post("/api/replay")
    async def replay(request: web.Request) -> web.Response:
        data = await body_of(request)
        if data.get("msg_id") not in sim.events:
            return web.json_response({"ok": False, "error": "unknown msg_id"}, status=404)
        statuses = await sim.replay(data["msg_id"], int(data.get("times", 1)), bool(data.get("concurrent")))
        return web.json_response({"ok": True, "statuses": statuses})

    @routes.post("/api/control")
    async def control(request: web.Request) -> web.Response:
        data = await body_of(request)
        if isinstance(data.get("fail_send"), dict):
            sim.fail_send += [int(data["fail_send"]["code"])] * int(data["fail_send"].get("count", 1))
        sim.network_fail += int(data.get("network_fail", 0))
        if data.get("expire_access"):
            sim.access_tokens = {t: 0.0 for t in sim.access_tokens}
        if data.get("revoke_refresh"):
            sim.refresh_tokens.clear()
        if "echo" in data:
            sim.echo = bool(data["echo"])
        if data.get("reset_stats"):
            sim.refresh_calls = sim.token_calls = sim.send_calls = 0
            sim.sent.clear()
            sim.webhook_statuses.clear()
        return web.json_response({"ok": True})

    @routes.get("/api/stats")
    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"refresh_calls": sim.refresh_calls, "token_calls": sim.token_calls,
                                  "send_calls": sim.send_calls, "webhook_statuses": sim.webhook_statuses,
                                  "sent": sim.sent})

    async def cleanup(_: web.Application) -> None:
        await sim.close()

    app.add_routes(routes)
    app.on_cleanup.append(cleanup)
    return app
