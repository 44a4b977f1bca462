"""Faults and hostile input against one running system (`python -m bot run` on free ports, as `make run`).

Fuzzed messages over REST and web chat (the full 10,000 are `scripts/loadtest.py --fuzz`), `/intent{json}`
payloads that try to skip validation, the action server killed in the middle of a form, and the REST
switch for production. Speed is not asserted here (scripts/loadtest.py prints it).
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import aiohttp
import pytest
import requests
import socketio
from sqlalchemy import select

from bot import PROJECT_ROOT
from bot.channels import plan_channels
from bot.db.models import ServiceRequest
from bot.db.session import get_engine, session_scope
from bot.settings import load_settings
from tests.fuzz import fuzz_messages
from tests.system import RunningSystem, free_port, start_system

if not hasattr(aiohttp, "ClientWSTimeout"):  # python-engineio's client on Rasa's aiohttp 3.9 (test side only)
    aiohttp.ClientWSTimeout = lambda ws_close=None, ws_receive=None: ws_close  # type: ignore[attr-defined]

TOO_LONG = "dài quá"
BUSY = "gửi lại sau ít phút"
N_REST, N_WEBCHAT = 300, 150
SILENT_COMMANDS = {"/restart", "/session_start", "/back"}

# ------------------------------------------------------------------------------------------------
# hostile input
# ------------------------------------------------------------------------------------------------

def test_the_fuzz_corpus_has_every_kind_of_hostile_input():
    corpus = fuzz_messages(N_REST, seed=1)
    assert len(corpus) == N_REST and corpus == fuzz_messages(N_REST, seed=1)
    assert sum(len(m) > 2000 for m in corpus) >= 10
    assert any(m.startswith("/inform{") and not m.endswith("}") for m in corpus)
    assert any("\u202e" in m for m in corpus) and any("\u200b" in m for m in corpus)


# ------------------------------------------------------------------------------------------------
# production switch
# ------------------------------------------------------------------------------------------------


def test_rest_channel_can_be_switched_off_for_production():
    on = plan_channels(load_settings({"SIMULATORS": "false"}, env_file=""))
    off = plan_channels(load_settings({"SIMULATORS": "false", "REST_CHANNEL": "false"}, env_file=""))
    assert "connectors.rest.RestInput" in on.credentials
    assert not any(k == "rest" or k.endswith("RestInput") for k in off.credentials)
    assert "connectors.webchat.WebChatInput" in off.credentials
    assert any("REST_CHANNEL=false" in line for line in off.lines)


async def test_a_log_line_longer_than_asyncios_limit_does_not_stop_the_supervisor_reading(capsys):
    """Found by fuzzing: a traceback quoting a huge payload is one line over asyncio's 64 KiB readline limit;
    the supervisor stopped reading, the pipe filled and the Rasa server hung in its next log call."""
    from bot.supervisor import Child, _pump

    code = "print('x' * 300000); print('y' * 70000, flush=True); print('still logging', flush=True)"
    child = Child("rasa", [sys.executable, "-c", code])
    child.process = await asyncio.create_subprocess_exec(*child.argv, stdout=asyncio.subprocess.PIPE)
    await asyncio.wait_for(_pump(child), 30)
    assert await child.process.wait() == 0
    out = capsys.readouterr().out
    assert "still logging" in out and "more characters" in out and len(out) < 20_000


def test_a_service_slot_of_the_wrong_type_is_no_service():
    from actions.dialogue import service_of

    for value in ({"x": 1}, ["complaint"], 42, True):
        assert service_of(value) is None
    assert service_of("complaint").code == "complaint"


# ------------------------------------------------------------------------------------------------
# the running system
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> RunningSystem:
    running = start_system(tmp_path_factory.mktemp("faults"))
    yield running
    running.stop()


def texts(replies: list[dict]) -> str:
    return " ".join(r.get("text") or "" for r in replies)


def greeted(system: RunningSystem, sender: str) -> bool:
    return texts(system.say(sender, "xin chào")).startswith("Dạ em chào anh/chị!")


def test_the_rasa_fixes_are_on_in_the_server(system):
    assert system.wait_for("rasa_speedups: on", 5), system.log()
    assert system.wait_for("rasa_resilience: on", 5), system.log()


async def _post_all(url: str, messages: list[str], concurrency: int = 6) -> list[tuple[str, int, Any, float]]:
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as http:
        async def one(i: int, text: str) -> tuple[str, int, Any, float]:
            async with sem:
                start = time.monotonic()
                async with http.post(url, json={"sender": f"fuzz-rest-{i % 12}", "message": text},
                                     timeout=aiohttp.ClientTimeout(total=120)) as resp:
                    body = await resp.json(content_type=None)
                    return text, resp.status, body, time.monotonic() - start
        return await asyncio.gather(*(one(i, m) for i, m in enumerate(messages)))


def test_fuzzed_messages_over_rest(system):
    results = asyncio.run(_post_all(f"{system.rasa_url}/webhooks/rest/webhook", fuzz_messages(N_REST, seed=7)))
    problems = [(t[:60], status, body) for t, status, body, _ in results
                if status >= 500 or (status == 400) != (not t.strip())]
    assert not problems, problems[:5]
    for text, status, body, elapsed in results:
        if len(text.strip()) > 2000:
            assert TOO_LONG in texts(body), (len(text), body)
            assert elapsed < 10  # answered at once, not read
        elif status == 200:
            assert isinstance(body, list)
    assert "Traceback" not in "\n".join(line for line in system.output if "fuzz-rest" in line)
    assert greeted(system, "fuzz-rest-after")
    for i in range(12):
        assert system.say(f"fuzz-rest-{i}", "giá điện bậc 1 bao nhiêu"), f"fuzz-rest-{i} went silent"


class ChatClient:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.bot: list[dict] = []
        self.turn_over = asyncio.Event()
        self.sio.on("bot_uttered", self._bot)
        self.sio.on("bot_typing", self._typing)

    async def _bot(self, data: Any = None) -> None:
        self.bot.append(data)

    async def _typing(self, data: Any = None) -> None:
        if isinstance(data, dict) and data.get("sender") == "bot" and not data.get("on"):
            self.turn_over.set()

    async def say(self, session_id: str, text: str) -> tuple[Optional[dict], list[dict]]:
        self.bot, self.turn_over = [], asyncio.Event()
        ack = await self.sio.call("user_uttered", {"message": text, "client_msg_id": "c-" + uuid.uuid4().hex,
                                                   "session_id": session_id}, timeout=60)
        if isinstance(ack, dict) and ack.get("status") == "ok":
            await asyncio.wait_for(self.turn_over.wait(), 60)
        else:
            await asyncio.sleep(0.3)  # a "too long" line may follow the error ack
        return ack, self.bot


async def _webchat_fuzz(url: str, messages: list[str]) -> list[tuple[str, Any, list[dict]]]:
    client, session_id, results = ChatClient(), uuid.uuid4().hex, []
    await client.sio.connect(url, socketio_path="/socket.io", transports=["websocket"])
    await client.sio.emit("session_request", {"session_id": session_id})
    try:
        for text in messages:
            ack, replies = await client.say(session_id, text)
            results.append((text, ack, list(replies)))
        ack, replies = await client.say(session_id, "xin chào")
        results.append(("xin chào", ack, list(replies)))
    finally:
        await client.sio.disconnect()
    return results


def test_fuzzed_messages_over_webchat(system):
    results = asyncio.run(_webchat_fuzz(system.rasa_url, fuzz_messages(N_WEBCHAT, seed=8)))
    for text, ack, replies in results[:-1]:
        assert isinstance(ack, dict), (text[:60], ack)
        if not text.strip():
            assert ack == {"status": "error", "reason": "empty"}
        elif len(text.strip()) > 2000:
            assert ack["reason"] == "too_long" and TOO_LONG in texts(replies), replies
        else:
            assert ack["status"] == "ok", (text[:60], ack)
            # Rasa's own commands (/restart, /session_start) restart the customer's own conversation quietly
            assert replies or text.split("{")[0] in SILENT_COMMANDS, f"no reply to {text[:60]!r}"
    assert texts(results[-1][2]).startswith("Dạ em chào anh/chị!")


# ------------------------------------------------------------------------------------------------
# payloads typed by a customer go through validation
# ------------------------------------------------------------------------------------------------


def _slots(system: RunningSystem, sender: str) -> dict:
    return system.tracker(sender)["slots"]


def _stored(system: RunningSystem, sender: str) -> list[tuple[str, Optional[str]]]:
    with session_scope(get_engine(system.env["DATABASE_URL"])) as s:
        rows = s.scalars(select(ServiceRequest).where(ServiceRequest.conversation_id == sender)).all()
        return [(r.code, r.phone) for r in rows]


def _to_summary(system: RunningSystem, sender: str) -> str:
    system.say(sender, '/request_service{"service":"complaint"}')
    system.say(sender, "nguyễn văn bình")
    system.say(sender, "0912345678")
    summary = texts(system.say(sender, "đồng hồ điện nhà tôi chạy nhanh bất thường"))
    assert "0912345678" in summary and _slots(system, sender)["requested_slot"] == "confirm", summary
    return summary


def test_payload_values_are_validated_like_typed_ones(system):
    sender = "inject-phone"
    system.say(sender, '/request_service{"service":"new_connection_lv"}')
    system.say(sender, "nguyễn văn bình")
    for payload in ('/inform{"phone":"123"}', '/inform{"phone": 5}', '/inform{"phone": ["123", "0912"]}'):
        reply = texts(system.say(sender, payload))
        assert "Số điện thoại chưa đúng" in reply, (payload, reply)
        assert _slots(system, sender)["phone"] is None, payload
    system.say(sender, '/inform{"phone":"0912345678<script>","id_number":"12","confirm":true}')
    slots = _slots(system, sender)  # normalised as a typed value is; the bad id and the "confirm" are not taken
    assert slots["phone"] == "0912345678" and slots["id_number"] is None and slots["confirm"] is None
    assert texts(system.say(sender, "/affirm")) and _slots(system, sender)["confirm"] is None
    assert _stored(system, sender) == []


def test_payload_before_a_form_does_not_prefill_invalid_values(system):
    sender = "inject-prefill"
    system.say(sender, '/request_service{"service":"complaint","phone":"123","customer_code":"PX<b>","email":"a@"}')
    slots = _slots(system, sender)
    assert slots["phone"] is None and slots["customer_code"] is None and slots["email"] is None


def test_a_yes_that_changes_a_field_confirms_nothing(system):
    sender = "inject-confirm"
    _to_summary(system, sender)
    reply = texts(system.say(sender, '/affirm{"phone":"0987654321"}'))
    assert "0987654321" in reply and "xác nhận" in reply, reply  # the summary again, with the new value
    assert _stored(system, sender) == []
    system.say(sender, '/affirm{"phone":"123"}')  # an invalid value is not taken; the shown one is confirmed
    assert [phone for _, phone in _stored(system, sender)] == ["0987654321"]


# ------------------------------------------------------------------------------------------------
# the action server dies mid-form (runs after the tests above: it restarts a child)
# ------------------------------------------------------------------------------------------------


def test_action_server_killed_mid_form(system):
    sender = "kill-mid-form"
    system.say(sender, '/request_service{"service":"complaint"}')
    system.say(sender, "nguyễn văn bình")
    system.kill_child("actions")
    reply = texts(system.say(sender, "0912345678"))
    assert BUSY in reply, reply  # an apology, not silence
    assert _slots(system, sender)["requested_slot"] == "phone"  # nothing of the failed turn was kept
    system.wait_up(system.action_health_url, 120)
    assert "mô tả" in texts(system.say(sender, "0912345678"))  # continues where it was
    system.say(sender, "đồng hồ điện nhà tôi chạy nhanh bất thường")
    system.kill_child("actions")  # dies again right at the confirmation
    assert BUSY in texts(system.say(sender, "đúng rồi"))
    assert _stored(system, sender) == []
    system.wait_up(system.action_health_url, 120)
    confirmation = texts(system.say(sender, "đúng rồi"))
    stored = _stored(system, sender)
    assert len(stored) == 1 and stored[0][0] in confirmation
    system.say(sender, "đúng rồi")  # the channel delivers it once more
    assert _stored(system, sender) == stored


# ------------------------------------------------------------------------------------------------
# two Rasa processes sharing the tracker store and a Redis lock store (deploy/endpoints.production.yml)
# ------------------------------------------------------------------------------------------------


def _wait_until(check, timeout: float, what: str, proc: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what} exited")
        time.sleep(1)
    pytest.fail(f"{what} did not start")


@pytest.fixture(scope="module")
def two_instances(system, tmp_path_factory):
    """Two more Rasa servers on the system's tracker store and action server, with their own Redis as lock
    store, started with the production endpoints file."""
    import shutil

    import redis

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    tmp = tmp_path_factory.mktemp("instances")
    redis_port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis(port=redis_port)
    _wait_until(client.ping, 30, "redis-server", server)
    credentials = PROJECT_ROOT / "var" / "run" / f"credentials-{system.env['RASA_PORT']}.yml"
    env = dict(system.env, ACTION_ENDPOINT_URL=f"http://127.0.0.1:{system.env['ACTION_PORT']}/webhook",
               REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_port), PYTHONPATH=str(PROJECT_ROOT))
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        log = open(tmp / f"rasa-{port}.log", "wb")
        procs.append(subprocess.Popen(
            [str(Path(sys.executable).with_name("rasa")), "run", "--enable-api", "--auth-token", system.token,
             "-i", "127.0.0.1", "--port", str(port), "--credentials", str(credentials),
             "--endpoints", "deploy/endpoints.production.yml", "--model", str(PROJECT_ROOT / "models")],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for proc, url in zip(procs, urls):
            _wait_until(lambda: requests.get(f"{url}/status", params={"token": system.token}, timeout=2).ok,
                        400, f"Rasa at {url}", proc)
        yield urls, client
    finally:
        for proc in procs + [server]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs + [server]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _say_at(url: str, sender: str, text: str) -> list[dict]:
    resp = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=120)
    resp.raise_for_status()
    return resp.json()


def test_a_conversation_alternating_between_two_rasa_processes_stays_consistent(system, two_instances):
    (a, b), redis_client = two_instances
    sender, steps = "two-instances", ['/request_service{"service":"complaint"}', "nguyễn văn bình", "0912345678",
                                      "đồng hồ điện nhà tôi chạy nhanh bất thường", "đúng rồi"]
    replies = [texts(_say_at((a, b)[i % 2], sender, text)) for i, text in enumerate(steps)]
    assert "họ và tên" in replies[0] and "số điện thoại" in replies[1] and "mô tả" in replies[2], replies
    assert "0912345678" in replies[3] and "Mã yêu cầu" in replies[4], replies
    stored = _stored(system, sender)
    assert len(stored) == 1 and stored[0][0] in replies[4]
    assert redis_client.info("stats")["total_commands_processed"] > 0  # the turns took the Redis lock


async def _both_at_once(a: str, b: str, senders: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        async def say(url: str, sender: str, text: str) -> None:
            async with http.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                                 timeout=aiohttp.ClientTimeout(total=120)) as resp:
                assert resp.status == 200 and await resp.json(), (sender, text)
        await asyncio.gather(*(say(url, s, text) for s in senders
                               for url, text in ((a, "xin chào"), (b, "giá điện bậc 1 bao nhiêu"))))


def test_simultaneous_turns_of_one_conversation_on_two_processes_lose_nothing(system, two_instances):
    (a, b), _ = two_instances
    senders = [f"two-at-once-{i}" for i in range(6)]
    asyncio.run(_both_at_once(a, b, senders))
    for sender in senders:
        said = [e["text"] for e in system.tracker(sender)["events"] if e["event"] == "user"]
        assert sorted(said) == sorted(["xin chào", "giá điện bậc 1 bao nhiêu"]), (sender, said)


# ------------------------------------------------------------------------------------------------
# PostgreSQL restarted during a submission (a private cluster: the shared server is never touched)
# ------------------------------------------------------------------------------------------------


def _pg_bin(name: str) -> Optional[str]:
    import glob
    import shutil

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port (as the `postgres` user when the tests run as root)."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.data = root / "data"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *argv: str) -> None:
        subprocess.run(self.as_user + list(argv), check=True, capture_output=True, timeout=120)

    def init(self) -> str:
        if self.as_user:
            os.chown(self.root, *_postgres_ids())
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


@pytest.fixture
def private_postgres(monkeypatch):
    if not (_pg_bin("initdb") and _pg_bin("pg_ctl")):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="faults-pg-"))  # pytest's tmp dirs are private to root
    server = PrivatePostgres(root)
    url = server.init()
    from bot.db import session as db_session
    from bot.db.migrate import upgrade
    from bot.settings import get_settings

    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db_session.get_engine.cache_clear()
    yield server
    db_session.get_engine(url).dispose()
    db_session.get_engine.cache_clear()
    get_settings.cache_clear()
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(root, ignore_errors=True)


async def test_database_restart_during_a_submission(private_postgres):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.submit import ActionSubmitRequest
    from tests.conftest import user_tracker

    slots = {"service": "complaint", "full_name": "Nguyễn Văn An", "phone": "0912345678", "confirm": True,
             "description": "Hóa đơn tháng này cao bất thường"}
    tracker = user_tracker("đúng rồi", "affirm", slots=slots)
    with session_scope() as s:  # a pooled connection that the restart will kill
        assert s.scalars(select(ServiceRequest)).all() == []
    private_postgres.stop()
    down = CollectingDispatcher()
    events = await ActionSubmitRequest().run(down, tracker, {})
    assert "hệ thống đang bận" in down.messages[0]["text"] and not any(e.get("name") == "request_code" for e in events)
    private_postgres.start()  # the pooled connections are dead: pre-ping replaces them
    first, again = CollectingDispatcher(), CollectingDispatcher()
    stored = await ActionSubmitRequest().run(first, tracker, {})
    retried = await ActionSubmitRequest().run(again, tracker, {})
    assert stored[0] == retried[0] and stored[0]["name"] == "request_code"
    with session_scope() as s:
        rows = s.scalars(select(ServiceRequest)).all()
    assert [r.code for r in rows] == [stored[0]["value"]]
