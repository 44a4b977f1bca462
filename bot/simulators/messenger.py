"""A local stand-in for Meta's Messenger Platform: the Graph API our channel calls and the webhooks Meta sends.

Graph API (as on graph.facebook.com, any version segment): `POST /{v}/me/messages` (messages and sender
actions; `access_token` checked; the messaging window enforced: `RESPONSE` within 24 h of the user's last
message, `MESSAGE_TAG` + `HUMAN_AGENT` within 7 days, else error #10/2018278; limits checked: text 2000,
13 quick replies, 1-3 template buttons), `GET /{v}/{psid}` (profile), `GET|POST /{v}/me/messenger_profile`.
Error bodies are Meta's: `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.

Webhooks: signed `X-Hub-Signature-256` (and the legacy SHA-1 header) over the exact bytes posted, unicode
escaped as Meta does, one entry per event; an echo (`is_echo`, our `app_id`) follows every message sent.

The user side (shared chat page and API, bot/simulators/__init__.py) plus controls for tests:
  POST control/fail {code, subcode?, status?, times?}   the next Send API calls fail with this error
  POST control/token {valid: bool}                      the page token stops (or starts) working (#190)
  POST control/age {user_id, hours}                     the user's last message was `hours` ago
  POST control/webhook {body, signature?: ok|none|bad|sha1}   post a raw body (redelivery, batches, forgeries)
  POST control/inbox_reply {user_id, text, app_id?}     a person answers from the Page inbox (an echo)
  POST control/echoes {on: bool}                        echo our sends back (default on)
  GET  control/requests?path=                           every Graph API request received
`create_app(settings, webhook_url=...)` returns the aiohttp app; `app[SIM]` is the `MetaSimulator`.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import deque
from typing import Any, Deque, Dict, List, Optional, Tuple, Union

import aiohttp
from aiohttp import web

from bot.settings import Settings
from bot.simulators.page import add_chat_page

logger = logging.getLogger(__name__)
TITLE = "Facebook Messenger (mô phỏng)"
PAGE_ID = "1000000000000001"
PAGE_INBOX_APP_ID = "263902037430900"
WINDOW = 24 * 3600
HUMAN_AGENT_WINDOW = 7 * 24 * 3600
SIM = web.AppKey("messenger_simulator", object) if hasattr(web, "AppKey") else "messenger_simulator"
NAMES = [("Lan", "Nguyễn Thị"), ("Minh", "Trần Văn"), ("Hoa", "Lê Thị"), ("Dũng", "Phạm Văn"), ("Mai", "Vũ Thị")]


def graph_error(message: str, code: int, subcode: Optional[int] = None, kind: str = "OAuthException") -> dict:
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": "A" + secrets.token_hex(5)}
    if subcode:
        error["error_subcode"] = subcode
    return {"error": error}


def new_mid() -> str:
    return "m_" + secrets.token_urlsafe(24)


def batch(*events: Dict[str, Any], standby: bool = False, page_id: str = PAGE_ID) -> Dict[str, Any]:
    """A webhook body with one entry holding `events` (under `standby` when another app owns the thread)."""
    now = int(time.time() * 1000)
    return {"object": "page", "entry": [{"id": page_id, "time": now,
                                         "standby" if standby else "messaging": list(events)}]}


def user_event(psid: str, **content: Any) -> Dict[str, Any]:
    """A messaging event from a user: user_event(psid, message={...}) / postback= / referral=."""
    return {"sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": int(time.time() * 1000), **content}


def signature_headers(secret: str, raw: bytes) -> Dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
            "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest(),
            "Content-Type": "application/json"}


class MetaSimulator:
    def __init__(self, settings: Settings, webhook_url: Optional[str] = None) -> None:
        self.app_secret = settings.messenger_app_secret
        self.page_token = settings.messenger_page_access_token
        self.verify_token = settings.messenger_verify_token
        self.app_id = settings.messenger_app_id or "3000000000000001"
        self.webhook_url = webhook_url or f"{settings.rasa_url}/webhooks/messenger/webhook"
        self.requests: List[Dict[str, Any]] = []
        self.outbox: List[Dict[str, Any]] = []  # what users see: {n, user_id, text?, buttons?, image?, ...}
        self.failures: Deque[Tuple[int, dict]] = deque()
        self.token_valid = True
        self.echoes = True
        self.last_user_message: Dict[str, float] = {}
        self.profile: Dict[str, Any] = {}
        self.webhooks: List[Dict[str, Any]] = []  # every webhook posted: {body, status}
        self._tasks: set = set()
        self._http: Optional[aiohttp.ClientSession] = None

    # -- webhooks towards the bot --------------------------------------------------------------------

    async def post_webhook(self, body: Union[Dict[str, Any], bytes, str], signature: str = "ok") -> int:
        """Post a webhook; `signature`: ok | none | bad | sha1 (the legacy header only)."""
        raw = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else \
            json.dumps(body, ensure_ascii=True).encode()
        self._note_users(raw)
        headers = signature_headers(self.app_secret, raw)
        if signature == "none":
            headers = {"Content-Type": "application/json"}
        elif signature == "bad":
            headers = signature_headers("forged-" + self.app_secret, raw)
        elif signature == "sha1":
            headers.pop("X-Hub-Signature-256")
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            async with self._http.post(self.webhook_url, data=raw, headers=headers) as resp:
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            logger.warning("messenger simulator: webhook to %s failed: %s", self.webhook_url, exc.__class__.__name__)
            status = 0
        self.webhooks.append({"body": raw.decode(), "status": status})
        return status

    def _note_users(self, raw: bytes) -> None:
        """Meta knows when each user last wrote: the messaging window of the Send API starts there."""
        try:
            entries = json.loads(raw).get("entry") or []
            events = [e for entry in entries for key in ("messaging", "standby") for e in entry.get(key) or []]
        except (ValueError, AttributeError, TypeError):
            return
        for event in events:
            sender = str((event.get("sender") or {}).get("id") or "") if isinstance(event, dict) else ""
            if sender and sender != PAGE_ID and not (event.get("message") or {}).get("is_echo"):
                when = (event.get("timestamp") or time.time() * 1000) / 1000
                self.last_user_message[sender] = max(self.last_user_message.get(sender, 0), when)

    async def user_says(self, psid: str, **message: Any) -> Dict[str, Any]:
        """The user sends a message (text, quick_reply, attachments); returns {mid, body, webhook_status}."""
        mid = new_mid()
        body = batch(user_event(psid, message={"mid": mid, **message}))
        status = await self.post_webhook(body)
        return {"ok": status == 200, "mid": mid, "webhook_status": status, "body": json.dumps(body)}

    async def user_postback(self, psid: str, payload: str, title: str, referral: Optional[dict] = None
                            ) -> Dict[str, Any]:
        mid = new_mid()
        postback = {"mid": mid, "title": title, "payload": payload}
        if referral:
            postback["referral"] = referral
        body = batch(user_event(psid, postback=postback))
        status = await self.post_webhook(body)
        return {"ok": status == 200, "mid": mid, "webhook_status": status, "body": json.dumps(body)}

    async def user_referral(self, psid: str, ref: str) -> Dict[str, Any]:
        body = batch(user_event(psid, referral={"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}))
        status = await self.post_webhook(body)
        return {"ok": status == 200, "webhook_status": status, "body": json.dumps(body)}

    async def echo(self, psid: str, mid: str, text: Optional[str], app_id: str) -> int:
        message: Dict[str, Any] = {"is_echo": True, "app_id": int(app_id), "mid": mid}
        if text:
            message["text"] = text
        event = {"sender": {"id": PAGE_ID}, "recipient": {"id": psid}, "timestamp": int(time.time() * 1000),
                 "message": message}
        return await self.post_webhook(batch(event))

    def _later(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.close()

    # -- the Graph API -------------------------------------------------------------------------------

    def _check_token(self, request: web.Request) -> Optional[dict]:
        token = request.query.get("access_token") or request.headers.get("Authorization", "")[7:]
        if not self.token_valid or not token or not hmac.compare_digest(token, self.page_token):
            return graph_error("Error validating access token: Session has expired.", 190, 463)
        return None

    def _window_error(self, psid: str, body: Dict[str, Any]) -> Optional[dict]:
        kind, tag = body.get("messaging_type"), body.get("tag")
        if kind not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return graph_error("(#100) param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG", 100)
        if kind == "MESSAGE_TAG" and tag != "HUMAN_AGENT":
            return graph_error("(#100) Param tag must be a supported message tag", 100)
        last = self.last_user_message.get(psid)
        if last is None:
            return graph_error("(#551) This person isn't available right now.", 551, 1545041)
        limit = HUMAN_AGENT_WINDOW if kind == "MESSAGE_TAG" else WINDOW
        if time.time() - last > limit:
            return graph_error("(#10) This message is sent outside of allowed window.", 10, 2018278)
        return None

    def _shown(self, psid: str, message: Dict[str, Any]) -> Tuple[Optional[dict], Dict[str, Any]]:
        """(error, what the user sees) for a Send API `message`."""
        shown: Dict[str, Any] = {"user_id": psid}
        text = message.get("text")
        if text is not None and (not isinstance(text, str) or len(text) > 2000):
            return graph_error("(#100) Length of param message[text] must be less than or equal to 2000", 100), {}
        if text:
            shown["text"] = text
        replies = message.get("quick_replies") or []
        if len(replies) > 13:
            return graph_error("(#100) param message[quick_replies] must have at most 13 elements", 100), {}
        buttons = [{"title": str(q.get("title", ""))[:20], "payload": q.get("payload"), "quick_reply": True}
                   for q in replies]
        attachment = message.get("attachment") or {}
        payload = attachment.get("payload") or {}
        if attachment.get("type") == "image":
            shown["image"] = payload.get("url")
        elif attachment.get("type") == "template" and payload.get("template_type") == "button":
            if not 1 <= len(payload.get("buttons") or []) <= 3 or len(payload.get("text") or "") > 640:
                return graph_error("(#100) Button template: 1 to 3 buttons and text up to 640 characters", 100), {}
            shown["text"] = payload["text"]
            buttons += [{"title": b.get("title", "")[:20], "payload": b.get("payload"), "url": b.get("url")}
                        for b in payload["buttons"]]
        elif attachment.get("type") == "template":
            shown["text"] = "\n".join(e.get("title", "") + (" — " + e["subtitle"] if e.get("subtitle") else "")
                                      for e in payload.get("elements") or [])
        if buttons:
            shown["buttons"] = buttons
        if not any(k in shown for k in ("text", "image")):
            return graph_error("(#100) param message must be non-empty", 100), {}
        return None, shown

    async def messages(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(graph_error("(#100) Invalid JSON", 100), status=400)
        self.requests.append({"method": "POST", "path": request.path, "body": body, "ts": time.time()})
        error = self._check_token(request)
        if error:
            return web.json_response(error, status=400)
        if self.failures:
            status, error = self.failures.popleft()
            return web.json_response(error, status=status)
        psid = str((body.get("recipient") or {}).get("id") or "")
        if not psid:
            return web.json_response(graph_error("(#100) param recipient must be non-empty", 100), status=400)
        if body.get("sender_action"):
            if body["sender_action"] not in ("typing_on", "typing_off", "mark_seen"):
                return web.json_response(graph_error("(#100) invalid sender_action", 100), status=400)
            return web.json_response({"recipient_id": psid})
        error = self._window_error(psid, body)
        if error is None:
            error, shown = self._shown(psid, body.get("message") or {})
        if error:
            return web.json_response(error, status=400)
        mid = new_mid()
        self._show(shown, sender_name=None)
        if self.echoes:
            self._later(self.echo(psid, mid, shown.get("text"), self.app_id))
        return web.json_response({"recipient_id": psid, "message_id": mid})

    def _show(self, shown: Dict[str, Any], sender_name: Optional[str]) -> None:
        shown["n"] = len(self.outbox) + 1
        if sender_name:
            shown["sender_name"] = sender_name
        self.outbox.append(shown)

    async def user_profile(self, request: web.Request) -> web.Response:
        psid = request.match_info["psid"]
        self.requests.append({"method": "GET", "path": request.path, "query": dict(request.query), "ts": time.time()})
        error = self._check_token(request)
        if error:
            return web.json_response(error, status=400)
        first, last = NAMES[sum(map(ord, psid)) % len(NAMES)]
        return web.json_response({"first_name": first, "last_name": last, "id": psid})

    async def messenger_profile(self, request: web.Request) -> web.Response:
        body = await request.json() if request.method == "POST" else None
        self.requests.append({"method": request.method, "path": request.path, "body": body, "ts": time.time()})
        error = self._check_token(request)
        if error:
            return web.json_response(error, status=400)
        if request.method == "POST":
            self.profile.update(body or {})
            return web.json_response({"result": "success"})
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        return web.json_response({"data": [{k: v for k, v in self.profile.items() if not fields or k in fields}]
                                  if self.profile else []})


# ---------------------------------------------------------------------------------------------- app

def _user(data: Dict[str, Any]) -> str:
    user = str(data.get("user_id") or "").strip()
    if not user.isdigit():
        raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error": "user_id: digits"}),
                                 content_type="application/json")
    return user


async def _json(request: web.Request) -> Dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text='{"ok": false, "error": "JSON object expected"}', content_type="application/json")
    return data


def _user_routes(app: web.Application, sim: MetaSimulator) -> None:
    async def say(request: web.Request) -> web.Response:
        data = await _json(request)
        text = str(data.get("text") or "")
        if not text.strip():
            return web.json_response({"ok": False, "error": "text required"}, status=400)
        return web.json_response(await sim.user_says(_user(data), text=text))

    async def tap(request: web.Request) -> web.Response:
        data = await _json(request)
        user, payload, title = _user(data), str(data.get("payload") or ""), str(data.get("title") or "")
        shown = [m for m in sim.outbox if m["user_id"] == user]
        quick = shown and any(b.get("quick_reply") and b.get("payload") == payload
                              for b in shown[-1].get("buttons", []))
        if quick:  # a quick reply: a message carrying the payload
            return web.json_response(await sim.user_says(user, text=title, quick_reply={"payload": payload}))
        return web.json_response(await sim.user_postback(user, payload, title))

    async def event(request: web.Request) -> web.Response:
        data = await _json(request)
        user, kind = _user(data), data.get("kind")
        if kind == "get_started":
            payload = (sim.profile.get("get_started") or {}).get("payload") or "/greet"
            return web.json_response(await sim.user_postback(user, payload, "Bắt đầu"))
        if kind == "referral":
            return web.json_response(await sim.user_referral(user, str(data.get("ref") or "outage_report")))
        if kind == "location":
            lat, lon = float(data.get("lat", 21.028511)), float(data.get("long", 105.854167))
            attachment = {"type": "location", "title": data.get("title") or "Vị trí của tôi",
                          "url": f"https://www.bing.com/maps/default.aspx?where1={lat}%2C+{lon}",
                          "payload": {"coordinates": {"lat": lat, "long": lon}}}
            return web.json_response(await sim.user_says(user, attachments=[attachment]))
        if kind in ("image", "audio", "file", "video"):
            url = data.get("url") or f"https://scontent.xx.fbcdn.net/v/sim/{secrets.token_hex(6)}.jpg"
            return web.json_response(await sim.user_says(user, attachments=[{"type": kind, "payload": {"url": url}}]))
        return web.json_response({"ok": False, "error": f"unknown event {kind!r}"}, status=400)

    async def messages(request: web.Request) -> web.Response:
        user = request.query.get("user_id", "")
        after = int(request.query.get("after", "0") or 0)
        found = [{k: v for k, v in m.items() if k != "user_id"} for m in sim.outbox
                 if m["user_id"] == user and m["n"] > after]
        return web.json_response({"messages": found})

    app.router.add_post("/api/say", say)
    app.router.add_post("/api/tap", tap)
    app.router.add_post("/api/event", event)
    app.router.add_get("/api/messages", messages)


def _control_routes(app: web.Application, sim: MetaSimulator) -> None:
    async def fail(request: web.Request) -> web.Response:
        data = await _json(request)
        code = int(data.get("code", 2))
        error = graph_error(str(data.get("message") or f"(#{code}) simulated error"), code,
                            data.get("subcode"), "OAuthException")
        for _ in range(int(data.get("times", 1))):
            sim.failures.append((int(data.get("status", 500 if code in (1, 2) else 400)), error))
        return web.json_response({"ok": True, "queued": len(sim.failures)})

    async def token(request: web.Request) -> web.Response:
        sim.token_valid = bool((await _json(request)).get("valid", False))
        return web.json_response({"ok": True})

    async def age(request: web.Request) -> web.Response:
        data = await _json(request)
        sim.last_user_message[_user(data)] = time.time() - float(data.get("hours", 0)) * 3600
        return web.json_response({"ok": True})

    async def webhook(request: web.Request) -> web.Response:
        data = await _json(request)
        body = data.get("body")
        status = await sim.post_webhook(body if isinstance(body, (str, dict)) else "", data.get("signature", "ok"))
        return web.json_response({"ok": status == 200, "webhook_status": status})

    async def inbox_reply(request: web.Request) -> web.Response:
        data = await _json(request)
        user, text = _user(data), str(data.get("text") or "")
        mid = new_mid()
        sim._show({"user_id": user, "text": text}, sender_name="Nhân viên")
        status = await sim.echo(user, mid, text, str(data.get("app_id") or PAGE_INBOX_APP_ID))
        return web.json_response({"ok": status == 200, "mid": mid, "webhook_status": status})

    async def echoes(request: web.Request) -> web.Response:
        sim.echoes = bool((await _json(request)).get("on", True))
        return web.json_response({"ok": True})

    async def requests_(request: web.Request) -> web.Response:
        path = request.query.get("path", "")
        return web.json_response({"requests": [r for r in sim.requests if path in r["path"]]})

    for name, handler in (("fail", fail), ("token", token), ("age", age), ("webhook", webhook),
                          ("inbox_reply", inbox_reply), ("echoes", echoes)):
        app.router.add_post(f"/control/{name}", handler)
    app.router.add_get("/control/requests", requests_)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """A simulator bug answers JSON with its name (aiohttp 3.9's own error page trips over newer yarl)."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - reported to the caller and logged
        logger.exception("messenger simulator: %s failed", request.path)
        return web.json_response({"ok": False, "error": exc.__class__.__name__}, status=500)


def create_app(settings: Settings, webhook_url: Optional[str] = None) -> web.Application:
    sim = MetaSimulator(settings, webhook_url)
    app = web.Application(middlewares=[_errors])
    app[SIM] = sim
    app.router.add_post("/{version}/me/messages", sim.messages)
    app.router.add_route("*", "/{version}/me/messenger_profile", sim.messenger_profile)
    app.router.add_get(r"/{version}/{psid:\d+}", sim.user_profile)
    _user_routes(app, sim)
    _control_routes(app, sim)
    add_chat_page(app, TITLE, events=("get_started", "referral", "location", "image"))

    async def close(_: web.Application) -> None:
        await sim.close()

    app.on_cleanup.append(close)
    return app
