"""Agent accounts and console sessions.

Passwords are hashed with Argon2id (argon2-cffi). A login creates a random session token (sent to the
browser as an HttpOnly cookie; only its SHA-256 is stored) and a CSRF token that every mutating request must
echo in the `X-CSRF-Token` header. Failed logins are rate-limited per user name and per client address.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Deque, Dict, List, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from bot.db.models import Agent, AgentSession
from bot.db.session import session_scope
from bot.localtime import as_utc, utcnow

ROLES = ("agent", "supervisor")
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 8
_hasher = PasswordHasher()


@dataclass(frozen=True)
class AgentInfo:
    id: int
    username: str
    display_name: str
    role: str

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


def _info(agent: Agent) -> AgentInfo:
    return AgentInfo(agent.id, agent.username, agent.display_name, agent.role)


def add_agent(username: str, password: str, display_name: Optional[str] = None, role: str = "agent") -> AgentInfo:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must have at least {MIN_PASSWORD} characters")
    with session_scope() as session:
        agent = Agent(username=username.strip().lower(), display_name=(display_name or username).strip(),
                      password_hash=_hasher.hash(password), role=role, active=True)
        session.add(agent)
        session.flush()
        return _info(agent)


def list_agents() -> List[Dict[str, object]]:
    with session_scope() as session:
        return [{"id": a.id, "username": a.username, "display_name": a.display_name, "role": a.role,
                 "active": a.active, "last_seen_at": a.last_seen_at}
                for a in session.execute(select(Agent).order_by(Agent.username)).scalars()]


def set_active(username: str, active: bool) -> bool:
    with session_scope() as session:
        agent = session.execute(select(Agent).where(Agent.username == username.strip().lower())).scalar()
        if agent is None:
            return False
        agent.active = active
        if not active:
            session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))
        return True


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(username: str, password: str) -> Optional[tuple]:
    """(session token, csrf token, AgentInfo) or None for a wrong name/password or a disabled account."""
    with session_scope() as session:
        agent = session.execute(select(Agent).where(Agent.username == username.strip().lower())).scalar()
        if agent is None or not agent.active:
            _hasher.hash(password)  # same work either way: no user-name probing by timing
            return None
        try:
            _hasher.verify(agent.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        agent.last_seen_at = utcnow()
        session.add(AgentSession(token_hash=_token_hash(token), agent_id=agent.id, csrf_token=csrf,
                                 expires_at=utcnow() + SESSION_LIFETIME))
        return token, csrf, _info(agent)


def session_agent(token: str) -> Optional[tuple]:
    """(AgentInfo, csrf token) of a live session, or None. Also the agent's "online" heartbeat."""
    if not token:
        return None
    with session_scope() as session:
        row = session.get(AgentSession, _token_hash(token))
        if row is None:
            return None
        if as_utc(row.expires_at) < utcnow():
            session.delete(row)
            return None
        agent = session.get(Agent, row.agent_id)
        if agent is None or not agent.active:
            return None
        agent.last_seen_at = utcnow()
        return _info(agent), row.csrf_token


def logout(token: str) -> None:
    with session_scope() as session:
        session.execute(delete(AgentSession).where(AgentSession.token_hash == _token_hash(token)))


def agents_online(within: timedelta = timedelta(minutes=2)) -> int:
    with session_scope() as session:
        return len(session.execute(select(Agent.id).where(
            Agent.active.is_(True), Agent.last_seen_at >= utcnow() - within)).all())


class LoginLimiter:
    """At most `limit` failed logins per key (user name, client address) in `window` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: Dict[str, Deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> Deque[float]:
        times = self._failures[key]
        while times and times[0] < time.monotonic() - self.window:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> bool:
        return any(len(self._recent(k)) >= self.limit for k in keys)

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._recent(key).append(time.monotonic())
