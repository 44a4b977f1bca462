"""The demo console login that `make run` prints (DEMO ONLY: a local try-out, never a real deployment).

Created only when the setting DEMO_AGENT is on, the database is the default local SQLite file and no agent
account exists yet. Its random password is kept in var/demo-agent.txt (git-ignored, mode 600) so every
`make run` can print it again; create real accounts with `python -m bot agents add NAME`.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Optional

from sqlalchemy import func, select

from bot import PROJECT_ROOT
from bot.db.models import Agent
from bot.db.session import session_scope
from bot.settings import Settings

USERNAME = "demo"
PASSWORD_FILE = PROJECT_ROOT / "var" / "demo-agent.txt"


def allowed(settings: Settings) -> bool:
    return settings.demo_agent and settings.database_url == Settings().database_url


def ensure_demo_agent(settings: Settings, password_file: Path = PASSWORD_FILE) -> Optional[str]:
    """The demo password when the demo login exists (created now if allowed and no agent exists), else None."""
    if not allowed(settings):
        return None
    from bot.takeover.agents import add_agent

    with session_scope() as session:
        agents = session.execute(select(func.count(Agent.id))).scalar()
        demo = session.execute(select(Agent.id).where(Agent.username == USERNAME, Agent.active.is_(True))).scalar()
    if demo is not None:
        return password_file.read_text(encoding="utf-8").strip() if password_file.is_file() else None
    if agents:
        return None
    password = secrets.token_urlsafe(9)
    add_agent(USERNAME, password, "Tư vấn viên demo", role="supervisor")
    password_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(password + "\n")
    return password
