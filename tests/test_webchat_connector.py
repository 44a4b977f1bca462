"""Unit tests of the webchat socket.io connector (no browser, no trained model).

Pure helpers are tested directly; the socket protocol is tested against the connector's blueprint mounted on
an in-process Sanic app with Rasa's in-memory tracker and lock stores and a fake dialogue handler, and a
python-socketio client.
"""
from __future__ import annotations

import asyncio
import socket
import uuid
from types import SimpleNamespace
from typing import Any, Dict, List

import aiohttp
import pytest
import socketio
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from sanic import Sanic

from connectors.webchat import (
    SeenMessageIds,
    WebChatInput,
    WebChatOutput,
    bot_message_id,
    bot_payload,
    clean_metadata,
    history_from_events,
    valid_session_id,
)

TOKEN = "s3cret-token"
pytestmark = pytest.mark.usefixtures("db_url")  # the shared inbox and send log live in the project database
Sanic.test_mode = True  # several apps in one process (Sanic's touch-up must not re-patch patched code)


# ------------------------------------------------------------------------------------------------
# pure helpers
# ------------------------------------------------------------------------------------------------


def test_session_id_validation():
    assert valid_session_id(uuid.uuid4().hex)
    assert valid_session_id("abcDEF0123456789_-")
    for bad in (None, "", "short", "a" * 65, "../../etc/passwd-xxxxxxxx", "<script>aaaaaaaaaaa", 123):
        assert not valid_session_id(bad)


def test_seen_ids_detects_duplicates_and_stays_bounded():
    seen = SeenMessageIds(per_session=3, max_sessions=2)
    assert seen.check_and_add("s1", "m1")
    assert not seen.check_and_add("s1", "m1")
    assert seen.check_and_add("s2", "m1")  # ids are per session
    for i in range(10):
        seen.check_and_add("s1", f"x{i}")
    assert len(seen._data["s1"]) == 3
    seen.check_and_add("s3", "m1")  # evicts the least recently used session (s2)
    assert set(seen._data) == {"s1", "s3"}
    seen.discard("s3", "m1")
    assert seen.check_and_add("s3", "m1")


def test_bot_payload_keeps_custom_buttons_and_sender():
    event = BotUttered(
        "Chọn dịch vụ",
        data={"buttons": [{"title": "Di dời công tơ", "payload": "/request_service"}],
              "custom": {"type": "request_summary", "fields": [{"label": "Mã KH", "value": "PD01"}]}},
        metadata={"utter_action": "utter_x"},
    )
    payload = bot_payload(event.message())
    assert payload["id"] == bot_message_id(event.timestamp)
    assert payload["sender"] == "bot"
    assert payload["text"] == "Chọn dịch vụ"
    assert payload["quick_replies"] == [
        {"content_type": "text", "title": "Di dời công tơ", "payload": "/request_service"}]
    assert payload["custom"]["type"] == "request_summary"
    agent_msg = BotUttered("Chào anh", metadata={"sender": "agent", "sender_name": "Lan"}).message()
    assert bot_payload(agent_msg)["sender"] == "agent"
    assert bot_payload(agent_msg)["sender_name"] == "Lan"
    assert bot_payload(BotUttered("x", metadata={"sender": "<evil>"}).message())["sender"] == "bot"
    assert bot_payload(BotUttered().message()) is None


def test_history_uses_display_text_and_hides_external_and_intent_payloads():
    events = [
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("xin chào", message_id="c-1234567890"),
        BotUttered("Chào anh/chị", data={"buttons": [{"title": "A", "payload": "/a"}]}),
        UserUttered('/request_service{"service":"meter_relocation"}', message_id="c-2234567890",
                    metadata={"display_text": "Di dời công tơ"}),
        UserUttered("/greet", message_id="c-3234567890"),
        UserUttered.create_external("greet"),
        BotUttered("Nhân viên đây", metadata={"sender": "agent"}),
    ]
    history = history_from_events(events)
    assert [(m["sender"], m.get("text")) for m in history] == [
        ("user", "xin chào"), ("bot", "Chào anh/chị"), ("user", "Di dời công tơ"), ("agent", "Nhân viên đây")]
    assert history[0]["id"] == "c-1234567890"
    assert history[1]["quick_replies"][0]["title"] == "A"
    assert len(history_from_events(events, limit=2)) == 2


