"""The one place that answers "may the bot answer this conversation now?".

Every channel asks it twice: before a customer message reaches Rasa (a held conversation's message is
logged in the tracker without any prediction, so no rule, form or fallback can run) and before any bot
message leaves (so a turn that started before a person took over, or a reminder, cannot leak). Messages
from an agent or the system are never held back.

Who holds a conversation is decided by the takeover engine (bot/takeover/engine.py: a conversation in state
`waiting` or `agent`, read from the database, so every Rasa instance agrees); `GATE` asks it. Other checks can
be registered (tests do). When a check fails (the database is down) the gate keeps its last answer for that
conversation, so ordinary conversations carry on; a conversation it has not seen yet, or last saw held,
counts as held: when in doubt the bot stays silent rather than talk over a person.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Awaitable, Callable, List, Optional

logger = logging.getLogger(__name__)
LAST_KNOWN = 20000

HoldCheck = Callable[[str, str], Awaitable[bool]]  # (channel, conversation_id) -> True if a person holds it
# (channel, conversation_id, text) -> a reply if the message was taken before Rasa (e.g. a satisfaction rating)
Interceptor = Callable[[str, str, str], Awaitable[Optional[str]]]


class Gate:
    def __init__(self) -> None:
        self._checks: List[HoldCheck] = []
        self._interceptors: List[Interceptor] = []
        self._last: "OrderedDict[str, bool]" = OrderedDict()  # conversation -> the bot could answer

    def intercept_with(self, interceptor: Interceptor) -> None:
        if interceptor not in self._interceptors:
            self._interceptors.append(interceptor)

    async def intercept(self, channel: str, conversation_id: str, text: str) -> Optional[str]:
        for interceptor in list(self._interceptors):
            try:
                answer = await interceptor(channel, conversation_id, text)
            except Exception:  # noqa: BLE001 - then the message goes its usual way
                logger.exception("interceptor failed for %s", conversation_id)
                continue
            if answer is not None:
                return answer
        return None

    def register(self, check: HoldCheck) -> None:
        if check not in self._checks:
            self._checks.append(check)

    def unregister(self, check: HoldCheck) -> None:
        if check in self._checks:
            self._checks.remove(check)

    async def bot_may_answer(self, channel: str, conversation_id: str) -> bool:
        for check in list(self._checks):
            try:
                held = await check(channel, conversation_id)
            except Exception:  # noqa: BLE001 - the last answer we had, else silence
                known = self._last.get(conversation_id)
                logger.exception("gate check failed for %s; %s", conversation_id,
                                 "last known: the bot answers" if known else "the bot stays silent")
                return bool(known)
            if held:
                self._remember(conversation_id, False)
                return False
        self._remember(conversation_id, True)
        return True

    def _remember(self, conversation_id: str, free: bool) -> None:
        self._last[conversation_id] = free
        self._last.move_to_end(conversation_id)
        while len(self._last) > LAST_KNOWN:
            self._last.popitem(last=False)


async def held_by_takeover(_channel: str, conversation_id: str) -> bool:
    from bot.takeover.engine import is_held
    from connectors.base.store import run_db

    return await run_db(is_held, conversation_id)


async def rating_for_takeover(_channel: str, conversation_id: str, text: str) -> Optional[str]:
    from bot.takeover.engine import rating_reply
    from connectors.base.store import run_db

    return await run_db(rating_reply, conversation_id, text) if text.startswith("/csat") else None


GATE = Gate()
GATE.register(held_by_takeover)
GATE.intercept_with(rating_for_takeover)
