"""Socket.IO web chat channel (`webchat`) for the website widget (web/widget.js).

Registered in credentials.yml as `connectors.webchat.WebChatInput:`. It speaks Rasa's socket.io protocol
(`session_request` / `session_confirm` / `user_uttered` / `bot_uttered`) and closes the gaps of the built-in
`socketio` channel:

* Several Rasa instances: with WEBCHAT_SHARED_ROOMS=true (or `redis_url` here) the rooms live in Redis
  (python-socketio's AsyncRedisManager on REDIS_URL), so any instance's emit reaches the widget wherever
  its socket is connected; connections themselves need sticky sessions for the polling transport.
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
* Agent/system messages reach the widget the way they reach every channel: Rasa's own
  `POST /conversations/{id}/tracker/events?output_channel=latest&execute_side_effects=true` with a `bot`
  event whose metadata carries `sender`/`sender_name` (client: bot/web/push.py). Authenticated
  `POST /webhooks/webchat/typing` (Rasa token as `?token=` or `Authorization: Bearer <token>`)
  `{"session_id", "typing": bool, "sender"}` shows or hides the typing indicator (nothing is stored).
* Custom payloads: the whole BotUttered message is emitted as one `bot_uttered` dict, `custom` included as
  a key (the built-in channel unpacks `custom` into emit() keyword arguments, so it never arrives).
* Idempotent input: `user_uttered` carries `client_msg_id`; it becomes the UserUttered `message_id`.
  A duplicate (same session, same id) is acknowledged as `duplicate` and not processed (the shared inbox
  of connectors/base: in memory, then in the database, so also after a restart).

The machinery shared with the other channels (message shape, exactly-once input, turns in order, the
takeover gate, recorded sends) is in connectors/base; this module keeps the socket.io protocol.

Events, server -> client:
  `session_confirm` (bare session id string, as in Rasa), `history` `{session_id, messages}`,
  `bot_uttered` (see `bot_payload`), `user_echo` (a message the same session sent from another tab),
  `bot_typing` `{on: bool, sender}`.
Client -> server:
  `session_request` `{session_id?}`,
  `user_uttered` `{message, session_id?, client_msg_id, metadata?: {display_text?, ...}}` with an
  acknowledgement callback answered `{status: "ok"|"duplicate"|"error", id, ts?, reason?}` as soon as the
  message is accepted (the turn runs in the background).

Bot message payload (`bot_uttered` and history entries): the shared message shape of
connectors/base/message.py; the widget renders its `custom` cards natively.
"""
from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import rasa.shared.utils.io
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint
from rasa.shared.core.events import BotUttered, UserUttered  # noqa: F401 - re-exported for callers
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
import redis
from socketio import AsyncRedisManager, AsyncServer

from connectors.base import TOO_LONG_TEXT, AppBlueprint, ChannelInput, ChannelOutput, Delivery, Incoming
from connectors.base.inbox import SeenMessageIds  # noqa: F401 - re-exported for callers
from connectors.base.message import (  # noqa: F401 - re-exported for callers
    HISTORY_LIMIT, SENDERS, bot_message_id, bot_payload, history_from_events, ms, user_payload,
)

logger = logging.getLogger(__name__)

CHANNEL_NAME = "webchat"
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CLIENT_MSG_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,80}$")
MAX_MESSAGE_CHARS = 2000
MAX_DISPLAY_TEXT_CHARS = 200
MAX_METADATA_BYTES = 4096


def valid_session_id(value: Any) -> bool:
    return isinstance(value, str) and bool(SESSION_ID_RE.match(value))


def new_session_id() -> str:
    return uuid.uuid4().hex


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


# --------------------------------------------------------------------------------------------------
# Output channel
# --------------------------------------------------------------------------------------------------


