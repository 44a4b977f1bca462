"""The Messenger channel against the Meta simulator, over real HTTP on loopback (no trained model).

The connector's blueprint runs on an in-process Sanic app with Rasa's in-memory tracker and lock stores and
a fake dialogue; the simulator (bot/simulators/messenger.py) runs on an aiohttp server: it signs the
webhooks it posts, answers the Graph API calls with Meta's shapes and error codes and records them.
"""
from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, Dict, List

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic

from bot.localtime import utcnow
from bot.settings import Settings
from bot.simulators import messenger as simulator
from connectors.base import store
from bot.db.repository import find_request
from connectors.base.evidence import IMAGE_SAVED, pending_evidence
from connectors.messenger import (
    GraphClient, MessengerConfig, MessengerInput, UNSUPPORTED_TEXT, parse_batch, render, setup_page, short_title,
    sign, signature_ok,
)

pytestmark = pytest.mark.usefixtures("db_url")
Sanic.test_mode = True
SECRET, VERIFY, TOKEN, APP_ID = "app-secret-123", "verify-456", "page-token-789", "3000000000000001"
USER_A, USER_B, USER_C = "24120000000000001", "24120000000000002", "24120000000000003"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Harness:
    """Sanic app with the channel + Meta simulator, wired to each other over loopback."""

    def __init__(self) -> None:
        self.settings = Settings(messenger_app_secret=SECRET, messenger_verify_token=VERIFY,
                                 messenger_page_access_token=TOKEN, messenger_app_id=APP_ID)
        self.tracker_store = InMemoryTrackerStore(Domain.from_dict({"slots": {  # what the evidence code reads
            name: {"type": "any", "mappings": [{"type": "custom"}]} for name in ("service", "request_code")}}))
        self.agent = SimpleNamespace(tracker_store=self.tracker_store, lock_store=InMemoryLockStore(), processor=None)
        self.handled: List[UserMessage] = []
        self.fail_for: set = set()

    async def on_new_message(self, message: UserMessage) -> None:
        """A fake dialogue: answers every message with what it understood."""
        self.handled.append(message)
        if message.sender_id in self.fail_for:
            raise RuntimeError("dialogue broke")
        await asyncio.sleep(0.01)
        async with self.agent.lock_store.lock(message.sender_id):
            tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
            tracker.update(UserUttered(message.text, message_id=message.message_id, metadata=message.metadata))
            reply = BotUttered(f"Đã nhận: {message.text}")
            await message.output_channel.send_response(message.sender_id, reply.message())
            tracker.update(reply)
            await self.tracker_store.save(tracker)

    async def start(self, config: Dict[str, str] = None) -> "Harness":
        self.sim_app = simulator.create_app(self.settings, webhook_url="http://unset")
        self.sim = self.sim_app[simulator.SIM]
        self.runner = web.AppRunner(self.sim_app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.graph_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        self.config = MessengerConfig(**{**dict(app_secret=SECRET, verify_token=VERIFY, page_access_token=TOKEN,
                                                app_id=APP_ID, graph_base=self.graph_url), **(config or {})})
        await self._start_channel()
        return self

    async def _start_channel(self) -> None:
        self.channel = MessengerInput(self.config, GraphClient(self.config, backoff=0.02))
        app = Sanic(f"messenger_test_{uuid.uuid4().hex[:8]}")
        app.ctx.agent = self.agent
        app.blueprint(self.channel.blueprint(self.on_new_message), url_prefix="/webhooks/messenger")
        port = _free_port()
        self.server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                              access_log=False)
        await self.server.startup()
        self.url = f"http://127.0.0.1:{port}"
        self.sim.webhook_url = f"{self.url}/webhooks/messenger/webhook"

    async def restart_channel(self) -> None:
        """What a Rasa restart leaves: a new channel object, nothing in memory, the same database."""
        await self.settle()
        await self._stop_channel()
        await self._start_channel()

    async def settle(self, rounds: int = 3) -> None:
        """Wait until the channel and the simulator (echoes) have nothing left to do."""
        quiet = 0
        while quiet < rounds:
            busy = self.channel.intake.busy or self.channel.turns.busy or self.sim._tasks or self.channel._background
            await self.channel.intake.idle()
            await self.channel.turns.idle()
            if self.sim._tasks:
                await asyncio.gather(*list(self.sim._tasks), return_exceptions=True)
            quiet = 0 if busy else quiet + 1
            await asyncio.sleep(0.03)

    async def _stop_channel(self) -> None:
        await self.channel.client.close()
        self.server.close()
        await self.server.wait_closed()

    async def stop(self) -> None:
        await self._stop_channel()
        await self.runner.cleanup()

    def shown(self, user: str) -> List[Dict[str, Any]]:
        return [m for m in self.sim.outbox if m["user_id"] == user]

    def texts(self, user: str) -> List[str]:
        return [m.get("text") for m in self.shown(user)]

    def sends(self, **match: Any) -> List[Dict[str, Any]]:
        found = [r for r in self.sim.requests if r["path"].endswith("/me/messages") and "message" in (r["body"] or {})]
        return [r for r in found if all(r["body"].get(k) == v for k, v in match.items())]

    def actions(self, user: str) -> List[str]:
        return [r["body"]["sender_action"] for r in self.sim.requests
                if (r.get("body") or {}).get("sender_action") and r["body"]["recipient"]["id"] == user]


