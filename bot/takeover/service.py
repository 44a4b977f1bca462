"""What an agent's action does beyond the state change: the customer hears about it on their own channel.

Messages reach the customer through Rasa's tracker-events API (bot/web/push.py), so they are part of the
conversation and leave through its channel's output, where the delivery is recorded. If Rasa cannot be
reached the message is still logged, as `failed`, for the console to show.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Optional

from sqlalchemy import select

from bot.catalogue import load_catalogue
from bot.db.models import STATUS_VI, AgentNote, ChannelMessage, Conversation, ServiceRequest
from bot.db.repository import get_customer, latest_bills, requests_by_phone, unpaid_total
from bot.db.session import session_scope
from bot.localtime import utcnow
from bot.settings import Settings
from bot.takeover import engine, notify
from bot.takeover.agents import AgentInfo
from bot.web.push import PushError, push_message, set_typing

logger = logging.getLogger(__name__)
CSAT_PAYLOAD = '/csat{{"score":{score}}}'
CSAT_BUTTONS = [{"title": "⭐" * n, "payload": CSAT_PAYLOAD.format(score=n)} for n in range(5, 0, -1)]
BACK_TEXT = "Dạ, em là trợ lý tự động, em tiếp tục hỗ trợ anh/chị ạ."
RESOLVED_TEXT = ("Tư vấn viên đã hoàn tất hỗ trợ. Anh/chị chấm điểm cuộc trò chuyện giúp em (5 sao là rất hài "
                 "lòng) nhé; nếu cần gì thêm, anh/chị cứ nhắn tiếp ạ.")


async def run_db(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))


def _load(pk: int) -> Conversation:
    with session_scope() as session:
        row = session.get(Conversation, pk)
        if row is None:
            raise engine.NotFound(pk)
        return row


def _change(agent: AgentInfo, pk: int, action: str, target_agent: Optional[int]) -> Dict[str, Any]:
    now = utcnow()
    with session_scope() as session:
        row = session.get(Conversation, pk)
        if row is None:
            raise engine.NotFound(pk)
        if action in ("hand_back", "resolve", "transfer") and not (agent.supervisor or row.agent_id in (None, agent.id)):
            raise PermissionError("Cuộc trò chuyện này do tư vấn viên khác phụ trách.")
        values: Dict[str, Any] = {}
        if action in ("claim", "take_over"):
            values = {"agent_id": agent.id, "claimed_at": now}
            if action == "take_over":
                values.update(escalated_at=row.escalated_at or now, reason=row.reason or "Tư vấn viên chủ động hỗ trợ")
        elif action == "transfer":
            if not isinstance(target_agent, int):
                raise ValueError("agent_id là bắt buộc")
            values = {"agent_id": target_agent}
        elif action == "resolve":
            values = {"resolved_at": now}
        row = engine.transition(session, pk, action, **values)
        return engine.as_dict(row)


def resume_hint(context: Optional[Dict[str, Any]]) -> str:
    """A half-filled form goes on where it stopped: remind the customer what it was waiting for."""
    slot = (context or {}).get("requested_slot")
    spec = load_catalogue().slots.get(slot) if slot else None
    if not (context or {}).get("form") or spec is None:
        return " Anh/chị cần hỗ trợ gì cứ nhắn em nhé."
    return f" Phần đăng ký đang làm dở vẫn được giữ: anh/chị gửi tiếp {spec.vi.lower()} để hoàn tất nhé."


async def act(settings: Settings, agent: AgentInfo, pk: int, action: str,
              target_agent: Optional[int] = None) -> Dict[str, Any]:
    """Claim, take over, transfer, hand back or resolve; tell the customer where it matters."""
    result = await run_db(_change, agent, pk, action, target_agent)
    await notify.announce(action, result["conversation_id"])
    conversation_id = result["conversation_id"]
    if action == "hand_back":
        await say(settings, conversation_id, BACK_TEXT + resume_hint(result.get("context")), sender="bot")
    elif action == "resolve":
        await say(settings, conversation_id, RESOLVED_TEXT, sender="system", buttons=CSAT_BUTTONS)
    elif action in ("claim", "take_over"):
        await say(settings, conversation_id, f"Dạ, em là {agent.display_name}, tư vấn viên chăm sóc khách hàng. "
                                             "Em hỗ trợ anh/chị ngay ạ.", sender="agent", sender_name=agent.display_name)
    return result


async def say(settings: Settings, conversation_id: str, text: str, *, sender: str,
              sender_name: Optional[str] = None, buttons: Optional[list] = None) -> bool:
    """Deliver on the conversation's channel; a Rasa that cannot be reached is logged as a failed message."""
    try:
        await push_message(settings, conversation_id, text, sender=sender, sender_name=sender_name,
                           buttons=buttons)
        return True
    except (PushError, OSError, asyncio.TimeoutError) as exc:
        logger.warning("message to %s not delivered: %s", conversation_id, exc)
        await run_db(_log_failed, conversation_id, sender, text, str(exc), sender_name)
        return False
    except Exception as exc:  # noqa: BLE001 - aiohttp client errors and the like
        logger.warning("message to %s not delivered: %s", conversation_id, exc)
        await run_db(_log_failed, conversation_id, sender, text, f"{exc.__class__.__name__}: {exc}", sender_name)
        return False


