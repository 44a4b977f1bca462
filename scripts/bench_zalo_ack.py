"""Zalo webhook acknowledgement latency while every turn is slow.

Runs the Zalo connector (in-process Sanic, a dialogue that takes TURN_SECONDS per message, as a slow action
server would) and the Zalo simulator over loopback HTTP with a throw-away SQLite database, sends signed
events from many users at once and prints the acknowledgement p50/p99 (Zalo wants the 200 within ~2 s).

    .venv/bin/python scripts/bench_zalo_ack.py [--users 50] [--messages 4] [--turn-seconds 2]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.benchlib import free_port, percentile, serve_channel, serve_simulator, temp_database  # noqa: E402


async def bench(users: int, messages: int, turn_seconds: float) -> None:

    from bot.settings import Settings
    from bot.simulators.zalo import SIM, create_app
    from connectors.zalo import ZaloConfig, ZaloInput

    app_id, oa_secret, app_secret = "2000000000000000001", uuid.uuid4().hex, uuid.uuid4().hex
    access, refresh = "bench-at-" + uuid.uuid4().hex, "bench-rt-" + uuid.uuid4().hex
    port, sim_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    sim_app = create_app(Settings(zalo_app_id=app_id, zalo_oa_secret_key=oa_secret, zalo_app_secret_key=app_secret,
                                  zalo_access_token=access, zalo_refresh_token=refresh),
                         webhook_url=f"http://127.0.0.1:{port}/webhooks/zalo/webhook")
    sim = sim_app[SIM]
    sim.echo = False
    runner = await serve_simulator(sim_app, sim_port)

    channel = ZaloInput(ZaloConfig(app_id=app_id, oa_secret_key=oa_secret, app_secret_key=app_secret,
                                   access_token=access, refresh_token=refresh, api_base=sim_url, oauth_base=sim_url))

    server = await serve_channel(channel, "zalo", port, turn_seconds)

    acks: list[float] = []

    async def one_user(uid: str) -> None:
        for i in range(messages):
            started = time.perf_counter()
            result = await sim.say(uid, f"tin {i}")
            acks.append(time.perf_counter() - started)
            assert result["webhook_status"] == 200, result

    started = time.perf_counter()
    await asyncio.gather(*(one_user(str(10 ** 17 + n)) for n in range(users)))
    sent_all = time.perf_counter() - started
    await channel.idle()
    done = time.perf_counter() - started
    replies = sum(len(box) for box in sim.inbox.values())
    acks.sort()
    p99 = percentile(acks, 0.99)
    print(f"events: {len(acks)} from {users} users, turn {turn_seconds:.1f} s each (in order per user)")
    print(f"ack p50: {statistics.median(acks) * 1000:.1f} ms   p99: {p99 * 1000:.1f} ms   max: {acks[-1] * 1000:.1f} ms")
    print(f"all acknowledged after {sent_all:.2f} s; all {replies} replies sent after {done:.2f} s")
    await channel.api.close()
    server.close()
    await server.wait_closed()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=4)
    parser.add_argument("--turn-seconds", type=float, default=2.0)
    args = parser.parse_args()
    with temp_database():
        asyncio.run(bench(args.users, args.messages, args.turn_seconds))


if __name__ == "__main__":
    main()
