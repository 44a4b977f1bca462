"""Wake-up calls between processes (action server, Rasa instances, console processes) over Redis pub/sub.

The database is the truth; a notification only says "conversation X changed, look now", so a lost one costs
at most the console's safety-net poll interval. Without Redis (REDIS_URL empty or unreachable) the console
falls back to polling alone and everything still works, only less promptly.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from functools import lru_cache
from typing import Any, Dict, Optional

from bot.settings import get_settings

logger = logging.getLogger(__name__)
CHANNEL = "cskh:takeover"
RETRY_AFTER = 30.0
_down_since: Dict[str, float] = {}


@lru_cache(maxsize=4)
def _client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def publish(kind: str, conversation_id: str, **data: Any) -> bool:
    """Tell every console that a conversation changed. Never raises; False when Redis is not available."""
    url = get_settings().redis_url
    if not url or time.monotonic() - _down_since.get(url, -RETRY_AFTER) < RETRY_AFTER:
        return False
    try:
        _client(url).publish(CHANNEL, json.dumps({"kind": kind, "conversation_id": conversation_id, **data},
                                                 default=str, ensure_ascii=False))
        _down_since.pop(url, None)
        return True
    except Exception as exc:  # noqa: BLE001 - notifications are an accelerator, never a requirement
        _down_since[url] = time.monotonic()
        logger.warning("Redis at %s not reachable (%s); consoles fall back to polling", url, exc.__class__.__name__)
        return False


async def announce(kind: str, conversation_id: str, **data: Any) -> bool:
    """`publish()` from async code: the Redis call runs in a worker thread, never on the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: publish(kind, conversation_id, **data))


async def subscribe(url: Optional[str] = None) -> Any:
    """An async pub/sub subscription to the takeover channel, or None when Redis is not available."""
    url = url if url is not None else get_settings().redis_url
    if not url:
        return None
    try:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(url, socket_connect_timeout=1)
        pubsub = client.pubsub()
        await pubsub.subscribe(CHANNEL)
        return pubsub
    except Exception as exc:  # noqa: BLE001
        logger.warning("Redis at %s not reachable (%s); polling only", url, exc.__class__.__name__)
        return None