@pytest.fixture
async def h():
    harness = await Harness().start()
    yield harness
    await harness.stop()


def text_event(psid: str, text: str, mid: str = None, **extra: Any) -> Dict[str, Any]:
    return simulator.user_event(psid, message={"mid": mid or simulator.new_mid(), "text": text, **extra})


async def log_rows(conversation_id: str) -> List[Dict[str, Any]]:
    return await store.run_db(store.conversation_log, conversation_id)


# ---------------------------------------------------------------------------------------------- pure

def test_signature_is_hmac_sha256_over_raw_bytes():
    body = '{"object":"page","text":"\\u0111i\\u1ec7n"}'.encode()
    header = sign(SECRET, body)
    assert header.startswith("sha256=") and signature_ok(SECRET, body, header)
    assert signature_ok(SECRET, body, header.upper().replace("SHA256=", "sha256="))  # hex case
    assert not signature_ok(SECRET, body + b" ", header)
    assert not signature_ok(SECRET, body, None) and not signature_ok("", body, header)
    assert not signature_ok(SECRET, body, "sha1=" + header[7:47])
    assert not signature_ok(SECRET, body, "sha256=đ")


def test_parse_batch_reads_every_entry_event_and_standby():
    body = {"object": "page", "entry": [
        {"id": "1", "messaging": [text_event(USER_A, "a"), {"sender": {}, "message": {"text": "x"}}]},
        {"id": "1", "standby": [text_event(USER_B, "b")]},
        {"id": "1", "messaging": [{"sender": {"id": USER_C}, "recipient": {"id": "1"}, "timestamp": 5,
                                   "pass_thread_control": {"new_owner_app_id": "263902037430900"}},
                                  {"sender": {"id": "1"}, "recipient": {"id": USER_A},
                                   "message": {"is_echo": True, "mid": "m1", "text": "t"}},
                                  {"sender": {"id": USER_A}, "recipient": {"id": "1"}, "read": {"watermark": 1}}]},
    ]}
    events = parse_batch(json.dumps(body).encode())
    assert [(e.kind, e.psid, e.standby) for e in events] == [
        ("message", USER_A, False), ("message", USER_B, True), ("handover", USER_C, False),
        ("echo", USER_A, False), ("receipt", USER_A, False)]
    assert parse_batch(b'{"object":"instagram","entry":[]}') == []
    for bad in (b"not json", b"[]", b'{"object":"page"}', b'{"object":"page","entry":[1]}',
                b'{"object":"page","entry":[{"messaging":{}}]}', b"\xff\xfe"):
        with pytest.raises(ValueError):
            parse_batch(bad)


