"""`python -m bot run` end to end: supervisor, Rasa over real HTTP, action server, database."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests
import yaml
from sqlalchemy import select

from bot import PROJECT_ROOT
from bot.catalogue import load_catalogue
from bot.db.models import ServiceRequest
from bot.db.session import get_engine, session_scope

from tests.system import RunningSystem, start_system


@pytest.fixture(scope="module")
def system(tmp_path_factory) -> RunningSystem:
    running = start_system(tmp_path_factory.mktemp("system"))
    yield running
    running.stop()


def test_supervisor_prints_urls_with_prefixed_logs_and_no_secret(system):
    log = system.log()
    assert f"Rasa HTTP API:  {system.rasa_url}" in log
    assert f"http://127.0.0.1:{system.env['ACTION_PORT']}/health" in log
    assert "[   rasa]" in log and "[actions]" in log
    assert "demo data loaded" in log
    assert system.token not in log


def test_http_api_requires_the_token(system):
    assert requests.get(f"{system.rasa_url}/status", timeout=10).status_code == 401
    assert requests.get(f"{system.rasa_url}/status", params={"token": system.token}, timeout=10).ok


def test_rest_channel_answers_in_vietnamese(system):
    """'xin chào' is understood: the reply is the Vietnamese greeting with its menu, not the fallback."""
    responses = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    greeting = responses["utter_greet"][0]
    fallbacks = {r["text"] for r in responses["utter_default"]}
    replies = system.say("system-greet", "xin chào")
    texts = [r.get("text", "") for r in replies]
    assert texts and texts[0] == greeting["text"], texts
    assert texts[0].startswith("Dạ em chào anh/chị!")
    assert [b["title"] for b in replies[0].get("buttons", [])] == [b["title"] for b in greeting["buttons"]]
    assert not fallbacks & set(texts)


def _answers() -> dict[str, str]:
    """A valid answer for every slot a form may ask, typed the way customers type."""
    return {
        "full_name": "nguyễn văn an", "phone": "sđt mình là 0912 345 678", "id_number": "001203004567",
        "customer_code": "PD01001494350", "address": "Số 12 ngõ 34 Phố Huế, phường Hai Bà Trưng, Hà Nội",
        "usage_purpose": "sinh hoạt", "phase": "3 pha", "capacity_kw": "15kw", "households": "2 hộ",
        "new_location": "chuyển ra cột điện đầu ngõ, cách chỗ cũ 10m", "payment_method": "ví điện tử",
        "desired_date": (date.today() + timedelta(days=10)).strftime("%d/%m/%Y"),
        "description": "Đồng hồ điện nhà tôi chạy nhanh bất thường từ tháng trước", "email": "an.nguyen@gmail.com",
        "report_anyway": "có", "confirm": "đúng rồi",
    }


def _complete_form(system: RunningSystem, sender: str, opening: str) -> tuple[dict, list[str]]:
    """Answer whatever the form asks until it ends; returns the final tracker and every bot text."""
    answers, texts = _answers(), [r.get("text", "") for r in system.say(sender, opening)]
    for _ in range(20):
        tracker = system.tracker(sender)
        slot = tracker["slots"].get("requested_slot")
        if not (tracker.get("active_loop") or {}).get("name") or slot is None:
            return tracker, texts
        assert slot in answers, f"form asked an unexpected slot {slot}: {texts[-3:]}"
        texts += [r.get("text", "") for r in system.say(sender, answers[slot])]
    pytest.fail(f"form did not finish: {texts[-5:]}")


@pytest.mark.parametrize("service", sorted(load_catalogue().services))
def test_every_service_end_to_end_over_rest(system, service):
    sender = f"e2e-{service}"
    tracker, texts = _complete_form(system, sender, f'/request_service{{"service":"{service}"}}')
    code = tracker["slots"].get("request_code")
    assert code and any(code in t for t in texts), texts[-3:]
    confirmation = " ".join(t for t in texts if code in t)

    status = " ".join(r.get("text", "") for r in system.say(f"lookup-{service}", f"hồ sơ {code} đến đâu rồi"))
    assert code in status and "Đã tiếp nhận" in status
    with session_scope(get_engine(system.env["DATABASE_URL"])) as s:
        rows = s.scalars(select(ServiceRequest).where(ServiceRequest.conversation_id == sender)).all()
    assert [(r.code, r.service, r.channel) for r in rows] == [(code, service, "rest")]
    assert rows[0].due_date.strftime("%d/%m/%Y") in confirmation


def test_a_confirmation_typed_again_after_the_request_is_stored_makes_no_second_request(system):
    """The customer types "đúng rồi" once more: the dialogue answers it, no second request is made. (A channel
    redelivering the same message id is dropped before Rasa: tests/test_zalo_system.py and
    tests/test_messenger_system.py send one confirmation 100 times, also across a restart.)"""
    sender = "e2e-natural"
    tracker, texts = _complete_form(system, sender, "e muốn dời đồng hồ điện ra ngoài cổng đc ko ạ")
    code = tracker["slots"]["request_code"]
    system.say(sender, "đúng rồi")  # a new message, not a redelivery
    with session_scope(get_engine(system.env["DATABASE_URL"])) as s:
        rows = s.scalars(select(ServiceRequest).where(ServiceRequest.conversation_id == sender)).all()
    assert [(r.code, r.service) for r in rows] == [(code, "meter_relocation")]


def _texts(replies: list[dict]) -> list[str]:
    return [r.get("text", "") for r in replies]


def test_procedure_answer_then_dang_ky_luon_starts_that_registration(system):
    """Forgiving dialogue over real HTTP: the procedure answer offers the registration, "đăng ký luôn" takes it."""
    sender = "system-offer"
    answer = system.say(sender, "di dời công tơ cần giấy tờ gì vậy em")
    assert "đăng ký luôn" in _texts(answer)[0]
    assert answer[0]["buttons"][0]["payload"] == '/request_service{"service":"meter_relocation"}'
    texts = _texts(system.say(sender, "đăng ký luôn"))
    assert texts[0].startswith("Dạ, em giúp anh/chị đăng ký: Thay đổi vị trí thiết bị đo đếm"), texts
    assert system.tracker(sender)["slots"]["service"] == "meter_relocation"


def test_request_told_as_a_situation_registers_the_right_service(system):
    sender = "system-situation"
    texts = _texts(system.say(sender, "quán em mới lắp thêm 2 cái máy lạnh nên điện không đủ tải"))
    assert texts[0].startswith("Dạ, em giúp anh/chị đăng ký: Thay đổi công suất sử dụng điện"), texts
    assert system.tracker(sender)["slots"]["service"] == "capacity_change"


def test_complaint_about_a_live_outage_is_offered_the_outage_report(system):
    """A complaint (the classifier's reading) that tells of a power cut still going on."""
    sender = "system-outage-complaint"
    text = "phản ánh nhân viên: báo mất điện từ sáng đến giờ vẫn chưa ai tới, thái độ quá kém"
    replies = system.say(sender, text)
    slots = system.tracker(sender)["slots"]
    assert (slots["service"], slots["pending_service"]) == ("complaint", "outage_report"), _texts(replies)
    assert [b["title"] for b in replies[-1]["buttons"]] == ["Báo mất điện ngay", "Vẫn gửi khiếu nại"]
    texts = _texts(system.say(sender, "/affirm"))
    assert texts[0].startswith("Dạ, em giúp anh/chị đăng ký: Báo mất điện / sự cố lưới điện."), texts
    assert system.tracker(sender)["slots"]["description"] == text


def test_the_same_message_id_twice_over_rest_is_one_turn(system):
    """REST callers may send `message_id`: a retry of the same id is acknowledged with no second turn."""
    body = {"sender": "e2e-rest-retry", "message": "giá điện bậc 1 bao nhiêu", "message_id": "rest-retry-0001"}
    first = requests.post(f"{system.rasa_url}/webhooks/rest/webhook", json=body, timeout=60).json()
    again = requests.post(f"{system.rasa_url}/webhooks/rest/webhook", json=body, timeout=60).json()
    assert first and again == []
    users = [e for e in system.tracker("e2e-rest-retry")["events"] if e["event"] == "user"]
    assert [e["message_id"] for e in users] == ["rest-retry-0001"]


def test_a_crashed_child_is_reported_and_restarted(system):
    system.kill_child("actions")
    assert system.wait_for("actions exited with code -9", 30), system.log()
    assert system.wait_for("restarting actions in 1s", 10), system.log()
    system.wait_up(system.action_health_url, 120)
    reply = " ".join(r.get("text", "") for r in system.say("after-restart", "giá điện bậc 1 bao nhiêu"))
    assert "1.984" in reply  # the tariff action answers again


def test_ctrl_c_stops_every_child(system):
    """Runs last in this module: SIGINT stops the supervisor and frees every port."""
    ports = [system.env[name] for name in ("RASA_PORT", "ACTION_PORT")]
    assert system.stop() == 0
    for port in ports:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=3)
