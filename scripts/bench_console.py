"""Console and request-desk figures: how fast a new escalation reaches a connected console, and how long the
desk's list and the overview take on a realistic table.

    .venv/bin/python scripts/bench_console.py [--requests 5000] [--escalations 40] [--redis-url redis://127.0.0.1:6379/0]

Runs the web app (bot.web.create_app) on a free loopback port with a throw-away migrated SQLite database,
logs an agent in, keeps the live stream (/api/stream) open and escalates conversations one by one from a
worker thread (as the action server does), timing escalation -> stream event. Then fills the request table
and times GET /api/requests (no filter, overdue, status + service) and GET /api/overview. Prints figures.
`--redis-url ""` measures the polling fallback (no Redis).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402


def pct(values: List[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def fill_requests(n: int) -> None:
    from bot.catalogue import load_catalogue
    from bot.db.models import ServiceRequest
    from bot.db.session import session_scope
    from bot.localtime import utcnow

    services = list(load_catalogue().services)
    statuses = ["received", "processing", "surveying", "waiting_customer", "done", "rejected"]
    rng = random.Random(7)
    with session_scope() as session:
        for i in range(n):
            session.add(ServiceRequest(
                code=f"YB{i:06d}", idempotency_key=f"bench-{i}", service=rng.choice(services),
                status=rng.choice(statuses), channel=rng.choice(["webchat", "zalo", "messenger"]),
                corporation=rng.choice(["EVNHANOI", "EVNHCMC", "EVNNPC", "EVNCPC", "EVNSPC"]),
                customer_code="PD01001494350", phone="0912345678", fields={"full_name": "Nguyễn Văn A"},
                due_date=date.today() + timedelta(days=rng.randint(-20, 20)),
                created_at=utcnow() - timedelta(days=rng.randint(0, 60))))


def escalate(conversation_id: str) -> None:
    """What bot/takeover/escalation.py does for the action server: the state change, then the wake-up."""
    from bot.takeover import engine, notify

    engine.escalate(conversation_id, "gặp nhân viên")
    notify.publish("escalated", conversation_id)


async def timed_get(http: aiohttp.ClientSession, url: str, headers: dict, times: int) -> List[float]:
    out = []
    for _ in range(times):
        start = time.perf_counter()
        async with http.get(url, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            await resp.read()
        out.append((time.perf_counter() - start) * 1000)
    return out


async def main(args: argparse.Namespace) -> None:
    from bot.db.migrate import upgrade
    from bot.settings import Settings, get_settings
    from bot.takeover import agents
    from bot.web import create_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-console-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    os.environ["DATABASE_URL"] = url
    os.environ["REDIS_URL"] = args.redis_url
    get_settings.cache_clear()
    upgrade(url)
    agents.add_agent("thu", "mat-khau-thu", "Thu", role="supervisor")
    app = create_app(Settings(database_url=url, rasa_port=1, redis_url=args.redis_url), sweep=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/login", json={"username": "thu", "password": "mat-khau-thu"}) as r:
            data = await r.json()
            headers = {"Cookie": f"cskh_session={r.cookies['cskh_session'].value}", "X-CSRF-Token": data["csrf"]}
        latencies: List[float] = []
        async with http.ws_connect(f"{base}/api/stream", headers=headers) as ws:
            await ws.receive_json()  # hello
            for i in range(args.escalations):
                cid = f"bench-{i}"
                start = time.perf_counter()
                await loop.run_in_executor(None, lambda: escalate(cid))
                while True:
                    event = await ws.receive_json(timeout=10)
                    if event.get("type") == "conversation" and event["conversation"]["conversation_id"] == cid:
                        break
                latencies.append((time.perf_counter() - start) * 1000)
        await loop.run_in_executor(None, fill_requests, args.requests)
        lists = {
            "all (newest 200)": await timed_get(http, f"{base}/api/requests", headers, 20),
            "overdue": await timed_get(http, f"{base}/api/requests?overdue=1", headers, 20),
            "status+service": await timed_get(http, f"{base}/api/requests?status=processing&service=outage_report",
                                              headers, 20),
            "overview": await timed_get(http, f"{base}/api/overview", headers, 10),
        }
    await runner.cleanup()
    mode = "Redis wake-up" if args.redis_url else "polling (no Redis)"
    print(f"escalation -> console stream ({mode}), {len(latencies)} escalations: "
          f"p50 {statistics.median(latencies):.0f} ms, p95 {pct(latencies, 95):.0f} ms, max {max(latencies):.0f} ms")
    print(f"request desk on {args.requests} requests (SQLite):")
    for name, values in lists.items():
        print(f"  GET {name:<18} p50 {statistics.median(values):6.1f} ms   p95 {pct(values, 95):6.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--escalations", type=int, default=40)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    asyncio.run(main(parser.parse_args()))
