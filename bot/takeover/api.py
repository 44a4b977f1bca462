"""The agent console's HTTP API (JSON over aiohttp, mounted at /api by bot/web/app.py).

Auth: `POST /api/login {username, password}` sets an HttpOnly, SameSite=Strict session cookie and returns
the CSRF token; every other call needs the cookie (401 without), and every POST also needs the header
`X-CSRF-Token` (403 without) and a JSON body. Failed logins are rate-limited (429). An agent sees the queue,
live bot conversations and their own; acting on another agent's conversation needs the supervisor role (403).
A state change that lost a race or does not fit the state answers 409.

  GET  /api/me                                  the agent and the CSRF token
  GET  /api/conversations?state=waiting|agent|bot|closed|all
  GET  /api/conversations/{id}                  conversation, message log, notes, customer record
  POST /api/conversations/{id}/claim | take_over | hand_back | resolve
  POST /api/conversations/{id}/transfer {agent_id}
  POST /api/conversations/{id}/reply {text}     delivered on the customer's own channel
  POST /api/conversations/{id}/typing {on}      web chat typing indicator
  POST /api/conversations/{id}/note {text}      private, never sent to the customer
  GET  /api/callbacks?done=0|1 ; POST /api/callbacks/{id}/done {note}
  GET  /api/agents
  GET  /api/stream                              WebSocket: {"type": "conversation", ...} / {"type": "message", ...}
Everything customers and agents typed is returned as JSON data; the console renders it as text.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Dict, List, Optional

from aiohttp import WSMsgType, web
from sqlalchemy import select

from bot.db.models import Agent, AgentNote, CallbackRequest, ChannelMessage, ChannelUser, Conversation
from bot.db.session import session_scope
from bot.localtime import as_utc, utcnow
from bot.settings import Settings
from bot.takeover import agents, engine, notify, service
from bot.takeover.agents import AgentInfo

logger = logging.getLogger(__name__)
COOKIE = "cskh_session"
SETTINGS = web.AppKey("takeover_settings", Settings)
LIMITER = web.AppKey("login_limiter", agents.LoginLimiter)
ACTIONS = ("claim", "take_over", "hand_back", "resolve", "transfer")
MAX_TEXT = 2000
STREAM_POLL = 1.0
OVERLAP = timedelta(seconds=3)  # safety net when Redis is down; Redis wakes the stream at once otherwise

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
routes = web.RouteTableDef()


def _default(value: Any) -> Any:
    return _iso(value) if isinstance(value, datetime) else str(value)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status,
                             dumps=lambda o: json.dumps(o, default=_default, ensure_ascii=False))


def _error(status: int, message: str) -> web.Response:
    return _json({"ok": False, "error": message}, status=status)


async def run_db(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/") or request.path == "/api/login":
        return await handler(request)
    found = await run_db(agents.session_agent, request.cookies.get(COOKIE, ""))
    if found is None:
        return _error(401, "Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại.")
    request["agent"], request["csrf"] = found
    if request.method == "POST":
        if request.headers.get("X-CSRF-Token") != request["csrf"]:
            return _error(403, "Thiếu mã CSRF.")
        if request.content_type != "application/json":
            return _error(415, "Cần nội dung JSON.")
    return await handler(request)


async def _body(request: web.Request) -> Dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error": "JSON không hợp lệ"}),
                                 content_type="application/json")
    return body if isinstance(body, dict) else {}


def _iso(value: Optional[datetime]) -> Optional[str]:
    return as_utc(value).isoformat() if value else None


# ------------------------------------------------------------------------------------------ login

@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    if request.content_type != "application/json":
        return _error(415, "Cần nội dung JSON.")
    body = await _body(request)
    username, password = str(body.get("username", ""))[:60], str(body.get("password", ""))[:200]
    limiter = request.app[LIMITER]
    keys = (f"user:{username.strip().lower()}", f"ip:{request.remote}")
    if limiter.blocked(*keys):
        return _error(429, "Đăng nhập sai quá nhiều lần, vui lòng thử lại sau ít phút.")
    result = await run_db(agents.login, username, password)
    if result is None:
        limiter.failed(*keys)
        return _error(401, "Sai tên đăng nhập hoặc mật khẩu.")
    token, csrf, agent = result
    resp = _json({"ok": True, "agent": agent.__dict__, "csrf": csrf})
    resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=request.secure, path="/",
                    max_age=int(agents.SESSION_LIFETIME.total_seconds()))
    return resp


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    await run_db(agents.logout, request.cookies.get(COOKIE, ""))
    resp = _json({"ok": True})
    resp.del_cookie(COOKIE, path="/")
    return resp


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    return _json({"agent": request["agent"].__dict__, "csrf": request["csrf"]})


@routes.get("/api/agents")
async def list_agents(_: web.Request) -> web.Response:
    rows = await run_db(agents.list_agents)
    return _json({"agents": [{k: (_iso(v) if isinstance(v, datetime) else v) for k, v in r.items()}
                                         for r in rows if r["active"]]})


# ---------------------------------------------------------------------------------- conversations

def _may_see(agent: AgentInfo, row: Conversation) -> bool:
    return agent.supervisor or row.state != "agent" or row.agent_id in (None, agent.id)


def _may_act(agent: AgentInfo, row: Conversation) -> bool:
    return agent.supervisor or row.agent_id in (None, agent.id)


def conversation_json(row: Conversation, names: Dict[int, str], position: int = 0) -> Dict[str, Any]:
    waiting = (utcnow() - as_utc(row.escalated_at)).total_seconds() if row.state == "waiting" and row.escalated_at \
        else None
    return {
        "id": row.id, "conversation_id": row.conversation_id, "channel": row.channel,
        "display_name": row.display_name, "customer_code": row.customer_code, "phone": row.phone,
        "state": row.state, "reason": row.reason, "priority": row.priority, "agent_id": row.agent_id,
        "agent_name": names.get(row.agent_id) if row.agent_id else None, "context": row.context,
        "escalated_at": _iso(row.escalated_at), "claimed_at": _iso(row.claimed_at),
        "resolved_at": _iso(row.resolved_at), "updated_at": _iso(row.updated_at),
        "waiting_seconds": int(waiting) if waiting is not None else None, "queue_position": position,
        "csat_score": row.csat_score, "csat_comment": row.csat_comment,
    }


def _agent_names(session: Any) -> Dict[int, str]:
    return dict(session.execute(select(Agent.id, Agent.display_name)).all())


def list_conversations(agent: AgentInfo, state: str, limit: int = 200) -> List[Dict[str, Any]]:
    with session_scope() as session:
        names = _agent_names(session)
        if state == "waiting":
            rows = engine.queue_order(session)
        else:
            query = select(Conversation).order_by(Conversation.updated_at.desc()).limit(limit)
            if state != "all":
                query = query.where(Conversation.state == state)
            rows = list(session.execute(query).scalars())
        queue = {r.id: i for i, r in enumerate(engine.queue_order(session), 1)}
        shown = [r for r in rows if _may_see(agent, r)]
        profiles = _profile_names(session, shown)
        return [{**conversation_json(r, names, queue.get(r.id, 0)),
                 "display_name": r.display_name or profiles.get(r.conversation_id)} for r in shown]


def _profile_names(session: Any, rows: List[Conversation]) -> Dict[str, str]:
    """Display names the platforms told the channels (Zalo / Messenger profiles)."""
    wanted = {(r.channel, r.conversation_id.partition(":")[2]): r.conversation_id for r in rows if ":" in r.conversation_id}
    if not wanted:
        return {}
    found = session.execute(select(ChannelUser.channel, ChannelUser.user_id, ChannelUser.display_name).where(
        ChannelUser.user_id.in_({user for _, user in wanted}))).all()
    return {wanted[(c, u)]: n for c, u, n in found if (c, u) in wanted and n}


def message_json(row: ChannelMessage) -> Dict[str, Any]:
    return {"id": row.id, "direction": row.direction, "sender": row.sender, "sender_name": row.sender_name,
            "text": row.text,
            "status": row.status, "error": row.error, "created_at": _iso(row.created_at)}


def conversation_detail(agent: AgentInfo, pk: int) -> Optional[Dict[str, Any]]:
    with session_scope() as session:
        row = session.get(Conversation, pk)
        if row is None:
            return None
        if not _may_see(agent, row):
            raise PermissionError
        names = _agent_names(session)
        messages = session.execute(select(ChannelMessage).where(
            ChannelMessage.conversation_id == row.conversation_id, ChannelMessage.text != "")
            .order_by(ChannelMessage.id.desc()).limit(300)).scalars().all()
        notes = session.execute(select(AgentNote).where(AgentNote.conversation_id == row.conversation_id)
                                .order_by(AgentNote.id)).scalars().all()
        return {
            "conversation": conversation_json(row, names, engine.queue_position(session, row)),
            "messages": [message_json(m) for m in reversed(messages)],
            "notes": [{"id": n.id, "text": n.text, "agent_name": names.get(n.agent_id),
                       "created_at": _iso(n.created_at)} for n in notes],
            "customer": service.customer_record(session, row.customer_code, row.phone),
        }


def _pk(request: web.Request) -> int:
    try:
        return int(request.match_info["pk"])
    except ValueError:
        raise web.HTTPNotFound()


@routes.get("/api/conversations")
async def conversations(request: web.Request) -> web.Response:
    state = request.query.get("state", "waiting")
    if state not in engine.TRANSITIONS and state not in ("waiting", "agent", "bot", "closed", "all"):
        return _error(400, "state không hợp lệ")
    return _json({"conversations": await run_db(list_conversations, request["agent"], state)})


@routes.get("/api/conversations/{pk}")
async def conversation(request: web.Request) -> web.Response:
    try:
        detail = await run_db(conversation_detail, request["agent"], _pk(request))
    except PermissionError:
        return _error(403, "Cuộc trò chuyện này do tư vấn viên khác phụ trách.")
    return _json(detail) if detail else _error(404, "Không tìm thấy cuộc trò chuyện.")


@routes.post("/api/conversations/{pk}/{action:claim|take_over|hand_back|resolve|transfer}")
async def act(request: web.Request) -> web.Response:
    agent: AgentInfo = request["agent"]
    action = request.match_info["action"]
    body = await _body(request)
    try:
        result = await service.act(request.app[SETTINGS], agent, _pk(request), action, body.get("agent_id"))
    except engine.NotFound:
        return _error(404, "Không tìm thấy cuộc trò chuyện.")
    except PermissionError as exc:
        return _error(403, str(exc) or "Cuộc trò chuyện này do tư vấn viên khác phụ trách.")
    except engine.Conflict as exc:
        return _error(409, f"Không thể thực hiện: cuộc trò chuyện đang ở trạng thái {exc.state}.")
    except ValueError as exc:
        return _error(400, str(exc))
    return _json({"ok": True, "conversation": result})


@routes.post("/api/conversations/{pk}/reply")
async def reply(request: web.Request) -> web.Response:
    text = str((await _body(request)).get("text") or "").strip()
    if not text or len(text) > MAX_TEXT:
        return _error(400, f"Nội dung trống hoặc dài quá {MAX_TEXT} ký tự.")
    try:
        result = await service.reply(request.app[SETTINGS], request["agent"], _pk(request), text)
    except engine.NotFound:
        return _error(404, "Không tìm thấy cuộc trò chuyện.")
    except PermissionError as exc:
        return _error(403, str(exc))
    except engine.Conflict as exc:
        return _error(409, f"Hãy nhận cuộc trò chuyện trước khi trả lời (trạng thái {exc.state}).")
    return _json(result)


@routes.post("/api/conversations/{pk}/typing")
async def typing(request: web.Request) -> web.Response:
    on = bool((await _body(request)).get("on", True))
    await service.typing(request.app[SETTINGS], _pk(request), on)
    return _json({"ok": True})


@routes.post("/api/conversations/{pk}/note")
async def note(request: web.Request) -> web.Response:
    text = str((await _body(request)).get("text") or "").strip()
    if not text or len(text) > MAX_TEXT:
        return _error(400, "Ghi chú trống hoặc quá dài.")
    try:
        await run_db(service.add_note, request["agent"], _pk(request), text)
    except engine.NotFound:
        return _error(404, "Không tìm thấy cuộc trò chuyện.")
    return _json({"ok": True})


# -------------------------------------------------------------------------------------- callbacks

def callbacks(done: bool) -> List[Dict[str, Any]]:
    with session_scope() as session:
        query = select(CallbackRequest).where(
            CallbackRequest.done_at.is_not(None) if done else CallbackRequest.done_at.is_(None))
        rows = session.execute(query.order_by(CallbackRequest.id.desc()).limit(500)).scalars().all()
        return [{"id": r.id, "conversation_id": r.conversation_id, "phone": r.phone, "topic": r.topic,
                 "created_at": _iso(r.created_at), "done_at": _iso(r.done_at), "note": r.note} for r in rows]


def finish_callback(agent: AgentInfo, pk: int, note_text: str) -> bool:
    with session_scope() as session:
        row = session.get(CallbackRequest, pk)
        if row is None:
            return False
        row.done_at, row.done_by, row.note = utcnow(), agent.id, note_text[:MAX_TEXT]
        return True


@routes.get("/api/callbacks")
async def list_callbacks(request: web.Request) -> web.Response:
    return _json({"callbacks": await run_db(callbacks, request.query.get("done") == "1")})


@routes.post("/api/callbacks/{pk}/done")
async def callback_done(request: web.Request) -> web.Response:
    note_text = str((await _body(request)).get("note") or "")
    if not await run_db(finish_callback, request["agent"], _pk(request), note_text):
        return _error(404, "Không tìm thấy yêu cầu gọi lại.")
    await notify.announce("callback", "")
    return _json({"ok": True})


# ----------------------------------------------------------------------------------------- stream

def changes_since(agent: AgentInfo, cursor: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Conversations changed and messages logged since the cursor (which is advanced)."""
    out: List[Dict[str, Any]] = []
    with session_scope() as session:
        names = _agent_names(session)
        queue = {r.id: i for i, r in enumerate(engine.queue_order(session), 1)}
        # look back a little: a change stamped just before the last poll may have been committed just after it
        rows = session.execute(select(Conversation).where(Conversation.updated_at > cursor["updated"] - OVERLAP)
                               .order_by(Conversation.updated_at)).scalars().all()
        sent = cursor.setdefault("sent", {})
        for row in rows:
            stamp = as_utc(row.updated_at)
            cursor["updated"] = max(cursor["updated"], stamp)
            if sent.get(row.id) == stamp:
                continue
            sent[row.id] = stamp
            if _may_see(agent, row):
                out.append({"type": "conversation", "conversation": conversation_json(row, names, queue.get(row.id, 0))})
        for pk in [pk for pk, stamp in sent.items() if stamp < cursor["updated"] - OVERLAP]:
            del sent[pk]
        messages = session.execute(select(ChannelMessage).where(ChannelMessage.id > cursor["message"],
                                                               ChannelMessage.text != "")
                                   .order_by(ChannelMessage.id).limit(500)).scalars().all()
        ids = {r.conversation_id: r.id for r in session.execute(select(Conversation).where(
            Conversation.conversation_id.in_({m.conversation_id for m in messages}))).scalars()}
        for m in messages:
            cursor["message"] = max(cursor["message"], m.id)
            if m.conversation_id in ids:
                out.append({"type": "message", "conversation": ids[m.conversation_id], "message": message_json(m)})
    return out


