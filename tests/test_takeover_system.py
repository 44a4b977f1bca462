"""Human takeover end to end, on web chat, Zalo (simulator) and Messenger (simulator), with the whole system
started like `make run` (office hours always open here): escalate mid-form, 10 customer messages while a
person holds the conversation -> 0 bot messages and all 10 in the console, the agent's replies reach the
customer's own channel, hand back -> the bot answers again and the half-filled form resumes."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List

import aiohttp
import pytest
import requests
import socketio

from bot import PROJECT_ROOT
from tests.system import RunningSystem, free_port, start_system
from tests.test_system import _answers

OPEN_ALWAYS = {"OFFICE_HOURS": "00:00-24:00", "OFFICE_DAYS": "1-7", "REDIS_URL": "redis://127.0.0.1:6379/0",
               "WEBCHAT_SHARED_ROOMS": "true"}


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> RunningSystem:
    running = start_system(tmp_path_factory.mktemp("takeover"), extra_env=OPEN_ALWAYS)
    for name, password in (("lan", "mat-khau-lan"), ("minh", "mat-khau-minh")):
        subprocess.run([sys.executable, "-m", "bot", "agents", "add", name, "--display-name", name.title(),
                        "--password-stdin"], input=password + "\n", text=True, env=running.env, cwd=PROJECT_ROOT,
                       check=True, capture_output=True)
    yield running
    running.stop()


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.3)


class Console:
    """An agent in the console, through its HTTP API."""

    def __init__(self, system: RunningSystem, http: aiohttp.ClientSession) -> None:
        self.base, self.http, self.headers = f"{system.web_url}/api", http, {}

    async def login(self, name: str) -> "Console":
        async with self.http.post(f"{self.base}/login", json={"username": name, "password": f"mat-khau-{name}"}) as r:
            assert r.status == 200, await r.text()
            data = await r.json()
            self.headers = {"X-CSRF-Token": data["csrf"], "Cookie": f"cskh_session={r.cookies['cskh_session'].value}"}
        return self

    async def get(self, path: str) -> Dict[str, Any]:
        async with self.http.get(f"{self.base}{path}", headers=self.headers) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def post(self, path: str, body: Dict[str, Any] = None) -> Dict[str, Any]:
        async with self.http.post(f"{self.base}{path}", json=body or {}, headers=self.headers) as r:
            assert r.status == 200, f"{path}: {r.status} {await r.text()}"
            return await r.json()

    async def find(self, conversation_id: str, state: str) -> Dict[str, Any]:
        async def found() -> Any:
            items = (await self.get(f"/conversations?state={state}"))["conversations"]
            return next((c for c in items if c["conversation_id"] == conversation_id), None)
        return await until(found, what=f"{conversation_id} in state {state}")


class WebCustomer:
    def __init__(self, system: RunningSystem, rasa_url: str = None) -> None:
        self.system, self.sio, self.received = system, socketio.AsyncClient(reconnection=False), []
        self.rasa_url = rasa_url or system.rasa_url
        self.conversation_id = uuid.uuid4().hex
        self.sio.on("bot_uttered", self._got)

    async def _got(self, data: Dict[str, Any]) -> None:
        self.received.append(data)

    async def open(self) -> None:
        await self.sio.connect(self.rasa_url, socketio_path="/socket.io", transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": self.conversation_id})

    async def say(self, text: str) -> None:
        ack = await self.sio.call("user_uttered", {"message": text, "client_msg_id": "c-" + uuid.uuid4().hex},
                                  timeout=10)
        assert ack["status"] == "ok", ack

    async def messages(self) -> List[Dict[str, Any]]:
        return list(self.received)

    async def close(self) -> None:
        await self.sio.disconnect()


class PlatformCustomer:
    """A Zalo or Messenger user, through the platform simulator's HTTP API."""

    def __init__(self, system: RunningSystem, http: aiohttp.ClientSession, platform: str) -> None:
        self.user_id = str(uuid.uuid4().int)[:16]
        self.base, self.http = f"{system.simulator_url}/{platform}", http
        self.conversation_id = f"{platform}:{self.user_id}"

    async def open(self) -> None:
        pass

    async def say(self, text: str) -> None:
        async with self.http.post(f"{self.base}/api/say", json={"user_id": self.user_id, "text": text}) as r:
            assert (await r.json())["webhook_status"] == 200

    async def messages(self) -> List[Dict[str, Any]]:
        async with self.http.get(f"{self.base}/api/messages", params={"user_id": self.user_id, "after": 0}) as r:
            return (await r.json())["messages"]

    async def close(self) -> None:
        pass