def test_clean_metadata():
    assert clean_metadata(None) == {}
    assert clean_metadata("not json") == {}
    assert clean_metadata('{"display_text": "  Có  "}') == {"display_text": "Có"}
    assert clean_metadata({"display_text": "x" * 500})["display_text"] == "x" * 200
    assert clean_metadata({"is_external": True, "page": "/"}) == {"page": "/"}
    assert clean_metadata({"big": "x" * 10000}) == {}


async def test_output_channel_emits_custom_as_a_key_not_kwargs():
    emitted: List[Any] = []

    class FakeSio:
        async def emit(self, event, data=None, **kwargs):
            emitted.append((event, data, kwargs))

    out = WebChatOutput(FakeSio())  # type: ignore[arg-type]
    custom = {"type": "link", "url": "https://example.vn", "title": "Xem"}
    await out.send_response("room1", {"text": "Xem thêm", "custom": custom, "timestamp": 1.5})
    await out.send_custom_json("room1", {"data": 1})
    await out.send_text_message("room1", "hi")
    assert emitted[0][0] == "bot_uttered"
    assert emitted[0][1]["custom"] == custom and emitted[0][1]["text"] == "Xem thêm"
    assert emitted[0][1]["id"] == bot_message_id(1.5) and emitted[0][1]["ts"] == 1500
    assert emitted[0][2]["room"] == "room1"
    assert emitted[1][1]["custom"] == {"data": 1}
    assert emitted[2][1]["text"] == "hi"


def test_from_credentials_defaults_and_output_channel_before_start():
    channel = WebChatInput.from_credentials(None)
    assert channel.name() == "webchat"
    assert channel.socketio_path == "/socket.io"
    with pytest.warns(UserWarning):
        assert channel.get_output_channel() is None


# ------------------------------------------------------------------------------------------------
# protocol against an in-process Sanic server
# ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Harness:
    def __init__(self, shared_rooms_url: str = None) -> None:
        self.channel = WebChatInput(auth_token=TOKEN, shared_rooms_url=shared_rooms_url)
        self.store = InMemoryTrackerStore(Domain.empty())
        self.agent = SimpleNamespace(tracker_store=self.store, lock_store=InMemoryLockStore(), processor=None)
        self.handled: List[UserMessage] = []
        self.url = ""
        self.server: Any = None

    async def on_new_message(self, message: UserMessage) -> None:
        """A fake dialogue: logs the user message and answers with buttons and a custom card."""
        self.handled.append(message)
        async with self.agent.lock_store.lock(message.sender_id):
            tracker = await self.store.get_or_create_tracker(message.sender_id)
            tracker.update(UserUttered(message.text, message_id=message.message_id,
                                       metadata=message.metadata, input_channel=message.input_channel))
            reply = BotUttered(f"Đã nhận: {message.text}",
                               data={"buttons": [{"title": "Có", "payload": "/affirm"}],
                                     "custom": {"type": "request_summary", "request_code": "YC7K4M9P"}})
            await message.output_channel.send_response(message.sender_id, reply.message())
            tracker.update(reply)
            await self.store.save(tracker)

    async def start(self) -> None:
        app = Sanic(f"webchat_test_{uuid.uuid4().hex[:8]}")
        app.ctx.agent = self.agent
        app.blueprint(self.channel.blueprint(self.on_new_message), url_prefix="/webhooks/webchat")
        port = _free_port()
        self.server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                              access_log=False)
        await self.server.startup()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


