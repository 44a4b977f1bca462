"""Prints speed and memory figures (not a test): request creation, lookups, NLU parsing.

Usage: .venv/bin/python scripts/benchmark.py [--database-url URL] [--requests N] [--model models/assistant.tar.gz]
"""
from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db.migrate import upgrade  # noqa: E402
from bot.db.repository import NewRequest, create_request, find_request  # noqa: E402
from bot.db.session import get_engine, session_scope  # noqa: E402

SAMPLES = ["cho mình di dời công tơ", "nha toi mat dien tu sang", "tháng này hết bn tiền điện vậy ad",
           "300 số điện hết bao nhiêu", "sđt mình là 0912 345 678", "hồ sơ YC7K4M9P đến đâu rồi"]


def _create(i: int, engine) -> float:
    start = time.perf_counter()
    with session_scope(engine) as s:
        create_request(s, NewRequest(service="meter_relocation", fields={"n": i}, idempotency_key=f"bench-{i}",
                                     phone="0912345678", customer_code="PD01000123456"))
    return time.perf_counter() - start


def bench_requests(url: str, n: int, workers: int) -> None:
    upgrade(url)
    engine = get_engine(url)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        latencies = list(pool.map(lambda i: _create(i, engine), range(n)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    print(f"create_request  {url.split(':')[0]:<10} n={n} workers={workers}: {n / elapsed:8.1f}/s  "
          f"p50 {1000 * statistics.median(latencies):6.1f} ms  p95 {1000 * latencies[int(0.95 * n) - 1]:6.1f} ms")
    with session_scope(engine) as s:
        code = create_request(s, NewRequest(service="complaint", fields={}, idempotency_key="bench-find"))[0].code
    t0 = time.perf_counter()
    for _ in range(n):
        with session_scope(engine) as s:
            find_request(s, code)
    print(f"find_request    {url.split(':')[0]:<10} {n / (time.perf_counter() - t0):8.1f}/s")


async def bench_nlu(model: str) -> None:
    from rasa.core.agent import Agent

    t0 = time.perf_counter()
    agent = Agent.load(model)
    print(f"model load: {time.perf_counter() - t0:.1f} s")
    latencies = []
    for _ in range(10):
        for text in SAMPLES:
            t = time.perf_counter()
            await agent.parse_message(text)
            latencies.append(time.perf_counter() - t)
    latencies.sort()
    print(f"NLU parse: p50 {1000 * statistics.median(latencies):.1f} ms  p95 {1000 * latencies[int(0.95 * len(latencies)) - 1]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_requests(args.database_url or f"sqlite:///{tmp}/bench.db", args.requests, args.workers)
    if args.model:
        asyncio.run(bench_nlu(args.model))
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
