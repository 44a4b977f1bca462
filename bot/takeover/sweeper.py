"""Periodic duties of the takeover engine, run by every console process (each duty is claimed with an
atomic update, so several processes never do it twice):
- a conversation left `waiting` longer than QUEUE_TIMEOUT_SECONDS: the customer is told, a callback request
  is stored, and the conversation stays in the queue (never silently dropped);
- a conversation held by an agent with no agent message for AGENT_IDLE_SECONDS goes back to the bot.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import List, Tuple

from sqlalchemy import update

from bot.db.models import Conversation
from bot.db.session import session_scope
from bot.localtime import as_utc, utcnow
from bot.settings import Settings
from bot.takeover import engine, escalation, notify, service

logger = logging.getLogger(__name__)
INTERVAL = 10.0


def _claim_timeouts(settings: Settings) -> List[Tuple[str, str, str]]:
    """(conversation id, phone, reason) of waiting conversations that just passed the queue timeout."""
    out = []
    with session_scope() as session:
        for row in engine.stale(session, "waiting", Conversation.escalated_at,
                                timedelta(seconds=settings.queue_timeout_seconds)):
            if row.waiting_notified_at is not None:
                continue
            done = session.execute(update(Conversation).where(
                Conversation.id == row.id, Conversation.waiting_notified_at.is_(None),
                Conversation.state == "waiting").values(waiting_notified_at=utcnow())
                .execution_options(synchronize_session=False))
            if done.rowcount == 1:
                out.append((row.conversation_id, row.phone, row.reason or ""))
    return out


def _idle_hand_backs(settings: Settings) -> List[dict]:
    out = []
    idle = timedelta(seconds=settings.agent_idle_seconds)
    with session_scope() as session:
        for row in engine.stale(session, "agent", Conversation.updated_at, idle):
            last = row.last_agent_at or row.claimed_at
            if last is not None and as_utc(last) > utcnow() - idle:
                continue
            try:
                out.append(engine.as_dict(engine.transition(session, row.id, "hand_back")))
            except engine.Conflict:
                pass
    return out


async def sweep(settings: Settings) -> None:
    for conversation_id, phone, reason in await service.run_db(_claim_timeouts, settings):
        await service.run_db(escalation.add_callback, conversation_id, phone, reason)
        reach = f"gọi lại theo số {phone}" if phone else "nhắn lại cho anh/chị tại đây"
        await service.say(settings, conversation_id,
                          "Xin lỗi anh/chị, các tư vấn viên đều đang bận. Anh/chị vẫn được giữ chỗ trong hàng chờ; "
                          f"em cũng đã ghi nhận đề nghị để tư vấn viên {reach} sớm nhất. Nếu cần gấp, anh/chị gọi "
                          "tổng đài chăm sóc khách hàng của điện lực ạ.", sender="system")
        await notify.announce("queue_timeout", conversation_id)
    for row in await service.run_db(_idle_hand_backs, settings):
        await service.say(settings, row["conversation_id"], service.BACK_TEXT + service.resume_hint(row["context"]),
                          sender="bot")
        await notify.announce("hand_back", row["conversation_id"])


async def run_forever(settings: Settings) -> None:
    while True:
        try:
            await sweep(settings)
        except Exception:  # noqa: BLE001 - try again next round
            logger.exception("takeover sweep failed")
        await asyncio.sleep(INTERVAL)
