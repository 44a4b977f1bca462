"""The Zalo OA connector against the Zalo simulator, over real HTTP on loopback.

The connector's blueprint runs on an in-process Sanic app (Rasa's in-memory tracker and lock stores, a fake
dialogue that answers every message), the simulator (bot/simulators/zalo.py) on an aiohttp server: it signs
the webhooks, receives the OA API calls, serves the tokens and answers with Zalo's error codes on demand.
The full system with the trained model is in tests/test_zalo_system.py.
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import subprocess
import sys
import time
import uuid
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic
from sqlalchemy import select

from bot import PROJECT_ROOT
from bot.db.models import ChannelMessage, ChannelToken, ChannelUser, ServiceRequest
from bot.db.session import session_scope
from bot.settings import Settings
from bot.simulators.zalo import SIM, ZaloSimulator, create_app, sign
from connectors.base.evidence import EVIDENCE_TTL, attach_evidence, keep_evidence, pending_evidence
from connectors.zalo import (TEXT_ONLY, ZaloConfig, ZaloInput, check_webhook, code_challenge, code_verifier,
                             hotline_in, login_url, render, signature, valid_state)
from tests.system import free_port

pytestmark = pytest.mark.usefixtures("db_url")
Sanic.test_mode = True

APP_ID = "2000000000000000001"
OA_SECRET = "oa-secret-" + uuid.uuid4().hex
APP_SECRET = "app-secret-" + uuid.uuid4().hex
BOOT_ACCESS = "boot-at-" + uuid.uuid4().hex
BOOT_REFRESH = "boot-rt-" + uuid.uuid4().hex
MENU = [{"title": t, "payload": p} for t, p in [("Đăng ký dịch vụ điện", "/request_service"),
                                                  ("Báo mất điện", "/report_outage"), ("Tra cứu tiền điện", "/check_bill"),
                                                  ("Lịch cắt điện", "/check_outage_schedule"),
                                                  ("Tiến độ yêu cầu", "/check_request_status"), ("Giá điện", "/ask_tariff")]]


DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  service: {type: any, mappings: [{type: custom}]}
  request_code: {type: any, mappings: [{type: custom}]}
""")


def config(sim_url: str, **overrides: Any) -> ZaloConfig:
    values = dict(app_id=APP_ID, oa_secret_key=OA_SECRET, app_secret_key=APP_SECRET, access_token=BOOT_ACCESS,
                  refresh_token=BOOT_REFRESH, api_base=sim_url, oauth_base=sim_url, public_url="",
                  echo_delay=0.2, backoff=0.05, refresh_cooldown=0.0)
    values.update(overrides)
    return ZaloConfig(**values)


def sim_settings() -> Settings:
    return Settings(zalo_app_id=APP_ID, zalo_oa_secret_key=OA_SECRET, zalo_app_secret_key=APP_SECRET,
                    zalo_access_token=BOOT_ACCESS, zalo_refresh_token=BOOT_REFRESH)


