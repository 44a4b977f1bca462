"""Start the whole system the way `make run` does (python -m bot run), on free ports, for tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Optional
from pathlib import Path

import pytest
import requests

from bot import PROJECT_ROOT

MODEL = PROJECT_ROOT / "models" / "assistant.tar.gz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningSystem:
    process: subprocess.Popen
    env: dict[str, str]
    output: list[str] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.env['RASA_PORT']}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.env['WEB_PORT']}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.env['SIMULATOR_PORT']}"

    @property
    def token(self) -> str:
        return self.env["RASA_TOKEN"]

    def log(self) -> str:
        return "\n".join(self.output[-200:])

    def say(self, sender: str, text: str) -> list[dict]:
        """One customer message through the REST channel; returns the bot's replies."""
        resp = requests.post(f"{self.rasa_url}/webhooks/rest/webhook",
                             json={"sender": sender, "message": text}, timeout=60)
        resp.raise_for_status()
        return resp.json()

    def tracker(self, sender: str) -> dict:
        resp = requests.get(f"{self.rasa_url}/conversations/{sender}/tracker",
                            params={"token": self.token}, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def child_pid(self, name: str) -> int:
        """The process id of the supervisor's child `rasa` or `actions` (found by its command line)."""
        marker, port = {"rasa": (b"run", self.env["RASA_PORT"]), "actions": (b"rasa_sdk", self.env["ACTION_PORT"])}[name]
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes().split(b"\0")
            except OSError:
                continue
            is_rasa = any(a.endswith(b"rasa") for a in argv[:2])
            if marker in argv and port.encode() in argv and (name != "rasa" or is_rasa):
                return int(cmdline.parent.name)
        pytest.fail(f"no {name} process on port {port}")

    def kill_child(self, name: str) -> None:
        """SIGKILL a child, as a crash would (the supervisor restarts it)."""
        os.kill(self.child_pid(name), signal.SIGKILL)

    def wait_up(self, url: str, timeout: float = 300) -> None:
        """Until `url` answers 2xx (a restarted child is back)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        pytest.fail(f"{url} did not come back:\n{self.log()[-3000:]}")

    @property
    def action_health_url(self) -> str:
        return f"http://127.0.0.1:{self.env['ACTION_PORT']}/health"

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.output):
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.5)
        return False

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def start_system(tmp_path: Path, timeout: float = 400, extra_env: Optional[dict] = None) -> RunningSystem:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first (make test does)")
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'system.db'}",
               TRACKER_STORE_URL=f"sqlite:///{tmp_path / 'tracker.db'}", RASA_TOKEN="test-token",
               HOST="127.0.0.1", RASA_PORT=str(free_port()), ACTION_PORT=str(free_port()),
               WEB_PORT=str(free_port()), SIMULATOR_PORT=str(free_port()), PUBLIC_URL="", SIMULATORS="true",
               PYTHONUNBUFFERED="1")
    for name in [k for k in env if k.startswith(("ZALO_", "MESSENGER_"))]:
        env.pop(name)  # the platforms come from the simulators
    env.update(extra_env or {})
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    system = RunningSystem(proc, env)

    def pump():
        for line in proc.stdout:
            system.output.append(line.rstrip())

    threading.Thread(target=pump, daemon=True).start()
    if not system.wait_for("ready — open:", timeout):
        system.stop()
        pytest.fail(f"system did not start:\n{system.log()}")
    # the announcement is printed once Rasa answers; give the action server the same chance
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{env['ACTION_PORT']}/health", timeout=2).ok:
                break
        except requests.RequestException:
            time.sleep(0.5)
    return system


def seeded_database(tmp_path: Path) -> str:
    """A migrated database with the deterministic demo seed, as `make run` has it."""
    url = f"sqlite:///{tmp_path / 'seeded.db'}"
    result = subprocess.run([sys.executable, "-c", "from bot.supervisor import prepare_database; prepare_database()"],
                            cwd=PROJECT_ROOT, env=dict(os.environ, DATABASE_URL=url,
                                                       TRACKER_STORE_URL=f"sqlite:///{tmp_path / 't.db'}"),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return url


def start_action_server(env: dict[str, str], timeout: float = 120) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                return proc, f"http://127.0.0.1:{port}/webhook"
        except requests.RequestException:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("action server did not start")
