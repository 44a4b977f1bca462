"""Channel records in the project database (tables in bot/db/models.py), reached from the event loop.

Every function here is synchronous SQLAlchemy; connectors call them through `run_db()`, which runs them in
a worker thread so the Rasa server's event loop never waits on the database.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.db.models import ChannelMessage, ChannelUser, utcnow
from bot.db.session import read_scope, session_scope

logger = logging.getLogger(__name__)
T = TypeVar("T")
MAX_TEXT = 4000
INBOX_RETENTION = timedelta(days=14)  # platforms redeliver for hours (Zalo up to ~12 h), never for weeks


async def run_db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


# ------------------------------------------------------------------------------------------ messages

def claim_inbound(channel: str, conversation_id: str, message_id: str, text: str) -> bool:
    """Record an inbound platform message id; False if it was recorded before (a redelivery)."""
    try:
        with session_scope() as session:
            session.add(ChannelMessage(channel=channel, conversation_id=conversation_id, direction="in",
                                       sender="user", platform_message_id=message_id, text=text[:MAX_TEXT],
                                       status="received"))
        return True
    except IntegrityError:
        return False


def release_inbound(channel: str, message_id: str, error: str) -> None:
    """A turn failed: keep the row as a log entry but free the id, so a resend is processed."""
    with session_scope() as session:
        session.execute(update(ChannelMessage).where(
            ChannelMessage.channel == channel, ChannelMessage.direction == "in",
            ChannelMessage.platform_message_id == message_id,
        ).values(platform_message_id=None, status="failed", error=error[:300]))


def mark_inbound(channel: str, message_id: str, status: str) -> None:
    with session_scope() as session:
        session.execute(update(ChannelMessage).where(
            ChannelMessage.channel == channel, ChannelMessage.direction == "in",
            ChannelMessage.platform_message_id == message_id).values(status=status))


def record_outbound(channel: str, conversation_id: str, sender: str, text: str, status: str,
                    platform_message_ids: Optional[List[str]] = None, error: Optional[str] = None,
                    choices: Optional[List[Dict[str, str]]] = None, sender_name: Optional[str] = None) -> None:
    """One row per platform message id (each may come back as an echo); one row if there is none."""
    ids: List[Optional[str]] = list(platform_message_ids or []) or [None]
    with session_scope() as session:
        for i, platform_id in enumerate(ids):
            last = i == len(ids) - 1
            session.add(ChannelMessage(
                channel=channel, conversation_id=conversation_id, direction="out", sender=sender,
                sender_name=(sender_name or None) and sender_name[:80], platform_message_id=platform_id, text=(text or "")[:MAX_TEXT] if i == 0 else "", status=status,
                error=(error or None) and error[:300], choices=choices if last else None))


def latest_choices(conversation_id: str) -> Optional[List[Dict[str, str]]]:
    """The numbered options of the last message we sent, if it offered any."""
    with read_scope() as session:
        return session.execute(select(ChannelMessage.choices).where(
            ChannelMessage.conversation_id == conversation_id, ChannelMessage.direction == "out",
            ChannelMessage.status == "sent").order_by(ChannelMessage.id.desc()).limit(1)).scalar()


def was_sent_by_us(channel: str, platform_message_id: str) -> bool:
    """True if we sent the platform message with this id (its echo must be ignored)."""
    with read_scope() as session:
        return session.execute(select(ChannelMessage.id).where(
            ChannelMessage.channel == channel, ChannelMessage.direction == "out",
            ChannelMessage.platform_message_id == platform_message_id)).first() is not None


def conversation_log(conversation_id: str, limit: int = 200) -> List[Dict[str, Any]]:
    with read_scope() as session:
        rows = session.execute(select(ChannelMessage).where(ChannelMessage.conversation_id == conversation_id)
                               .order_by(ChannelMessage.id.desc()).limit(limit)).scalars().all()
        return [{"id": r.id, "channel": r.channel, "direction": r.direction, "sender": r.sender, "text": r.text,
                 "status": r.status, "error": r.error, "platform_message_id": r.platform_message_id,
                 "created_at": r.created_at} for r in reversed(rows)]


def purge_inbox(older_than: timedelta = INBOX_RETENTION) -> int:
    """Forget inbound ids older than any platform redelivers (the log rows stay, without their id)."""
    cutoff = utcnow() - older_than
    with session_scope() as session:
        result = session.execute(update(ChannelMessage).where(
            ChannelMessage.direction == "in", ChannelMessage.created_at < cutoff,
            ChannelMessage.platform_message_id.is_not(None)).values(platform_message_id=None))
        return result.rowcount or 0


# ------------------------------------------------------------------------------------------- users

def _user(session: Any, channel: str, user_id: str) -> ChannelUser:
    user = session.get(ChannelUser, (channel, user_id))
    if user is None:
        user = ChannelUser(channel=channel, user_id=user_id, reachable=True)
        session.add(user)
    return user


def get_user(channel: str, user_id: str) -> Optional[Dict[str, Any]]:
    with read_scope() as session:
        user = session.get(ChannelUser, (channel, user_id))
        if user is None:
            return None
        return {c.name: getattr(user, c.name) for c in ChannelUser.__table__.columns}


def update_user(channel: str, user_id: str, **values: Any) -> None:
    """Set columns of a channel user (created on first use). Concurrent first writes retry once."""
    for attempt in (1, 2):
        try:
            with session_scope() as session:
                user = _user(session, channel, user_id)
                for name, value in values.items():
                    setattr(user, name, value)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def touch_inbound(channel: str, user_id: str, when: Optional[datetime] = None) -> None:
    """The user wrote: the messaging window restarts and the user is reachable again."""
    update_user(channel, user_id, last_inbound_at=when or utcnow(), reachable=True, unreachable_reason=None)

