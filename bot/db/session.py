"""Engine and session factory; one engine per database URL per process."""
from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator, Optional

from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.settings import get_settings


@lru_cache(maxsize=8)
def get_engine(url: Optional[str] = None) -> Engine:
    url = url or get_settings().database_url
    make_url_dir(url)
    if url.startswith("sqlite"):
        # A pool, not SQLAlchemy 1.4's NullPool for SQLite files: a new connection (and its pragmas) per
        # session cost more than the query on the hot path of every turn.
        engine = create_engine(url, future=True, connect_args={"check_same_thread": False, "timeout": 30},
                               poolclass=QueuePool, pool_size=8, max_overflow=8)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    return engine


def make_url_dir(url: str) -> None:
    """SQLite creates the file but not its folder (no-op for server databases)."""
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets the action server read while another process writes; FKs are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # In WAL, NORMAL syncs at checkpoints, not on every commit (a commit survives a crash of any process;
    # only a power loss may undo the last ones). Production runs PostgreSQL.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
    # Let SQLAlchemy, not pysqlite, emit BEGIN so SAVEPOINTs work (SQLAlchemy's documented recipe).
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn) -> None:
    # IMMEDIATE takes the write lock up front: concurrent writers queue on the busy timeout
    # instead of failing with "database is locked" when upgrading a read lock. Read-only sessions
    # (read_scope) begin DEFERRED: in WAL they never wait for a writer nor make one wait.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE")


@lru_cache(maxsize=8)
def _factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, future=True, expire_on_commit=False)


@contextmanager
def session_scope(engine: Optional[Engine] = None) -> Iterator[Session]:
    """A transaction: committed on success, rolled back on any error."""
    session = _factory(engine or get_engine())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_scope(engine: Optional[Engine] = None) -> Iterator[Session]:
    """A read-only transaction (hot-path look-ups: the takeover gate, echo checks); never committed."""
    session = _factory(engine or get_engine())()
    try:
        session.connection(execution_options={"read_only": True})
        yield session
    finally:
        session.rollback()
        session.close()
