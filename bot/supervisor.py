"""Runs the whole system as child processes with prefixed logs.

Policy: a child that exits unexpectedly is reported and restarted with back-off; if one crashes
more than MAX_RESTARTS times within RESTART_WINDOW seconds, everything is stopped and the supervisor
exits non-zero (a crash loop needs a human, not more restarts). Ctrl-C / SIGTERM stops all children.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from bot import PROJECT_ROOT
from bot.channels import ChannelPlan, plan_channels, write_credentials
from bot.settings import Settings, get_settings

MAX_RESTARTS = 5
RESTART_WINDOW = 120.0
STOP_GRACE = 10.0
COLOURS = {"rasa": "\033[36m", "actions": "\033[35m", "web": "\033[32m", "sim": "\033[33m"}
RESET = "\033[0m"


@dataclass
class Child:
    name: str
    argv: list[str]
    process: Optional[asyncio.subprocess.Process] = None
    crashes: list[float] = field(default_factory=list)


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def children(settings: Settings, plan: ChannelPlan, credentials: Path) -> list[Child]:
    model_dir = PROJECT_ROOT / "models"
    result = [
        Child("actions", [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                          "--port", str(settings.action_port)]),
        Child("rasa", [_bin("rasa"), "run", "--enable-api", "--auth-token", settings.rasa_token,
                       "-i", settings.host, "--port", str(settings.rasa_port), "--cors", "*",
                       "--credentials", str(credentials), "--endpoints", "endpoints.yml",
                       "--model", str(model_dir)]),
    ]
    if (PROJECT_ROOT / "bot" / "web" / "__main__.py").exists():
        result.append(Child("web", [sys.executable, "-m", "bot.web"]))
    if plan.simulated:
        result.append(Child("sim", [sys.executable, "-m", "bot.simulators", *plan.simulated]))
    return result


def child_env(settings: Settings, plan: ChannelPlan) -> dict[str, str]:
    env = dict(os.environ)
    env.update(plan.env)
    env["ACTION_ENDPOINT_URL"] = settings.action_url
    env["TRACKER_STORE_URL"] = settings.tracker_store_url
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _say(name: str, line: str) -> None:
    colour = COLOURS.get(name, "") if sys.stdout.isatty() else ""
    print(f"{colour}[{name:>7}]{RESET if colour else ''} {line}", flush=True)


MAX_LOG_LINE = 4000  # characters of one child log line shown; the rest is counted, not printed


def _say_line(name: str, raw: bytes, dropped: int = 0) -> None:
    line = raw.decode("utf-8", "replace").rstrip()
    hidden = max(0, len(line) - MAX_LOG_LINE) + dropped
    _say(name, f"{line[:MAX_LOG_LINE]}… ({hidden} more characters not shown)" if hidden else line)


async def _pump(child: Child) -> None:
    """Relay a child's output line by line. Read in chunks, not with readline(): a line over asyncio's 64 KiB
    limit (a traceback quoting a huge payload) would end the reading, the pipe would fill, and the child
    would hang in its next log call."""
    assert child.process and child.process.stdout
    pending, dropped = b"", 0  # the unfinished line, and how much of it was already cut off
    while chunk := await child.process.stdout.read(65536):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for i, raw in enumerate(lines):
            _say_line(child.name, raw, dropped if i == 0 else 0)
        if lines:
            dropped = 0
        if len(pending) > 2 * MAX_LOG_LINE:
            dropped += len(pending) - 2 * MAX_LOG_LINE
            pending = pending[:2 * MAX_LOG_LINE]
    if pending:
        _say_line(child.name, pending, dropped)


class Supervisor:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.plan = plan_channels(settings)
        credentials = write_credentials(self.plan, PROJECT_ROOT / "var" / "run", str(settings.rasa_port))
        self.children = children(settings, self.plan, credentials)
        self.stopping = asyncio.Event()
        self.failed: Optional[str] = None
        self.demo_password: Optional[str] = None

    async def _start(self, child: Child) -> None:
        child.process = await asyncio.create_subprocess_exec(
            *child.argv, cwd=PROJECT_ROOT, env=child_env(self.settings, self.plan),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)

    async def _watch(self, child: Child) -> None:
        while not self.stopping.is_set():
            await self._start(child)
            await _pump(child)
            code = await child.process.wait()
            if self.stopping.is_set():
                return
            now = time.monotonic()
            child.crashes = [t for t in child.crashes if now - t < RESTART_WINDOW] + [now]
            _say("super", f"{child.name} exited with code {code}")
            if not self.settings.restart_children or len(child.crashes) > MAX_RESTARTS:
                self.failed = child.name
                self.stopping.set()
                return
            delay = 2 ** (len(child.crashes) - 1)
            _say("super", f"restarting {child.name} in {delay}s")
            await asyncio.sleep(delay)

    async def _announce(self) -> None:
        s = self.settings
        await _wait_http(f"{s.rasa_url}/", self.stopping, timeout=300)
        if self.stopping.is_set():
            return
        lines = [f"Rasa HTTP API:  {s.rasa_url}  (token from RASA_TOKEN)",
                 f"Action server:  http://{s.host}:{s.action_port}/health"]
        if any(c.name == "web" for c in self.children):
            lines.insert(0, f"Demo page:      {s.web_url}/")
            lines.insert(1, f"Agent console:  {s.web_url}/console/")
            if self.demo_password:
                lines.insert(2, f"  DEMO ONLY login: demo / {self.demo_password}  (DEMO_AGENT=false to disable; "
                                "real accounts: python -m bot agents add NAME)")
        lines += self.plan.lines
        _say("super", "ready — open:")
        for line in lines:
            _say("super", "  " + line)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        watchers = [asyncio.create_task(self._watch(c)) for c in self.children]
        announce = asyncio.create_task(self._announce())
        await self.stopping.wait()
        announce.cancel()
        _say("super", "stopping…")
        await asyncio.gather(*(self._stop(c) for c in self.children))
        await asyncio.gather(*watchers, return_exceptions=True)
        if self.failed:
            _say("super", f"{self.failed} kept crashing; stopped everything")
            return 1
        return 0

    async def _stop(self, child: Child) -> None:
        proc = child.process
        if proc is None or proc.returncode is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except asyncio.TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def _wait_http(url: str, stop: asyncio.Event, timeout: float) -> bool:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline and not stop.is_set():
            try:
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status < 500:
                        return True
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(1)
    return False


def prepare_database() -> None:
    from bot.db.migrate import upgrade
    from bot.db.session import make_url_dir, session_scope
    from bot.seed import is_empty, seed

    upgrade()
    make_url_dir(get_settings().tracker_store_url)
    with session_scope() as session:
        if is_empty(session):
            counts = seed(session)
            _say("super", f"demo data loaded: {counts}")


def run(setup: bool = True) -> int:
    settings = get_settings()
    if not any((PROJECT_ROOT / "models").glob("*.tar.gz")):
        print("Chưa có mô hình đã huấn luyện trong models/: chạy `make train` (hoặc `make run`).", file=sys.stderr)
        return 2
    demo_password = None
    if setup:
        prepare_database()
        from bot.web.demo_agent import ensure_demo_agent

        demo_password = ensure_demo_agent(settings)
    return asyncio.run(_run(settings, demo_password))


async def _run(settings: Settings, demo_password: Optional[str]) -> int:
    supervisor = Supervisor(settings)
    supervisor.demo_password = demo_password
    return await supervisor.run()
