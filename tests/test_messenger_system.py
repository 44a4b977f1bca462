"""Messenger end to end: `python -m bot run` with the Meta simulator, real Rasa, action server and database.

A person on the simulator types or taps; the simulator posts signed webhooks to Rasa's Messenger channel,
which answers through the simulator's Graph API. One system for the whole module (it costs a minute).
"""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from bot.catalogue import load_catalogue
from bot.db.models import ServiceRequest
from bot.db.session import get_engine, session_scope
from tests.system import RunningSystem, start_system
from tests.test_system import _answers

STATE: dict = {}  # the typed request's user and its confirmation webhook, redelivered by the last test


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> RunningSystem:
    running = start_system(tmp_path_factory.mktemp("messenger_system"))
    yield running
    running.stop()


class User:
    """One Messenger user on the simulator."""

    def __init__(self, system: RunningSystem, psid: str) -> None:
        self.system, self.psid = system, psid
        self.sim = f"{system.simulator_url}/messenger"
        self.turns = 0
        self.seen = 0

    @property
    def conversation(self) -> str:
        return f"messenger:{self.psid}"

    def _post(self, path: str, **body) -> dict:
        resp = requests.post(f"{self.sim}/{path}", json={"user_id": self.psid, **body}, timeout=30)
        assert resp.ok, f"{resp.status_code} {resp.text[:300]}\n{self.system.log()[-4000:]}"
        result = resp.json()
        assert result.get("webhook_status", 200) == 200, result
        return result

    def _turn(self, path: str, **body) -> tuple[dict, list[dict]]:
        """Send one thing and wait for the turn to end (the typing indicator goes off)."""
        sent = self._post(path, **body)
        self.turns += 1
        deadline = time.monotonic() + 90
        while self.typing_offs() < self.turns:
            assert time.monotonic() < deadline, f"no answer to {body}: {self.system.log()[-3000:]}"
            time.sleep(0.2)
        return sent, self.new_messages()

    def say(self, text: str) -> tuple[dict, list[dict]]:
        return self._turn("api/say", text=text)

    def tap(self, button: dict) -> tuple[dict, list[dict]]:
        return self._turn("api/tap", payload=button["payload"], title=button["title"])

    def typing_offs(self) -> int:
        reqs = requests.get(f"{self.sim}/control/requests", params={"path": "/me/messages"}, timeout=10).json()
        return sum(1 for r in reqs["requests"] if (r.get("body") or {}).get("sender_action") == "typing_off"
                   and r["body"]["recipient"]["id"] == self.psid)

    def messages(self) -> list[dict]:
        return requests.get(f"{self.sim}/api/messages", params={"user_id": self.psid}, timeout=10).json()["messages"]

    def new_messages(self) -> list[dict]:
        found = [m for m in self.messages() if m["n"] > self.seen]
        self.seen = max([self.seen] + [m["n"] for m in found])
        return found

    def requested_slot(self) -> str | None:
        tracker = self.system.tracker(self.conversation)
        if not (tracker.get("active_loop") or {}).get("name"):
            return None
        return tracker["slots"].get("requested_slot")


def _requests_of(system: RunningSystem, conversation: str) -> list[tuple[str, str, str]]:
    with session_scope(get_engine(system.env["DATABASE_URL"])) as s:
        rows = s.scalars(select(ServiceRequest).where(ServiceRequest.conversation_id == conversation)).all()
        return [(r.code, r.service, r.channel) for r in rows]


def _texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def _complete_by_typing(user: User, opening: str | None) -> dict:
    """Say `opening` (None: the form is already running), then answer every question until the form ends."""
    answers = _answers()
    sent = user.say(opening)[0] if opening else {}
    for _ in range(20):
        slot = user.requested_slot()
        if slot is None:
            return sent
        assert slot in answers, slot
        sent, _ = user.say(answers[slot])
    pytest.fail("the form did not finish")


