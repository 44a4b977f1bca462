"""Shared fixtures: a migrated throw-away database (SQLite, and PostgreSQL when reachable)."""
from __future__ import annotations

import os
import uuid
from typing import Any, Dict, Iterator, Optional

import aiohttp
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text

from bot.db import session as db_session
from bot.db.migrate import upgrade
from bot.db.models import Base
from bot.settings import get_settings

if not hasattr(aiohttp, "ClientWSTimeout"):
    # python-engineio 4.15's websocket client expects aiohttp >= 3.10; with the pinned 3.9 a float timeout
    # is what ws_connect() takes. Test-side only: the project never uses the Python socket.io client.
    aiohttp.ClientWSTimeout = lambda ws_close=None, ws_receive=None: ws_close  # type: ignore[attr-defined]

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    db_session.get_engine.cache_clear()


@pytest.fixture
def db_url(tmp_path, monkeypatch) -> Iterator[str]:
    """A migrated SQLite database in a temp dir, made the process default for the test."""
    url = f"sqlite:///{tmp_path / 'test.db'}"
    upgrade(url)
    _use_database(monkeypatch, url)
    yield url
    db_session.get_engine(url).dispose()
    get_settings.cache_clear()
    db_session.get_engine.cache_clear()


@pytest.fixture
def session(db_url):
    with db_session.session_scope() as s:
        yield s


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test run, migrated once."""
    try:
        import psycopg2

        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    admin.autocommit = True
    name = f"evn_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    db_session.get_engine.cache_clear()
    with admin.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request, tmp_path, monkeypatch) -> Iterator[str]:
    """The same test against SQLite and PostgreSQL (emptied between tests)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("postgres_url")
        engine = db_session.get_engine(url)
        with engine.begin() as conn:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    _use_database(monkeypatch, url)
    yield url
    db_session.get_engine(url).dispose()
    get_settings.cache_clear()
    db_session.get_engine.cache_clear()


def user_tracker(text: str, intent: str, entities: Optional[Dict[str, str]] = None,
                 slots: Optional[Dict[str, Any]] = None, form: Optional[str] = None) -> Tracker:
    """A tracker whose latest user message is `text` with `intent` and `entities`, for action tests."""
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.98},
        "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
    }
    return Tracker("test-user", dict(slots or {}), message, [], False, None,
                   {"name": form} if form else {}, "action_listen")


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def domain() -> Dict[str, Any]:
    return {}