class Harness:
    """Connector (Sanic, fake dialogue) + simulator (aiohttp), each on its own free port."""

    def __init__(self, **overrides: Any) -> None:
        self.port, self.sim_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.overrides = overrides
        self.handled: List[UserMessage] = []
        self.delay = 0.0
        self.jitter = 0.0
        self.agent = SimpleNamespace(tracker_store=InMemoryTrackerStore(DOMAIN),
                                     lock_store=InMemoryLockStore(), processor=None)
        self.server: Any = None
        self.runner: Optional[web.AppRunner] = None
        self.channel: Optional[ZaloInput] = None

    @property
    def sim(self) -> ZaloSimulator:
        return self.sim_app[SIM]

    async def on_new_message(self, message: UserMessage) -> None:
        """A fake dialogue: records the message and answers with its text and the menu."""
        self.handled.append(message)
        await asyncio.sleep(self.delay + random.random() * self.jitter)
        async with self.agent.lock_store.lock(message.sender_id):
            tracker = await self.agent.tracker_store.get_or_create_tracker(message.sender_id)
            tracker.update(UserUttered(message.text, message_id=message.message_id, metadata=message.metadata))
            reply = BotUttered(f"Đã nhận: {message.text}", data={"buttons": MENU[:2]})
            await message.output_channel.send_response(message.sender_id, reply.message())
            tracker.update(reply)
            await self.agent.tracker_store.save(tracker)

    async def start(self) -> None:
        self.sim_app = create_app(sim_settings(), webhook_url=f"{self.url}/webhooks/zalo/webhook")
        self.runner = web.AppRunner(self.sim_app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.sim_port).start()
        await self.start_rasa()

    async def start_rasa(self) -> None:
        """(Re)start the connector side: a new channel object, so nothing survives in memory."""
        self.channel = ZaloInput(config(self.sim_url, **self.overrides))
        app = Sanic(f"zalo_test_{uuid.uuid4().hex[:8]}")
        app.ctx.agent = self.agent
        app.blueprint(self.channel.blueprint(self.on_new_message), url_prefix="/webhooks/zalo")
        self.server = await app.create_server(host="127.0.0.1", port=self.port, return_asyncio_server=True,
                                              access_log=False)
        await self.server.startup()

    async def stop_rasa(self) -> None:
        await self.channel.idle()
        await self.channel.api.close()
        self.server.close()
        await self.server.wait_closed()

    async def stop(self) -> None:
        await self.stop_rasa()
        await self.runner.cleanup()

    async def settle(self, extra: float = 0.0) -> None:
        await asyncio.sleep(0.05)
        await self.channel.idle()
        if extra:
            await asyncio.sleep(extra)
            await self.channel.idle()

    def texts(self, user_id: str) -> List[str]:
        return [m.get("text", "") for m in self.sim.inbox.get(user_id, [])]


@pytest.fixture
async def h():
    harness = Harness()
    await harness.start()
    yield harness
    await harness.stop()


def user() -> str:
    return str(random.randint(10 ** 17, 10 ** 18 - 1))


def rows(**where: Any) -> List[ChannelMessage]:
    with session_scope() as s:
        query = select(ChannelMessage).order_by(ChannelMessage.id)
        for key, value in where.items():
            query = query.where(getattr(ChannelMessage, key) == value)
        return list(s.scalars(query).all())


def channel_user(user_id: str) -> Optional[ChannelUser]:
    with session_scope() as s:
        return s.get(ChannelUser, ("zalo", user_id))


async def post_raw(url: str, body: bytes, headers: Dict[str, str]) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/webhooks/zalo/webhook", data=body, headers=headers) as resp:
            return resp.status


# ------------------------------------------------------------------------------------------------
# signatures and parsing
# ------------------------------------------------------------------------------------------------


def test_signature_is_sha256_of_app_id_body_timestamp_secret():
    body = b'{"app_id":"1","timestamp":"1699003881354","event_name":"user_send_text"}'
    import hashlib
    assert signature("1", body, "1699003881354", "k") == hashlib.sha256(b"1" + body + b"1699003881354k").hexdigest()
    assert sign("1", body, "1699003881354", "k") == "mac=" + signature("1", body, "1699003881354", "k")


def test_check_webhook_rejects_forged_missing_malformed_and_foreign_app():
    cfg = config("http://x")
    event = {"app_id": APP_ID, "event_name": "user_send_text", "timestamp": "1"}
    body = json.dumps(event).encode()
    good = {"X-ZEvent-Signature": sign(APP_ID, body, "1", OA_SECRET)}
    assert check_webhook(cfg, good, body)[0] == 200
    assert check_webhook(cfg, {}, body)[:2] == (401, "missing signature")
    assert check_webhook(cfg, {"X-ZEvent-Signature": sign(APP_ID, body, "1", "wrong")}, body)[0] == 401
    assert check_webhook(cfg, good, body + b" ")[0] == 401  # the raw bytes are signed
    assert check_webhook(cfg, good, b"{not json")[0] == 400
    foreign = json.dumps({**event, "app_id": "999"}).encode()
    assert check_webhook(cfg, {"X-ZEvent-Signature": sign("999", foreign, "1", OA_SECRET)}, foreign)[0] == 401
    # signed correctly with our app id over a body naming another app (a stale / foreign app id)
    assert check_webhook(cfg, {"X-ZEvent-Signature": sign(APP_ID, foreign, "1", OA_SECRET)}, foreign)[:2] == \
        (403, "unknown app_id")


