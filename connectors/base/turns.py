"""Acknowledge first, then run: turns in the background, in order per conversation, concurrent across them.

A webhook handler submits a job and answers the platform at once. Jobs of one conversation run one after
another in arrival order (a customer's messages never overtake each other); different conversations run
concurrently. A job that raises is logged and contained: the next job of the same conversation and every
other conversation carry on.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable, Deque, Dict

logger = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]


class TurnRunner:
    def __init__(self, name: str) -> None:
        self.name = name
        self._queues: Dict[str, Deque[Job]] = {}
        self._workers: Dict[str, asyncio.Task] = {}

    def submit(self, conversation_id: str, job: Job) -> None:
        self._queues.setdefault(conversation_id, deque()).append(job)
        if conversation_id not in self._workers:
            self._workers[conversation_id] = asyncio.ensure_future(self._drain(conversation_id))

    async def _drain(self, conversation_id: str) -> None:
        queue = self._queues[conversation_id]
        try:
            while queue:
                job = queue.popleft()
                try:
                    await job()
                except Exception:  # noqa: BLE001 - one conversation's failure stays there
                    logger.exception("%s: a turn of %s failed", self.name, conversation_id)
        finally:
            # no await since the loop ended, so nothing can have been queued in between
            del self._queues[conversation_id]
            del self._workers[conversation_id]

    @property
    def busy(self) -> int:
        """Conversations with a turn running or queued."""
        return len(self._workers)

    async def idle(self) -> None:
        """Wait until every queued turn has run (tests, shutdown)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)