def tracker(system: RunningSystem, conversation_id: str) -> Dict[str, Any]:
    return requests.get(f"{system.rasa_url}/conversations/{conversation_id}/tracker",
                        params={"token": system.token}, timeout=30).json()


async def new_messages(customer: Any, seen: int, what: str) -> List[Dict[str, Any]]:
    async def arrived() -> Any:
        got = await customer.messages()
        return got[seen:] if len(got) > seen else None
    return await until(arrived, what=what)


@pytest.mark.parametrize("channel", ["webchat", "zalo", "messenger"])
async def test_escalate_silence_reply_and_hand_back(system, channel):
    async with aiohttp.ClientSession() as http:
        console = await Console(system, http).login("lan")
        customer = WebCustomer(system) if channel == "webchat" else PlatformCustomer(system, http, channel)
        await customer.open()
        try:
            await customer.say("tôi muốn di dời công tơ điện")
            await new_messages(customer, 0, "the form's first question")
            form = tracker(system, customer.conversation_id)
            assert form["active_loop"]["name"] == "service_form", form["active_loop"]
            pending = form["slots"]["requested_slot"]
            seen = len(await customer.messages())

            await customer.say("cho tôi gặp tư vấn viên")
            told = await new_messages(customer, seen, "the escalation notice")
            assert any("vị trí số 1" in (m.get("text") or "") for m in told), told
            queued = await console.find(customer.conversation_id, "waiting")
            assert queued["context"]["form"] == "service_form" and queued["channel"] == channel
            await asyncio.sleep(1.0)
            seen = len(await customer.messages())

            for i in range(1, 11):
                await customer.say(f"em chờ được, tin số {i}")

            async def all_ten_logged() -> Any:
                log = (await console.get(f"/conversations/{queued['id']}"))["messages"]
                inbound = [m["text"] for m in log if m["direction"] == "in" and "tin số" in m["text"]]
                return len(inbound) == 10
            await until(all_ten_logged, what="the 10 messages in the console")
            await asyncio.sleep(2.0)  # room for a (wrong) bot answer to arrive
            assert (await customer.messages())[seen:] == []  # the bot said nothing

            await console.post(f"/conversations/{queued['id']}/claim")
            greeting = await new_messages(customer, seen, "the agent's greeting")
            assert any("Lan" in (m.get("text") or "") + str(m.get("sender_name") or "") for m in greeting)
            seen = len(await customer.messages())
            result = await console.post(f"/conversations/{queued['id']}/reply",
                                        {"text": "Anh cho em xin mã khách hàng để em kiểm tra ạ"})
            assert result["delivered"] is True
            reply = await new_messages(customer, seen, "the agent's reply")
            assert any("mã khách hàng để em kiểm tra" in (m.get("text") or "") for m in reply)
            if channel == "webchat":
                assert reply[-1]["sender"] == "agent" and reply[-1]["sender_name"] == "Lan"
            log = (await console.get(f"/conversations/{queued['id']}"))["messages"]
            sent = [m for m in log if m["text"] == "Anh cho em xin mã khách hàng để em kiểm tra ạ"]
            assert [(m["sender"], m["sender_name"], m["status"]) for m in sent] == [("agent", "Lan", "sent")]
            seen = len(await customer.messages())

            await console.post(f"/conversations/{queued['id']}/hand_back")
            back = await new_messages(customer, seen, "the bot's return")
            assert any("trợ lý tự động" in (m.get("text") or "") for m in back)
            seen = len(await customer.messages())
            await customer.say(_answers()[pending])
            answered = await new_messages(customer, seen, "the bot answering again")

            async def moved_on() -> Any:  # the tracker is saved at the end of the turn
                after = tracker(system, customer.conversation_id)
                return after["slots"][pending] and after["slots"]["requested_slot"] != pending and after
            after = await until(moved_on, timeout=15, what=f"the form to take {pending}: {answered}")
            assert after["active_loop"]["name"] == "service_form"  # the form resumed where it was
        finally:
            await customer.close()


@pytest.mark.parametrize("channel, inbox", [("zalo", ("api/event", {"kind": "agent_reply"})),
                                            ("messenger", ("control/inbox_reply", {}))])
