"""The takeover engine: atomic transitions, one queue entry per escalation, the gate's view, office hours."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from bot.db.models import CallbackRequest, Conversation
from bot.db.session import session_scope
from bot.settings import Settings
from bot.takeover import agents, engine, escalation
from connectors.base.gate import GATE

ALWAYS_OPEN = Settings(office_hours="00:00-24:00", office_days="1-7")


def _pk(conversation_id: str) -> int:
    with session_scope() as s:
        return s.execute(select(Conversation.id).where(Conversation.conversation_id == conversation_id)).scalar_one()


def _claim(pk: int, agent_id: int) -> bool:
    try:
        with session_scope() as s:
            engine.transition(s, pk, "claim", agent_id=agent_id)
        return True
    except engine.Conflict:
        return False


def test_two_agents_claiming_at_once_one_wins_every_time(any_db_url):
    a = agents.add_agent("lan", "mat-khau-lan", "Lan")
    b = agents.add_agent("minh", "mat-khau-minh", "Minh")
    for i in range(20):
        conversation = f"webchat-race-{i}"
        engine.escalate(conversation, "gặp nhân viên")
        pk = _pk(conversation)
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda agent_id: _claim(pk, agent_id), [a.id, b.id]))
        assert sorted(results) == [False, True], i
        with session_scope() as s:
            row = s.get(Conversation, pk)
            assert row.state == "agent" and row.agent_id == (a.id if results[0] else b.id)


def test_a_retried_escalation_makes_one_queue_entry(any_db_url):
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: engine.escalate("zalo:42", "gặp nhân viên", channel="zalo"), range(10)))
    assert sum(r.created for r in results) == 1
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(Conversation)).scalar_one() == 1
        row = s.execute(select(Conversation)).scalar_one()
        assert (row.state, row.channel, row.conversation_id) == ("waiting", "zalo", "zalo:42")


def test_invalid_transitions_conflict_and_the_gate_follows_the_state(db_url):
    async def held(conversation_id: str) -> bool:
        return not await GATE.bot_may_answer("webchat", conversation_id)

    import asyncio
    engine.escalate("s-1", "gặp nhân viên")
    pk = _pk("s-1")
    assert engine.is_held("s-1") and asyncio.run(held("s-1"))
    with session_scope() as s, pytest.raises(engine.Conflict) as err:
        engine.transition(s, pk, "transfer", agent_id=None)
    assert err.value.state == "waiting"
    with session_scope() as s:
        engine.transition(s, pk, "hand_back")
    assert not engine.is_held("s-1") and not asyncio.run(held("s-1"))
    with session_scope() as s, pytest.raises(engine.Conflict):
        engine.transition(s, pk, "claim")
    with session_scope() as s, pytest.raises(engine.NotFound):
        engine.transition(s, 9999, "claim")
    engine.platform_reply("zalo:7", "zalo")  # a person answered in Zalo's own OA chat
    assert engine.is_held("zalo:7")


def test_queue_order_urgent_first_then_by_time(db_url):
    first = engine.escalate("c-1", "hỏi hóa đơn")
    second = engine.escalate("c-2", "hỏi hợp đồng")
    urgent = engine.escalate("c-3", "đứt dây điện", priority="urgent")
    assert (first.position, second.position, urgent.position) == (1, 2, 1)
    with session_scope() as s:
        assert [c.conversation_id for c in engine.queue_order(s)] == ["c-3", "c-1", "c-2"]


def test_escalation_queues_in_office_hours_with_an_agent_online(db_url):
    agents.add_agent("lan", "mat-khau-lan", "Lan")
    token, _csrf, _info = agents.login("lan", "mat-khau-lan")
    agents.session_agent(token)  # the console's heartbeat
    outcome = escalation.escalate(ALWAYS_OPEN, "webchat-1", "gặp nhân viên", "tổng đài 1900 1288")
    assert outcome.queued and outcome.created and outcome.position == 1
    assert "vị trí số 1" in outcome.text and "tư vấn viên" in outcome.text
    again = escalation.escalate(ALWAYS_OPEN, "webchat-1", "gặp nhân viên", "tổng đài 1900 1288")
    assert again.queued and not again.created


def test_outside_office_hours_a_callback_is_stored_and_the_bot_stays(db_url):
    sunday_night = datetime(2026, 11, 29, 15, 0, tzinfo=timezone.utc)  # 22:00 in Hà Nội, a Sunday
    settings = Settings(office_hours="07:30-17:00", office_days="1-6")
    assert not escalation.office_open(settings, sunday_night)
    assert escalation.office_open(settings, datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc))  # Mon 09:00
    outcome = escalation.escalate(settings, "zalo:9", "gọi lại giúp tôi", "tổng đài 1900 1288",
                                  phone="0912345678", now=sunday_night)
    assert not outcome.queued and not engine.is_held("zalo:9")
    assert "ngoài giờ làm việc" in outcome.text and "0912345678" in outcome.text and "1900 1288" in outcome.text
    assert "07:30–17:00, thứ Hai đến thứ Bảy" in outcome.text
    with session_scope() as s:
        callback = s.execute(select(CallbackRequest)).scalar_one()
        assert (callback.conversation_id, callback.phone) == ("zalo:9", "0912345678")


def test_no_agent_online_means_a_callback_even_in_office_hours(db_url):
    outcome = escalation.escalate(ALWAYS_OPEN, "webchat-2", "gặp nhân viên", "tổng đài 1900 1288")
    assert not outcome.queued and "chưa có tư vấn viên trực" in outcome.text


@pytest.mark.parametrize("text, urgent", [
    ("dây điện bị đứt rơi xuống đường", True), ("cột điện tóe lửa", True), ("cháy công tơ rồi", True),
    ("con tôi bị điện giật", True), ("day dien dut roi", True), ("mất điện cả xóm", False),
    ("giá điện bậc 3", False), ("đồng hồ chạy nhanh", False), ("máy giặt không chạy", False),
])
def test_danger_words_make_an_escalation_urgent(text, urgent):
    assert escalation.is_urgent(text) is urgent


def test_agent_accounts_and_sessions(db_url):
    with pytest.raises(ValueError):
        agents.add_agent("ngan", "short")
    sup = agents.add_agent("Thu", "mat-khau-thu", "Chị Thu", role="supervisor")
    assert sup.username == "thu" and sup.supervisor
    assert agents.login("thu", "sai-mat-khau") is None and agents.login("ai-do", "mat-khau-thu") is None
    token, csrf, info = agents.login("THU", "mat-khau-thu")
    assert info == sup and agents.session_agent(token) == (sup, csrf)
    with session_scope() as s:
        from bot.db.models import Agent
        assert "mat-khau-thu" not in s.execute(select(Agent.password_hash)).scalar_one()
    agents.set_active("thu", False)
    assert agents.session_agent(token) is None and agents.login("thu", "mat-khau-thu") is None
    limiter = agents.LoginLimiter(limit=3, window=60)
    for _ in range(3):
        limiter.failed("thu", "127.0.0.1")
    assert limiter.blocked("thu", "10.0.0.9") and not limiter.blocked("lan", "10.0.0.9")
