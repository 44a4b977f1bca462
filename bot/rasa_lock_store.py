"""Rasa's Redis ticket lock, made safe for several Rasa processes (`lock_store: type: bot.rasa_lock_store.AtomicRedisLockStore`).

Rasa 3.6's `RedisLockStore` keeps a conversation's ticket queue as one JSON value and changes it by
read-modify-write: `GET`, change in Python, `SET`. Two processes taking a ticket for the same conversation at the
same moment both read the same queue, both issue ticket 0, and both run the turn at once; the later tracker save
then drops the other turn's user message (Rasa's `SQLTrackerStore.save` stores only the events beyond the count
already stored). `cleanup` has the twin race: it deletes the lock between another process's `SET` of a new
ticket and that process's wait, which then fails with `LockError`. Known upstream (RasaHQ/rasa#9213; the fix,
`ConcurrentRedisLockStore`, is only in the commercial Rasa Pro).

Here every change of a queue is one optimistic Redis transaction (`WATCH`, read, `MULTI`/`EXEC`, retried when
another process changed the queue in between), with Rasa's own `TicketLock` logic and storage format, so waiting,
expiry and the keys stay exactly as Rasa has them.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Optional, Text, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")
_DELETE = object()  # a change's instruction to remove the queue
# Each retry means another process changed the queue first (it made progress); this many in a row for one
# turn means something keeps rewriting the key, and the turn fails with Rasa's LockError instead of spinning.
MAX_ATTEMPTS = 1000


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose ticket queue changes are atomic across processes."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # how Rasa builds a lock store named by module path
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: Text, change: Callable[[Optional[TicketLock]], Tuple[Any, T]]) -> T:
        """Apply `change(lock) -> (new lock | None to leave it | _DELETE, result)` atomically; return result."""
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            for _ in range(MAX_ATTEMPTS):
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new, result = change(lock)
                    pipe.multi()
                    if new is _DELETE:
                        pipe.delete(key)
                    elif new is not None:
                        pipe.set(key, new.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another process changed this queue first: read it again
        raise LockError(f"Lock queue of conversation {conversation_id} kept changing ({MAX_ATTEMPTS} tries).")

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as e:  # noqa: BLE001 - Rasa's contract: any failure to take a ticket is a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{e}")

    def update_lock(self, conversation_id: Text) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def finish(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Finish the ticket and remove the queue if nobody waits, in one transaction."""
        def finish_and_maybe_delete(lock: Optional[TicketLock]) -> Tuple[Any, None]:
            if not lock:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else _DELETE), None

        self._change(conversation_id, finish_and_maybe_delete)