def test_render_buttons_links_hotline_and_numbered_list():
    parts, choices = render({"text": "Chọn", "quick_replies": [
        {"title": "Có", "payload": "/affirm"}, {"title": "Không ạ", "payload": "không"},
        {"title": "Xem", "payload": "https://evn.com.vn"}]}, lambda c: None)
    buttons = parts[0]["attachment"]["payload"]["buttons"]
    assert [b["type"] for b in buttons] == ["oa.query.hide", "oa.query.show", "oa.open.url"]
    assert buttons[2]["payload"] == {"url": "https://evn.com.vn"} and choices is None
    parts, choices = render({"text": "Menu", "quick_replies": [dict(m, content_type="text") for m in MENU]},
                            lambda c: None)
    assert "attachment" not in parts[0] and "6. Giá điện" in parts[0]["text"] and len(choices) == 6
    parts, _ = render({"text": "Anh/chị gọi 1900 1288 giúp em."}, lambda c: None)
    assert parts[0]["attachment"]["payload"]["buttons"] == [
        {"title": "Gọi 1900 1288", "type": "oa.open.phone", "payload": {"phone_code": "19001288"}}]
    assert hotline_in("tổng đài 1900 545454 ạ") == "1900 545454"
    long_text = ("Câu thứ nhất khá dài. " * 200).strip()
    parts, _ = render({"text": long_text}, lambda c: None)
    assert len(parts) > 1 and all(len(p["text"]) <= 2000 for p in parts)
    assert all(p["text"].endswith(".") for p in parts)
    parts, _ = render({"custom": {"type": "request_summary", "title": "Báo mất điện", "request_code": "YC7K4M9P",
                                  "fields": [{"label": "Địa chỉ", "value": "Số 1"}]}},
                      __import__("connectors.base.message", fromlist=["x"]).custom_as_text)
    assert "Mã yêu cầu: YC7K4M9P" in parts[0]["text"] and "• Địa chỉ: Số 1" in parts[0]["text"]
    parts, _ = render({"image": "https://x/y.png"}, lambda c: None)
    assert parts[0]["attachment"]["payload"]["elements"] == [{"media_type": "image", "url": "https://x/y.png"}]


def test_pkce_and_state():
    cfg = config("http://sim")
    url = login_url(cfg, "https://bot.example/cb")
    from urllib.parse import parse_qs, urlparse
    q = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert url.startswith("http://sim/v4/oa/permission?") and q["app_id"] == APP_ID
    assert valid_state(cfg, q["state"]) and not valid_state(cfg, q["state"] + "x")
    assert q["code_challenge"] == code_challenge(code_verifier(cfg, q["state"]))
    assert 43 <= len(code_verifier(cfg, q["state"])) <= 128
    assert not valid_state(config("http://sim", app_secret_key="other"), q["state"])


# ------------------------------------------------------------------------------------------------
# webhook over HTTP
# ------------------------------------------------------------------------------------------------


async def test_forged_missing_and_foreign_signatures_get_4xx_and_nothing_is_stored(h):
    uid = user()
    event = h.sim.event("user_send_text", uid, {"text": "xin chào", "msg_id": "forged-1"})
    body = json.dumps(event).encode()
    ts = event["timestamp"]
    assert await post_raw(h.url, body, {"X-ZEvent-Signature": sign(APP_ID, body, ts, "guess")}) == 401
    assert await post_raw(h.url, body, {}) == 401
    foreign = json.dumps({**event, "app_id": "2000000000000000999"}).encode()
    assert await post_raw(h.url, foreign, {"X-ZEvent-Signature": sign("2000000000000000999", foreign, ts,
                                                                      OA_SECRET)}) == 401
    assert await post_raw(h.url, foreign, {"X-ZEvent-Signature": sign(APP_ID, foreign, ts, OA_SECRET)}) == 403
    assert await post_raw(h.url, b"{oops", {"X-ZEvent-Signature": "mac=00"}) == 400
    await h.settle()
    assert h.handled == [] and rows() == [] and channel_user(uid) is None and h.sim.sent == []