def test_service_request_by_typing_then_status_lookup(system):
    user = User(system, "24180000000000101")
    confirm = _complete_by_typing(user, "tôi muốn di dời công tơ điện ra ngoài cổng")
    [(code, service, channel)] = _requests_of(system, user.conversation)
    assert (service, channel) == ("meter_relocation", "messenger")
    assert code in _texts(user.messages())
    _, replies = user.say(f"tra cứu yêu cầu {code}")
    assert code in _texts(replies) and "Đã tiếp nhận" in _texts(replies)
    # messages reached the simulator as RESPONSE inside the window, and Meta's echoes came back unanswered
    assert all(m.get("sender_name") is None for m in user.messages())
    STATE.update(user=user, confirm_body=confirm["body"])  # for the redelivery test below


def test_outage_report_with_a_photo_and_a_location_keeps_both_on_the_request(system):
    user = User(system, "24180000000000103")
    user.say("nhà tôi bị mất điện từ sáng")
    assert system.tracker(user.conversation)["slots"].get("service") == "outage_report"
    user._post("api/event", kind="image", url="https://scontent.xx.fbcdn.net/v/cot-do.jpg")
    user._post("api/event", kind="location", lat=10.7769, long=106.7009)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _texts(user.messages()).count("gửi kèm báo cáo") < 2:
        time.sleep(0.3)
    user.new_messages()
    _complete_by_typing(user, None)
    [(code, service, _)] = _requests_of(system, user.conversation)
    assert service == "outage_report"
    with session_scope(get_engine(system.env["DATABASE_URL"])) as s:
        fields = s.scalars(select(ServiceRequest.fields).where(ServiceRequest.code == code)).one()
    assert fields["evidence"] == [{"type": "image", "url": "https://scontent.xx.fbcdn.net/v/cot-do.jpg"},
                                  {"type": "location", "latitude": 10.7769, "longitude": 106.7009}]


def test_service_request_by_quick_replies(system):
    user = User(system, "24180000000000102")
    _, greeting = user._turn("api/event", kind="get_started")
    register = next(b for b in greeting[-1]["buttons"] if b["payload"] == "/request_service")
    assert register.get("quick_reply")
    _, which = user.tap(register)
    short = load_catalogue().services["new_connection_lv"].short
    numbered = dict(reversed(line.split(". ", 1)) for line in _texts(which).splitlines()
                    if re.match(r"^\d+\. ", line))
    assert short in numbered, _texts(which)  # 15 services: a numbered list, answered by number
    user.say(numbered[short])
    answers = _answers()
    for _ in range(20):
        slot = user.requested_slot()
        if slot is None:
            break
        last = user.messages()[-1]
        buttons = [b for b in last.get("buttons", []) if slot in str(b.get("payload"))
                   or (slot == "confirm" and b.get("payload") == "/affirm")]
        if buttons:
            assert buttons[0].get("quick_reply") or slot == "confirm"
            user.tap(buttons[0])
        else:
            user.say(answers[slot])
    [(code, service, channel)] = _requests_of(system, user.conversation)
    assert (service, channel) == ("new_connection_lv", "messenger")
    _, replies = user.say(f"tra cứu yêu cầu {code}")
    assert code in _texts(replies)


def _redeliver(user: User, body: str, times: int) -> None:
    def post(_):
        return requests.post(f"{user.sim}/control/webhook", json={"body": body}, timeout=60).json()["webhook_status"]

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(post, range(times))) == {200}


def test_hundred_redeliveries_across_a_rasa_restart_one_reply_one_request(system):
    user, body = STATE.get("user"), STATE.get("confirm_body")
    if user is None:
        pytest.skip("needs the typed service request above")
    before = len(user.messages())
    [request] = _requests_of(system, user.conversation)
    _redeliver(user, body, 50)
    system.kill_child("rasa")
    assert system.wait_for("restarting rasa", 30), system.log()
    system.wait_up(f"{system.rasa_url}/webhooks/messenger/")
    _redeliver(user, body, 50)
    time.sleep(5)
    assert _requests_of(system, user.conversation) == [request]
    assert len(user.messages()) == before  # no second reply
    _, replies = user.say("cảm ơn em")  # the channel still answers after the restart
    assert replies
