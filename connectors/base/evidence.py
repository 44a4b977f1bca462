"""Outage evidence every channel shares: images and locations a customer sends, put on their outage request.

A location (any time) or an image (during an outage report) is not a message for the dialogue: the channel
keeps it here and acknowledges it (`media_turn`, in the conversation's turn order, through the takeover gate
like every bot line). The items wait in the database (`pending_evidence`: a restart or another Rasa instance
still has them) and, after the turn that stores the conversation's outage request, move onto it as
`fields["evidence"]` (`[{type: image, url}, {type: location, latitude, longitude}]`); items older than
EVIDENCE_TTL belong to no report and are dropped. The actions never see them.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from rasa.core.channels.channel import UserMessage
from sqlalchemy import delete, select

from bot.db.models import PendingEvidence, ServiceRequest
from bot.db.session import session_scope
from bot.localtime import utcnow
from connectors.base import store

if TYPE_CHECKING:  # pragma: no cover
    from connectors.base.channel import ChannelInput, Handler
    from connectors.base.output import ChannelOutput

logger = logging.getLogger(__name__)
OUTAGE_SERVICE = "outage_report"
EVIDENCE_TTL = timedelta(hours=2)
IMAGE_SAVED = ("Dạ em đã nhận ảnh và sẽ gửi kèm báo cáo sự cố làm bằng chứng. "
               "Anh/chị tiếp tục trả lời câu hỏi ở trên giúp em nhé.")
LOCATION_SAVED = ("Dạ em đã ghi nhận vị trí ({lat}, {lng}) và sẽ gửi kèm báo cáo sự cố. "
                  "Anh/chị tiếp tục trả lời câu hỏi ở trên giúp em nhé.")
LOCATION_OUTSIDE = ("Dạ em đã nhận vị trí ({lat}, {lng}). Nếu anh/chị muốn báo mất điện tại đây, anh/chị nhắn "
                    "\"báo mất điện\" giúp em; vị trí này sẽ được gửi kèm báo cáo.")


# -- the channel side -------------------------------------------------------------------------------

async def in_outage_report(agent: Any, conversation_id: str) -> bool:
    """Whether the conversation's form is collecting an outage report now."""
    if agent is None or getattr(agent, "tracker_store", None) is None:
        return False
    try:
        tracker = await agent.tracker_store.retrieve(conversation_id)
    except Exception:  # noqa: BLE001 - then the polite default answer
        logger.exception("could not read the tracker of %s", conversation_id)
        return False
    if tracker is None:
        return False
    loop = (tracker.active_loop or {}).get("name") if isinstance(tracker.active_loop, dict) \
        else getattr(tracker.active_loop, "name", None)
    return bool(loop) and tracker.get_slot("service") == OUTAGE_SERVICE


async def media_turn(channel: "ChannelInput", output: "ChannelOutput", conversation_id: str,
                     location: Optional[Dict[str, float]], urls: List[str]) -> bool:
    """Keep a location, or images during an outage report, and say so; False when nothing was kept (the
    channel then gives its own line about what the assistant reads)."""
    outage = await in_outage_report(channel.agent, conversation_id)
    if location:
        await store.run_db(keep_evidence, conversation_id, {"type": "location", **location})
        template = LOCATION_SAVED if outage else LOCATION_OUTSIDE
        await channel.tell(output, conversation_id, template.format(lat=location["latitude"],
                                                                   lng=location["longitude"]))
        return True
    if urls and outage:
        for url in urls:
            await store.run_db(keep_evidence, conversation_id, {"type": "image", "url": url})
        await channel.tell(output, conversation_id, IMAGE_SAVED)
        return True
    return False


def with_evidence(channel: "ChannelInput", handler: "Handler") -> "Handler":
    """`handler` followed by moving waiting evidence onto the outage request the turn may have stored."""
    async def run(message: UserMessage) -> Any:
        result = await handler(message)
        await attach_after_turn(channel.agent, message.sender_id)
        return result
    return run


async def attach_after_turn(agent: Any, conversation_id: str) -> None:
    if agent is None:
        return
    try:
        if not await store.run_db(has_pending_evidence, conversation_id):
            return
        tracker = await agent.tracker_store.retrieve(conversation_id)
        code = tracker.get_slot("request_code") if tracker is not None else None
        attached = await store.run_db(attach_evidence, code, conversation_id) if code else 0
        if attached:
            logger.info("%d evidence item(s) attached to request %s", attached, code)
    except Exception:  # noqa: BLE001 - the rows stay; the next turn tries again
        logger.exception("evidence of %s not attached yet", conversation_id)


# -- the database side ------------------------------------------------------------------------------

def _fresh(conversation_id: str) -> Any:
    return (PendingEvidence.conversation_id == conversation_id) & \
        (PendingEvidence.created_at >= utcnow() - EVIDENCE_TTL)


def keep_evidence(conversation_id: str, item: Dict[str, Any]) -> None:
    """Store an image/location until the outage request exists (the conversation's items older than
    EVIDENCE_TTL are dropped: they belong to no report any more)."""
    with session_scope() as session:
        session.execute(delete(PendingEvidence).where(PendingEvidence.conversation_id == conversation_id,
                                                      PendingEvidence.created_at < utcnow() - EVIDENCE_TTL))
        session.add(PendingEvidence(conversation_id=conversation_id, item=item))


def has_pending_evidence(conversation_id: str) -> bool:
    with session_scope() as session:
        return session.execute(select(PendingEvidence.id).where(_fresh(conversation_id)).limit(1)).first() \
            is not None


def pending_evidence(conversation_id: str) -> List[Dict[str, Any]]:
    """The items waiting for this conversation's outage request, oldest first."""
    with session_scope() as session:
        return [row.item for row in session.scalars(select(PendingEvidence).where(_fresh(conversation_id))
                                                    .order_by(PendingEvidence.id))]


def attach_evidence(code: str, conversation_id: str) -> int:
    """Move the waiting items onto outage request `code` of this conversation, once; how many moved (0, and
    the items stay, when the request is not this conversation's outage report)."""
    with session_scope() as session:
        rows = session.scalars(select(PendingEvidence).where(_fresh(conversation_id))
                               .order_by(PendingEvidence.id).with_for_update()).all()
        request = session.execute(select(ServiceRequest).where(ServiceRequest.code == code)).scalar_one_or_none()
        if not rows or request is None or request.conversation_id != conversation_id \
                or request.service != OUTAGE_SERVICE:
            return 0
        fields = dict(request.fields or {})
        fields["evidence"] = list(fields.get("evidence") or []) + [row.item for row in rows]
        request.fields = fields
        for row in rows:
            session.delete(row)
        return len(rows)