async def test_not_configured_answers_503():
    port = free_port()
    channel = ZaloInput(ZaloConfig())
    app = Sanic(f"zalo_nc_{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(lambda m: None), url_prefix="/webhooks/zalo")
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    try:
        assert await post_raw(f"http://127.0.0.1:{port}", b"{}", {}) == 503
        assert channel.get_output_channel() is None
    finally:
        server.close()
        await server.wait_closed()


async def test_text_turn_reply_by_message_id_and_own_echo_ignored(h):
    uid = user()
    result = await h.sim.say(uid, "mất điện rồi")
    assert result["webhook_status"] == 200
    await h.settle(0.6)  # the simulator echoes our send after 0.3 s; the connector judges it after 0.2 s
    assert [m.text for m in h.handled] == ["mất điện rồi"]
    assert h.handled[0].sender_id == f"zalo:{uid}" and h.handled[0].input_channel == "zalo"
    assert h.texts(uid) == ["Đã nhận: mất điện rồi"]
    assert h.sim.inbox[uid][0]["buttons"] == [{"title": "Đăng ký dịch vụ điện", "payload": "/request_service"},
                                              {"title": "Báo mất điện", "payload": "/report_outage"}]
    assert h.sim.sent[0]["body"]["recipient"] == {"message_id": result["msg_id"]}
    out = rows(direction="out")
    assert [(r.sender, r.status) for r in out] == [("bot", "sent")]
    assert out[0].platform_message_id == h.sim.sent[0]["message_id"]
    assert channel_user(uid).human_reply_at is None
    assert channel_user(uid).display_name == f"Khách Zalo {uid[-4:]}"


async def test_user_id_mode_and_unknown_events(h):
    h.channel.config = h.channel.config  # noqa - the output below is built with reply_mode user_id
    h.channel.replies._latest.clear()
    uid = user()
    out = h.channel.output()
    await out.send_text_message(f"zalo:{uid}", "Thông báo thử")
    assert h.sim.sent[-1]["body"]["recipient"] == {"user_id": uid}
    for name in ("user_seen_message", "add_user_to_tag", "something_new"):
        event = h.sim.event(name, uid, {"msg_id": f"x-{name}"})
        assert await h.sim.deliver(event) == 200
    await h.settle()
    assert h.handled == [] and h.texts(uid) == ["Thông báo thử"]


async def test_redeliveries_make_one_turn_also_after_a_restart(h):
    uid = user()
    first = await h.sim.say(uid, "tra cứu yêu cầu YC7K4M9P")
    statuses = await h.sim.replay(first["msg_id"], 100, concurrent=False)
    statuses += await h.sim.replay(first["msg_id"], 100, concurrent=True)
    assert set(statuses) == {200}
    await h.settle()
    assert len(h.handled) == 1 and h.texts(uid) == ["Đã nhận: tra cứu yêu cầu YC7K4M9P"]

    await h.stop_rasa()
    await h.start_rasa()  # a new server process would remember nothing in memory
    statuses = await h.sim.replay(first["msg_id"], 100, concurrent=True)
    assert set(statuses) == {200}
    await h.settle()
    assert len(h.handled) == 1 and len(h.texts(uid)) == 1
    assert len(rows(direction="in", platform_message_id=first["msg_id"])) == 1


async def test_ack_does_not_wait_for_a_slow_turn(h):
    h.delay = 3.0
    uid = user()
    started = time.monotonic()
    result = await h.sim.say(uid, "xin chào")
    took = time.monotonic() - started
    assert result["webhook_status"] == 200
    assert took < 1.5, took  # the turn alone takes 3 s
    assert h.texts(uid) == []  # acknowledged before the answer exists
    await h.settle()
    assert h.texts(uid) == ["Đã nhận: xin chào"]


async def test_one_users_messages_stay_in_order_and_50_users_never_cross_talk(h):
    h.jitter = 0.05
    users = [user() for _ in range(50)]

    async def converse(uid: str) -> None:
        for i in range(4):
            assert (await h.sim.say(uid, f"{uid} tin {i}"))["webhook_status"] == 200

    await asyncio.gather(*(converse(uid) for uid in users))
    await h.settle()
    for uid in users:
        assert h.texts(uid) == [f"Đã nhận: {uid} tin {i}" for i in range(4)]
        handled = [m.text for m in h.handled if m.sender_id == f"zalo:{uid}"]
        assert handled == [f"{uid} tin {i}" for i in range(4)]


async def test_a_crash_in_one_users_turn_does_not_affect_another(h):
    crash_user, calm_user = user(), user()
    original = h.on_new_message

    async def flaky(message: UserMessage) -> None:
        if message.sender_id == f"zalo:{crash_user}":
            raise RuntimeError("boom")
        await original(message)

    h.on_new_message = flaky  # type: ignore[assignment]
    await h.stop_rasa()
    await h.start_rasa()
    await asyncio.gather(h.sim.say(crash_user, "a"), h.sim.say(calm_user, "b"))
    await h.settle()
    assert h.texts(calm_user) == ["Đã nhận: b"]
    assert "Xin lỗi, hệ thống đang bận" in h.texts(crash_user)[0]


# ------------------------------------------------------------------------------------------------
# events
# ------------------------------------------------------------------------------------------------


async def test_follow_chatnow_unfollow_media_and_location(h):
    uid = user()
    assert (await h.sim.user_event(uid, "follow", {}))["webhook_status"] == 200
    await h.settle()
    assert h.handled[-1].text == "/greet" and channel_user(uid).followed is True
    assert (await h.sim.user_event(uid, "chatnow", {}))["webhook_status"] == 200
    await h.settle()
    assert [m.text for m in h.handled] == ["/greet", "/greet"]
    await h.sim.user_event(uid, "sticker", {})
    await h.sim.user_event(uid, "image", {"url": "https://zalo.example/a.jpg"})
    await h.settle()
    assert h.texts(uid)[-2:] == [TEXT_ONLY, TEXT_ONLY]  # not during an outage report
    await h.sim.user_event(uid, "location", {"latitude": 21.03, "longitude": 105.85})
    await h.settle()
    assert "21.03, 105.85" in h.texts(uid)[-1] and "báo mất điện" in h.texts(uid)[-1]
    assert pending_evidence(f"zalo:{uid}") == [{"type": "location", "latitude": 21.03, "longitude": 105.85}]
    await h.sim.user_event(uid, "unfollow", {})
    await h.settle()
    assert channel_user(uid).followed is False
    assert len(h.handled) == 2  # media, location and unfollow never reached the dialogue


async def test_image_during_an_outage_report_is_kept_as_evidence(h):
    uid = user()
    conversation = f"zalo:{uid}"
    tracker = await h.agent.tracker_store.get_or_create_tracker(conversation)
    from rasa.shared.core.events import ActiveLoop, SlotSet
    tracker.update(ActiveLoop("service_form"))
    tracker.update(SlotSet("service", "outage_report"))
    await h.agent.tracker_store.save(tracker)
    await h.sim.user_event(uid, "image", {"url": "https://zalo.example/cot-do.jpg"})
    await h.settle()
    assert "gửi kèm báo cáo sự cố" in h.texts(uid)[-1]
    assert pending_evidence(conversation) == [{"type": "image", "url": "https://zalo.example/cot-do.jpg"}]


def test_evidence_waits_in_the_database_and_goes_on_the_outage_request_once():
    """Kept by one process, attached by any other (a restart or a second Rasa instance); stale items dropped."""
    from bot.db.models import PendingEvidence
    from bot.db.repository import NewRequest, create_request
    from bot.localtime import utcnow

    conversation, other = f"zalo:{user()}", f"zalo:{user()}"
    keep_evidence(conversation, {"type": "image", "url": "https://zalo.example/old.jpg"})
    with session_scope() as s:  # sent before the TTL: belongs to no report any more
        s.execute(PendingEvidence.__table__.update().values(created_at=utcnow() - EVIDENCE_TTL * 2))
    keep_evidence(conversation, {"type": "image", "url": "https://zalo.example/cot.jpg"})
    keep_evidence(conversation, {"type": "location", "latitude": 10.77, "longitude": 106.7})
    keep_evidence(other, {"type": "image", "url": "https://zalo.example/other.jpg"})
    with session_scope() as s:
        outage, _ = create_request(s, NewRequest(service="outage_report", fields={"phone": "0912345678"},
                                                 idempotency_key=f"ev-{conversation}", channel="zalo",
                                                 conversation_id=conversation, phone="0912345678"))
        relocation, _ = create_request(s, NewRequest(service="meter_relocation", fields={"phone": "0912345678"},
                                                     idempotency_key=f"ev2-{conversation}", channel="zalo",
                                                     conversation_id=conversation, phone="0912345678"))
        outage_code, relocation_code = outage.code, relocation.code
    assert attach_evidence(relocation_code, conversation) == 0  # not an outage report: the items wait
    assert attach_evidence(outage_code, other) == 0  # another customer's request
    assert attach_evidence(outage_code, conversation) == 2
    assert attach_evidence(outage_code, conversation) == 0  # once
    with session_scope() as s:
        fields = s.execute(select(ServiceRequest.fields).where(ServiceRequest.code == outage_code)).scalar_one()
        left = s.scalars(select(PendingEvidence.conversation_id)).all()
    assert fields["evidence"] == [{"type": "image", "url": "https://zalo.example/cot.jpg"},
                                  {"type": "location", "latitude": 10.77, "longitude": 106.7}]
    assert conversation not in left and other in left
    assert pending_evidence(other) == [{"type": "image", "url": "https://zalo.example/other.jpg"}]


async def test_echo_of_a_message_we_did_not_send_is_recorded_as_a_human_reply(h):
    uid = user()
    await h.sim.say(uid, "cho tôi gặp nhân viên")
    await h.settle(0.6)
    result = await h.sim.user_event(uid, "agent_reply", {"text": "Dạ em là Lan, em hỗ trợ anh ạ."})
    assert result["webhook_status"] == 200
    await h.settle(0.4)
    agent_rows = rows(direction="out", sender="agent")
    assert [r.text for r in agent_rows] == ["Dạ em là Lan, em hỗ trợ anh ạ."]
    assert channel_user(uid).human_reply_at is not None
    tracker = await h.agent.tracker_store.retrieve(f"zalo:{uid}")
    agent_events = [e for e in tracker.events if isinstance(e, BotUttered) and e.metadata.get("sender") == "agent"]
    assert [e.text for e in agent_events] == ["Dạ em là Lan, em hỗ trợ anh ạ."]
    # our own reply's echo (sent by the simulator) was not mistaken for a person
    assert len(rows(direction="out", sender="bot")) == 1
    # the same echo delivered again is recorded once
    echo_id = [k for k, v in h.sim.events.items() if b"oa_send_text" in v.body][-1]
    await h.sim.replay(echo_id, 3, concurrent=True)
    await h.settle(0.4)
    assert len(rows(direction="out", sender="agent")) == 1


async def test_numbered_list_for_more_than_five_buttons_and_number_typed_back(h):
    uid = user()
    out = h.channel.output()
    await out.send_text_with_buttons(f"zalo:{uid}", "Anh/chị cần gì ạ?", MENU)
    assert "6. Giá điện" in h.texts(uid)[-1]
    await h.sim.say(uid, "6")
    await h.settle()
    assert h.handled[-1].text == "/ask_tariff" and h.handled[-1].metadata["display_text"] == "Giá điện"


async def test_too_long_text_is_answered_once(h):
    uid = user()
    result = await h.sim.say(uid, "a" * 2500)
    await h.sim.replay(result["msg_id"], 3, concurrent=False)
    await h.settle()
    assert h.handled == [] and len(h.texts(uid)) == 1 and "2000" in h.texts(uid)[0]


# ------------------------------------------------------------------------------------------------
# sending errors
# ------------------------------------------------------------------------------------------------


async def test_outside_window_is_not_retried_and_marks_the_user_unreachable(h):
    uid = user()
    h.sim.fail_send.append(-230)
    await h.sim.say(uid, "alo")
    await h.settle()
    assert h.sim.send_calls == 1 and h.texts(uid) == []
    failed = rows(direction="out")
    assert [(r.status, r.error[:9]) for r in failed] == [("failed", "zalo -230")]
    u = channel_user(uid)
    assert u.reachable is False and "-230" in u.unreachable_reason
    await h.sim.say(uid, "alo lần nữa")  # the customer writes again: reachable again
    await h.settle()
    assert channel_user(uid).reachable is True and h.texts(uid) == ["Đã nhận: alo lần nữa"]


async def test_rate_limit_and_network_failures_are_retried_with_bounds(h):
    uid = user()
    h.sim.fail_send += [-32, -32]
    await h.sim.say(uid, "một")
    await h.settle()
    assert h.texts(uid) == ["Đã nhận: một"] and h.sim.send_calls == 3
    h.sim.network_fail = 1
    await h.sim.say(uid, "hai")
    await h.settle()
    assert h.texts(uid)[-1] == "Đã nhận: hai" and h.sim.send_calls == 5
    h.sim.fail_send += [-32] * 5  # more than the bound: recorded as failed, the conversation goes on
    await h.sim.say(uid, "ba")
    await h.settle()
    assert h.sim.send_calls == 8 and h.texts(uid)[-1] == "Đã nhận: hai"
    assert rows(direction="out")[-1].status == "failed"
    await h.sim.say(uid, "bốn")
    await h.settle()
    assert h.texts(uid)[-1] == "Đã nhận: bốn"


# ------------------------------------------------------------------------------------------------
# tokens
# ------------------------------------------------------------------------------------------------


def stored_token() -> ChannelToken:
    with session_scope() as s:
        return s.get(ChannelToken, "zalo")


async def test_expired_access_token_is_refreshed_once_and_the_message_delivered(h, caplog):
    caplog.set_level(logging.DEBUG)
    uid = user()
    await h.sim.say(uid, "một")
    await h.settle()
    h.sim.access_tokens = {t: 0.0 for t in h.sim.access_tokens}  # expires mid-conversation
    await asyncio.gather(*(h.sim.say(u, "hai") for u in [uid] + [user() for _ in range(5)]))
    await h.settle()
    assert h.texts(uid) == ["Đã nhận: một", "Đã nhận: hai"]
    assert h.sim.refresh_calls == 1
    row = stored_token()
    assert row.access_token != BOOT_ACCESS and row.refresh_token in h.sim.refresh_tokens and row.expires_at
    for secret in (BOOT_ACCESS, BOOT_REFRESH, row.access_token, row.refresh_token, OA_SECRET, APP_SECRET):
        assert secret not in caplog.text


async def test_token_refreshed_before_expiry(h):
    uid = user()
    await h.sim.say(uid, "một")
    await h.settle()
    with session_scope() as s:
        row = s.get(ChannelToken, "zalo")
        row.expires_at = __import__("bot.localtime", fromlist=["x"]).utcnow()  # about to expire
    h.channel.tokens.forget()
    calls = h.sim.send_calls
    await h.sim.say(uid, "hai")
    await h.settle()
    assert h.sim.refresh_calls == 1 and h.sim.send_calls == calls + 1  # refreshed first, no failed send


async def test_dead_refresh_token_is_a_clear_error_and_the_bot_keeps_running(h, caplog):
    uid = user()
    h.sim.access_tokens.clear()
    h.sim.refresh_tokens.clear()
    await h.sim.say(uid, "alo")
    await h.settle()
    assert h.texts(uid) == []
    failed = rows(direction="out")[-1]
    assert failed.status == "failed" and failed.error.startswith("token:")
    assert "python -m bot zalo login-url" in caplog.text
    assert "refresh rejected" in stored_token().last_error
    assert (await h.sim.say(uid, "còn đó không"))["webhook_status"] == 200  # still acknowledging
    await h.settle()
    assert [m.text for m in h.handled] == ["alo", "còn đó không"]


async def test_oauth_login_and_callback_store_new_tokens(h):
    cfg = h.channel.config
    url = login_url(cfg, f"{h.url}/webhooks/zalo/oauth/callback")
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:  # simulator permission page -> redirect to our callback
            assert resp.status == 200, await resp.text()
            assert "Đã kết nối Zalo OA" in await resp.text()
        async with http.get(f"{h.url}/webhooks/zalo/oauth/callback", params={"code": "x", "state": "1.a.b"}) as r:
            assert r.status == 400
    row = stored_token()
    assert row.access_token.startswith("sim-at-") and row.refresh_token.startswith("sim-rt-")
    uid = user()
    await h.sim.say(uid, "sau khi cấp quyền")
    await h.settle()
    assert h.texts(uid) == ["Đã nhận: sau khi cấp quyền"]


def test_bootstrap_tokens_are_imported_once_and_new_ones_win(db_url):
    from connectors.zalo import load_tokens, store_tokens
    cfg = config("http://sim")
    assert load_tokens(cfg).access_token == BOOT_ACCESS
    store_tokens("refreshed-at", "refreshed-rt", "90000")
    assert load_tokens(cfg).access_token == "refreshed-at"  # same bootstrap: the refreshed row wins
    fresh = config("http://sim", access_token="new-at", refresh_token="new-rt")
    assert load_tokens(fresh).access_token == "new-at"  # new bootstrap values: they win
    assert load_tokens(config("http://sim", access_token="", refresh_token="")).access_token == "new-at"


RACE_SCRIPT = """
import asyncio, sys
from connectors.zalo import Tokens, ZaloConfig
cfg = ZaloConfig(app_id=sys.argv[1], oa_secret_key="x", app_secret_key=sys.argv[2], access_token=sys.argv[3],
                 refresh_token=sys.argv[4], api_base=sys.argv[5], oauth_base=sys.argv[5])
print(asyncio.run(Tokens(cfg).refresh(stale=sys.argv[3]))[:7])
"""


async def test_two_processes_racing_spend_the_refresh_token_once(h, db_url):
    from connectors.zalo import load_tokens
    cfg = h.channel.config
    load_tokens(cfg)  # the bootstrap row both processes find
    env = dict(__import__("os").environ, DATABASE_URL=db_url)
    args = [sys.executable, "-c", RACE_SCRIPT, APP_ID, APP_SECRET, BOOT_ACCESS, BOOT_REFRESH, h.sim_url]
    procs = [await asyncio.create_subprocess_exec(*args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                                  stderr=subprocess.PIPE) for _ in range(2)]
    outs = [await p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert [o[0].decode().strip() for o in outs] == ["sim-at-", "sim-at-"]
    assert h.sim.refresh_calls == 1


def test_cli_login_url(monkeypatch, capsys):
    from bot.settings import get_settings
    from connectors.zalo import cli_login_url
    for name, value in {"ZALO_APP_ID": APP_ID, "ZALO_APP_SECRET_KEY": APP_SECRET, "ZALO_OA_SECRET_KEY": OA_SECRET,
                        "PUBLIC_URL": "https://cskh.example.vn"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    assert cli_login_url(SimpleNamespace(redirect_uri=None)) == 0
    out = capsys.readouterr().out
    assert "https://oauth.zaloapp.com/v4/oa/permission?app_id=" + APP_ID in out and "code_challenge=" in out
    assert "redirect_uri=https%3A%2F%2Fcskh.example.vn%2Fwebhooks%2Fzalo%2Foauth%2Fcallback" in out
    assert APP_SECRET not in out
    monkeypatch.setenv("ZALO_APP_SECRET_KEY", "")
    get_settings.cache_clear()
    assert cli_login_url(SimpleNamespace(redirect_uri=None)) == 2
    get_settings.cache_clear()