class Client:
    """A socket.io client that records every event."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: List[tuple] = []
        for name in ("session_confirm", "history", "bot_uttered", "user_echo", "bot_typing"):
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str):
        async def record(data=None):
            self.events.append((name, data))
        return record

    def of(self, name: str) -> List[Any]:
        return [data for event, data in self.events if event == name]

    async def wait_for(self, name: str, count: int = 1, timeout: float = 5.0) -> List[Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.of(name)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {count} x {name}; got {self.events}")
            await asyncio.sleep(0.02)
        return self.of(name)

    async def open(self, url: str, session_id: Any = None) -> str:
        await self.sio.connect(url, socketio_path="/socket.io", transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": session_id})
        return (await self.wait_for("session_confirm"))[-1]

    async def say(self, text: str, msg_id: str, display: str = None) -> Dict[str, Any]:
        metadata = {"display_text": display} if display else {}
        return await self.sio.call("user_uttered", {"message": text, "client_msg_id": msg_id,
                                                    "metadata": metadata}, timeout=5)


@pytest.fixture
async def harness():
    h = Harness()
    await h.start()
    yield h
    await h.stop()


@pytest.fixture
async def client():
    c = Client()
    yield c
    if c.sio.connected:
        await c.sio.disconnect()


async def test_session_confirm_reuses_valid_ids_and_replaces_bad_ones(harness, client):
    sid = await client.open(harness.url, "bad id!")
    assert valid_session_id(sid) and sid != "bad id!"
    other = Client()
    wanted = uuid.uuid4().hex
    assert await other.open(harness.url, wanted) == wanted
    history = (await other.wait_for("history"))[-1]
    assert history == {"session_id": wanted, "messages": [], "error": False}
    await other.sio.disconnect()


async def test_message_turn_reply_with_custom_and_duplicate_dropped(harness, client):
    session_id = await client.open(harness.url, uuid.uuid4().hex)
    ack = await client.say("0912345678", "c-aaaaaaaa01")
    assert ack["status"] == "ok" and ack["id"] == "c-aaaaaaaa01"
    reply = (await client.wait_for("bot_uttered"))[0]
    assert reply["text"] == "Đã nhận: 0912345678"
    assert reply["custom"] == {"type": "request_summary", "request_code": "YC7K4M9P"}
    assert reply["quick_replies"][0]["payload"] == "/affirm"
    assert {"on": True, "sender": "bot"} in client.of("bot_typing")
    await client.wait_for("bot_typing", 2)
    assert client.of("bot_typing")[-1] == {"on": False, "sender": "bot"}

    again = await client.say("0912345678", "c-aaaaaaaa01")  # re-sent after a reconnect
    assert again["status"] == "duplicate"
    await asyncio.sleep(0.2)
    assert len(harness.handled) == 1
    tracker = await harness.store.retrieve(session_id)
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["0912345678"]
    assert harness.handled[0].message_id == "c-aaaaaaaa01"
    assert harness.handled[0].input_channel == "webchat"


async def test_duplicate_detected_after_restart(harness, client):
    await client.open(harness.url, uuid.uuid4().hex)
    assert (await client.say("xin chào", "c-bbbbbbbb01"))["status"] == "ok"
    await client.wait_for("bot_uttered")
    harness.channel.inbox.seen = SeenMessageIds()  # what a restarted server remembers: nothing in memory
    assert (await client.say("xin chào", "c-bbbbbbbb01"))["status"] == "duplicate"
    assert len(harness.handled) == 1


async def test_history_after_reconnect_matches_live_ids(harness, client):
    session_id = await client.open(harness.url, uuid.uuid4().hex)
    await client.say('/request_service{"service":"meter_relocation"}', "c-cccccccc01", display="Di dời công tơ")
    live = (await client.wait_for("bot_uttered"))[0]
    await client.sio.disconnect()

    again = Client()
    assert await again.open(harness.url, session_id) == session_id
    history = (await again.wait_for("history"))[0]["messages"]
    assert [m["sender"] for m in history] == ["user", "bot"]
    assert history[0] == {"id": "c-cccccccc01", "ts": history[0]["ts"], "sender": "user", "text": "Di dời công tơ"}
    assert history[1] == live
    await again.sio.disconnect()


async def test_two_tabs_share_the_session(harness, client):
    session_id = await client.open(harness.url, uuid.uuid4().hex)
    tab2 = Client()
    await tab2.open(harness.url, session_id)
    await client.say("mất điện", "c-dddddddd01")
    assert (await tab2.wait_for("user_echo"))[0]["text"] == "mất điện"
    assert (await tab2.wait_for("bot_uttered"))[0]["text"] == "Đã nhận: mất điện"
    assert client.of("user_echo") == []
    await tab2.sio.disconnect()


async def test_bad_messages_are_rejected(harness, client):
    await client.open(harness.url, uuid.uuid4().hex)
    assert (await client.say("   ", "c-eeeeeeee01"))["reason"] == "empty"
    assert (await client.say("x" * 5000, "c-eeeeeeee02"))["reason"] == "too_long"
    assert (await client.sio.call("user_uttered", "text", timeout=5))["status"] == "error"
    ok = await client.say("hello", "bad id with spaces")  # invalid client ids are replaced
    assert ok["status"] == "ok" and ok["id"] != "bad id with spaces"


async def test_message_without_session_request_needs_a_session_id(harness):
    c = Client()
    await c.sio.connect(harness.url, socketio_path="/socket.io", transports=["websocket"])
    assert (await c.sio.call("user_uttered", {"message": "hi"}, timeout=5))["reason"] == "no_session"
    sid = uuid.uuid4().hex
    ack = await c.sio.call("user_uttered", {"message": "hi", "session_id": sid, "client_msg_id": "c-ffffffff01"},
                           timeout=5)
    assert ack["status"] == "ok"
    assert (await c.wait_for("bot_uttered"))[0]["text"] == "Đã nhận: hi"
    await c.sio.disconnect()


async def test_typing_endpoint_needs_the_token(harness, client):
    session_id = await client.open(harness.url, uuid.uuid4().hex)
    url = f"{harness.url}/webhooks/webchat/typing"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"session_id": session_id, "typing": True}) as r:
            assert r.status == 401
        async with http.post(url + "?token=wrong", json={"session_id": session_id}) as r:
            assert r.status == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.post(url, json={"typing": True}, headers=headers) as r:
            assert r.status == 400
        async with http.post(url, json={"session_id": session_id, "typing": True}, headers=headers) as r:
            assert r.status == 200
    assert (await client.wait_for("bot_typing"))[-1] == {"on": True, "sender": "agent"}


async def test_output_channel_from_input_channel_reaches_the_room(harness, client):
    session_id = await client.open(harness.url, uuid.uuid4().hex)
    out = harness.channel.get_output_channel()
    assert isinstance(out, WebChatOutput)
    await out.send_response(session_id, BotUttered("Thông báo cắt điện", data={"custom": {"text": "x"}}).message())
    got = (await client.wait_for("bot_uttered"))[0]
    assert got["text"] == "Thông báo cắt điện" and got["custom"] == {"text": "x"}


async def test_health(harness):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{harness.url}/webhooks/webchat/") as r:
            assert r.status == 200 and (await r.json()) == {"status": "ok"}


# ------------------------------------------------------------------------------------------------
# the web app serving the demo page and the widget (bot/web)
# ------------------------------------------------------------------------------------------------


async def test_web_app_serves_demo_and_assets_only(tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.settings import Settings
    from bot.web import create_app
    from bot.web.app import WEB_ROOT

    app = create_app(Settings(rasa_port=5999))
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/", headers={"Host": "chat.example.vn:8080"})
        assert page.status == 200
        html = await page.text()
        assert 'data-server="http://chat.example.vn:5999"' in html and "{{" not in html
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "ws://chat.example.vn:5999" in csp
        for path in ("/widget.js", "/widget.css", "/demo.css"):
            r = await client.get(path)
            assert r.status == 200, path
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        for path in ("/package.json", "/package-lock.json", "/node_modules/socket.io-client/package.json",
                     "/../bot/settings.py", "/demo.html"):
            assert (await client.get(path)).status == 404, path
        assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
        vendor = await client.get("/vendor/socket.io.min.js")
        assert vendor.status == (200 if (WEB_ROOT / "vendor" / "socket.io.min.js").is_file() else 503)

    configured = create_app(Settings(), server_url="https://chat.dienluc.example/", web_root=tmp_path)
    (tmp_path / "demo.html").write_text('<script data-server="{{WEBCHAT_SERVER}}"></script>', encoding="utf-8")
    async with TestClient(TestServer(configured)) as client:
        assert 'data-server="https://chat.dienluc.example"' in await (await client.get("/")).text()
        missing = await client.get("/vendor/socket.io.min.js")
        assert missing.status == 503 and "make setup" in await missing.text()


REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.skipif(not _redis_up(), reason=f"Redis not reachable at {REDIS_URL}")
async def test_shared_rooms_carry_a_message_from_one_instance_to_a_widget_on_another():
    first, second = Harness(REDIS_URL), Harness(REDIS_URL)
    await first.start()
    await second.start()
    client = Client()
    try:
        session_id = await client.open(second.url, uuid.uuid4().hex)  # the widget is connected to the second
        await asyncio.sleep(0.3)  # the managers' Redis subscriptions are up
        out = first.channel.get_output_channel()  # e.g. an agent's reply pushed through the first's API
        await out.send_response(session_id, BotUttered("Em là Lan ạ", metadata={"sender": "agent",
                                                                                 "sender_name": "Lan"}).message())
        got = (await client.wait_for("bot_uttered"))[0]
        assert (got["text"], got["sender"], got["sender_name"]) == ("Em là Lan ạ", "agent", "Lan")
    finally:
        if client.sio.connected:
            await client.sio.disconnect()
        await first.stop()
        await second.stop()
