"""Browser tests of the web chat: the real system (Rasa server + action server + web app) in headless Chromium.

The module fixture `webchat_system` starts, on free ports and with throw-away databases:
  * the action server  (python -m rasa_sdk --actions actions), via tests/system.py,
  * the Rasa server    (rasa run --enable-api --auth-token T --cors * --credentials credentials.yml
                        --endpoints endpoints.yml -m models/assistant.tar.gz), restartable on the same port,
  * the web app        (python -m bot.web: demo page + widget assets),
waits for each to answer, and kills them at the end. The database is migrated and loaded with the demo seed
(tests/system.py `seeded_database`), the tracker store is a temporary SQLite file (TRACKER_STORE_URL).

Browser: Debian's /usr/bin/chromium driven by Playwright (never a downloaded browser). Screenshots go to
tests/screenshots/. WEBCHAT_TEST_MODEL / WEBCHAT_TEST_ENDPOINTS override the model file and endpoints.yml.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests

from bot import PROJECT_ROOT
from tests.system import free_port, seeded_database, start_action_server

MODEL = Path(os.environ.get("WEBCHAT_TEST_MODEL", PROJECT_ROOT / "models" / "assistant.tar.gz"))
SCREENSHOTS = PROJECT_ROOT / "tests" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ENDPOINTS = os.environ.get("WEBCHAT_TEST_ENDPOINTS", "endpoints.yml")
TOKEN = "webchat-test-token"
RASA_START_TIMEOUT = 300


def _wait_http(url: str, timeout: float, proc: Optional[subprocess.Popen] = None, what: str = "",
               log: Optional[Path] = None, params: Optional[dict] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            if requests.get(url, params=params, timeout=3).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    pytest.fail(f"{what or url} did not become ready (exit code {proc.poll() if proc else None}):\n{tail}")


def _stop(proc: Optional[subprocess.Popen], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Stop a process we started (its own process group) by id."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class WebChatSystem:
    tmp: Path
    env: Dict[str, str]
    rasa_port: int
    web_port: int
    action: Optional[subprocess.Popen] = None
    rasa: Optional[subprocess.Popen] = None
    web: Optional[subprocess.Popen] = None
    rasa_starts: int = 0
    logs: List[Path] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _log(self, name: str) -> Path:
        path = self.tmp / f"{name}.log"
        self.logs.append(path)
        return path

    def start_rasa(self) -> None:
        self.rasa_starts += 1
        log = self._log(f"rasa-{self.rasa_starts}")
        cmd = [str(Path(sys.executable).with_name("rasa")), "run", "--enable-api", "--auth-token", TOKEN,
               "-i", "127.0.0.1", "--port", str(self.rasa_port), "--cors", "*",
               "--credentials", "credentials.yml", "--endpoints", ENDPOINTS, "-m", str(MODEL)]
        with open(log, "wb") as out:
            self.rasa = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        _wait_http(f"{self.rasa_url}/status", RASA_START_TIMEOUT, self.rasa, "Rasa server", log,
                   params={"token": TOKEN})

    def stop_rasa(self) -> None:
        _stop(self.rasa, signal.SIGINT, timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the port must be free before a restart on it
            try:
                requests.get(self.rasa_url, timeout=1)
            except requests.RequestException:
                return
            time.sleep(0.3)

    def start_web(self) -> None:
        log = self._log("web")
        with open(log, "wb") as out:
            self.web = subprocess.Popen([sys.executable, "-m", "bot.web"], cwd=PROJECT_ROOT, env=self.env,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_http(f"{self.web_url}/healthz", 60, self.web, "web app", log)

    def stop_all(self) -> None:
        for proc in (self.web, self.rasa, self.action):
            _stop(proc)

    # -- Rasa HTTP API --------------------------------------------------------------------------

    def tracker(self, session_id: str) -> Dict[str, Any]:
        r = requests.get(f"{self.rasa_url}/conversations/{session_id}/tracker",
                         params={"token": TOKEN, "include_events": "ALL"}, timeout=30)
        r.raise_for_status()
        return r.json()

    def user_texts(self, session_id: str) -> List[str]:
        return [e.get("text") for e in self.tracker(session_id)["events"]
                if e["event"] == "user" and not (e.get("text") or "").startswith("EXTERNAL: ")]

    def trigger_intent(self, session_id: str, intent: str, output_channel: str = "webchat") -> Dict[str, Any]:
        r = requests.post(f"{self.rasa_url}/conversations/{session_id}/trigger_intent",
                          params={"token": TOKEN, "output_channel": output_channel},
                          json={"name": intent, "entities": {}}, timeout=60)
        r.raise_for_status()
        return r.json()

    def push(self, session_id: str, text: str, sender: str = "agent", sender_name: str = None,
             token: str = TOKEN) -> requests.Response:
        """An agent/system message the way bot/web/push.py sends it: Rasa's API, on the latest channel."""
        from bot.web.push import bot_event

        return requests.post(f"{self.rasa_url}/conversations/{session_id}/tracker/events",
                             params={"token": token, "output_channel": "latest", "execute_side_effects": "true"},
                             json=bot_event(text, sender=sender, sender_name=sender_name), timeout=30)