def test_render_text_split_quick_replies_and_numbered_lists():
    long_text = ("Câu rất dài về điện. " * 150).strip()
    parts = render({"text": long_text, "quick_replies": [{"title": "Có", "payload": "/affirm"}]}).parts
    assert len(parts) == 2 and all(len(p["text"]) <= 2000 for p in parts)
    assert parts[0]["text"].endswith(".") and "quick_replies" not in parts[0]
    assert parts[1]["quick_replies"] == [{"content_type": "text", "title": "Có", "payload": "/affirm"}]

    options = [{"title": f"Dịch vụ số {i}", "payload": f"/s{i}"} for i in range(1, 16)]
    many = render({"text": "Chọn dịch vụ", "quick_replies": options})
    assert "quick_replies" not in many.parts[-1] and "15. Dịch vụ số 15" in many.parts[-1]["text"]
    assert many.choices == options

    long_titles = [{"title": "Đăng ký cấp điện mới (sinh hoạt)", "payload": "/a"}, {"title": "Có", "payload": "/b"}]
    cut = render({"text": "Chọn", "quick_replies": long_titles})
    replies = cut.parts[-1]["quick_replies"]
    assert [r["title"] for r in replies] == ["1. Đăng ký cấp điện…", "2. Có"]
    assert all(len(r["title"]) <= 20 for r in replies)
    assert "1. Đăng ký cấp điện mới (sinh hoạt)" in cut.parts[-1]["text"] and cut.choices == long_titles
    assert short_title("Báo mất điện, sự cố", 17) == "Báo mất điện…"
    assert render({"quick_replies": [{"title": "A", "payload": "/a"}]}).parts[0]["text"]


def test_render_links_images_cards():
    link = render({"text": "Xem biểu giá", "custom": {"type": "link", "url": "https://evn.com.vn/gia", "title": "Biểu giá"},
                   "quick_replies": [{"title": "Có", "payload": "/affirm"}]})
    payload = link.parts[0]["attachment"]["payload"]
    assert payload["template_type"] == "button" and payload["text"] == "Xem biểu giá"
    assert payload["buttons"] == [{"type": "postback", "title": "Có", "payload": "/affirm"},
                                  {"type": "web_url", "title": "Biểu giá", "url": "https://evn.com.vn/gia"}]
    image = render({"text": "Ảnh", "image": "https://x.vn/a.png"}).parts
    assert image[0] == {"text": "Ảnh"} and image[1]["attachment"]["payload"]["url"] == "https://x.vn/a.png"
    card = render({"custom": {"type": "request_summary", "title": "Đã tiếp nhận", "request_code": "YC7K4M9P",
                              "fields": [{"label": "Dịch vụ", "value": "Di dời công tơ"}]}}).parts
    assert "Mã yêu cầu: YC7K4M9P" in card[0]["text"] and "• Dịch vụ: Di dời công tơ" in card[0]["text"]
    assert render({"text": "x", "image": "javascript:alert(1)"}).parts == [{"text": "x"}]


# --------------------------------------------------------------------------------------- over HTTP

async def test_verification_handshake(h):
    url = f"{h.url}/webhooks/messenger/webhook"
    async with aiohttp.ClientSession() as http:
        ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
        async with http.get(url, params=ok) as r:
            assert r.status == 200 and await r.text() == "1158201444"
        for bad in ({**ok, "hub.verify_token": "wrong"}, {**ok, "hub.mode": "unsubscribe"}, {"hub.challenge": "1"}):
            async with http.get(url, params=bad) as r:
                assert r.status == 403


async def test_forged_missing_and_sha1_only_signatures_are_refused(h):
    body = simulator.batch(text_event(USER_A, "xin chào"))
    for signature in ("bad", "none", "sha1"):
        assert await h.sim.post_webhook(body, signature) == 403
    await h.settle()
    assert h.handled == [] and h.sim.requests == []
    assert await log_rows(f"messenger:{USER_A}") == []
    assert await h.sim.post_webhook(body) == 200


