"""Load benchmark (not a test): simulated customers run real journeys against a running system.

Each customer makes visits one after another, each a new conversation: a greeting, a catalogue service form
(natural opening, answers typed the way customers type, one field corrected at the summary, confirmed; the
services in turn), look-ups (status of the code just received, then bill, outage schedule, tariff or payment
channels) and, every third visit, a form that is cancelled. Answers are chosen from the bot's
question, so the journeys follow the real dialogue. Every reply is checked for cross-talk (another customer's
name) and every request code received is counted once per customer.

Closed loop (no pause):   .venv/bin/python scripts/loadtest.py --url http://127.0.0.1:5005 --customers 20 --duration 60
Open loop (fixed rate):   .venv/bin/python scripts/loadtest.py --rate 10 --duration 60
Web chat (socket.io):     add --channel webchat
`rasa init` comparison:   add --journeys rasa-init (against `rasa run` of a `rasa init --no-prompt` project; README)
Fuzzing:                  .venv/bin/python scripts/loadtest.py --fuzz 10000 [--channel webchat]
Cold start:               .venv/bin/python scripts/loadtest.py --cold-start

Prints throughput, p50/p95/p99 latency, errors, and CPU and RSS of each server process (from /proc).
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.catalogue import load_catalogue  # noqa: E402
from bot.identifiers import REQUEST_CODE_RE, normalise_request_code  # noqa: E402

if not hasattr(aiohttp, "ClientWSTimeout"):
    # python-engineio's websocket client expects aiohttp >= 3.10; with Rasa's pinned 3.9 a float is what
    # ws_connect() takes. Client side only (see tests/test_webchat_connector.py).
    aiohttp.ClientWSTimeout = lambda ws_close=None, ws_receive=None: ws_close  # type: ignore[attr-defined]

SURNAMES = ["nguyễn", "trần", "lê", "phạm", "hoàng", "huỳnh", "phan", "vũ", "võ", "đặng", "bùi", "đỗ", "hồ", "ngô"]
MIDDLE = ["văn", "thị", "hữu", "đức", "minh", "thu", "thanh", "ngọc", "quốc", "kim", "xuân", "hoài"]
GIVEN = ["an", "bình", "cường", "dũng", "giang", "hà", "hải", "hiếu", "hòa", "hùng", "khánh", "lan", "linh",
         "long", "mai", "nam", "nga", "phong", "phúc", "quân", "quang", "sơn", "tâm", "thảo", "trang", "tuấn"]
SEEDED_CODES = ["PD01001494350", "PE01004496132", "PB04002152945", "PA01001826767", "PC03004416672",
                "PK01005940580"]
LOOKUPS = ["tháng này nhà tôi hết bao nhiêu tiền điện", "lịch cúp điện tuần này", "300 số điện hết bao nhiêu",
           "giá điện bậc 1 bao nhiêu", "có những cách nào để thanh toán tiền điện"]
FUZZ_CONVERSATION = 30  # fuzzed messages per conversation (a real customer does not send thousands)
RASA_INIT = ["hello", "I am sad", "yes", "great, thanks", "bye", "are you a bot?", "I am happy", "goodbye"]


# ---------------------------------------------------------------------------------------------------------
# transports: one customer's messages in, the bot's replies out
# ---------------------------------------------------------------------------------------------------------


class Rest:
    """Rasa's REST channel: the replies come in the HTTP response."""

    def __init__(self, http: aiohttp.ClientSession, url: str, sender: str, timeout: float) -> None:
        self.http, self.url, self.sender, self.timeout = http, f"{url}/webhooks/rest/webhook", sender, timeout

    async def open(self) -> None:
        return None

    async def say(self, text: str) -> list[dict]:
        async with self.http.post(self.url, json={"sender": self.sender, "message": text},
                                  timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
            if resp.status != 200:
                raise TransportError(f"HTTP {resp.status}")
            return await resp.json()

    async def close(self) -> None:
        return None


class WebChat:
    """The web widget's socket.io protocol (connectors/webchat.py): a turn ends with bot_typing off."""

    def __init__(self, url: str, sender: str, timeout: float) -> None:
        import socketio

        self.url, self.timeout = url, timeout
        self.sio = socketio.AsyncClient(reconnection=False)
        self.session_id = uuid.uuid4().hex
        self.replies: list[dict] = []
        self.turn_done = asyncio.Event()
        self.sio.on("bot_uttered", self._on_bot)
        self.sio.on("bot_typing", self._on_typing)

    async def _on_bot(self, data: Any = None) -> None:
        if isinstance(data, dict):
            self.replies.append(dict(data, buttons=data.get("quick_replies") or []))

    async def _on_typing(self, data: Any = None) -> None:
        if isinstance(data, dict) and data.get("sender") == "bot" and not data.get("on"):
            self.turn_done.set()

    async def open(self) -> None:
        await self.sio.connect(self.url, socketio_path="/socket.io", transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": self.session_id})

    async def say(self, text: str) -> list[dict]:
        self.replies, self.turn_done = [], asyncio.Event()
        ack = await self.sio.call("user_uttered", {"message": text, "client_msg_id": "c-" + uuid.uuid4().hex,
                                                   "session_id": self.session_id}, timeout=self.timeout)
        if not isinstance(ack, dict) or ack.get("status") != "ok":
            raise TransportError(f"ack {ack}")
        try:
            await asyncio.wait_for(self.turn_done.wait(), self.timeout)
        except asyncio.TimeoutError:
            raise TransportError("no end of turn") from None
        return self.replies

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


class TransportError(Exception):
    pass


# ---------------------------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    silent: int = 0  # turns without any reply
    crosstalk: int = 0
    stuck: int = 0  # journeys that met a question they could not place
    journeys: int = 0
    visits: int = 0
    codes: list[str] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Process:
    """CPU seconds and RSS of one process (and its children) from /proc."""

    def __init__(self, name: str, pid: int) -> None:
        self.name, self.pid = name, pid
        self.cpu_start = self.cpu()
        self.rss_peak = 0

    def _pids(self) -> list[int]:
        pids = [self.pid]
        for task in Path(f"/proc/{self.pid}/task").glob("*/children"):
            try:
                pids += [int(p) for p in task.read_text().split()]
            except OSError:
                pass
        return pids

    def cpu(self) -> float:
        total = 0.0
        for pid in self._pids():
            try:
                parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError):
                pass
        return total

    def rss_mb(self) -> float:
        total = 0
        for pid in self._pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            except (OSError, AttributeError):
                pass
        return total / 1024

    def sample(self) -> None:
        self.rss_peak = max(self.rss_peak, self.rss_mb())


def find_processes(ports: list[str]) -> list[Process]:
    """Server processes whose command line names one of `ports` (rasa run, rasa_sdk, web app...)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = [a.decode(errors="replace") for a in cmdline.read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if not any(p in argv for p in ports) or "loadtest.py" in " ".join(argv):
            continue
        name = "rasa" if any(a.endswith("rasa") for a in argv[:2]) else \
            "actions" if "rasa_sdk" in argv else Path(argv[1] if len(argv) > 1 else argv[0]).name
        found.append(Process(f"{name}:{cmdline.parent.name}", int(cmdline.parent.name)))
    return found


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ---------------------------------------------------------------------------------------------------------
# journeys
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Customer:
    index: int
    name: str
    phone: str
    sent: int = 0
    codes: list[str] = field(default_factory=list)


def customer(index: int) -> Customer:
    examples = " ".join(spec.example.lower() for spec in load_catalogue().slots.values())
    combos = [combo for combo in itertools.product(SURNAMES, MIDDLE, GIVEN) if " ".join(combo) not in examples]
    surname, middle, given = combos[(index * 7919) % len(combos)]
    return Customer(index, f"{surname} {middle} {given}", f"09{index % 100_000_000:08d}")


def answers(c: Customer) -> dict[str, str]:
    today = time.localtime()
    return {"full_name": c.name, "phone": f"sđt mình là {c.phone}", "id_number": f"0012030{c.index % 100000:05d}",
            "customer_code": random.choice(SEEDED_CODES), "address": "Số 12 ngõ 34 Phố Huế, phường Hai Bà Trưng, Hà Nội",
            "usage_purpose": "sinh hoạt", "phase": "3 pha", "capacity_kw": "15kw", "households": "2 hộ",
            "new_location": "chuyển ra cột điện đầu ngõ, cách chỗ cũ 10m", "payment_method": "ví điện tử",
            "desired_date": f"{min(today.tm_mday, 28):02d}/{today.tm_mon % 12 + 1:02d}/"
                            f"{today.tm_year + (today.tm_mon == 12)}",
            "description": "Đồng hồ điện nhà tôi chạy nhanh bất thường từ tháng trước", "email": "an.nguyen@gmail.com"}


SLOT_QUESTIONS = {slot: f"cho em xin {spec.vi[:1].lower()}{spec.vi[1:]}"
                  for slot, spec in load_catalogue().slots.items() if slot != "confirm"}


def next_answer(replies: list[dict], c: Customer, corrected: list[bool]) -> Optional[str]:
    """What this customer types next in a form, from the bot's last question; None when it is over."""
    text = " ".join(r.get("text") or "" for r in replies)
    payloads = [b.get("payload") for r in replies for b in (r.get("buttons") or [])]
    if REQUEST_CODE_RE.search(text) and ("tiếp nhận" in text or "mã yêu cầu" in text.lower()):
        return None
    if "vẫn muốn báo mất điện" in text:
        return "có"
    if "muốn sửa thông tin nào" in text:
        return "số điện thoại"
    if "/affirm" in payloads and "/deny" in payloads:
        if not corrected[0]:
            corrected[0] = True
            return "sai số điện thoại rồi"
        return "đúng rồi"
    for slot, question in SLOT_QUESTIONS.items():
        if question in text:
            return answers(c)[slot]
    return ""


Say = Callable[[str], Awaitable[list[dict]]]


async def form_journey(say: Say, c: Customer, service: Any, stats: Stats) -> None:
    replies = await say(f"cho mình {service.phrases[0]}")
    corrected = [False]
    for _ in range(25):
        answer = next_answer(replies, c, corrected)
        if answer is None:
            text = " ".join(r.get("text") or "" for r in replies)
            c.codes.append(normalise_request_code(text))
            return
        if answer == "":
            stats.stuck += 1
            return
        replies = await say(answer)
    stats.stuck += 1


async def lookup_journey(say: Say, c: Customer, stats: Stats) -> None:
    if c.codes:
        await say(f"hồ sơ {c.codes[-1]} đến đâu rồi")
    replies = await say(random.choice(LOOKUPS))
    if any("mã khách hàng" in (r.get("text") or "") for r in replies):
        await say(random.choice(SEEDED_CODES))


async def cancel_journey(say: Say, c: Customer, stats: Stats) -> None:
    await say("cho mình đăng ký tăng công suất")
    await say(random.choice(SEEDED_CODES))
    replies = await say("thôi hủy đi")
    if not any("hủy" in (r.get("text") or "") for r in replies):
        stats.stuck += 1


async def assistant_visit(say: Say, c: Customer, n: int, stats: Stats) -> int:
    """One customer visit (one conversation): a greeting, a service form, a look-up, every third a cancel."""
    services = list(load_catalogue().services.values())
    await say("xin chào")
    await form_journey(say, c, services[n % len(services)], stats)
    await lookup_journey(say, c, stats)
    if n % 3 == 0:
        await cancel_journey(say, c, stats)
        return 3
    return 2


async def rasa_init_visit(say: Say, c: Customer, n: int, stats: Stats) -> int:
    for text in RASA_INIT:
        await say(text)
    return 1


# ---------------------------------------------------------------------------------------------------------
# drivers
# ---------------------------------------------------------------------------------------------------------


class Run:
    def __init__(self, args: argparse.Namespace, http: aiohttp.ClientSession) -> None:
        self.args, self.http = args, http
        self.stats = Stats()
        self.names: set[str] = set()
        self.waiting = 0  # open loop: customers waiting for their next arrival
        self.deadline = time.monotonic() + args.duration
        self.warm_until = time.monotonic() + args.warmup

    def transport(self, sender: str, index: int) -> Any:
        urls = self.args.url.split(",")  # several Rasa processes: customers spread over them
        url = urls[index % len(urls)]
        if self.args.channel == "webchat":
            return WebChat(url, sender, self.args.timeout)
        return Rest(self.http, url, sender, self.args.timeout)

    async def arrival(self, gate: asyncio.Queue) -> Optional[float]:
        self.waiting += 1
        try:
            return await gate.get()
        finally:
            self.waiting -= 1

    def sayer(self, c: Customer, transport: Any, gate: Optional[asyncio.Queue]) -> Say:
        async def say(text: str) -> list[dict]:
            if time.monotonic() > self.deadline:
                raise Finished
            scheduled = await self.arrival(gate) if gate is not None else time.monotonic()
            if scheduled is None:  # open loop: no more arrivals
                raise Finished
            try:
                replies = await transport.say(text)
            except (TransportError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.stats.error(type(exc).__name__ + (f": {exc}" if isinstance(exc, TransportError) else ""))
                raise Finished from exc
            elapsed = time.monotonic() - scheduled
            if scheduled >= self.warm_until:
                self.stats.latencies.append(elapsed)
                self.stats.silent += not replies
                joined = " ".join(r.get("text") or "" for r in replies).lower()
                others = [n for n in self.names if n != c.name and n in joined]
                if others:
                    self.stats.crosstalk += 1
                    print(f"cross-talk: {c.name} got {others}: {joined[:300]}", file=sys.stderr)
            c.sent += 1
            return replies
        return say

    async def customer(self, index: int, gate: Optional[asyncio.Queue] = None) -> None:
        c = customer(index)
        self.names.add(c.name)
        visit = rasa_init_visit if self.args.journeys == "rasa-init" else assistant_visit
        for n in itertools.count(index):
            # each visit is a new conversation, unless --one-conversation (trackers then grow all run long)
            sender = f"load-{os.getpid()}-{index}-" + ("0" if self.args.one_conversation else uuid.uuid4().hex[:8])
            transport = self.transport(sender, index + n)
            try:
                await transport.open()
                journeys = await visit(self.sayer(c, transport, gate), c, n, self.stats)
                self.stats.journeys += journeys
                self.stats.visits += 1
            except Finished:
                return
            except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                self.stats.error(type(exc).__name__)
                return
            finally:
                self.stats.codes += c.codes
                c.codes = []
                await transport.close()

    async def closed_loop(self) -> None:
        await asyncio.gather(*(self.customer(i) for i in range(self.args.customers)))

    async def open_loop(self) -> None:
        """Arrivals at a fixed rate; each goes to a waiting customer, or a new one joins (no coordinated
        omission: latency counts from the scheduled arrival, not from when a customer was free)."""
        gate: asyncio.Queue = asyncio.Queue()
        tasks, interval, start = [], 1.0 / self.args.rate, time.monotonic()
        for n in itertools.count():
            at = start + n * interval
            if at > self.deadline:
                break
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            if self.waiting <= gate.qsize() and len(tasks) < self.args.max_customers:
                tasks.append(asyncio.create_task(self.customer(len(tasks), gate)))
            gate.put_nowait(at)
        for _ in tasks:
            gate.put_nowait(None)
        await asyncio.wait(tasks, timeout=self.args.timeout)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Finished(Exception):
    pass


async def fuzz(args: argparse.Namespace, http: aiohttp.ClientSession) -> None:
    """--fuzz N: hostile messages (tests/fuzz.py) from --customers senders at once; then a normal message."""
    from tests.fuzz import fuzz_messages

    args.url = args.url.split(",")[0]
    messages = iter(fuzz_messages(args.fuzz, seed=args.seed))
    counts: dict[str, int] = {}
    latencies: list[float] = []

    async def customer(index: int) -> None:
        transport = None
        for n, text in enumerate(messages):
            sender = f"fuzz-{os.getpid()}-{index}-{n // FUZZ_CONVERSATION}"  # a new conversation now and then
            if args.channel == "webchat" and n % FUZZ_CONVERSATION == 0:
                if transport:
                    await transport.close()
                transport = WebChat(args.url, sender, args.timeout)
                await transport.open()
            start = time.monotonic()
            outcome = await (fuzz_webchat(transport, text) if transport else fuzz_rest(http, args, sender, text))
            latencies.append(time.monotonic() - start)
            counts[outcome] = counts.get(outcome, 0) + 1
        if transport:
            await transport.close()

    start = time.monotonic()
    await asyncio.gather(*(customer(i) for i in range(args.customers)))
    wall = time.monotonic() - start
    after = await Rest(http, args.url, f"fuzz-after-{os.getpid()}", args.timeout).say("xin chào")
    ms = sorted(1000 * x for x in latencies)
    print(f"fuzz over {args.channel}: {len(ms)} messages in {wall:.0f}s ({len(ms) / wall:.1f}/s) from "
          f"{args.customers} senders; p50 {percentile(ms, .5):.0f} ms  p99 {percentile(ms, .99):.0f} ms  "
          f"max {max(ms, default=0):.0f} ms")
    print("outcomes  " + "  ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"afterwards 'xin chào' is answered: {bool(after and (after[0].get('text') or '').startswith('Dạ'))}")


async def fuzz_rest(http: aiohttp.ClientSession, args: argparse.Namespace, sender: str, text: str) -> str:
    try:
        async with http.post(f"{args.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                             timeout=aiohttp.ClientTimeout(total=args.timeout)) as resp:
            body = await resp.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        return f"error:{type(exc).__name__}"
    if resp.status >= 500:
        return f"http_{resp.status}"
    if resp.status == 400:
        return "rejected_empty" if not text.strip() else "rejected_400"
    said = " ".join(r.get("text") or "" for r in body) if isinstance(body, list) else ""
    if len(text.strip()) > 2000:
        return "too_long_polite" if "dài quá" in said else "too_long_not_told"
    return "answered" if said or body else "silent"


async def fuzz_webchat(chat: "WebChat", text: str) -> str:
    try:
        replies = await chat.say(text)
    except TransportError as exc:
        reason = str(exc)
        if "too_long" in reason:
            await asyncio.sleep(0.2)
            told = any("dài quá" in (r.get("text") or "") for r in chat.replies)
            return "too_long_polite" if told else "too_long_not_told"
        return "rejected_empty" if "empty" in reason else f"error:{reason[:40]}"
    except Exception as exc:  # noqa: BLE001 - counted
        return f"error:{type(exc).__name__}"
    return "answered" if replies else "silent"


async def sample(processes: list[Process], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for p in processes:
            p.sample()
        await asyncio.sleep(0.5)


def print_processes(processes: list[Process], wall: float) -> None:
    for p in processes:
        cpu = p.cpu() - p.cpu_start
        print(f"process   {p.name:<16} CPU {cpu:6.1f} s ({100 * cpu / wall:5.1f}% of one core)  "
              f"RSS peak {p.rss_peak:6.0f} MB")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def report(args: argparse.Namespace, run: Run, wall: float, processes: list[Process]) -> None:
    s = run.stats
    measured = max(0.001, args.duration - args.warmup)  # messages are sent (and counted) until the deadline
    ms = [1000 * x for x in s.latencies]
    mode = f"open loop {args.rate}/s" if args.rate else f"closed loop, {args.customers} customers"
    print(f"{args.journeys} journeys over {args.channel}, {mode}, {args.duration:.0f}s "
          f"(first {args.warmup:.0f}s not measured); load average before: {args.load_before}")
    print(f"messages  {len(ms)}  throughput {len(ms) / measured:.1f} msg/s  journeys {s.journeys} in {s.visits} visits")
    print(f"latency   p50 {percentile(ms, .5):.0f} ms  p95 {percentile(ms, .95):.0f} ms  "
          f"p99 {percentile(ms, .99):.0f} ms  max {max(ms, default=0):.0f} ms")
    print(f"errors    {sum(s.errors.values())} {json.dumps(s.errors, ensure_ascii=False) if s.errors else ''}")
    print(f"checks    silent turns {s.silent}  cross-talk {s.crosstalk}  stuck journeys {s.stuck}  "
          f"request codes {len(s.codes)} (distinct {len(set(s.codes))})")
    print_processes(processes, wall)
    if args.database_url:
        check_stored(args.database_url, s.codes)


def check_stored(url: str, codes: list[str]) -> None:
    """Exactly once: every request code a customer was given is one row, and no other row came from this run."""
    from sqlalchemy import func, select

    from bot.db.models import ServiceRequest
    from bot.db.session import get_engine, session_scope

    prefix = f"load-{os.getpid()}-%"
    with session_scope(get_engine(url)) as session:
        rows = session.execute(select(ServiceRequest.code, func.count()).where(
            ServiceRequest.conversation_id.like(prefix)).group_by(ServiceRequest.code)).all()
    stored = dict(rows)
    doubled = sum(1 for n in stored.values() if n > 1)
    missing = len(set(codes) - set(stored))
    unannounced = len(set(stored) - set(codes))
    print(f"stored    {len(stored)} requests of this run; given to customers {len(set(codes))}; "
          f"missing {missing}; doubled {doubled}; stored but never announced {unannounced}")


async def main_async(args: argparse.Namespace) -> None:
    ports = [str(aiohttp.client.URL(u).port) for u in args.url.split(",")] + [str(p) for p in args.port]
    processes = find_processes(ports)
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(processes, stop))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        if args.fuzz:
            start = time.monotonic()
            await fuzz(args, http)
            stop.set()
            await sampler
            print_processes(processes, time.monotonic() - start)
            return
        run = Run(args, http)
        start = time.monotonic()
        await (run.open_loop() if args.rate else run.closed_loop())
        wall = time.monotonic() - start
    stop.set()
    await sampler
    report(args, run, wall, processes)


def cold_start(args: argparse.Namespace) -> None:
    """--cold-start: `python -m bot run` (what `make run` runs once set up, trained model present) on free
    ports with a new database, timed until the first answer over REST; then stopped."""
    import signal
    import subprocess
    import tempfile

    import requests

    from tests.system import free_port

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}/db.sqlite", TRACKER_STORE_URL=f"sqlite:///{tmp}/t.db",
                   RASA_PORT=str(free_port()), ACTION_PORT=str(free_port()), WEB_PORT=str(free_port()),
                   SIMULATOR_PORT=str(free_port()), HOST="127.0.0.1", SIMULATORS="true", PUBLIC_URL="")
        url = f"http://127.0.0.1:{env['RASA_PORT']}/webhooks/rest/webhook"
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            while time.monotonic() - start < 600 and proc.poll() is None:
                try:
                    replies = requests.post(url, json={"sender": "cold", "message": "xin chào"}, timeout=30).json()
                    if replies and (replies[0].get("text") or "").startswith("Dạ"):
                        break
                except (requests.RequestException, ValueError):
                    time.sleep(0.2)
            print(f"cold start to first answer: {time.monotonic() - start:.1f} s "
                  f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:5005",
                        help="the Rasa server (several, comma-separated: each visit goes to the next one)")
    parser.add_argument("--channel", choices=["rest", "webchat"], default="rest")
    parser.add_argument("--journeys", choices=["assistant", "rasa-init"], default="assistant")
    parser.add_argument("--customers", type=int, default=20, help="closed loop: concurrent customers")
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: messages per second")
    parser.add_argument("--max-customers", type=int, default=500, help="open loop: most customers at once")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds not measured at the start")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for one turn")
    parser.add_argument("--port", type=int, action="append", default=[],
                        help="another server port whose process to measure (e.g. the action server's)")
    parser.add_argument("--one-conversation", action="store_true",
                        help="each customer keeps one conversation for the whole run (trackers grow)")
    parser.add_argument("--fuzz", type=int, default=0, help="send N hostile messages instead of journeys")
    parser.add_argument("--database-url", help="the project database: check every request is stored once")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cold-start", action="store_true", help="time `python -m bot run` to its first answer")
    args = parser.parse_args()
    if args.cold_start:
        return cold_start(args)
    random.seed(args.seed)
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