def _log_failed(conversation_id: str, sender: str, text: str, error: str, sender_name: Optional[str] = None) -> None:
    with session_scope() as session:
        row = session.execute(select(Conversation.channel).where(Conversation.conversation_id == conversation_id))
        session.add(ChannelMessage(channel=row.scalar() or engine.channel_of(conversation_id),
                                   conversation_id=conversation_id, direction="out", sender=sender,
                                   sender_name=sender_name, text=text, status="failed", error=error[:300]))


def _touch_agent(pk: int, agent: AgentInfo) -> Conversation:
    with session_scope() as session:
        row = session.get(Conversation, pk)
        if row is None:
            raise engine.NotFound(pk)
        if row.state != "agent":
            raise engine.Conflict("reply", row.state)
        if not (agent.supervisor or row.agent_id in (None, agent.id)):
            raise PermissionError("Cuộc trò chuyện này do tư vấn viên khác phụ trách.")
        row.agent_id = row.agent_id or agent.id
        row.last_agent_at = utcnow()
        return row


async def reply(settings: Settings, agent: AgentInfo, pk: int, text: str) -> Dict[str, Any]:
    row = await run_db(_touch_agent, pk, agent)
    delivered = await say(settings, row.conversation_id, text, sender="agent", sender_name=agent.display_name)
    await notify.announce("reply", row.conversation_id)
    return {"ok": True, "delivered": delivered}


async def typing(settings: Settings, pk: int, on: bool) -> None:
    row = await run_db(_load, pk)
    if row.channel == "webchat":
        try:
            await set_typing(settings, row.conversation_id, on)
        except Exception as exc:  # noqa: BLE001 - a typing indicator is best effort
            logger.info("typing indicator for %s failed: %s", row.conversation_id, exc)


def add_note(agent: AgentInfo, pk: int, text: str) -> None:
    with session_scope() as session:
        row = session.get(Conversation, pk)
        if row is None:
            raise engine.NotFound(pk)
        session.add(AgentNote(conversation_id=row.conversation_id, agent_id=agent.id, text=text))
        row.updated_at = utcnow()


def customer_record(session: Any, customer_code: Optional[str], phone: Optional[str]) -> Dict[str, Any]:
    """The customer panel: record, recent requests, latest bills and the unpaid total."""
    record: Dict[str, Any] = {"customer": None, "requests": [], "bills": [], "unpaid": None}
    if customer_code:
        customer = get_customer(session, customer_code)
        if customer is not None:
            record["customer"] = {"customer_code": customer.customer_code, "full_name": customer.full_name,
                                  "phone": customer.phone, "address": customer.address,
                                  "corporation": customer.corporation}
            record["bills"] = [{"period": b.period, "kwh": b.kwh, "amount": b.amount, "paid": b.paid,
                                "due_date": b.due_date.isoformat()} for b in latest_bills(session, customer_code)]
            record["unpaid"] = unpaid_total(session, customer_code)
    requests = list(requests_by_phone(session, phone)) if phone else []
    if customer_code:
        requests += [r for r in session.execute(select(ServiceRequest).where(
            ServiceRequest.customer_code == customer_code).order_by(ServiceRequest.id.desc()).limit(5)).scalars()
            if r not in requests]
    record["requests"] = [{"code": r.code, "service": r.service, "status": r.status,
                           "status_vi": STATUS_VI.get(r.status, r.status), "due_date": r.due_date.isoformat()}
                          for r in requests[:10]]
    return record