async def test_batch_of_two_entries_three_users_every_event_once_in_order(h):
    body = {"object": "page", "entry": [
        {"id": simulator.PAGE_ID, "time": 1, "messaging": [text_event(USER_A, "a1"), text_event(USER_B, "b1"),
                                                          text_event(USER_A, "a2")]},
        {"id": simulator.PAGE_ID, "time": 2, "messaging": [text_event(USER_C, "c1"), text_event(USER_B, "b2"),
                                                          text_event(USER_A, "a3")]},
    ]}
    assert await h.sim.post_webhook(body) == 200
    await h.settle()
    assert h.texts(USER_A) == ["Đã nhận: a1", "Đã nhận: a2", "Đã nhận: a3"]
    assert h.texts(USER_B) == ["Đã nhận: b1", "Đã nhận: b2"]
    assert h.texts(USER_C) == ["Đã nhận: c1"]
    assert all(r["body"]["messaging_type"] == "RESPONSE" for r in h.sends())
    assert h.actions(USER_A).count("typing_on") == 3 and "mark_seen" in h.actions(USER_A)
    assert h.actions(USER_A)[-1] == "typing_off"


async def test_one_users_failure_does_not_touch_another(h):
    h.fail_for.add(f"messenger:{USER_A}")
    body = simulator.batch(text_event(USER_A, "hỏng"), text_event(USER_B, "ổn"))
    assert await h.sim.post_webhook(body) == 200
    await h.settle()
    assert h.texts(USER_B) == ["Đã nhận: ổn"]
    assert h.texts(USER_A) and "hệ thống đang bận" in h.texts(USER_A)[0]


async def test_standby_is_never_answered_and_malformed_is_400(h):
    standby = simulator.batch(text_event(USER_A, "có ai không"), standby=True)
    assert await h.sim.post_webhook(standby) == 200
    for raw in ('{"object": "page", "entry": "x"}', "{not json", '{"object": "page"}'):
        assert await h.sim.post_webhook(raw) == 400
    await h.settle()
    assert h.handled == [] and h.sends() == []


async def test_hundred_redeliveries_of_one_mid_one_reply_also_after_restart(h):
    body = simulator.batch(text_event(USER_A, "đúng rồi", mid="m_confirm_1"))
    statuses = await asyncio.gather(*(h.sim.post_webhook(body) for _ in range(60)))
    assert set(statuses) == {200}
    await h.restart_channel()
    statuses = await asyncio.gather(*(h.sim.post_webhook(body) for _ in range(40)))
    assert set(statuses) == {200}
    await h.settle()
    assert len(h.handled) == 1 and h.texts(USER_A) == ["Đã nhận: đúng rồi"]
    assert len(h.sends()) == 1