@pytest.fixture(scope="module")
def webchat_system(tmp_path_factory) -> Iterator[WebChatSystem]:
    if not MODEL.is_file():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first (make test does)")
    if not (PROJECT_ROOT / "web" / "vendor" / "socket.io.min.js").is_file():
        pytest.fail("web/vendor/socket.io.min.js missing: run `make setup`")
    tmp = tmp_path_factory.mktemp("webchat")
    db_url = seeded_database(tmp)
    env = dict(os.environ, DATABASE_URL=db_url, TRACKER_STORE_URL=f"sqlite:///{tmp / 'tracker.db'}",
               RASA_TOKEN=TOKEN, HOST="127.0.0.1", PYTHONUNBUFFERED="1", RASA_TELEMETRY_ENABLED="false",
               PYTHONPATH=str(PROJECT_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("WEBCHAT_SERVER_URL", None)
    rasa_port, web_port = free_port(), free_port()
    env.update(RASA_PORT=str(rasa_port), WEB_PORT=str(web_port))
    system = WebChatSystem(tmp=tmp, env=env, rasa_port=rasa_port, web_port=web_port)
    try:
        system.action, action_url = start_action_server(env)
        env["ACTION_ENDPOINT_URL"] = action_url
        env["ACTION_PORT"] = action_url.rsplit(":", 1)[1].split("/")[0]
        system.start_web()
        system.start_rasa()
        yield system
    finally:
        system.stop_all()


# ---------------------------------------------------------------------------------------------------
# browser
# ---------------------------------------------------------------------------------------------------


# Module scope: Playwright's sync API keeps an event loop running in this thread, so it must be stopped
# before any asyncio test of another module runs; the system is stopped with it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: `make browser-deps` installs Debian's chromium")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Chat:
    """A page with the demo site and helpers to drive the widget."""

    def __init__(self, page: Any, system: WebChatSystem) -> None:
        self.page = page
        self.system = system
        self.dialogs: List[str] = []
        self.errors: List[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    # locators (Playwright CSS pierces the widget's open shadow root)
    @property
    def log(self) -> Any:
        return self.page.locator(".ew-log")

    @property
    def banner(self) -> Any:
        return self.page.locator(".ew-banner")

    def bot_messages(self) -> Any:
        return self.page.locator(".ew-log .ew-msg.ew-bot:not(.ew-greeting), .ew-log .ew-msg.ew-agent")

    def user_messages(self) -> Any:
        return self.page.locator(".ew-log .ew-msg.ew-user")

    def quick_replies(self) -> Any:
        return self.page.locator(".ew-quick .ew-reply")

    def goto(self) -> None:
        self.page.goto(self.system.web_url + "/")
        self.page.locator(".ew-launcher").wait_for()

    def open(self) -> None:
        if self.page.locator(".ew-panel").is_hidden():
            self.page.locator(".ew-launcher").click()
        self.page.locator(".ew-panel").wait_for()
        self.wait_online()

    def wait_online(self, timeout: float = 30_000) -> None:
        self.page.locator(".ew-root[data-connection='online']").wait_for(state="attached", timeout=timeout)

    def session_id(self) -> str:
        sid = self.page.evaluate("window.DienLucWebChat.sessionId()")
        assert sid, "widget has no session id"
        return sid

    def type(self, text: str) -> None:
        box = self.page.locator(".ew-input")
        box.fill(text)
        box.press("Enter")

    def click_reply(self, title_pattern: str) -> str:
        button = self.quick_replies().filter(has_text=re.compile(title_pattern, re.I)).first
        button.wait_for(timeout=15_000)
        title = button.inner_text()
        button.click()
        return title

    def wait_turn(self, timeout: float = 60) -> Dict[str, Any]:
        """Wait until Rasa has finished the turn and the widget shows every bot message of the tracker."""
        deadline = time.monotonic() + timeout
        sid = self.session_id()
        tracker: Dict[str, Any] = {}
        while time.monotonic() < deadline:
            pending = self.page.locator(".ew-log .ew-pending").count()
            tracker = self.system.tracker(sid)
            events = tracker.get("events", [])
            bots = sum(1 for e in events if e["event"] == "bot")
            users = sum(1 for e in events if e["event"] == "user"
                        and not (e.get("text") or "").startswith("EXTERNAL: "))
            if (not pending and users >= self.user_messages().count()
                    and tracker.get("latest_action_name") == "action_listen"
                    and events and events[-1]["event"] == "action"
                    and self.bot_messages().count() >= bots):
                self.page.locator(".ew-typing").wait_for(state="hidden", timeout=15_000)
                return tracker
            time.sleep(0.3)
        raise AssertionError(f"turn did not finish; latest action {tracker.get('latest_action_name')}")

    def texts(self, locator: Any) -> List[str]:
        """The message texts (without the screen-reader prefix, times and states)."""
        return [t.strip() for t in locator.locator(".ew-text").all_inner_texts()]

    def last_bot_text(self) -> str:
        return self.bot_messages().last.inner_text()

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def chat(browser, webchat_system, request) -> Iterator[Chat]:
    """A fresh browser context (empty localStorage) on the demo page, desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    c = Chat(page, webchat_system)
    yield c
    try:
        c.screenshot(request.node.name)  # the final state of every test
    finally:
        context.close()
    assert not c.errors, f"JavaScript errors on the page: {c.errors}"
