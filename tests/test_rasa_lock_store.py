"""bot/rasa_lock_store.py against a real Redis: several processes' worth of lock stores on one conversation."""
from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Callable, List

import pytest

redis = pytest.importorskip("redis")
from rasa.core.lock_store import RedisLockStore  # noqa: E402

from bot.rasa_lock_store import AtomicRedisLockStore  # noqa: E402

REDIS = {"host": "127.0.0.1", "port": 6379, "db": 15}


@pytest.fixture
def prefix() -> str:
    try:
        redis.Redis(**REDIS, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379 ({exc}); start it: redis-server --daemonize yes")
    key_prefix = "t" + uuid.uuid4().hex[:12]
    yield key_prefix
    client = redis.Redis(**REDIS)
    for key in client.scan_iter(f"{key_prefix}:*"):
        client.delete(key)


def _in_threads(count: int, work: Callable[[int], None]) -> None:
    """Run `work(i)` in `count` threads released together (each one stands for a Rasa process)."""
    start = threading.Barrier(count)
    errors: List[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_tickets_taken_at_the_same_moment_are_all_different(prefix):
    stores = [AtomicRedisLockStore(**REDIS, key_prefix=prefix) for _ in range(8)]
    for round_ in range(20):
        conversation = f"c{round_}"
        tickets: List[int] = []
        _in_threads(len(stores), lambda i: tickets.append(stores[i].issue_ticket(conversation)))
        assert sorted(tickets) == list(range(len(stores))), tickets
        assert len(stores[0].get_lock(conversation).tickets) == len(stores)


def test_one_turn_at_a_time_across_processes_and_the_queue_is_removed_after(prefix):
    inside, most, served = [0], [0], []
    guard = threading.Lock()

    async def turn(store: AtomicRedisLockStore, i: int) -> None:
        async with store.lock("conv", wait_time_in_seconds=0.01):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            await asyncio.sleep(0.02)  # a turn: tracker read, prediction, save
            with guard:
                inside[0] -= 1
                served.append(i)

    stores = [AtomicRedisLockStore(**REDIS, key_prefix=prefix) for _ in range(6)]
    _in_threads(6, lambda i: asyncio.run(turn(stores[i], i)))
    assert most[0] == 1 and sorted(served) == list(range(6))
    assert stores[0].get_lock("conv") is None


def test_it_is_built_from_the_endpoints_file_and_keeps_rasas_keys(prefix, tmp_path):
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"lock_store:\n  type: bot.rasa_lock_store.AtomicRedisLockStore\n  url: 127.0.0.1\n"
                         f"  port: 6379\n  db: 15\n  key_prefix: {prefix}\n")
    store = LockStore.create(read_endpoint_config(str(endpoints), "lock_store"))
    assert isinstance(store, AtomicRedisLockStore)
    ticket = store.issue_ticket("same")
    # Rasa's own store reads the same queue: a rolling upgrade can mix the two
    rasas = RedisLockStore(**REDIS, key_prefix=prefix)
    assert [t.number for t in rasas.get_lock("same").tickets] == [ticket]
    store.cleanup("same", ticket)
    assert rasas.get_lock("same") is None


def test_an_expired_ticket_no_longer_blocks_the_queue(prefix):
    store = AtomicRedisLockStore(**REDIS, key_prefix=prefix)
    stale = store.issue_ticket("c", lock_lifetime=0.05)  # a process that died holding the lock
    mine = store.issue_ticket("c")
    assert store.get_lock("c").is_locked(mine)
    time.sleep(0.1)
    store.update_lock("c")
    assert not store.get_lock("c").is_locked(mine) and stale != mine


def test_a_queue_that_keeps_changing_fails_with_a_lock_error_instead_of_spinning(prefix, monkeypatch):
    import bot.rasa_lock_store as module
    from rasa.core.lock import TicketLock
    from rasa.core.lock_store import LockError

    monkeypatch.setattr(module, "MAX_ATTEMPTS", 5)
    store = AtomicRedisLockStore(**REDIS, key_prefix=prefix)
    other = redis.Redis(**REDIS)
    calls: List[int] = []

    def rewritten_meanwhile(lock):  # another process writes the queue between our read and our write
        calls.append(1)
        if len(calls) <= limit:
            other.set(store.key_prefix + "busy", TicketLock("busy").dumps())
        return lock, len(calls)

    limit = 3  # contended three times, then it goes through
    assert store._change("busy", rewritten_meanwhile) == 4
    calls.clear()
    limit = 50  # longer than the bound (an unbounded loop would get through at the 51st try)
    with pytest.raises(LockError, match="kept changing"):
        store._change("busy", rewritten_meanwhile)
    assert len(calls) == 5
