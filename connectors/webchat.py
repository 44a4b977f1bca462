"""Socket.IO web chat channel (`webchat`) for the website widget (web/widget.js).

Registered in credentials.yml as `connectors.webchat.WebChatInput:`. It speaks Rasa's socket.io protocol
(`session_request` / `session_confirm` / `user_uttered` / `bot_uttered`) and closes the gaps of the built-in
`socketio` channel:

* Session persistence is always on. The browser keeps the conversation id in localStorage and sends it in
  `session_request`; the socket joins the room named after it (awaited: python-socketio 5 made
  `enter_room` a coroutine, which the built-in channel does not await), so every tab of the session
  receives the bot's messages. Only ids of 16-64 characters `[A-Za-z0-9_-]` are accepted; anything else
  gets a fresh uuid4 hex.
* History: right after `session_confirm` the server emits `history` `{session_id, messages: [...]}` built
  from the conversation tracker (the single source of truth), so a reload or reconnect shows the
  conversation again. Bot messages carry the same `id` live and in history (derived from the BotUttered
  event timestamp), user messages carry the client's message id, so the widget can merge without
  duplicates.
* Server push: `get_output_channel()` returns a working output channel, so Rasa's HTTP API
  (`POST /conversations/{id}/trigger_intent?output_channel=webchat`, `/execute?output_channel=webchat`,
  `output_channel=latest`) delivers to the open widget.
* Agent/system push helper: `POST /webhooks/webchat/push` (Rasa token as `?token=` or
  `Authorization: Bearer <token>`), JSON `{"session_id", "text", "sender": "agent"|"bot"|"system",
  "sender_name"?, "buttons"?: [{"title", "payload"}], "custom"?: {...}}`. The message is appended to the
  tracker as a BotUttered event (metadata `sender`/`sender_name`) and emitted to the session's room.
  Returns 200 `{"ok": true, "id", "delivered": <open sockets>}`; 401 bad token, 404 unknown conversation,
  400 invalid body. `POST /webhooks/webchat/typing` `{"session_id", "typing": bool, "sender"}` shows or
  hides the typing indicator (nothing is stored).
* Custom payloads: the whole BotUttered message is emitted as one `bot_uttered` dict, `custom` included as
  a key (the built-in channel unpacks `custom` into emit() keyword arguments, so it never arrives).
* Idempotent input: `user_uttered` carries `client_msg_id`; it becomes the UserUttered `message_id`.
  A duplicate (same session, same id) is acknowledged as `duplicate` and not processed: an in-memory,
  bounded per-session record catches re-sends, and the tracker catches re-sends after a server restart.

Events, server -> client:
  `session_confirm` (bare session id string, as in Rasa), `history` `{session_id, messages}`,
  `bot_uttered` (see `bot_payload`), `user_echo` (a message the same session sent from another tab),
  `bot_typing` `{on: bool, sender}`.
Client -> server:
  `session_request` `{session_id?}`,
  `user_uttered` `{message, session_id?, client_msg_id, metadata?: {display_text?, ...}}` with an
  acknowledgement callback answered `{status: "ok"|"duplicate"|"error", id, ts?, reason?}` as soon as the
  message is accepted (the turn runs in the background).

Bot message payload (`bot_uttered` and history entries):
  `{id, ts (epoch ms), sender: "bot"|"agent"|"system", sender_name?, text?, quick_replies?: [{title,
  payload}], custom?, image?, attachment?, elements?}`. `custom` payloads understood by the widget:
  `{"type": "request_summary", "title", "fields": [{"label", "value"}], "request_code"?, "note"?}`,
  `{"type": "link", "url", "title"?}`, `{"type": "image", "url", "alt"?}`; a `custom` with `text` and no
  known type shows the text.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text

import rasa.shared.utils.io
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

logger = logging.getLogger(__name__)

CHANNEL_NAME = "webchat"
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CLIENT_MSG_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,80}$")
MAX_MESSAGE_CHARS = 2000
MAX_DISPLAY_TEXT_CHARS = 200
MAX_METADATA_BYTES = 4096
HISTORY_LIMIT = 200
SENDERS = ("bot", "agent", "system")
EXTERNAL_PREFIX = "EXTERNAL: "


# --------------------------------------------------------------------------------------------------
# Pure helpers (unit-tested without a server)
# --------------------------------------------------------------------------------------------------


def valid_session_id(value: Any) -> bool:
    return isinstance(value, str) and bool(SESSION_ID_RE.match(value))


def new_session_id() -> str:
    return uuid.uuid4().hex


def bot_message_id(timestamp: Optional[float]) -> str:
    """Stable id of a bot message: the same for the live emit and the history entry."""
    if timestamp is None:
        return "b" + uuid.uuid4().hex
    return "b%.6f" % float(timestamp)


def _ms(timestamp: Optional[float]) -> int:
    return int(round((timestamp if timestamp is not None else time.time()) * 1000))


def _quick_replies(buttons: Any) -> List[Dict[str, str]]:
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
    """One `bot_uttered` payload from a BotUttered message dict (`BotUttered.message()`).

    Returns None if there is nothing to show.
    """
    sender = message.get("sender")
    payload: Dict[str, Any] = {
        "id": message.get("id") or bot_message_id(message.get("timestamp")),
        "ts": _ms(message.get("timestamp")),
        "sender": sender if sender in SENDERS else "bot",
    }
    if message.get("sender_name"):
        payload["sender_name"] = str(message["sender_name"])[:80]
    text = message.get("text")
    if text:
        payload["text"] = str(text)
    replies = _quick_replies(message.get("quick_replies")) or _quick_replies(message.get("buttons"))
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
    return {
        "id": event.message_id or ("u%.6f" % event.timestamp),
        "ts": _ms(event.timestamp),
        "sender": "user",
        "text": text,
    }


def history_from_events(events: Iterable[Any], limit: int = HISTORY_LIMIT) -> List[Dict[str, Any]]:
    """The widget's view of a conversation: user and bot messages, oldest first, at most `limit`."""
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


