"""Zalo OA end to end: `python -m bot run` without Zalo settings mounts the channel against the simulator;
a "Zalo user" chats through the simulator's HTTP API (signed webhooks in, OA API calls out) with the
trained model, the action server and the database."""
from __future__ import annotations

import random
import time
from typing import Any, Dict, List, Optional

import pytest
import requests
from sqlalchemy import select

from bot.db.models import ChannelMessage, ServiceRequest
from bot.db.session import get_engine, session_scope
from tests.system import RunningSystem, start_system
from tests.test_system import _answers


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> RunningSystem:
    running = start_system(tmp_path_factory.mktemp("zalo_system"))
    yield running
    running.stop()


class ZaloUser:
    def __init__(self, system: RunningSystem) -> None:
        self.system = system
        self.id = str(random.randint(10 ** 17, 10 ** 18 - 1))
        self.base = f"{system.simulator_url}/zalo"
        self.seen = 0

    @property
    def conversation(self) -> str:
        return f"zalo:{self.id}"

    def _post(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        resp = requests.post(f"{self.base}/{path}", json={"user_id": self.id, **body}, timeout=60)
        resp.raise_for_status()
        return resp.json()

    def messages(self) -> List[Dict[str, Any]]:
        resp = requests.get(f"{self.base}/api/messages", params={"user_id": self.id, "after": 0}, timeout=10)
        return resp.json()["messages"]

    def wait_turn(self, msg_id: str, timeout: float = 60) -> List[Dict[str, Any]]:
        """Until Rasa has finished the turn of `msg_id`; returns the messages sent since the last call."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                tracker = self.system.tracker(self.conversation)
            except requests.HTTPError:
                tracker = {}
            latest = tracker.get("latest_message") or {}
            if latest.get("message_id") == msg_id and tracker.get("latest_action_name") == "action_listen":
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"turn {msg_id} did not finish:\n{self.system.log()[-3000:]}")
        new = self.messages()[self.seen:]
        self.seen += len(new)
        return new

    def say(self, text: str) -> List[Dict[str, Any]]:
        result = self._post("api/say", {"text": text})
        assert result["webhook_status"] == 200, result
        self.last_msg_id = result["msg_id"]
        return self.wait_turn(result["msg_id"])

    def tap(self, button: Dict[str, Any]) -> List[Dict[str, Any]]:
        result = self._post("api/tap", {"payload": button["payload"], "title": button["title"]})
        assert result["webhook_status"] == 200, result
        self.last_msg_id = result["msg_id"]
        return self.wait_turn(result["msg_id"])

    def event(self, kind: str, **body: Any) -> Dict[str, Any]:
        return self._post("api/event", {"kind": kind, **body})


def _buttons(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [b for m in messages for b in m.get("buttons", []) if "payload" in b]


def _numbered(messages: List[Dict[str, Any]], title: str) -> Optional[str]:
    for m in messages:
        for line in (m.get("text") or "").splitlines():
            number, _, rest = line.partition(". ")
            if number.isdigit() and rest.strip() == title:
                return number
    return None


def _requests(system: RunningSystem, conversation: str) -> List[ServiceRequest]:
    with session_scope(get_engine(system.env["DATABASE_URL"])) as s:
        return list(s.scalars(select(ServiceRequest).where(ServiceRequest.conversation_id == conversation)).all())


def _complete(zu: ZaloUser, replies: List[Dict[str, Any]], tap: bool) -> List[Dict[str, Any]]:
    """Answer the form until it ends; with `tap`, buttons offering the answer are tapped."""
    answers, seen = _answers(), list(replies)
    for _ in range(25):
        tracker = zu.system.tracker(zu.conversation)
        slot = tracker["slots"].get("requested_slot")
        if not (tracker.get("active_loop") or {}).get("name") or slot is None:
            return seen
        assert slot in answers, f"unexpected slot {slot}: {[m.get('text') for m in seen[-3:]]}"
        wanted = {"confirm": "/affirm", "report_anyway": "/affirm"}.get(slot)
        button = next((b for b in _buttons(replies) if wanted and b["payload"] == wanted), None)
        replies = zu.tap(button) if tap and button else zu.say(answers[slot])
        seen += replies
    pytest.fail("form did not finish")


def test_make_run_mounts_zalo_on_the_simulator(system):
    log = system.log()
    assert f"Zalo OA: not configured; local simulator at {system.simulator_url}/zalo/" in log
    page = requests.get(f"{system.simulator_url}/zalo/", timeout=10)
    assert page.status_code == 200 and "Zalo OA" in page.text
    for secret in ("ZALO_OA_SECRET_KEY", "ZALO_ACCESS_TOKEN"):
        assert secret not in log or "***" in log


def test_request_by_typing_stored_with_channel_zalo_and_found_by_lookup(system):
    zu = ZaloUser(system)
    replies = zu.say("tôi muốn dời đồng hồ điện ra ngoài cổng")
    seen = _complete(zu, replies, tap=False)
    code = system.tracker(zu.conversation)["slots"]["request_code"]
    assert code and any(code in (m.get("text") or "") for m in seen)
    rows = _requests(system, zu.conversation)
    assert [(r.code, r.service, r.channel) for r in rows] == [(code, "meter_relocation", "zalo")]
    status = " ".join(m.get("text") or "" for m in zu.say(f"tra cứu yêu cầu {code}"))
    assert code in status and "Đã tiếp nhận" in status


def test_request_by_tapping_buttons_and_typing_numbers(system):
    zu = ZaloUser(system)
    menu = zu.say("xin chào")
    number = _numbered(menu, "Đăng ký dịch vụ điện")  # six menu entries > 5 buttons: a numbered list
    assert number, menu
    services = zu.say(number)
    choice = next((b for b in _buttons(services) if "meter_relocation" in b["payload"]), None)
    if choice is not None:
        replies = zu.tap(choice)
    else:
        replies = zu.say(_numbered(services, next(line.partition(". ")[2] for m in services
                                                 for line in (m.get("text") or "").splitlines()
                                                 if "công tơ" in line.lower() and line[:1].isdigit())))
    seen = _complete(zu, replies, tap=True)
    tracker = system.tracker(zu.conversation)
    code = tracker["slots"]["request_code"]
    assert code and any(code in (m.get("text") or "") for m in seen)
    taps = [e for e in tracker["events"] if e["event"] == "user" and e.get("text") == "/affirm"]
    assert taps, "the confirmation was not tapped"
    assert [r.channel for r in _requests(system, zu.conversation)] == ["zalo"]
    sent = requests.get(f"{system.simulator_url}/zalo/api/stats", timeout=10).json()["sent"]
    ours = [s for s in sent if s["body"]["recipient"].get("message_id") or
            s["body"]["recipient"].get("user_id") == zu.id]
    assert ours and all(len(s["body"]["message"].get("text", "")) <= 2000 for s in ours)


def test_redelivered_confirmation_makes_one_request_also_after_a_rasa_restart(system):
    zu = ZaloUser(system)
    _complete(zu, zu.say("tôi muốn dời đồng hồ điện ra ngoài cổng"), tap=False)
    confirm_id = zu.last_msg_id
    replies_before = len(zu.messages())
    replay = requests.post(f"{zu.base}/api/replay", json={"msg_id": confirm_id, "times": 50}, timeout=120).json()
    assert set(replay["statuses"]) == {200}
    replay = requests.post(f"{zu.base}/api/replay", json={"msg_id": confirm_id, "times": 50, "concurrent": True},
                           timeout=120).json()
    assert set(replay["statuses"]) == {200}
    time.sleep(3)
    assert len(_requests(system, zu.conversation)) == 1 and len(zu.messages()) == replies_before

    system.kill_child("rasa")  # the supervisor restarts it; memory is gone
    system.wait_up(f"{system.rasa_url}/webhooks/zalo/")
    replay = requests.post(f"{zu.base}/api/replay", json={"msg_id": confirm_id, "times": 100, "concurrent": True},
                           timeout=120).json()
    assert set(replay["statuses"]) == {200}
    time.sleep(3)
    assert len(_requests(system, zu.conversation)) == 1 and len(zu.messages()) == replies_before
    with session_scope(get_engine(system.env["DATABASE_URL"])) as s:
        claims = s.scalars(select(ChannelMessage).where(ChannelMessage.platform_message_id == confirm_id,
                                                        ChannelMessage.direction == "in")).all()
    assert len(claims) == 1


def test_outage_report_with_image_and_location_attached_as_evidence(system):
    zu = ZaloUser(system)
    replies = zu.say("nhà tôi bị mất điện từ sáng")
    tracker = system.tracker(zu.conversation)
    assert tracker["slots"].get("service") == "outage_report", [m.get("text") for m in replies]
    assert zu.event("image", url="https://zalo.example/cot-dien-do.jpg")["webhook_status"] == 200
    assert zu.event("location", latitude=21.0278, longitude=105.8342)["webhook_status"] == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum("gửi kèm báo cáo" in (m.get("text") or "")
                                              for m in zu.messages()) < 2:
        time.sleep(0.3)
    zu.seen = len(zu.messages())
    _complete(zu, [], tap=False)
    rows = _requests(system, zu.conversation)
    assert len(rows) == 1 and rows[0].channel == "zalo"
    assert rows[0].fields["evidence"] == [{"type": "image", "url": "https://zalo.example/cot-dien-do.jpg"},
                                          {"type": "location", "latitude": 21.0278, "longitude": 105.8342}]
