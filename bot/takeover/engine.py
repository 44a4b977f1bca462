"""Who holds a conversation: the bot, the queue or a person. State changes are atomic and race-free.

States: `bot` (the bot answers), `waiting` (escalated, in the queue), `agent` (a person answers),
`closed` (resolved by a person; the bot answers again). A person holds `waiting` and `agent`: the
channels' gate (connectors/base/gate.py) asks `is_held()` and the bot says nothing then.

Every transition is one `UPDATE ... WHERE id = :id AND state IN (:allowed)`: of two agents claiming the same
conversation exactly one row update succeeds; the other gets `Conflict` (HTTP 409 in the API). Escalating
a conversation that is already waiting or held changes nothing, so a retried escalation never makes a
second queue entry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Conversation
from bot.db.session import read_scope, session_scope
from bot.localtime import utcnow

HELD_STATES = ("waiting", "agent")
# action -> (states it may start from, state it leads to)
TRANSITIONS: Dict[str, tuple] = {
    "escalate": (("bot", "closed"), "waiting"),
    "claim": (("waiting",), "agent"),
    "take_over": (("bot", "closed", "waiting"), "agent"),
    "transfer": (("agent",), "agent"),
    "hand_back": (("waiting", "agent"), "bot"),
    "resolve": (("waiting", "agent"), "closed"),
    "platform_reply": (("bot", "closed", "waiting", "agent"), "agent"),
}


class Conflict(Exception):
    """The conversation is not in a state that allows the action (someone else was faster)."""

    def __init__(self, action: str, state: Optional[str]) -> None:
        super().__init__(f"cannot {action} a conversation in state {state!r}")
        self.action = action
        self.state = state


class NotFound(Exception):
    pass


def channel_of(conversation_id: str) -> str:
    """Platform conversation ids carry their channel (`zalo:123`); others are web chat or REST sessions."""
    head, sep, _ = conversation_id.partition(":")
    return head if sep else "webchat"


def ensure(session: Session, conversation_id: str, channel: Optional[str] = None, **values: Any) -> Conversation:
    """The conversation's row, created on first use (concurrent creators: the loser reads the winner's row)."""
    row = session.execute(select(Conversation).where(Conversation.conversation_id == conversation_id)).scalar()
    if row is None:
        try:
            with session.begin_nested():
                row = Conversation(conversation_id=conversation_id, channel=channel or channel_of(conversation_id),
                                   state="bot", priority="normal", **values)
                session.add(row)
        except IntegrityError:
            row = session.execute(select(Conversation).where(
                Conversation.conversation_id == conversation_id)).scalar_one()
    return row


def register(conversation_id: str, channel: str) -> None:
    with session_scope() as session:
        ensure(session, conversation_id, channel)


def transition(session: Session, pk: int, action: str, **values: Any) -> Conversation:
    """Apply `action` to conversation `pk` atomically, or raise Conflict/NotFound."""
    allowed, target = TRANSITIONS[action]
    result = session.execute(update(Conversation).where(Conversation.id == pk, Conversation.state.in_(allowed))
                             .values(state=target, updated_at=utcnow(), **values)
                             .execution_options(synchronize_session=False))
    row = session.get(Conversation, pk, populate_existing=True)
    if row is None:
        raise NotFound(pk)
    if result.rowcount != 1:
        raise Conflict(action, row.state)
    return row


@dataclass
class Escalation:
    conversation: Dict[str, Any]
    created: bool  # False: it was already waiting or held (a retry, a second button tap)
    position: int  # place in the queue, 1 = next


def escalate(conversation_id: str, reason: str, *, priority: str = "normal", channel: Optional[str] = None,
             context: Optional[Dict[str, Any]] = None, customer_code: Optional[str] = None,
             phone: Optional[str] = None) -> Escalation:
    with session_scope() as session:
        row = ensure(session, conversation_id, channel)
        now = utcnow()
        try:
            row = transition(session, row.id, "escalate", reason=reason, priority=priority, context=context,
                             escalated_at=now, claimed_at=None, resolved_at=None, agent_id=None,
                             waiting_notified_at=None, csat_score=None, csat_comment=None,
                             customer_code=customer_code or row.customer_code, phone=phone or row.phone)
            created = True
        except Conflict:
            created = False
            if priority == "urgent" and row.priority != "urgent":
                row.priority = "urgent"
        return Escalation(as_dict(row), created, queue_position(session, row))


def queue_order(session: Session) -> List[Conversation]:
    """The queue as agents see it: urgent first, then by time of escalation."""
    return list(session.execute(select(Conversation).where(Conversation.state == "waiting").order_by(
        (Conversation.priority == "urgent").desc(), Conversation.escalated_at, Conversation.id)).scalars())


def queue_position(session: Session, row: Conversation) -> int:
    """1 = next to be answered; 0 = not waiting."""
    if row.state != "waiting":
        return 0
    return next((i for i, other in enumerate(queue_order(session), 1) if other.id == row.id), 0)


def is_held(conversation_id: str) -> bool:
    with read_scope() as session:
        state = session.execute(select(Conversation.state).where(
            Conversation.conversation_id == conversation_id)).scalar()
    return state in HELD_STATES


def platform_reply(conversation_id: str, channel: str) -> Dict[str, Any]:
    """A person answered from the platform's own inbox (Zalo OA chat, Meta Business Suite): the bot
    steps aside until someone hands the conversation back."""
    with session_scope() as session:
        row = ensure(session, conversation_id, channel)
        now = utcnow()
        row = transition(session, row.id, "platform_reply", last_agent_at=now, claimed_at=row.claimed_at or now,
                         escalated_at=row.escalated_at or now, reason=row.reason or "Trả lời từ hộp thư của nền tảng")
        return as_dict(row)


def platform_release(conversation_id: str) -> bool:
    """The platform handed the thread back (Messenger's Page inbox marked it done): the bot answers again,
    unless an agent of ours holds the conversation in the console."""
    with session_scope() as session:
        done = session.execute(update(Conversation).where(
            Conversation.conversation_id == conversation_id, Conversation.state == "agent",
            Conversation.agent_id.is_(None)).values(state="bot", updated_at=utcnow())
            .execution_options(synchronize_session=False))
        return done.rowcount == 1


def as_dict(row: Conversation) -> Dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in Conversation.__table__.columns}


def stale(session: Session, state: str, column: Any, older_than: timedelta, now: Optional[datetime] = None,
          ) -> List[Conversation]:
    """Conversations in `state` whose `column` is older than the limit (queue timeout, idle agent)."""
    cutoff = (now or utcnow()) - older_than
    return list(session.execute(select(Conversation).where(Conversation.state == state, column < cutoff)).scalars())


_RATING = re.compile(r'^/csat\{\s*"score"\s*:\s*"?([1-5])"?\s*\}$')


def rating_reply(conversation_id: str, text: str) -> Optional[str]:
    """A satisfaction rating tapped after a person resolved the conversation: stored once, thanked.
    Any other text is not a rating (None) and goes to the bot as usual."""
    match = _RATING.match((text or "").strip())
    if not match:
        return None
    with session_scope() as session:
        done = session.execute(update(Conversation).where(
            Conversation.conversation_id == conversation_id, Conversation.state == "closed",
            Conversation.csat_score.is_(None)).values(csat_score=int(match.group(1)), updated_at=utcnow())
            .execution_options(synchronize_session=False))
    if done.rowcount == 1:
        return "Cảm ơn anh/chị đã đánh giá! Em luôn sẵn sàng hỗ trợ khi anh/chị cần ạ."
    return "Dạ, em đã ghi nhận đánh giá của anh/chị rồi ạ. Anh/chị cần hỗ trợ gì thêm cứ nhắn em nhé."