class WebChatOutput(ChannelOutput):
    """Emits each message as one `bot_uttered` dict to the room of the session id (cards included)."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def __init__(self, sio: AsyncServer, bot_message_evt: Text = "bot_uttered",
                 namespace: Optional[Text] = None) -> None:
        super().__init__()
        self.sio = sio
        self.bot_message_evt = bot_message_evt
        self.namespace = namespace

    async def deliver(self, conversation_id: str, message: Dict[str, Any]) -> Delivery:
        await self.sio.emit(self.bot_message_evt, message, room=conversation_id, namespace=self.namespace)
        return Delivery(True)

    async def typing(self, conversation_id: str, on: bool, sender: str = "bot") -> None:
        await self.sio.emit("bot_typing", {"on": bool(on), "sender": sender if sender in SENDERS else "bot"},
                            room=conversation_id, namespace=self.namespace)


# --------------------------------------------------------------------------------------------------
# Input channel
# --------------------------------------------------------------------------------------------------


class _WebChatBlueprint(AppBlueprint, SocketBlueprint):
    """Attaches socket.io to the Sanic app; the app is handed to the channel (agent, stores)."""


def shared_rooms(url: Optional[str]) -> Optional[AsyncRedisManager]:
    """Rooms shared by every Rasa instance through Redis (python-socketio's Redis manager), so a message
    emitted by one instance (e.g. an agent's reply pushed through its API) reaches a widget connected to
    another. None (this process only) without a URL or when Redis does not answer at start."""
    if not url:
        return None
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 - a single instance still works without Redis
        logger.warning("webchat: Redis at %s not reachable (%s); rooms are local to this instance",
                       url.rsplit("@", 1)[-1], exc.__class__.__name__)
        return None
    return AsyncRedisManager(url, channel="cskh-webchat")


def _shared_rooms_setting() -> Optional[str]:
    try:
        from bot.settings import get_settings

        settings = get_settings()
        return settings.redis_url if settings.webchat_shared_rooms else None
    except Exception:  # noqa: BLE001 - the connector must load even without project settings
        return None


def _default_token() -> Optional[str]:
    try:
        from bot.settings import get_settings

        return get_settings().rasa_token
    except Exception:  # noqa: BLE001 - the connector must load even without project settings
        return None


class WebChatInput(ChannelInput):
    """Socket.io input channel for the website widget. See the module docstring for the protocol."""

    max_message_chars = MAX_MESSAGE_CHARS

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatInput":
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
            shared_rooms_url=credentials.get("redis_url") or _shared_rooms_setting(),
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
        shared_rooms_url: Optional[str] = None,
    ) -> None:
        super().__init__()
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
        self.shared_rooms_url = shared_rooms_url
        self.sio: Optional[AsyncServer] = None

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def auth_token(self) -> Optional[str]:
        return self._auth_token if self._auth_token else _default_token()

    def get_output_channel(self) -> Optional[OutputChannel]:
        if self.sio is None:
            rasa.shared.utils.io.raise_warning(
                "The webchat output channel exists only in the Rasa process that serves the sockets."
            )
            return None
        return WebChatOutput(self.sio, self.bot_message_evt, self.namespace)

    async def history(self, session_id: str) -> List[Dict[str, Any]]:
        agent = self.agent
        if agent is None or getattr(agent, "tracker_store", None) is None:
            return []
        tracker = await agent.tracker_store.retrieve_full_tracker(session_id)
        return history_from_events(tracker.events if tracker is not None else [], self.history_limit)

    def _authorised(self, request: Request) -> bool:
        expected = self.auth_token
        if not expected:
            return False
        provided = request.args.get("token")
        header = request.headers.get("Authorization", "")
        if not provided and header.lower().startswith(("bearer ", "token ")):
            provided = header.split(" ", 1)[1].strip()
        return bool(provided) and hmac.compare_digest(str(provided), str(expected))

    # -- blueprint -------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.cors_allowed_origins,
                          client_manager=shared_rooms(self.shared_rooms_url))
        self.sio = sio
        bp = _WebChatBlueprint(self, sio, self.socketio_path, "webchat_webhook")
        namespace = self.namespace
        output = WebChatOutput(sio, self.bot_message_evt, namespace)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

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
            msg_id = data.get("client_msg_id")
            if not (isinstance(msg_id, str) and CLIENT_MSG_ID_RE.match(msg_id)):
                msg_id = uuid.uuid4().hex
            metadata = clean_metadata(data.get(self.metadata_key))
            status = await self.accept(on_new_message, Incoming(session_id, text, msg_id, metadata), output)
            if status == "too_long":  # told politely, as on every channel, instead of being read
                await self.tell(output, session_id, TOO_LONG_TEXT.format(limit=self.max_message_chars))
            if status in ("empty", "too_long"):
                return {"status": "error", "reason": status}
            if status == "duplicate":
                return {"status": "duplicate", "id": msg_id}
            now = time.time()
            echo = {"id": msg_id, "ts": ms(now), "sender": "user",
                    "text": metadata.get("display_text") or text.strip()}
            await sio.emit("user_echo", echo, room=session_id, skip_sid=sid, namespace=namespace)
            return {"status": "ok", "id": msg_id, "ts": ms(now)}

        return bp