async def test_images_during_an_outage_report_are_kept_once_and_attached_after_the_request_turn(h):
    from rasa.shared.core.events import ActiveLoop, SlotSet

    from bot.db.repository import NewRequest, create_request
    from bot.db.session import session_scope

    conversation = f"messenger:{USER_B}"
    tracker = await h.agent.tracker_store.get_or_create_tracker(conversation)
    tracker.update(ActiveLoop("service_form"))
    tracker.update(SlotSet("service", "outage_report"))
    await h.agent.tracker_store.save(tracker)
    photo = simulator.user_event(USER_B, message={"mid": "m_photo", "attachments": [
        {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/cot.jpg"}}]})
    for _ in range(3):  # redelivered: kept once
        assert await h.sim.post_webhook(simulator.batch(photo)) == 200
    await h.settle()
    assert pending_evidence(conversation) == [{"type": "image", "url": "https://scontent.xx.fbcdn.net/cot.jpg"}]
    assert h.texts(USER_B) == [IMAGE_SAVED] and not h.handled
    with session_scope() as s:  # as if the form had stored the report in the next turn
        req, _ = create_request(s, NewRequest(service="outage_report", fields={"phone": "0912345678"},
                                              idempotency_key=f"m-{conversation}", channel="messenger",
                                              conversation_id=conversation, phone="0912345678"))
        code = req.code
    tracker = await h.agent.tracker_store.retrieve(conversation)
    tracker.update(SlotSet("request_code", code))
    await h.agent.tracker_store.save(tracker)
    assert await h.sim.post_webhook(simulator.batch(text_event(USER_B, "cảm ơn em"))) == 200
    await h.settle()
    assert pending_evidence(conversation) == []
    with session_scope() as s:
        assert find_request(s, code).fields["evidence"] == [
            {"type": "image", "url": "https://scontent.xx.fbcdn.net/cot.jpg"}]


async def test_event_mapping_quick_reply_postback_referral_attachments(h):
    events = [
        text_event(USER_A, "Di dời công tơ", quick_reply={"payload": '/request_service{"service":"meter_relocation"}'}),
        simulator.user_event(USER_A, postback={"mid": "m_pb_1", "title": "Bắt đầu", "payload": "/greet"}),
        simulator.user_event(USER_B, referral={"ref": "outage_report", "source": "SHORTLINK", "type": "OPEN_THREAD"}),
        simulator.user_event(USER_C, referral={"ref": "khuyen-mai", "source": "SHORTLINK", "type": "OPEN_THREAD"}),
        simulator.user_event(USER_C, message={"mid": "m_loc", "attachments": [
            {"type": "location", "title": "Nhà tôi", "payload": {"coordinates": {"lat": 21.0285, "long": 105.8542}}}]}),
        simulator.user_event(USER_C, message={"mid": "m_img", "attachments": [
            {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/a.jpg"}}]}),
    ]
    assert await h.sim.post_webhook(simulator.batch(*events)) == 200
    await h.settle()
    got = {(m.sender_id, m.text): m.metadata for m in h.handled}
    a, b, c = (f"messenger:{u}" for u in (USER_A, USER_B, USER_C))
    assert got[(a, '/request_service{"service":"meter_relocation"}')]["display_text"] == "Di dời công tơ"
    assert got[(a, "/greet")]["display_text"] == "Bắt đầu"
    assert got[(b, '/request_service{"service":"outage_report"}')]["referral"]["ref"] == "outage_report"
    assert (c, "/greet") in got
    # a location is outage evidence (kept, acknowledged); an image outside an outage report gets the polite line
    assert not [m for m in h.handled if m.sender_id == c and m.text != "/greet"]
    assert pending_evidence(c) == [{"type": "location", "latitude": 21.0285, "longitude": 105.8542}]
    assert "21.0285, 105.8542" in h.texts(USER_C)[-2] and "báo mất điện" in h.texts(USER_C)[-2]
    assert h.texts(USER_C)[-1] == UNSUPPORTED_TEXT
    assert all(m.metadata.get("user_name") for m in h.handled)  # from the profile, fetched once per user
    profile_calls = [r for r in h.sim.requests if r["method"] == "GET" and r["path"].endswith(USER_C)]
    assert len(profile_calls) == 1


async def test_unsupported_attachment_gets_one_polite_line(h):
    body = simulator.batch(simulator.user_event(USER_A, message={"mid": "m_audio", "attachments": [
        {"type": "audio", "payload": {"url": "https://cdn.fb/x.mp4"}}]}))
    for _ in range(3):
        assert await h.sim.post_webhook(body) == 200
    await h.settle()
    assert h.handled == [] and h.texts(USER_A) == [UNSUPPORTED_TEXT]


async def test_too_long_text_is_told_once(h):
    body = simulator.batch(text_event(USER_A, "x" * 2500, mid="m_long"))
    for _ in range(2):
        await h.sim.post_webhook(body)
    await h.settle()
    assert h.handled == [] and len(h.texts(USER_A)) == 1 and "2000" in h.texts(USER_A)[0]


async def _user_wrote(h: Harness, user: str, hours_ago: float) -> None:
    """Both clocks agree: our channel_users row and Meta's record of the user's last message."""
    await store.run_db(store.touch_inbound, "messenger", user, utcnow() - timedelta(hours=hours_ago))
    h.sim.last_user_message[user] = time.time() - hours_ago * 3600


async def test_messaging_window_bot_not_sent_outside_agent_human_agent_tag(h):
    out = h.channel.get_output_channel()
    conversation = f"messenger:{USER_A}"
    await _user_wrote(h, USER_A, 25)
    result = await out.send(conversation, {"sender": "bot", "text": "Nhắc lịch cắt điện"})
    assert not result.ok and "24-hour" in result.error and h.sends() == []
    user = await store.run_db(store.get_user, "messenger", USER_A)
    assert user["reachable"] is False and "24-hour" in user["unreachable_reason"]
    assert (await log_rows(conversation))[-1]["status"] == "failed"

    await _user_wrote(h, USER_A, 30)
    result = await out.send(conversation, {"sender": "agent", "sender_name": "Lan", "text": "Chị Lan đây ạ"})
    assert result.ok, result.error
    [sent] = h.sends()
    assert sent["body"]["messaging_type"] == "MESSAGE_TAG" and sent["body"]["tag"] == "HUMAN_AGENT"
    assert h.texts(USER_A) == ["Chị Lan đây ạ"]

    await _user_wrote(h, USER_A, 24 * 8)
    result = await out.send(conversation, {"sender": "agent", "text": "Muộn quá"})
    assert not result.ok and "7-day" in result.error and len(h.sends()) == 1


async def test_rate_limit_is_retried_and_delivered(h):
    await _user_wrote(h, USER_A, 1)
    h.sim.failures.extend([(400, simulator.graph_error("(#613) Calls to this api have exceeded the rate limit.",
                                                       613))] * 2)
    result = await h.channel.output.send(f"messenger:{USER_A}", {"sender": "bot", "text": "Xin chào"})
    assert result.ok and len(h.sends()) == 3 and h.texts(USER_A) == ["Xin chào"]


async def test_transient_5xx_retried_unavailable_not_retried_token_logged(h, caplog):
    out, conversation = h.channel.output, f"messenger:{USER_A}"
    await _user_wrote(h, USER_A, 1)
    h.sim.failures.append((500, simulator.graph_error("An unexpected error has occurred.", 2)))
    assert (await out.send(conversation, {"text": "một"})).ok and len(h.sends()) == 2

    h.sim.failures.append((400, simulator.graph_error("(#551) This person isn't available right now.", 551, 1545041)))
    result = await out.send(conversation, {"text": "hai"})
    assert not result.ok and result.unreachable and len(h.sends()) == 3
    assert (await store.run_db(store.get_user, "messenger", USER_A))["reachable"] is False

    h.sim.token_valid = False
    result = await out.send(conversation, {"text": "ba"})
    assert not result.ok and "token" in result.error and len(h.sends()) == 4
    assert "MESSENGER_PAGE_ACCESS_TOKEN" in caplog.text
    assert [r["status"] for r in await log_rows(conversation)] == ["sent", "failed", "failed"]


async def test_network_failure_never_crashes_the_turn(h):
    await _user_wrote(h, USER_A, 1)
    dead = MessengerConfig(app_secret=SECRET, verify_token=VERIFY, page_access_token=TOKEN,
                           graph_base=f"http://127.0.0.1:{_free_port()}")
    client = GraphClient(dead, backoff=0.01, max_attempts=2)
    result = await MessengerInput(dead, client).output.send(f"messenger:{USER_A}", {"text": "x"})
    assert not result.ok and "network" in result.error
    await client.close()


async def test_echo_of_our_send_ignored_page_inbox_echo_recorded_as_human_reply(h):
    assert await h.sim.post_webhook(simulator.batch(text_event(USER_A, "alo"))) == 200
    await h.settle()  # includes the echo of our reply, posted by the simulator
    conversation = f"messenger:{USER_A}"
    echoes = [w for w in h.sim.webhooks if '"is_echo": true' in w["body"]]
    assert len(echoes) == 1 and echoes[0]["status"] == 200
    assert [r["sender"] for r in await log_rows(conversation)] == ["user", "bot"]

    body = simulator.batch({"sender": {"id": simulator.PAGE_ID}, "recipient": {"id": USER_A}, "timestamp": 1,
                            "message": {"is_echo": True, "app_id": 263902037430900, "mid": "m_inbox_1",
                                        "text": "Chào anh, em là nhân viên điện lực"}})
    for _ in range(2):  # redelivered
        assert await h.sim.post_webhook(body) == 200
    await h.settle()
    rows = await log_rows(conversation)
    assert [(r["sender"], r["direction"]) for r in rows][-1] == ("agent", "out") and len(rows) == 3
    assert (await store.run_db(store.get_user, "messenger", USER_A))["human_reply_at"] is not None
    tracker = await h.tracker_store.retrieve(conversation)
    agent = [e for e in tracker.events if isinstance(e, BotUttered) and e.metadata.get("sender") == "agent"]
    assert [e.text for e in agent] == ["Chào anh, em là nhân viên điện lực"]
    assert agent[0].metadata["sender_name"] == "Nhân viên (hộp thư Trang)"
    assert len(h.handled) == 1  # no bot turn for an echo


async def test_handover_events_recorded_once(h):
    event = {"sender": {"id": USER_B}, "recipient": {"id": simulator.PAGE_ID}, "timestamp": 1700000000000,
             "pass_thread_control": {"new_owner_app_id": "263902037430900", "previous_owner_app_id": APP_ID,
                                     "metadata": "khách cần gặp người"}}
    for _ in range(2):
        assert await h.sim.post_webhook(simulator.batch(event)) == 200
    await h.settle()
    rows = await log_rows(f"messenger:{USER_B}")
    assert len(rows) == 1 and rows[0]["status"] == "handover"
    assert "new_owner_app_id=263902037430900" in rows[0]["text"] and h.handled == []


async def test_typed_number_picks_from_a_long_list(h):
    await _user_wrote(h, USER_A, 0)
    options = [{"title": f"Dịch vụ {i}", "payload": f'/request_service{{"service":"s{i}"}}'} for i in range(1, 16)]
    await h.channel.output.send(f"messenger:{USER_A}", {"text": "Chọn dịch vụ", "quick_replies": options})
    assert await h.sim.post_webhook(simulator.batch(text_event(USER_A, "14"))) == 200
    await h.settle()
    assert h.handled[-1].text == '/request_service{"service":"s14"}'


async def test_not_configured_loads_and_answers_503():
    channel = MessengerInput(MessengerConfig())
    assert channel.get_output_channel() is None
    app = Sanic(f"messenger_off_{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(lambda m: None), url_prefix="/webhooks/messenger")
    port = _free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/webhooks/messenger/webhook", data=b"{}") as r:
                assert r.status == 503
            async with http.get(f"http://127.0.0.1:{port}/webhooks/messenger/webhook") as r:
                assert r.status == 503
    finally:
        server.close()
        await server.wait_closed()


async def test_page_setup_is_idempotent(h):
    lines: List[str] = []
    assert await setup_page(h.config, lines.append) == 0
    assert h.sim.profile["get_started"] == {"payload": "/greet"}
    assert h.sim.profile["greeting"][0]["locale"] == "default"
    menu = [c["payload"] for c in h.sim.profile["persistent_menu"][0]["call_to_actions"]]
    assert menu == ["/request_service", "/check_bill", "/check_outage_schedule", "/check_request_status",
                    "/request_human"]
    assert len(h.sim.profile["ice_breakers"][0]["call_to_actions"]) == 4
    assert any("Menu cố định" in line for line in lines)
    posts = [r for r in h.sim.requests if r["path"].endswith("messenger_profile") and r["method"] == "POST"]
    lines.clear()
    assert await setup_page(h.config, lines.append) == 0
    assert "không cần thay đổi" in lines[0]
    assert len([r for r in h.sim.requests if r["path"].endswith("messenger_profile") and r["method"] == "POST"]) \
        == len(posts) == 1
