"""Database tables (SQLAlchemy 1.4, 2.0-style declarative mapping)."""
from __future__ import annotations

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, String, Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

from bot.localtime import utcnow

Base = declarative_base()


class Customer(Base):
    __tablename__ = "customers"

    customer_code = Column(String(13), primary_key=True)
    full_name = Column(String(120), nullable=False)
    phone = Column(String(10))
    id_number = Column(String(12))
    address = Column(Text, nullable=False, default="")
    corporation = Column(String(16), nullable=False, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    bills = relationship("Bill", back_populates="customer", order_by="Bill.period.desc()")


class ServiceRequest(Base):
    __tablename__ = "service_requests"

    id = Column(Integer, primary_key=True)
    code = Column(String(12), nullable=False, unique=True)
    idempotency_key = Column(String(128), nullable=False, unique=True)
    service = Column(String(40), nullable=False)
    status = Column(String(20), nullable=False, default="received")
    priority = Column(String(10), nullable=False, default="normal")
    channel = Column(String(40), nullable=False, default="unknown")
    conversation_id = Column(String(128), nullable=False, default="")
    customer_code = Column(String(13), index=True)
    phone = Column(String(10), index=True)
    corporation = Column(String(16))
    fields = Column(JSON, nullable=False, default=dict)
    due_date = Column(Date, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)

    history = relationship(
        "RequestStatusHistory", back_populates="request", order_by="RequestStatusHistory.id",
        cascade="all, delete-orphan",
    )


class RequestStatusHistory(Base):
    __tablename__ = "request_status_history"

    id = Column(Integer, primary_key=True)
    request_id = Column(Integer, ForeignKey("service_requests.id", ondelete="CASCADE"), nullable=False, index=True)
    status = Column(String(20), nullable=False)
    note = Column(Text, nullable=False, default="")
    changed_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"))  # who changed it in the console
    # telling the customer on the request's channel: sent | failed | skipped (no conversation); NULL: not tried
    delivery = Column(String(12))
    delivery_error = Column(String(300))

    request = relationship("ServiceRequest", back_populates="history")


class Bill(Base):
    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("customer_code", "period", name="uq_bills_customer_period"),)

    id = Column(Integer, primary_key=True)
    customer_code = Column(String(13), ForeignKey("customers.customer_code", ondelete="CASCADE"), nullable=False)
    period = Column(String(7), nullable=False)  # YYYY-MM
    kwh = Column(Integer, nullable=False)
    amount = Column(BigInteger, nullable=False)  # đồng, VAT included
    due_date = Column(Date, nullable=False)
    paid = Column(Boolean, nullable=False, default=False)

    customer = relationship("Customer", back_populates="bills")


class PlannedOutage(Base):
    __tablename__ = "planned_outages"
    __table_args__ = (Index("ix_planned_outages_window", "start_at", "end_at"),)

    id = Column(Integer, primary_key=True)
    unit_code = Column(String(6), nullable=False, default="", index=True)  # first 6 chars of customer codes served
    area = Column(Text, nullable=False)
    start_at = Column(DateTime(timezone=True), nullable=False)
    end_at = Column(DateTime(timezone=True), nullable=False)
    reason = Column(Text, nullable=False, default="")


# received -> processing -> surveying -> waiting_customer -> done | rejected (the request desk may also step back)
REQUEST_STATUSES = ("received", "processing", "surveying", "waiting_customer", "done", "rejected")
FINAL_STATUSES = ("done", "rejected")
STATUS_VI = {
    "received": "Đã tiếp nhận",
    "processing": "Đang xử lý",
    "surveying": "Đang khảo sát",
    "waiting_customer": "Chờ khách hàng bổ sung",
    "done": "Đã hoàn thành",
    "rejected": "Từ chối",
}
# values stored before the request desk existed (migration 0004 rewrites them; kept readable anyway)
LEGACY_STATUSES = {"scheduled": "surveying", "completed": "done", "cancelled": "rejected"}


def canonical_status(status: str) -> str:
    return LEGACY_STATUSES.get(status, status)


def status_label(status: str) -> str:
    """Vietnamese label of a stored status, old values included."""
    return STATUS_VI.get(canonical_status(status), status)


# ---------------------------------------------------------------------------------------- channels
# Written by the channel connectors (connectors/base); read by the takeover work and the console.