def tracker_has_message_id(events: Iterable[Any], message_id: str) -> bool:
    return any(isinstance(e, UserUttered) and e.message_id == message_id for e in events)


def clean_metadata(raw: Any) -> Dict[str, Any]:
    """Client metadata: a small JSON object (or JSON string); anything else is dropped."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    if not isinstance(raw, dict):
        return {}
    try:
        if len(json.dumps(raw, ensure_ascii=False)) > MAX_METADATA_BYTES:
            return {}
    except (TypeError, ValueError):
        return {}
    metadata = dict(raw)
    display = metadata.get("display_text")
    if display is not None:
        if isinstance(display, str) and display.strip():
            metadata["display_text"] = display.strip()[:MAX_DISPLAY_TEXT_CHARS]
        else:
            metadata.pop("display_text")
    metadata.pop("is_external", None)  # reserved by Rasa
    return metadata


class SeenMessageIds:
    """Bounded memory of client message ids per session (LRU over sessions and ids)."""

    def __init__(self, per_session: int = 256, max_sessions: int = 10000) -> None:
        self.per_session = per_session
        self.max_sessions = max_sessions
        self._data: "OrderedDict[str, OrderedDict[str, None]]" = OrderedDict()

    def check_and_add(self, session_id: str, message_id: str) -> bool:
        """True if the id is new (and records it); False if it was seen before."""
        ids = self._data.get(session_id)
        if ids is None:
            ids = self._data[session_id] = OrderedDict()
            while len(self._data) > self.max_sessions:
                self._data.popitem(last=False)
        else:
            self._data.move_to_end(session_id)
        if message_id in ids:
            ids.move_to_end(message_id)
            return False
        ids[message_id] = None
        while len(ids) > self.per_session:
            ids.popitem(last=False)
        return True

    def discard(self, session_id: str, message_id: str) -> None:
        ids = self._data.get(session_id)
        if ids is not None:
            ids.pop(message_id, None)

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._data.values())


# --------------------------------------------------------------------------------------------------
# Output channel
# --------------------------------------------------------------------------------------------------


class WebChatOutput(OutputChannel):
    """Emits each bot message as one `bot_uttered` dict to the room of the session id."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def __init__(self, sio: AsyncServer, bot_message_evt: Text = "bot_uttered",
                 namespace: Optional[Text] = None) -> None:
        self.sio = sio
        self.bot_message_evt = bot_message_evt
        self.namespace = namespace

    async def _emit(self, recipient_id: Text, payload: Optional[Dict[str, Any]]) -> None:
        if payload:
            await self.sio.emit(self.bot_message_evt, payload, room=recipient_id, namespace=self.namespace)

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self._emit(recipient_id, bot_payload(dict(message)))

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text})

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text, "buttons": buttons})

    async def send_quick_replies(self, recipient_id: Text, text: Text,
                                 quick_replies: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "text": text, "quick_replies": quick_replies})

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any],
                               **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "custom": json_message})

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "image": image})

    async def send_attachment(self, recipient_id: Text, attachment: Any,  # type: ignore[override]
                              **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "attachment": attachment})

    async def send_elements(self, recipient_id: Text, elements: Iterable[Dict[Text, Any]],
                            **kwargs: Any) -> None:
        await self.send_response(recipient_id, {**kwargs, "elements": list(elements)})

    async def typing(self, recipient_id: Text, on: bool, sender: str = "bot") -> None:
        await self.sio.emit("bot_typing", {"on": bool(on), "sender": sender if sender in SENDERS else "bot"},
                            room=recipient_id, namespace=self.namespace)