def initial_cursor() -> Dict[str, Any]:
    with session_scope() as session:
        last = session.execute(select(ChannelMessage.id).order_by(ChannelMessage.id.desc()).limit(1)).scalar()
    return {"updated": utcnow(), "message": last or 0}


@routes.get("/api/stream")
async def stream(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    agent = request["agent"]
    cursor = await run_db(initial_cursor)
    wake = asyncio.Event()
    pubsub = await notify.subscribe()

    async def listen() -> None:
        while pubsub is not None:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=STREAM_POLL)
            except Exception:  # noqa: BLE001 - Redis went away: the poll keeps the stream alive
                logger.warning("takeover stream: Redis subscription lost; polling")
                return
            if message:
                wake.set()

    async def pump() -> None:
        try:
            await pump_changes()
        except Exception:  # noqa: BLE001 - the browser reconnects; log why this stream ended
            logger.exception("takeover stream for %s failed", agent.username)
            await ws.close()

    async def pump_changes() -> None:
        heartbeat = 0.0
        while not ws.closed:
            try:
                await asyncio.wait_for(wake.wait(), STREAM_POLL)
            except asyncio.TimeoutError:
                pass
            wake.clear()
            heartbeat += STREAM_POLL
            if heartbeat >= 30:  # keeps the agent "online" for escalations
                heartbeat = 0.0
                await run_db(agents.session_agent, request.cookies.get(COOKIE, ""))
            for item in await run_db(changes_since, agent, cursor):
                await ws.send_json(item, dumps=lambda o: json.dumps(o, default=_default, ensure_ascii=False))

    tasks = [asyncio.ensure_future(pump()), asyncio.ensure_future(listen())]
    await ws.send_json({"type": "hello", "agent": agent.__dict__})
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        for task in tasks:
            task.cancel()
        if pubsub is not None:
            try:
                await pubsub.close()
            except Exception:  # noqa: BLE001
                pass
    return ws


def add_routes(app: web.Application, settings: Settings) -> None:
    app[SETTINGS] = settings
    app[LIMITER] = agents.LoginLimiter()
    app.router.add_routes(routes)
