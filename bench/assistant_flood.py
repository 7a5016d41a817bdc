"""Benchmark: the chat assistant under a flood, through a real Prosody.

F flooders each send M commands as fast as they can (rate-limited: 5 answered, one "slow
down", the rest dropped); meanwhile one other user asks `help` Q times (Q <= burst), one
at a time. We print the other user's answer latency (median, max), the flooders' answers
received and the commands/s the assistant answers when it is not rate-limited (a
burst-100 run of `status`).

    /work/main/.venv/bin/python bench/assistant_flood.py --flooders 10 --messages 100
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samtek.devserver.prosody import ProsodyServer
from tests.assistant.chat_client import ChatClient
from tests.assistant.region import ASKERS, OTHERS, write_region
from tests.conftest import RunningService


async def run(flooders: int, messages: int, questions: int, burst: int) -> None:
    server = ProsodyServer()
    names = [f"flood{i}" for i in range(flooders)]
    for name in (*ASKERS, *OTHERS, *names):
        server.add_user(name, "pw")
    async with server:
        with tempfile.TemporaryDirectory() as tmp:
            region = write_region(Path(tmp), server, rate_burst=burst)
            # Flooders are strangers to the directory: their answers are refusals.
            running = RunningService(region.config)
            await running.start()
            try:
                await measure(server, names, messages, questions)
            finally:
                await running.stop()


def client(server: ProsodyServer, name: str) -> ChatClient:
    return ChatClient(server.jid(name), "pw", server.c2s_port, server.component_jid)


async def measure(server: ProsodyServer, names: list[str], messages: int, questions: int) -> None:
    anna, john = client(server, "anna"), client(server, "john")
    floods = [client(server, n) for n in names]
    for c in (anna, john, *floods):
        await c.connect()
    try:
        started = time.monotonic()
        for _ in range(messages):
            for c in floods:
                c.say("hjelp")
        anna.say("status per")
        latencies = []
        for _ in range(questions):
            asked = time.monotonic()
            await john.ask("help")
            latencies.append(time.monotonic() - asked)
        await asyncio.sleep(1.0)
        got = sum(c.inbox.qsize() for c in floods)
        print(
            f"flood: {len(floods)} senders x {messages} msgs queued in"
            f" {(time.monotonic() - started) * 1e3:.0f} ms; answers to flooders {got}"
            f" (expected {len(floods) * 6})"
        )
        print(
            f"other user's help: median {statistics.median(latencies) * 1e3:.1f} ms,"
            f" max {max(latencies) * 1e3:.1f} ms over {questions}"
        )
        for _ in range(5):  # drain anna's 'status' answer (and refill her bucket)
            if not anna.inbox.empty():
                anna.inbox.get_nowait()
        await asyncio.sleep(10)
        count = 5
        started = time.monotonic()
        for _ in range(count):
            anna.say("finn tid kari nordmann, kari nordby, emma")
        for _ in range(count):
            await anna.next_reply()
        elapsed = time.monotonic() - started
        each = elapsed / count * 1e3
        print(f"find time over 3 sources: {count / elapsed:.1f} answers/s ({each:.0f} ms each)")
    finally:
        for c in (anna, john, *floods):
            await c.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flooders", type=int, default=10)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--questions", type=int, default=5)  # <= burst
    parser.add_argument("--burst", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.flooders, args.messages, args.questions, args.burst))


if __name__ == "__main__":
    main()
