"""Exactly-once input: a platform message id is processed once, across retries, restarts and instances.

Two layers: an in-process memory checked and filled before any await (so concurrent redeliveries to this
process cannot both pass), then a row in `channel_messages` whose unique key is the claim that survives a
restart and is shared by every Rasa instance on the same database. A turn that fails releases its claim,
so the customer's resend is processed.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict

from connectors.base import store

logger = logging.getLogger(__name__)
PURGE_EVERY = 3600.0


class SeenMessageIds:
    """Bounded memory of message ids per conversation (LRU over conversations and ids)."""

    def __init__(self, per_session: int = 256, max_sessions: int = 10000) -> None:
        self.per_session = per_session
        self.max_sessions = max_sessions
        self._data: "OrderedDict[str, OrderedDict[str, None]]" = OrderedDict()

    def check_and_add(self, session_id: str, message_id: str) -> bool:
        """True if the id is new (and records it); False if it was seen before."""
        ids = self._data.get(session_id)
        if ids is None:
            ids = self._data[session_id] = OrderedDict()
            while len(self._data) > self.max_sessions:
                self._data.popitem(last=False)
        else:
            self._data.move_to_end(session_id)
        if message_id in ids:
            ids.move_to_end(message_id)
            return False
        ids[message_id] = None
        while len(ids) > self.per_session:
            ids.popitem(last=False)
        return True

    def discard(self, session_id: str, message_id: str) -> None:
        ids = self._data.get(session_id)
        if ids is not None:
            ids.pop(message_id, None)

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._data.values())


class Inbox:
    """Claims inbound message ids of one channel."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.seen = SeenMessageIds()
        self._last_purge = 0.0

    async def claim(self, conversation_id: str, message_id: str, text: str = "") -> bool:
        """True if this message is new and now ours to process; False for a duplicate."""
        if not self.seen.check_and_add(conversation_id, message_id):
            return False
        try:
            claimed = await store.run_db(store.claim_inbound, self.channel, conversation_id, message_id, text)
        except Exception:  # noqa: BLE001 - a database hiccup must not lose the customer's message
            logger.exception("%s: could not record message %s; processing it anyway", self.channel, message_id)
            return True
        if claimed:
            await self._purge_now_and_then()
        return claimed

    async def release(self, conversation_id: str, message_id: str, error: str) -> None:
        self.seen.discard(conversation_id, message_id)
        try:
            await store.run_db(store.release_inbound, self.channel, message_id, error)
        except Exception:  # noqa: BLE001 - only the retry of a failed turn depends on it
            logger.exception("%s: could not release message %s", self.channel, message_id)

    async def _purge_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = now
        try:
            await store.run_db(store.purge_inbox)
        except Exception:  # noqa: BLE001 - housekeeping only
            logger.exception("%s: purging old message ids failed", self.channel)
