"""bot/rasa_speedups.py: each fix behaves exactly like the Rasa code it replaces, and the version guard holds."""
from __future__ import annotations

import asyncio
from unittest import mock

import jsonschema
import pytest
import rasa
import rasa.shared.utils.common
from rasa.core.actions.action import RemoteAction
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, BotUttered, Event, SessionStarted, SlotSet,
                                     UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups

ORIGINAL_VALIDATE = RemoteAction._validate_action_result
ORIGINAL_RESOLVE = Event.resolve_by_type
ORIGINAL_RETRIEVE = SQLTrackerStore._retrieve
ORIGINAL_INIT = SQLTrackerStore.__init__

VALID = {"events": [{"event": "slot", "timestamp": None, "name": "phone", "value": "0912345678"},
                    {"event": "active_loop", "name": None}],
         "responses": [{"text": "Dạ, em đã ghi nhận ạ.", "buttons": []}]}
INVALID = [{"events": [{"event": "slot", "name": 5}]}, {"events": "not a list"},
           {"events": [{"event": "bogus"}]}, {"responses": [1, 2]}]


@pytest.fixture
def patched(monkeypatch):
    """Apply the fixes for one test; the original Rasa methods come back afterwards."""
    monkeypatch.setattr(RemoteAction, "_validate_action_result", ORIGINAL_VALIDATE)
    monkeypatch.setattr(Event, "resolve_by_type", staticmethod(ORIGINAL_RESOLVE))
    monkeypatch.setattr(SQLTrackerStore, "_retrieve", ORIGINAL_RETRIEVE)
    monkeypatch.setattr(SQLTrackerStore, "__init__", ORIGINAL_INIT)
    monkeypatch.setattr(rasa_speedups, "_applied", None)
    monkeypatch.delenv("RASA_SPEEDUPS", raising=False)
    assert rasa_speedups.apply()
    yield


def test_other_rasa_version_patches_nothing_and_says_so_loudly(monkeypatch, capsys):
    monkeypatch.setattr(rasa_speedups, "_applied", None)
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    monkeypatch.setattr(RemoteAction, "_validate_action_result", ORIGINAL_VALIDATE)
    assert rasa_speedups.apply() is False
    assert RemoteAction._validate_action_result is ORIGINAL_VALIDATE
    assert "NOT applied" in capsys.readouterr().err


def test_switch_off(monkeypatch):
    monkeypatch.setattr(rasa_speedups, "_applied", None)
    monkeypatch.setenv("RASA_SPEEDUPS", "false")
    monkeypatch.setattr(RemoteAction, "_validate_action_result", ORIGINAL_VALIDATE)
    assert rasa_speedups.apply() is False
    assert RemoteAction._validate_action_result is ORIGINAL_VALIDATE


def test_pinned_version_is_the_installed_one():
    """If this fails, Rasa was upgraded: re-check every patched method, then move RASA_VERSION."""
    assert rasa.__version__ == rasa_speedups.RASA_VERSION


def test_valid_action_responses_pass_and_the_schema_is_checked_once(patched):
    action = RemoteAction("action_x", None)
    with mock.patch.object(jsonschema.Draft202012Validator, "check_schema",
                           wraps=jsonschema.Draft202012Validator.check_schema) as check, \
            mock.patch.object(rasa_speedups, "_validator", None):
        for _ in range(20):
            assert action._validate_action_result(VALID) is True
            assert ORIGINAL_VALIDATE(action, VALID) is True
    # Rasa's jsonschema.validate checks the schema on each of its 20 calls; ours once
    assert check.call_count == 21


@pytest.mark.parametrize("response", INVALID)
def test_invalid_action_responses_raise_rasas_error(patched, response):
    action = RemoteAction("action_x", None)
    with pytest.raises(jsonschema.ValidationError) as ours:
        action._validate_action_result(response)
    with pytest.raises(jsonschema.ValidationError) as theirs:
        ORIGINAL_VALIDATE(action, response)
    assert ours.value.message == theirs.value.message
    assert "Failed to validate Action server response" in ours.value.message


def test_event_classes_resolve_as_in_rasa(patched):
    names = {cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)}
    assert {"user", "bot", "slot", "action", "session_started", "active_loop"} <= names
    for name in names:
        assert Event.resolve_by_type(name) is ORIGINAL_RESOLVE(name)
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("nope", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name 'nope'"):
        Event.resolve_by_type("nope")


def test_a_subclass_imported_later_is_found(patched):
    assert Event.resolve_by_type("user") is UserUttered  # index built

    class LateEvent(ActionExecuted):
        type_name = "late_event_for_test"

    assert Event.resolve_by_type("late_event_for_test") is LateEvent


def _events(start: float) -> list[Event]:
    return [ActionExecuted("action_session_start", timestamp=start), SessionStarted(timestamp=start + 1),
            ActionExecuted("action_listen", timestamp=start + 2),
            UserUttered("xin chào", {"name": "greet", "confidence": 0.9}, timestamp=start + 3),
            SlotSet("phone", "0912345678", timestamp=start + 4),
            BotUttered("Dạ em chào anh/chị!", timestamp=start + 5)]


def test_sql_tracker_reads_match_rasa(patched, tmp_path):
    domain = Domain.from_yaml("version: '3.1'\nslots:\n  phone:\n    type: text\n    mappings:\n"
                              "    - type: custom\n")
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    tracker = DialogueStateTracker.from_events("c1", _events(100.0) + _events(200.0), domain.slots)
    asyncio.run(store.save(tracker))
    for all_sessions in (False, True):
        ours = asyncio.run(store._retrieve("c1", fetch_events_from_all_sessions=all_sessions))
        theirs = asyncio.run(ORIGINAL_RETRIEVE(store, "c1", fetch_events_from_all_sessions=all_sessions))
        assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in theirs.events]
        assert len(ours.events) == (12 if all_sessions else 5)  # Rasa: from the last SessionStarted
        assert ours.get_slot("phone") == "0912345678"
    assert asyncio.run(store._retrieve("nobody", fetch_events_from_all_sessions=False)) is None


def test_sqlite_tracker_store_runs_in_wal(patched, tmp_path):
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    from sqlalchemy.pool import QueuePool

    assert isinstance(store.engine.pool, QueuePool)
    tracker = DialogueStateTracker.from_events("c2", _events(1.0), store.domain.slots)
    asyncio.run(store.save(tracker))
    assert len(asyncio.run(store.retrieve("c2")).events) == 5