# --------------------------------------------------------------------------------------------------
# Input channel
# --------------------------------------------------------------------------------------------------


class _WebChatBlueprint(SocketBlueprint):
    """Attaches socket.io to the Sanic app and remembers the app (for agent, tracker and lock stores)."""

    def __init__(self, channel: "WebChatInput", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ctx.channel = channel

    def register(self, app: Sanic, options: Dict[Text, Any]) -> None:
        self.ctx.channel.app = app
        super().register(app, options)


def _default_token() -> Optional[str]:
    try:
        from bot.settings import get_settings

        return get_settings().rasa_token
    except Exception:  # noqa: BLE001 - the connector must load even without project settings
        return None


class WebChatInput(InputChannel):
    """Socket.io input channel for the website widget. See the module docstring for the protocol."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            metadata_key=credentials.get("metadata_key", "metadata"),
            cors_allowed_origins=credentials.get("cors_allowed_origins"),
            auth_token=credentials.get("auth_token"),
            history_limit=int(credentials.get("history_limit", HISTORY_LIMIT)),
        )

    def __init__(
        self,
        user_message_evt: Text = "user_uttered",
        bot_message_evt: Text = "bot_uttered",
        namespace: Optional[Text] = None,
        socketio_path: Text = "/socket.io",
        metadata_key: Text = "metadata",
        cors_allowed_origins: Any = None,
        auth_token: Optional[Text] = None,
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        self.user_message_evt = user_message_evt
        self.bot_message_evt = bot_message_evt
        self.namespace = namespace
        self.socketio_path = socketio_path
        self.metadata_key = metadata_key
        # None/[] = no CORS handling by socket.io (Rasa's `--cors` adds the headers, as for the built-in
        # channel); a list or "*" lets python-engineio handle CORS itself (then don't also pass --cors).
        self.cors_allowed_origins = cors_allowed_origins if cors_allowed_origins else []
        self._auth_token = auth_token
        self.history_limit = history_limit
        self.sio: Optional[AsyncServer] = None
        self.app: Optional[Sanic] = None
        self.seen = SeenMessageIds()
        self._tasks: set = set()

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def auth_token(self) -> Optional[str]:
        return self._auth_token if self._auth_token else _default_token()

    @property
    def agent(self) -> Any:
        return getattr(self.app.ctx, "agent", None) if self.app is not None else None

    def get_output_channel(self) -> Optional[OutputChannel]:
        if self.sio is None:
            rasa.shared.utils.io.raise_warning(
                "The webchat output channel exists only in the Rasa process that serves the sockets."
            )
            return None
        return WebChatOutput(self.sio, self.bot_message_evt, self.namespace)

    async def _events(self, session_id: str, full: bool = True) -> List[Any]:
        agent = self.agent
        if agent is None or getattr(agent, "tracker_store", None) is None:
            return []
        store = agent.tracker_store
        tracker = await (store.retrieve_full_tracker(session_id) if full else store.retrieve(session_id))
        return list(tracker.events) if tracker is not None else []

    async def history(self, session_id: str) -> List[Dict[str, Any]]:
        return history_from_events(await self._events(session_id), self.history_limit)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _authorised(self, request: Request) -> bool:
        expected = self.auth_token
        if not expected:
            return False
        provided = request.args.get("token")
        header = request.headers.get("Authorization", "")
        if not provided and header.lower().startswith(("bearer ", "token ")):
            provided = header.split(" ", 1)[1].strip()
        return bool(provided) and hmac.compare_digest(str(provided), str(expected))

    async def room_size(self, session_id: str) -> int:
        if self.sio is None:
            return 0
        try:
            return sum(1 for _ in self.sio.manager.get_participants(self.namespace or "/", session_id))
        except Exception:  # noqa: BLE001 - only informative
            return 0

    async def push(self, session_id: str, message: Dict[str, Any]) -> Dict[str, Any]:
        """Append a BotUttered (agent/system/bot) to the tracker and emit it to the session."""
        agent = self.agent
        sender = message.get("sender", "agent")
        metadata: Dict[str, Any] = {"sender": sender}
        if message.get("sender_name"):
            metadata["sender_name"] = str(message["sender_name"])[:80]
        data: Dict[str, Any] = {}
        if message.get("buttons"):
            data["buttons"] = message["buttons"]
        if message.get("custom"):
            data["custom"] = message["custom"]
        event = BotUttered(text=message.get("text"), data=data, metadata=metadata)
        async with agent.lock_store.lock(session_id):
            processor = getattr(agent, "processor", None)
            if processor is not None:
                tracker = await processor.get_tracker(session_id)
            else:
                tracker = await agent.tracker_store.get_or_create_tracker(session_id, append_action_listen=False)
            tracker.update(event)
            await agent.tracker_store.save(tracker)
        output = self.get_output_channel()
        if output is not None:
            await output.send_response(session_id, event.message())
        return {"ok": True, "id": bot_message_id(event.timestamp), "delivered": await self.room_size(session_id)}

    # -- blueprint -------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.cors_allowed_origins)
        self.sio = sio
        bp = _WebChatBlueprint(self, sio, self.socketio_path, "webchat_webhook")
        namespace = self.namespace
        output = WebChatOutput(sio, self.bot_message_evt, namespace)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/push", methods=["POST"])
        async def push(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                return response.json({"ok": False, "error": "unauthorised"}, status=401)
            body = request.json if isinstance(request.json, dict) else None
            if body is None:
                return response.json({"ok": False, "error": "JSON object expected"}, status=400)
            session_id = body.get("session_id")
            text = body.get("text")
            sender = body.get("sender", "agent")
            if not isinstance(session_id, str) or not session_id:
                return response.json({"ok": False, "error": "session_id required"}, status=400)
            if sender not in SENDERS:
                return response.json({"ok": False, "error": f"sender must be one of {SENDERS}"}, status=400)
            if not (isinstance(text, str) and text.strip()) and not body.get("custom"):
                return response.json({"ok": False, "error": "text or custom required"}, status=400)
            if isinstance(text, str) and len(text) > MAX_MESSAGE_CHARS * 2:
                return response.json({"ok": False, "error": "text too long"}, status=400)
            if not _quick_replies(body.get("buttons")) and body.get("buttons"):
                return response.json({"ok": False, "error": "buttons must be [{title, payload}]"}, status=400)
            agent = self.agent
            if agent is None:
                return response.json({"ok": False, "error": "agent not ready"}, status=503)
            if not await agent.tracker_store.exists(session_id):
                return response.json({"ok": False, "error": "unknown conversation"}, status=404)
            result = await self.push(session_id, {
                "text": text.strip() if isinstance(text, str) else None,
                "sender": sender,
                "sender_name": body.get("sender_name"),
                "buttons": body.get("buttons"),
                "custom": body.get("custom") if isinstance(body.get("custom"), dict) else None,
            })
            return response.json(result)

        @bp.route("/typing", methods=["POST"])
        async def typing(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                return response.json({"ok": False, "error": "unauthorised"}, status=401)
            body = request.json if isinstance(request.json, dict) else {}
            session_id = body.get("session_id")
            if not isinstance(session_id, str) or not session_id:
                return response.json({"ok": False, "error": "session_id required"}, status=400)
            await output.typing(session_id, bool(body.get("typing", True)), body.get("sender", "agent"))
            return response.json({"ok": True})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            logger.debug("webchat socket %s connected", sid)
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: Text, *args: Any) -> None:
            logger.debug("webchat socket %s disconnected", sid)

        async def bind(sid: Text, requested: Any) -> str:
            """Join the socket to its session room (leaving a previous one)."""
            session = await sio.get_session(sid, namespace=namespace)
            current = session.get("session_id")
            session_id = requested if valid_session_id(requested) else (current or new_session_id())
            if current and current != session_id:
                await sio.leave_room(sid, current, namespace=namespace)
            await sio.enter_room(sid, session_id, namespace=namespace)
            session["session_id"] = session_id
            await sio.save_session(sid, session, namespace=namespace)
            return session_id

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = await bind(sid, requested)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            try:
                messages = await self.history(session_id)
                failed = False
            except Exception:  # noqa: BLE001 - the chat must work even if history can't be read
                logger.exception("webchat: could not read the history of %s", session_id)
                messages, failed = [], True
            await sio.emit("history", {"session_id": session_id, "messages": messages, "error": failed},
                           room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: Text, data: Any = None) -> Dict[str, Any]:
            if not isinstance(data, dict):
                return {"status": "error", "reason": "bad_request"}
            session = await sio.get_session(sid, namespace=namespace)
            session_id = session.get("session_id")
            if not session_id:
                if not valid_session_id(data.get("session_id")):
                    return {"status": "error", "reason": "no_session"}
                session_id = await bind(sid, data["session_id"])
            text = data.get("message")
            if not isinstance(text, str) or not text.strip():
                return {"status": "error", "reason": "empty"}
            if len(text) > MAX_MESSAGE_CHARS:
                return {"status": "error", "reason": "too_long"}
            msg_id = data.get("client_msg_id")
            if not (isinstance(msg_id, str) and CLIENT_MSG_ID_RE.match(msg_id)):
                msg_id = uuid.uuid4().hex
            # check-and-add happens before any await, so concurrent re-sends cannot both pass
            if not self.seen.check_and_add(session_id, msg_id):
                return {"status": "duplicate", "id": msg_id}
            try:
                if tracker_has_message_id(await self._events(session_id, full=False), msg_id):
                    return {"status": "duplicate", "id": msg_id}
            except Exception:  # noqa: BLE001 - a tracker read error must not lose the message
                logger.exception("webchat: duplicate check failed for %s", session_id)
            metadata = clean_metadata(data.get(self.metadata_key))
            now = time.time()
            echo = {"id": msg_id, "ts": _ms(now), "sender": "user",
                    "text": metadata.get("display_text") or text.strip()}
            await sio.emit("user_echo", echo, room=session_id, skip_sid=sid, namespace=namespace)
            message = UserMessage(text, output, session_id, input_channel=self.name(),
                                  message_id=msg_id, metadata=metadata)
            await output.typing(session_id, True)
            self._spawn(self._run_turn(on_new_message, message, output))
            return {"status": "ok", "id": msg_id, "ts": _ms(now)}

        return bp

    async def _run_turn(self, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                        message: UserMessage, output: WebChatOutput) -> None:
        session_id = message.sender_id
        try:
            await on_new_message(message)
        except Exception:  # noqa: BLE001 - log; the customer sees the typing indicator stop
            logger.exception("webchat: message handling failed for %s", session_id)
            self.seen.discard(session_id, message.message_id)  # allow a retry of a failed turn
        finally:
            await output.typing(session_id, False)
