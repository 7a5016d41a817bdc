"""Benchmark: the chat assistant under a flood of worst-case messages, through a real Prosody.

The directory holds --people people (published as a directory update, as LDAP would; their
names share their first letters, so short words match thousands). F flooders — people of
the directory, so their messages reach the name lookup — each send worst-case messages at
exactly the rate limit (a burst, then one per refill): 2,000-character `finn tid a a a …`,
`x og x og …`, and the costliest messages within the limits (twelve names of eight words,
twelve ambiguous single letters, twelve extensions). Meanwhile U other users each ask
`status emma` (a name lookup too) every two seconds. Printed: the index build time after
the directory change, the other users' answer latency (median, p99, max) first without and
then with the flood (on a shared machine the difference is what the flood costs), the
flooders' answers, and find-time answers/s over three calendar sources.

    /work/main/.venv/bin/python bench/assistant_flood.py --people 10000 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samtek.app import Service
from samtek.devserver.prosody import ProsodyServer
from samtek.events import DirectoryPerson, DirectoryUpdate
from tests.assistant.chat_client import ChatClient
from tests.assistant.region import ASKERS, OTHERS, write_region
from tests.conftest import RunningService

FIRST = ("Anne", "Arne", "Aslak", "Astrid", "Aud", "Kari", "Ola", "Per", "Xenia", "Xavier")
LAST = ("Aas", "Aasen", "Andersen", "Aune", "Berg", "Xu")
WORST = [
    "finn tid " + "a " * 995,  # 2,000 characters
    "x og " * 400,
    "finn tid " + ", ".join(["a a a a a a a a"] * 12),
    "finn tid " + " og ".join(["a ar arn arne as asl a x"] * 12),
    "finn tid " + " ".join(["a"] * 12),
    "møte " + ", ".join(str(20_000 + i) for i in range(12)) + " i morgen kl 10",
    "status " + "a " * 240,
    # Typo paths: an unknown message near a command, and eight mistyped 20-letter names.
    "statsu " + "xaxbxcxd " * 54,
    "status " + " ".join(["anneaslakastridaudxx"] * 8) + ", " + ", ".join(["arnex"] * 11),
    "kjem ola aud kari astrid arne i morgen kl 10?",
]


class GcPauses:
    """gc.callbacks hook: how many full collections, and the longest (they stop everything)."""

    def __init__(self) -> None:
        self.full = 0
        self.longest = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.full += 1
            self.longest = max(self.longest, time.perf_counter() - self._started)


def bulk_people(count: int, domain: str) -> tuple[DirectoryPerson, ...]:
    return tuple(
        DirectoryPerson(
            id=f"bulk{i}",
            jid=f"bulk{i}@{domain}",
            name=f"{FIRST[i % len(FIRST)]} {FIRST[i // 10 % len(FIRST)]} {LAST[i % len(LAST)]}",
            municipality="kongsberg",
            phones=(str(20_000 + i),),
        )
        for i in range(count)
    )


async def run(people: int, flooders: int, users: int, seconds: float, burst: int) -> None:
    server = ProsodyServer()
    floods = [f"bulk{i}" for i in range(flooders)]
    innocents = [f"bulk{i}" for i in range(flooders, flooders + users)]
    for name in (*ASKERS, *OTHERS, *floods, *innocents):
        server.add_user(name, "pw")
    async with server:
        with tempfile.TemporaryDirectory() as tmp:
            region = write_region(Path(tmp), server, rate_burst=burst)
            running = RunningService(region.config)
            service = await running.start()
            try:
                await measure(service, server, people, floods, innocents, seconds, burst)
            finally:
                await running.stop()


def client(server: ProsodyServer, name: str) -> ChatClient:
    return ChatClient(server.jid(name), "pw", server.c2s_port, server.component_jid)


async def measure(
    service: Service,
    server: ProsodyServer,
    people: int,
    floods: list[str],
    innocents: list[str],
    seconds: float,
    burst: int,
) -> None:
    anna = client(server, "anna")
    flooding = [client(server, n) for n in floods]
    others = [client(server, n) for n in innocents]
    for c in (anna, *flooding, *others):
        await c.connect()
    try:
        await service.directory.apply(
            DirectoryUpdate("bulk", bulk_people(people, server.domain), {})
        )
        asked = time.monotonic()
        await anna.ask("status emma")  # the first lookup after the change builds the index
        print(
            f"directory: {len(service.directory.people())} people; first lookup after the"
            f" change (index build) {(time.monotonic() - asked) * 1e3:.0f} ms"
        )
        period = 10.0 / burst  # the rate limit's refill: one message per period
        # The same questions without and then with the flood: on a shared machine the tail
        # comes mostly from other load, and the difference is what the flood costs.
        for flooded in (False, True):
            await phase(flooding if flooded else [], others, seconds, burst, period)
        await find_time_rate(anna)
    finally:
        for c in (anna, *flooding, *others):
            await c.disconnect()


async def phase(
    flooding: list[ChatClient], others: list[ChatClient], seconds: float, burst: int, period: float
) -> None:
    stop = time.monotonic() + seconds

    async def flood(c: ChatClient, offset: int) -> int:
        sent = 0
        for i in range(burst):  # the burst, then exactly the refill rate
            c.say(WORST[(offset + i) % len(WORST)])
            sent += 1
        while time.monotonic() < stop:
            await asyncio.sleep(period)
            c.say(WORST[(offset + sent) % len(WORST)])
            sent += 1
        return sent

    async def ask(c: ChatClient, start_after: float) -> list[float]:
        await asyncio.sleep(start_after)
        latencies = []
        while time.monotonic() < stop:
            asked = time.monotonic()
            answer = await c.ask("status emma")
            latencies.append(time.monotonic() - asked)
            assert answer.startswith("Emma Hansen"), answer
            await asyncio.sleep(max(0.0, period - latencies[-1]))
        return latencies

    pauses = GcPauses()
    gc.callbacks.append(pauses)
    cpu = time.process_time()  # this process: the service and every bench client
    spread = period / max(1, len(others))
    sent, samples = await asyncio.gather(
        asyncio.gather(*(flood(c, i) for i, c in enumerate(flooding))),
        asyncio.gather(*(ask(c, i * spread) for i, c in enumerate(others))),
    )
    gc.callbacks.remove(pauses)
    cpu = time.process_time() - cpu
    await asyncio.sleep(1.0)
    got = sum(c.inbox.qsize() for c in flooding)
    for c in flooding:
        while not c.inbox.empty():
            c.inbox.get_nowait()
    latencies = sorted(x for s in samples for x in s)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    if flooding:
        print(
            f"flood: {len(flooding)} directory users x {sum(sent)} worst-case messages at the"
            f" rate limit over {seconds:.0f} s; answers to flooders {got}"
        )
    print(
        f"{'with' if flooding else 'without'} the flood, {len(others)} other users' 'status"
        f" emma': median {statistics.median(latencies) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms,"
        f" max {latencies[-1] * 1e3:.1f} ms over {len(latencies)} answers;"
        f" {pauses.full} full garbage collections in this process (bench clients included),"
        f" longest {pauses.longest * 1e3:.0f} ms; CPU of this process {cpu:.2f} s"
    )
    await asyncio.sleep(10.0 / burst * burst)  # every bucket refills before the next phase


async def find_time_rate(anna: ChatClient) -> None:
    await asyncio.sleep(10)  # anna's bucket refills
    while not anna.inbox.empty():
        anna.inbox.get_nowait()
    count = 5
    started = time.monotonic()
    for _ in range(count):
        anna.say("finn tid kari nordmann, kari nordby, emma")
    for _ in range(count):
        await anna.next_reply()
    elapsed = time.monotonic() - started
    each = elapsed / count * 1e3
    print(f"find time over 3 sources: {count / elapsed:.1f} answers/s ({each:.0f} ms each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--flooders", type=int, default=10)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--burst", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.people, args.flooders, args.users, args.seconds, args.burst))


if __name__ == "__main__":
    main()