class ChannelMessage(Base):
    """One message in or out of a channel: the exactly-once claim of an inbound platform message id and
    the delivery record of everything sent (a message that could not be delivered is kept as `failed`)."""

    __tablename__ = "channel_messages"
    __table_args__ = (
        UniqueConstraint("channel", "direction", "platform_message_id", name="uq_channel_messages_platform_id"),
        Index("ix_channel_messages_conversation", "conversation_id", "id"),
    )

    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    conversation_id = Column(String(160), nullable=False)
    direction = Column(String(3), nullable=False)  # "in" | "out"
    sender = Column(String(10), nullable=False)  # "user" | "bot" | "agent" | "system"
    sender_name = Column(String(80))  # the agent's name on agent messages
    platform_message_id = Column(String(160))  # NULL once a failed inbound claim is released
    text = Column(Text, nullable=False, default="")
    status = Column(String(12), nullable=False)  # in: received/failed/held; out: sent/failed/suppressed
    error = Column(String(300))
    choices = Column(JSON)  # options sent as a numbered list ([{title, payload}]): a typed number picks one
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)


class ChannelUser(Base):
    """What a channel knows about one of its users: profile, follow state, reachability."""

    __tablename__ = "channel_users"

    channel = Column(String(20), primary_key=True)
    user_id = Column(String(128), primary_key=True)
    display_name = Column(String(200))
    followed = Column(Boolean)
    reachable = Column(Boolean, nullable=False, default=True)
    unreachable_reason = Column(String(300))
    last_inbound_at = Column(DateTime(timezone=True))  # start of Messenger's 24 h window, Zalo's 7 days
    human_reply_at = Column(DateTime(timezone=True))  # a person answered from the platform's own inbox
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


class PendingEvidence(Base):
    """An image or location a customer sent during an outage report, waiting for the request to be stored
    (kept here, not in one process's memory, so a restart or another instance still attaches it)."""

    __tablename__ = "pending_evidence"

    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    item = Column(JSON, nullable=False)  # {type: image, url} or {type: location, latitude, longitude}
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class ChannelToken(Base):
    """OAuth tokens of a channel account (Zalo OA); the row is locked while a refresh spends the token."""

    __tablename__ = "channel_tokens"

    channel = Column(String(20), primary_key=True)
    access_token = Column(Text, nullable=False)
    refresh_token = Column(Text)
    expires_at = Column(DateTime(timezone=True))
    refreshed_at = Column(DateTime(timezone=True))
    last_error = Column(String(300))
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


# ---------------------------------------------------------------------------------------- takeover
# Written by bot/takeover (escalations, agents, the console API); read by the channels' gate.

CONVERSATION_STATES = ("bot", "waiting", "agent", "closed")  # a person holds `waiting` and `agent`


class Agent(Base):
    __tablename__ = "agents"

    id = Column(Integer, primary_key=True)
    username = Column(String(60), nullable=False, unique=True)
    display_name = Column(String(80), nullable=False)
    password_hash = Column(String(200), nullable=False)
    role = Column(String(12), nullable=False, default="agent")  # "agent" | "supervisor"
    active = Column(Boolean, nullable=False, default=True)
    last_seen_at = Column(DateTime(timezone=True))  # console heartbeat: "an agent is online"
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class AgentSession(Base):
    """A console login: only the token's hash is stored; the CSRF token goes with it."""

    __tablename__ = "agent_sessions"

    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at = Column(DateTime(timezone=True), nullable=False)


class Conversation(Base):
    """One customer on one channel, as the takeover engine and the console see it."""

    __tablename__ = "conversations"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(160), nullable=False, unique=True)  # Rasa's sender id
    channel = Column(String(20), nullable=False)
    display_name = Column(String(200))
    customer_code = Column(String(13))
    phone = Column(String(10))
    state = Column(String(10), nullable=False, default="bot", index=True)
    reason = Column(Text)
    priority = Column(String(10), nullable=False, default="normal")  # "normal" | "urgent"
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"))
    context = Column(JSON)  # what the bot had understood when it escalated
    escalated_at = Column(DateTime(timezone=True))
    claimed_at = Column(DateTime(timezone=True))
    resolved_at = Column(DateTime(timezone=True))
    last_agent_at = Column(DateTime(timezone=True))
    waiting_notified_at = Column(DateTime(timezone=True))  # the customer was told the queue is slow
    csat_score = Column(Integer)
    csat_comment = Column(Text)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow, index=True)


class AgentNote(Base):
    """A private note on a conversation: never sent to the customer."""

    __tablename__ = "agent_notes"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(160), nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"))
    text = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class CallbackRequest(Base):
    __tablename__ = "callback_requests"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(160), nullable=False, index=True)
    phone = Column(String(10))
    topic = Column(Text, nullable=False, default="")
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    done_at = Column(DateTime(timezone=True))
    done_by = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"))
    note = Column(Text)
