"""Messenger webhook figures: acknowledgement latency while turns are slow, and a redelivery storm.

Runs the Messenger connector (in-process Sanic, a dialogue taking TURN_SECONDS per message, as a slow
action server would) and the Meta simulator over loopback HTTP with a throw-away SQLite database. Prints
the acknowledgement p50/p99 of signed webhooks (Meta gives up after 20 s and retries), when every reply
was sent, and how many replies a storm of redeliveries of one message produced (must be 1).

    .venv/bin/python scripts/bench_messenger.py [--users 50] [--messages 4] [--turn-seconds 2] [--storm 200]
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


async def bench(users: int, messages: int, turn_seconds: float, storm: int) -> None:

    from bot.settings import Settings
    from bot.simulators import messenger as simulator
    from connectors.messenger import GraphClient, MessengerConfig, MessengerInput

    secret, verify, token = uuid.uuid4().hex, uuid.uuid4().hex, "bench-" + uuid.uuid4().hex
    port, sim_port = free_port(), free_port()
    sim_app = simulator.create_app(Settings(messenger_app_secret=secret, messenger_verify_token=verify,
                                            messenger_page_access_token=token, messenger_app_id="3000000000000001"),
                                   webhook_url=f"http://127.0.0.1:{port}/webhooks/messenger/webhook")
    sim = sim_app[simulator.SIM]
    sim.echoes = False
    runner = await serve_simulator(sim_app, sim_port)
    config = MessengerConfig(app_secret=secret, verify_token=verify, page_access_token=token,
                             app_id="3000000000000001", graph_base=f"http://127.0.0.1:{sim_port}")
    channel = MessengerInput(config, GraphClient(config))

    server = await serve_channel(channel, "messenger", port, turn_seconds)

    acks: list[float] = []

    async def one_user(psid: str) -> None:
        for i in range(messages):
            started = time.perf_counter()
            result = await sim.user_says(psid, text=f"tin {i}")
            acks.append(time.perf_counter() - started)
            assert result["webhook_status"] == 200, result

    async def idle() -> None:
        while channel.intake.busy or channel.turns.busy:
            await channel.intake.idle()
            await channel.turns.idle()

    started = time.perf_counter()
    await asyncio.gather(*(one_user(str(2418 * 10 ** 13 + n)) for n in range(users)))
    sent_all = time.perf_counter() - started
    await idle()
    done = time.perf_counter() - started
    print(f"events: {len(acks)} from {users} users, turn {turn_seconds:.1f} s each (in order per user)")
    print(f"ack p50: {statistics.median(acks) * 1000:.1f} ms   p99: {percentile(acks, 0.99) * 1000:.1f} ms   "
          f"max: {max(acks) * 1000:.1f} ms")
    print(f"all acknowledged after {sent_all:.2f} s; all {len(sim.outbox)} replies sent after {done:.2f} s")

    before = len(sim.outbox)
    body = simulator.batch(simulator.user_event("24189999999999999", message={"mid": "m_storm", "text": "đúng rồi"}))
    storm_acks: list[float] = []

    async def redeliver() -> None:
        t = time.perf_counter()
        assert await sim.post_webhook(body) == 200
        storm_acks.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(redeliver() for _ in range(storm)))
    storm_time = time.perf_counter() - started
    await idle()
    print(f"redelivery storm: {storm} copies of one mid acknowledged in {storm_time:.2f} s "
          f"(p99 {percentile(storm_acks, 0.99) * 1000:.1f} ms); replies: {len(sim.outbox) - before}")
    await channel.client.close()
    await sim.close()
    server.close()
    await server.wait_closed()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=4)
    parser.add_argument("--turn-seconds", type=float, default=2.0)
    parser.add_argument("--storm", type=int, default=200)
    args = parser.parse_args()
    with temp_database():
        asyncio.run(bench(args.users, args.messages, args.turn_seconds, args.storm))


if __name__ == "__main__":
    main()