async def test_a_person_answering_in_the_platform_inbox_silences_the_bot(system, channel, inbox):
    async with aiohttp.ClientSession() as http:
        console = await Console(system, http).login("minh")
        customer = PlatformCustomer(system, http, channel)
        await customer.say("xin chào")
        await new_messages(customer, 0, "the greeting")
        path, extra = inbox
        async with http.post(f"{customer.base}/{path}", json={"user_id": customer.user_id,
                                                              "text": "Chào anh, em là Hà bên CSKH ạ", **extra}) as r:
            assert r.status == 200 and (await r.json())["webhook_status"] == 200
        held = await console.find(customer.conversation_id, "agent")
        assert held["agent_id"] is None  # a person outside the console holds it
        seen = len(await customer.messages())
        for text in ("giá điện bậc 1 bao nhiêu", "cho tôi tra cứu hóa đơn", "alo"):
            await customer.say(text)

        async def three_logged() -> Any:
            log = (await console.get(f"/conversations/{held['id']}"))["messages"]
            return len([m for m in log if m["direction"] == "in" and m["status"] == "held"]) == 3
        await until(three_logged, what="the customer's messages held for the person")
        await asyncio.sleep(2.0)
        assert (await customer.messages())[seen:] == []  # the bot stepped aside


async def test_resolve_asks_for_a_rating_and_the_tap_is_stored(system):
    async with aiohttp.ClientSession() as http:
        console = await Console(system, http).login("lan")
        customer = WebCustomer(system)
        await customer.open()
        try:
            await customer.say("tôi muốn gặp nhân viên tư vấn")
            await new_messages(customer, 0, "the escalation notice")
            queued = await console.find(customer.conversation_id, "waiting")
            await console.post(f"/conversations/{queued['id']}/claim")
            seen = len(await new_messages(customer, 0, "the agent's greeting"))
            seen = len(await customer.messages())
            await console.post(f"/conversations/{queued['id']}/resolve")
            asked = await new_messages(customer, seen, "the rating question")
            stars = asked[-1]["quick_replies"]
            assert len(stars) == 5 and asked[-1]["sender"] == "system"
            seen = len(await customer.messages())
            four = next(b for b in stars if b["title"] == "⭐⭐⭐⭐")
            ack = await customer.sio.call("user_uttered", {"message": four["payload"], "client_msg_id": "c-" + uuid.uuid4().hex,
                                                           "metadata": {"display_text": four["title"]}}, timeout=10)
            assert ack["status"] == "ok"
            thanks = await new_messages(customer, seen, "the thanks")
            assert "Cảm ơn anh/chị đã đánh giá" in thanks[-1]["text"]
            rated = await console.find(customer.conversation_id, "closed")
            assert rated["csat_score"] == 4
        finally:
            await customer.close()


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(OPEN_ALWAYS["REDIS_URL"], socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def second_rasa(system):
    """Another Rasa instance on the same database, tracker store, action server and Redis."""
    port = free_port()
    credentials = PROJECT_ROOT / "var" / "run" / f"credentials-{system.env['RASA_PORT']}.yml"
    env = dict(system.env, ACTION_ENDPOINT_URL=f"http://127.0.0.1:{system.env['ACTION_PORT']}/webhook",
               PYTHONPATH=str(PROJECT_ROOT))
    log = open(system.env.get("TMPDIR", "/tmp") + f"/rasa-second-{port}.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("rasa")), "run", "--enable-api", "--auth-token",
                             system.token, "-i", "127.0.0.1", "--port", str(port), "--credentials", str(credentials),
                             "--endpoints", "endpoints.yml", "--model", str(PROJECT_ROOT / "models")],
                            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/status", params={"token": system.token}, timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            pytest.fail("the second Rasa instance exited")
        time.sleep(1)
    else:
        proc.kill()
        pytest.fail("the second Rasa instance did not start")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    log.close()


@pytest.mark.skipif(not _redis_up(), reason=f"Redis not reachable at {OPEN_ALWAYS['REDIS_URL']}")
async def test_escalation_on_one_instance_and_the_reply_reaches_a_widget_on_the_other(system, second_rasa):
    async with aiohttp.ClientSession() as http:
        console = await Console(system, http).login("lan")
        customer = WebCustomer(system, rasa_url=second_rasa)  # connected to the second instance
        await customer.open()
        try:
            await customer.say("tôi muốn gặp nhân viên tư vấn")  # the second instance runs this turn
            told = await new_messages(customer, 0, "the escalation notice")
            assert any("vị trí số" in (m.get("text") or "") for m in told)
            queued = await console.find(customer.conversation_id, "waiting")
            await console.post(f"/conversations/{queued['id']}/claim")  # pushed through the first instance
            seen = len(await new_messages(customer, len(told), "the agent's greeting"))
            seen = len(await customer.messages())
            await console.post(f"/conversations/{queued['id']}/reply", {"text": "Em là Lan, em nghe đây ạ"})
            reply = await new_messages(customer, seen, "the agent's reply across instances")
            assert reply[-1]["text"] == "Em là Lan, em nghe đây ạ" and reply[-1]["sender"] == "agent"
        finally:
            await customer.close()
