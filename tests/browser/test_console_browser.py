"""The agent console against the whole system (started like `make run`, office hours always open), in headless
Chromium: agents in the console, customers in the web chat widget and in the Zalo simulator.
Screenshots of each screen go to tests/screenshots/console-*.png (git-ignored)."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List

import pytest
import requests
from playwright.sync_api import expect

from bot import PROJECT_ROOT
from bot.db.repository import NewRequest, create_request
from tests.browser.conftest import SCREENSHOTS, Chat
from tests.system import RunningSystem, start_system
from tests.test_system import _answers

pytestmark = pytest.mark.browser
HOSTILE = "<img src=x onerror=alert(1)>"
PASSWORDS = {"lan": "mat-khau-lan", "minh": "mat-khau-minh", "thu": "mat-khau-thu"}
CONSOLE_URLS = ["/console/", "/console/c/1", "/console/callbacks", "/console/requests",
                "/console/requests/YC7K4M9P", "/console/overview"]


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001
        return False


# Redis wakes every console at once; without it the stream polls the database every second
LIVE_BOUND_MS = 1_000 if _redis_up() else 2_500


@pytest.fixture(scope="module")
def console_system(tmp_path_factory) -> Iterator[RunningSystem]:
    system = start_system(tmp_path_factory.mktemp("console"),
                          extra_env={"OFFICE_HOURS": "00:00-24:00", "OFFICE_DAYS": "1-7"})
    try:
        for name, extra in (("lan", []), ("minh", []), ("thu", ["--supervisor"])):
            subprocess.run([sys.executable, "-m", "bot", "agents", "add", name, "--display-name", name.title(),
                            "--password-stdin", *extra], input=PASSWORDS[name] + "\n", text=True,
                           env=system.env, cwd=PROJECT_ROOT, check=True, capture_output=True)
        yield system
    finally:
        system.stop()


class Console:
    """An agent's browser on the console."""

    def __init__(self, page: Any, system: RunningSystem) -> None:
        self.page, self.system = page, system
        self.alerts: List[str] = []
        self.errors: List[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _dialog(self, dialog: Any) -> None:
        if dialog.type == "confirm":
            dialog.accept()
        else:
            self.alerts.append(dialog.message)
            dialog.dismiss()

    def login(self, name: str) -> "Console":
        self.page.goto(self.system.web_url + "/console/login")
        self.page.fill("#login-user", name)
        self.page.fill("#login-password", PASSWORDS[name])
        self.page.click("#login-form button[type=submit]")
        self.page.wait_for_url(re.compile(r"/console/$"))
        self.page.locator("#connection[data-state='online']").wait_for()
        return self

    def item(self, conversation_id: str) -> Any:
        return self.page.locator(f".conv-item[data-conversation-id='{conversation_id}']")

    def tab(self, name: str) -> None:
        self.page.click(f".tab[data-tab='{name}']")

    def open(self, conversation_id: str) -> None:
        self.item(conversation_id).click()
        self.page.locator("#conv-view").wait_for()

    def act(self, action: str, then: str) -> None:
        self.page.click(f"#conv-actions button[data-action='{action}']")
        self.page.locator(f"#conv-actions button[data-action='{then}']").wait_for()

    def send(self, text: str) -> None:
        box = self.page.locator("#composer-text")
        box.fill(text)
        box.press("Enter")
        try:
            expect(box).to_have_value("", timeout=30_000)  # sent (the console's CSP forbids eval-based waits)
        except AssertionError:
            self.shot("send-failed")
            raise AssertionError(f"not sent; console says: {self.page.locator('#conv-error').inner_text()!r} "
                                 f"{self.page.locator('#composer-hint').inner_text()!r}")

    def transcript(self, cls: str) -> Any:
        return self.page.locator(f"#transcript .msg.{cls} .msg-text")

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"))


@pytest.fixture
def new_page(browser) -> Iterator[Any]:
    contexts: List[Any] = []

    def make(width: int = 1366, height: int = 768) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page
    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def agent(new_page, console_system) -> Iterator[Console]:
    console = Console(new_page(), console_system).login("lan")
    yield console
    assert not console.alerts and not console.errors, (console.alerts, console.errors)


@pytest.fixture
def customer(new_page, console_system) -> Iterator[Chat]:
    chat = Chat(new_page(1280, 800), console_system)
    chat.goto()
    chat.open()
    yield chat
    assert not chat.dialogs and not chat.errors, (chat.dialogs, chat.errors)


def escalate(chat: Chat, agent: Console) -> str:
    """The customer asks for a person; the console's queue shows it within a second of the widget's notice."""
    chat.type("cho tôi gặp tư vấn viên")
    chat.page.locator(".ew-log .ew-msg", has_text="vị trí số").last.wait_for(timeout=60_000)
    sid = chat.session_id()
    agent.item(sid).wait_for(timeout=LIVE_BOUND_MS)  # live: no reload
    return sid


def bot_reply(chat: Chat, text: str) -> str:
    """Type and wait for the bot's next message (Chat.wait_turn counts system messages as bot ones)."""
    bots = chat.page.locator(".ew-log .ew-msg.ew-bot:not(.ew-greeting)")
    before = bots.count()
    chat.type(text)
    bots.nth(before).wait_for(timeout=60_000)
    return bots.nth(before).inner_text()


def agent_messages(chat: Chat) -> Any:
    return chat.page.locator(".ew-log .ew-msg.ew-agent")


def test_escalation_claim_reply_silence_and_hand_back_on_web_chat(agent, customer, console_system):
    customer.type("tôi muốn di dời công tơ điện")
    tracker = customer.wait_turn()
    pending = tracker["slots"]["requested_slot"]
    started = time.monotonic()
    sid = escalate(customer, agent)
    item = agent.item(sid)
    assert "Hàng chờ" in agent.page.locator(".tab.active").inner_text() and item.locator(".wait").count() == 1
    assert agent.page.title().startswith("(")  # the waiting count in the title
    agent.shot("queue")

    agent.open(sid)
    context = agent.page.locator("#side-context")
    context.get_by_text("Di dời công tơ", exact=False).first.wait_for()
    assert "Đang hỏi" in context.inner_text()
    assert "tôi muốn di dời công tơ điện" in agent.transcript("msg-user").all_inner_texts()
    agent.act("claim", "transfer")
    greeting = agent_messages(customer).last
    greeting.wait_for()
    assert "Lan" in greeting.locator(".ew-who").inner_text()

    agent.send("Anh cho em xin mã khách hàng để em kiểm tra ạ")
    reply = agent_messages(customer).filter(has_text="mã khách hàng để em kiểm tra")
    reply.wait_for()
    assert "Nhân viên CSKH · Lan" in reply.locator(".ew-who").inner_text()

    bots_before = customer.page.locator(".ew-log .ew-msg.ew-bot").count()
    customer.type("em chờ được, cảm ơn")
    agent.transcript("msg-user").filter(has_text="em chờ được, cảm ơn").wait_for(timeout=5_000)
    time.sleep(2.0)  # room for a (wrong) bot answer
    assert customer.page.locator(".ew-log .ew-msg.ew-bot").count() == bots_before
    agent.shot("conversation")

    agent.act("hand_back", "take_over")
    customer.page.locator(".ew-log .ew-msg", has_text="trợ lý tự động").last.wait_for()
    bot_reply(customer, _answers()[pending])  # the bot answers again
    deadline = time.monotonic() + 15
    while not (tracker := console_system.tracker(sid))["slots"].get(pending):  # saved at the end of the turn
        assert time.monotonic() < deadline, tracker["slots"]
        time.sleep(0.3)
    assert tracker["active_loop"]["name"] == "service_form"  # the form resumed where it was
    assert time.monotonic() - started < 300


def test_a_zalo_conversation_is_answered_from_the_console(agent, console_system):
    base = f"{console_system.simulator_url}/zalo"
    user_id = str(int(time.time() * 1000))[-12:]
    conversation_id = f"zalo:{user_id}"

    def messages() -> List[Dict[str, Any]]:
        return requests.get(f"{base}/api/messages", params={"user_id": user_id, "after": 0}, timeout=10).json()["messages"]

    def say(text: str) -> None:
        assert requests.post(f"{base}/api/say", json={"user_id": user_id, "text": text}, timeout=30).json()["webhook_status"] == 200

    say("cho tôi gặp tư vấn viên")
    agent.item(conversation_id).wait_for(timeout=60_000)
    agent.open(conversation_id)
    agent.page.locator("#conv-sub .ch-zalo").wait_for()
    agent.act("claim", "transfer")
    agent.send("Em là Lan, em hỗ trợ anh qua Zalo ạ")
    deadline = time.monotonic() + 30
    while not any("hỗ trợ anh qua Zalo" in (m.get("text") or "") for m in messages()):
        assert time.monotonic() < deadline, messages()
        time.sleep(0.3)
    agent.act("resolve", "take_over")


def test_private_note_canned_reply_resolve_and_rating(agent, customer, console_system):
    sid = escalate(customer, agent)
    agent.open(sid)
    agent.act("claim", "transfer")
    agent_messages(customer).last.wait_for()

    agent.page.click(".mode[data-mode='note']")
    agent.send("Khách hỏi lại lần hai, cần gọi lại nếu chưa xong")
    agent.transcript("msg-note").filter(has_text="cần gọi lại nếu chưa xong").wait_for()
    agent.page.locator("#side-notes").get_by_text("cần gọi lại nếu chưa xong").wait_for()

    agent.page.click(".mode[data-mode='reply']")
    box = agent.page.locator("#composer-text")
    box.fill("")
    box.type("/cha")
    agent.page.locator("#canned-list li.selected").wait_for()
    box.press("Enter")
    canned = box.input_value()
    assert canned.startswith("Dạ, em chào anh/chị. Em là tư vấn viên")
    agent.shot("canned")
    box.press("Enter")
    agent_messages(customer).filter(has_text="Em là tư vấn viên chăm sóc khách hàng, em có thể hỗ trợ gì").wait_for()

    agent.act("resolve", "take_over")
    stars = customer.quick_replies()
    stars.first.wait_for()
    assert stars.count() == 5
    customer.click_reply("^⭐⭐⭐⭐$")
    customer.page.locator(".ew-log .ew-msg", has_text="Cảm ơn anh/chị đã đánh giá").wait_for()
    agent.page.locator("#side-csat .csat[data-score='4']").wait_for(timeout=10_000)
    assert "4/5" in agent.page.locator("#side-csat").inner_text()
    assert "cần gọi lại" not in customer.log.inner_text()  # the note never reached the customer


@contextmanager
def system_db(system: RunningSystem, monkeypatch: Any) -> Iterator[Any]:
    """A session on the running system's database (requests made here show in its console)."""
    monkeypatch.setenv("DATABASE_URL", system.env["DATABASE_URL"])
    from bot.db import session as db_session
    from bot.settings import get_settings

    get_settings.cache_clear()
    db_session.get_engine.cache_clear()
    try:
        with db_session.session_scope() as s:
            yield s
    finally:
        get_settings.cache_clear()
        db_session.get_engine.cache_clear()


def test_request_status_change_reaches_the_web_chat_customer_and_the_lookup(agent, customer, console_system,
                                                                             monkeypatch):
    customer.type("xin chào")
    customer.wait_turn()
    sid = customer.session_id()
    # as if the customer had confirmed a request in this conversation (the form is tested elsewhere)
    with system_db(console_system, monkeypatch) as s:
        req, _ = create_request(s, NewRequest(service="meter_relocation", idempotency_key=f"console-{sid}",
                                              fields={"full_name": "Phan Thanh Dung", "phone": "0359609853",
                                                      "new_location": "Cạnh cổng chính"},
                                              channel="webchat", conversation_id=sid,
                                              customer_code="PD01001494350", phone="0359609853"))
        code = req.code

    agent.page.click(".nav-link[data-nav='requests']")
    agent.page.fill("#request-filters input[name=q]", code)
    row = agent.page.locator(f"#requests-body tr[data-code='{code}']")
    row.wait_for()
    assert agent.page.locator("#requests-body tr").count() == 1
    row.locator("a").click()
    agent.page.wait_for_url(re.compile(f"/console/requests/{code}$"))
    form = agent.page.locator("#status-form")
    try:
        form.wait_for()
    except Exception:
        agent.shot("request-failed")
        raise
    assert "Cạnh cổng chính" in agent.page.locator("#request-detail").inner_text()
    form.locator("select").select_option("surveying")
    form.locator("textarea").fill("Nhân viên sẽ đến khảo sát sáng thứ Hai")
    form.locator("button").click()
    agent.page.locator("#request-detail .history .delivery.sent").wait_for()
    assert agent.page.locator("#request-status").inner_text() == "Đang khảo sát"
    agent.shot("requests")

    notice = customer.page.locator(".ew-log .ew-msg.ew-system", has_text=code)
    notice.wait_for()
    assert "Đang khảo sát" in notice.inner_text() and "khảo sát sáng thứ Hai" in notice.inner_text()
    answer = bot_reply(customer, f"kiểm tra tiến độ yêu cầu {code}")
    assert "Trạng thái: Đang khảo sát" in answer and "Ghi chú: Nhân viên sẽ đến khảo sát sáng thứ Hai" in answer


def test_the_request_list_shows_the_total_and_loads_the_next_page(agent, console_system, monkeypatch):
    from bot.web.desk import PAGE

    with system_db(console_system, monkeypatch) as s:  # one page and one more of a service no other test uses
        for i in range(PAGE + 1):
            create_request(s, NewRequest(service="contract_renewal", idempotency_key=f"paging-{i}",
                                         fields={"full_name": "Lê Thị Hoa", "phone": "0912345678"},
                                         channel="zalo", customer_code="PD01001494350", phone="0912345678"))
    agent.page.click(".nav-link[data-nav='requests']")
    agent.page.select_option("#request-filters select[name=service]", "contract_renewal")
    count = agent.page.locator("#requests-count")
    expect(count).to_have_text(f"{PAGE} / {PAGE + 1} yêu cầu")
    assert agent.page.locator("#requests-body tr").count() == PAGE
    agent.page.click("#requests-more")
    expect(count).to_have_text(f"{PAGE + 1} yêu cầu")
    assert agent.page.locator("#requests-body tr").count() == PAGE + 1
    assert agent.page.locator("#requests-more").is_hidden()


def test_a_request_shows_the_photo_and_location_the_customer_sent(agent, console_system, monkeypatch):
    with system_db(console_system, monkeypatch) as s:
        req, _ = create_request(s, NewRequest(service="outage_report", idempotency_key="browser-evidence",
                                              fields={"phone": "0912345678", "evidence": [
                                                  {"type": "image", "url": "https://scontent.xx.fbcdn.net/cot.jpg"},
                                                  {"type": "location", "latitude": 10.7769, "longitude": 106.7009}]},
                                              channel="messenger", phone="0912345678"))
        code = req.code
    agent.page.goto(f"{console_system.web_url}/console/requests/{code}")
    links = agent.page.locator("#request-detail ul.evidence a")
    expect(links).to_have_count(2)
    assert links.nth(0).inner_text() == "Ảnh 1"
    assert links.nth(0).get_attribute("href") == "https://scontent.xx.fbcdn.net/cot.jpg"
    assert links.nth(1).get_attribute("href") == "https://maps.google.com/?q=10.7769,106.7009"
    assert "evidence" not in agent.page.locator("#request-detail").inner_text()


def test_hostile_text_shows_as_text_in_both_uis(agent, customer, console_system):
    sid = escalate(customer, agent)
    customer.type(HOSTILE)
    agent.open(sid)
    agent.transcript("msg-user").filter(has_text=HOSTILE).wait_for(timeout=10_000)
    agent.act("claim", "transfer")
    agent.send(HOSTILE + " (tư vấn viên)")
    shown = agent_messages(customer).filter(has_text="(tư vấn viên)")
    shown.wait_for()
    assert customer.texts(shown)[0] == HOSTILE + " (tư vấn viên)"
    agent.transcript("msg-agent").filter(has_text="(tư vấn viên)").wait_for()
    assert agent.page.locator("#transcript img, #conv-list img").count() == 0
    assert customer.page.locator(".ew-log img[src='x']").count() == 0
    time.sleep(0.5)
    assert not agent.alerts and not customer.dialogs
    agent.act("resolve", "take_over")


def test_login_required_everywhere_and_roles_checked_on_the_server(new_page, console_system):
    log = console_system.log()
    assert f"Agent console:  {console_system.web_url}/console/" in log
    assert "DEMO ONLY" not in log  # not the default local database: no demo login
    page = new_page()
    for url in CONSOLE_URLS:
        page.goto(console_system.web_url + url)
        assert re.search(r"/console/login\?next=", page.url), url
        page.locator("#login-form").wait_for()
    page.fill("#login-user", "lan")
    page.fill("#login-password", "sai-mat-khau")
    page.click("#login-form button[type=submit]")
    page.locator("#login-error").wait_for()
    assert "Sai tên đăng nhập" in page.locator("#login-error").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-login.png"))

    lan = Console(new_page(), console_system).login("lan")
    assert lan.page.locator(".nav-link[data-nav='overview']").is_hidden()
    response = lan.page.goto(console_system.web_url + "/console/overview")
    assert response.status == 403 and "chỉ dành cho giám sát viên" in lan.page.content()
    lan.page.goto(console_system.web_url + "/console/callbacks")
    lan.page.locator("#screen-callbacks").wait_for()
    lan.shot("callbacks")
    lan.page.click("#logout")
    lan.page.wait_for_url(re.compile(r"/console/login"))
    lan.page.goto(console_system.web_url + "/console/requests")
    assert "/console/login" in lan.page.url

    thu = Console(new_page(), console_system).login("thu")
    thu.page.click(".nav-link[data-nav='overview']")
    thu.page.locator("#chart-service svg.chart").wait_for()
    thu.page.locator("#overview-cards .card").first.wait_for()
    assert thu.page.locator("#chart-status svg rect.bar").count() == 6
    thu.shot("overview")
    assert not thu.errors and not lan.errors
