"""A turn whose action server cannot be reached fails as a whole, instead of going on silently (Rasa 3.6.21).

Rasa's `MessageProcessor._run_action` swallows every exception of an action ("the actions events are lost")
and goes on predicting: with the action server down, a form loses the answer just typed and the customer
gets silence. Here a custom action that cannot reach the action server (connection refused or dropped,
timeout, 5xx) is recorded for the turn; when Rasa's prediction loop ends, the turn raises
`ActionServerUnavailable` before the tracker is saved. So:

- the conversation stays exactly where it was (nothing of the failed turn is stored);
- the channel base (`connectors/base/channel.py`) catches it, apologises in Vietnamese ("gửi lại sau ít
  phút") and releases the message id, so the customer's next message, or the channel's retry, is a normal
  turn once the supervisor has restarted the action server;
- a confirmed request stays exactly-once: a submission retried after the action server died stores nothing
  twice (the idempotency key in actions/submit.py).

Applied with bot/rasa_speedups.py (same hook, same version guard, `RASA_RESILIENCE=false` to turn off).
"""
from __future__ import annotations

import contextvars
import logging
import sys
from typing import Any, List, Optional

from bot.rasa_guard import may_patch

logger = logging.getLogger(__name__)

_failures: contextvars.ContextVar[Optional[List[str]]] = contextvars.ContextVar("action_failures", default=None)
_applied: Optional[bool] = None


class ActionServerUnavailable(Exception):
    """The action server could not run an action of this turn; the turn is dropped, nothing is saved."""


def apply() -> bool:
    global _applied
    if _applied is None:
        _applied = may_patch("rasa_resilience", "RASA_RESILIENCE", "a turn whose action server is down is NOT "
                             "turned into an apology (customers may get silence).")
        if _applied:
            _patch()
            logger.info("rasa_resilience: on (a turn without the action server fails whole, with an apology)")
    return _applied


def _unreachable(exc: BaseException) -> bool:
    """An action server that is down or broken, as opposed to an action that rejected its input."""
    import asyncio

    import aiohttp
    from rasa.core.actions.action import ActionExecutionRejection
    from rasa.utils.endpoints import ClientResponseError

    if isinstance(exc, ActionExecutionRejection):
        return False
    for link in (exc, exc.__cause__, exc.__context__):
        if isinstance(link, (aiohttp.ClientConnectionError, asyncio.TimeoutError)):
            return True
        if isinstance(link, ClientResponseError) and link.status >= 500:
            return True
    return "Couldn't connect to the server" in str(exc)


def _patch() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor

    remote_run = RemoteAction.run
    prediction_loop = MessageProcessor._run_prediction_loop

    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await remote_run(self, *args, **kwargs)
        except Exception as exc:
            failures = _failures.get()
            if failures is not None and _unreachable(exc):
                failures.append(self.name())
            raise

    async def run_prediction_loop(self: Any, output_channel: Any, tracker: Any) -> None:
        failures: List[str] = []
        token = _failures.set(failures)
        try:
            await prediction_loop(self, output_channel, tracker)
        finally:
            _failures.reset(token)
        if failures:
            raise ActionServerUnavailable(f"action server unavailable for {', '.join(failures)} "
                                          f"in conversation {tracker.sender_id}; turn not saved")

    RemoteAction.run = run
    MessageProcessor._run_prediction_loop = run_prediction_loop


if "rasa.core.processor" in sys.modules:  # inside a Rasa server: everything patched is loaded already
    apply()
