"""Fixes for three hot spots of the Rasa 3.6.21 server, found with py-spy under load (README, "Speed").

Applied when the Rasa server loads our channels (`connectors/__init__.py` imports this module; in a process
that has not loaded Rasa's dialogue core, e.g. the CLI, nothing is imported or patched). Each fix keeps
Rasa's behaviour (same checks, same errors, same query) and only removes repeated work:

1. `RemoteAction._validate_action_result` calls `jsonschema.validate`, which re-checks the *schema itself*
   against the meta-schema on every action response (about half the server's CPU under load). The validator is
   built once, its schema checked once; a valid response takes the `is_valid` fast path, an invalid one raises
   the same `best_match` error with Rasa's message.
2. `Event.resolve_by_type` walks `all_subclasses(Event)` (with `inspect.isabstract` on each) for every event of
   every tracker it rebuilds. A dict by type name, rebuilt when a name is missing (a subclass imported later).
3. `SQLTrackerStore._retrieve` loads every event as an ORM object to read one column; it now selects only the
   `data` column with Rasa's own query (same filter, same order).
4. A SQLite tracker store (the local default) runs in Rasa's rollback-journal mode, two fsyncs per saved turn,
   on a new connection per session; it gets the project database's settings instead (bot/db/session.py): a
   connection pool, WAL (readers never wait for the
   writer, several Rasa processes can share it) and synchronous=NORMAL (a commit survives any process crash;
   only a power loss may undo the last ones). PostgreSQL, the production store, is left as it is.

Pinned to one Rasa version: on any other version nothing is patched and a loud warning says so (the patched
methods may have changed). `RASA_SPEEDUPS=false` turns the fixes off (to compare in the load benchmark).
"""
from __future__ import annotations

import json
import logging
import sys
from typing import Any, Dict, Optional, Text, Type

from bot.rasa_guard import RASA_VERSION, may_patch  # noqa: F401 - RASA_VERSION for callers

logger = logging.getLogger(__name__)

_applied: Optional[bool] = None


def apply() -> bool:
    """Patch Rasa once; True when the fixes are active."""
    global _applied
    if _applied is None:
        _applied = may_patch("rasa_speedups", "RASA_SPEEDUPS", "the hot-path fixes are NOT applied (expect about "
                             "half the throughput). Check bot/rasa_speedups.py against this version.")
        if _applied:
            _patch_action_validation()
            _patch_event_lookup()
            _patch_sql_retrieve()
            _patch_sqlite_tracker()
            logger.info("rasa_speedups: on (action response validation, event lookup, SQL tracker reads, "
                        "SQLite tracker in WAL)")
    return _applied


# ---------------------------------------------------------------------------------------------------------
# 1. action response validation
# ---------------------------------------------------------------------------------------------------------

_validator: Any = None


def action_response_validator() -> Any:
    """The jsonschema validator of Rasa's action response format, its schema checked once."""
    global _validator
    if _validator is None:
        from jsonschema.validators import validator_for
        from rasa.core.actions.action import RemoteAction

        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    return _validator


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """Drop-in for `RemoteAction._validate_action_result` (same error and message when invalid)."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    validator = action_response_validator()
    if validator.is_valid(result):
        return True
    error = exceptions.best_match(validator.iter_errors(result))
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def _patch_action_validation() -> None:
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = validate_action_result


# ---------------------------------------------------------------------------------------------------------
# 2. event class by type name
# ---------------------------------------------------------------------------------------------------------

_event_classes: Dict[Text, Type[Any]] = {}


def _index_event_classes() -> None:
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    index: Dict[Text, Type[Any]] = {}
    for cls in rasa.shared.utils.common.all_subclasses(Event):
        index.setdefault(cls.type_name, cls)  # the first match wins, as in Rasa's loop
    _event_classes.clear()
    _event_classes.update(index)


def resolve_by_type(type_name: Text, default: Optional[Type[Any]] = None) -> Optional[Type[Any]]:
    """Drop-in for `Event.resolve_by_type`."""
    cls = _event_classes.get(type_name)
    if cls is None:
        _index_event_classes()
        cls = _event_classes.get(type_name)
    if cls is not None:
        return cls
    if type_name == "topic":
        return None  # Rasa's backwards compatibility for old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def _patch_event_lookup() -> None:
    from rasa.shared.core.events import Event

    Event.resolve_by_type = staticmethod(resolve_by_type)


# ---------------------------------------------------------------------------------------------------------
# 3. SQL tracker store: read only the serialised events
# ---------------------------------------------------------------------------------------------------------


async def sql_retrieve(self: Any, sender_id: Text, fetch_events_from_all_sessions: bool) -> Any:
    """Drop-in for `SQLTrackerStore._retrieve`: Rasa's query, one column."""
    from rasa.shared.core.trackers import DialogueStateTracker

    with self.session_scope() as session:
        query = self._event_query(session, sender_id,
                                  fetch_events_from_all_sessions=fetch_events_from_all_sessions)
        events = [json.loads(data) for (data,) in query.with_entities(self.SQLEvent.data).all()]
    if self.domain and events:
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
    return None


def _patch_sql_retrieve() -> None:
    from rasa.core.tracker_store import SQLTrackerStore

    SQLTrackerStore._retrieve = sql_retrieve



# ---------------------------------------------------------------------------------------------------------
# 4. SQLite tracker store: WAL, synchronous=NORMAL
# ---------------------------------------------------------------------------------------------------------


def _sqlite_wal(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _patch_sqlite_tracker() -> None:
    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore
    from sqlalchemy import event
    from sqlalchemy.orm import sessionmaker
    from sqlalchemy.pool import QueuePool

    original_init = SQLTrackerStore.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            # a pooled engine (SQLAlchemy 1.4 opens a new SQLite connection per session) with the pragmas
            self.engine.dispose()
            self.engine = sa.create_engine(self.engine.url, poolclass=QueuePool, pool_size=4, max_overflow=4,
                                           connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(self.engine, "connect", _sqlite_wal)
            self.sessionmaker = sessionmaker(bind=self.engine)

    SQLTrackerStore.__init__ = init


if "rasa.core.processor" in sys.modules:  # inside a Rasa server: everything patched is loaded already
    apply()
