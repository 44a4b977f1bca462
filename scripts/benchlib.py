"""Shared pieces of the benchmark scripts: a throw-away migrated database, percentiles, free ports, a simulator
and a channel served on loopback with a slow stand-in dialogue."""
from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, Iterator


@contextmanager
def temp_database() -> Iterator[str]:
    """A migrated SQLite database in a temporary folder, made the process default (DATABASE_URL)."""
    from bot.db.migrate import upgrade
    from bot.settings import get_settings

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        os.environ["DATABASE_URL"] = url
        get_settings.cache_clear()
        upgrade(url)
        yield url


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve_simulator(sim_app: Any, port: int) -> Any:
    """A platform simulator's aiohttp app on 127.0.0.1:`port`; returns its runner (cleanup() it)."""
    from aiohttp import web

    runner = web.AppRunner(sim_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def serve_channel(channel: Any, name: str, port: int, turn_seconds: float) -> Any:
    """`channel`'s webhook on 127.0.0.1:`port` under /webhooks/`name`, with a stand-in dialogue whose every turn
    takes `turn_seconds` and answers once (what the acknowledgement must not wait for). Returns the server."""
    from rasa.core.lock_store import InMemoryLockStore
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from sanic import Sanic

    async def slow_dialogue(message: Any) -> None:
        await asyncio.sleep(turn_seconds)
        await message.output_channel.send_text_message(message.sender_id, f"Đã nhận: {message.text}")

    app = Sanic(f"bench_{name}_{uuid.uuid4().hex[:6]}")
    app.ctx.agent = SimpleNamespace(tracker_store=InMemoryTrackerStore(Domain.empty()),
                                    lock_store=InMemoryLockStore(), processor=None)
    app.blueprint(channel.blueprint(slow_dialogue), url_prefix=f"/webhooks/{name}")
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    return server
