"""Benchmark: the CalDAV connector against a real Radicale with N people x M events.

Prints the time to the first complete set for everyone, the requests Radicale saw per idle
sync cycle per person, and the delay from a PUT until the connector published the change.

    /work/main/.venv/bin/python bench/caldav_sync.py --people 50 --events 40
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from connectors.caldav import CalDavConfig, CalDavConnector, MemoryStateStore
from samtek.bus import Bus
from samtek.events import CalendarUpdate
from samtek.health import HealthReporter
from samtek.plugin import ConnectorContext
from tests.caldav.conftest import StaticDirectory, person
from tests.servers.radicale import RadicaleServer, simple_event


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def requests_in_log(server: RadicaleServer) -> int:
    return sum(1 for line in server.log_lines() if " response status for " in line)


async def main(people: int, events: int, interval: float) -> None:
    users = {f"p{i}": f"pw-{i}" for i in range(people)} | {"samtek": "service-pw"}
    async with RadicaleServer.running(users) as server:
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        calendars: dict[str, str] = {}
        limit = asyncio.Semaphore(8)

        async def fill(user: str) -> None:
            async with limit:
                calendars[user] = await server.make_calendar(user)
                for j in range(events):
                    start = base + timedelta(hours=3 * j + 1)
                    await server.put_event(
                        user,
                        calendars[user],
                        f"e{j}",
                        simple_event(f"e{j}", stamp(start), stamp(start + timedelta(minutes=45))),
                    )

        await asyncio.gather(*(fill(u) for u in users if u != "samtek"))
        config = CalDavConfig.model_validate(
            {
                "type": "caldav",
                "url": server.url + "/",
                "auth": {
                    "type": "basic",
                    "username": "samtek",
                    "password": SecretStr("service-pw"),
                },
                "sync_interval": interval,
                "sync_jitter": interval / 10,
                "window_ahead": timedelta(days=3 * events // 8 + 2),
            }
        )
        ctx = ConnectorContext(
            "caldav1",
            StaticDirectory([person(u, calendars[u]) for u in calendars]),
            bus=Bus(),
            health=HealthReporter("caldav1"),
            store=MemoryStateStore(),
        )  # type: ignore[arg-type]
        connector = CalDavConnector(config, ctx)
        updates = ctx.bus.subscribe(CalendarUpdate, maxsize=people * 4)
        before = requests_in_log(server)
        started = time.perf_counter()
        task = asyncio.create_task(connector.run())
        try:
            seen: set[str] = set()
            while len(seen) < people:
                seen.add((await updates.queue.get()).person_id)
            first = time.perf_counter() - started
            first_requests = requests_in_log(server) - before
            # idle cycles: nothing changes
            mark, cycles_before = (
                requests_in_log(server),
                sum(connector.sync_cycles(u) for u in calendars),
            )
            await asyncio.sleep(interval * 3)
            idle_requests = requests_in_log(server) - mark
            idle_cycles = sum(connector.sync_cycles(u) for u in calendars) - cycles_before
            # change latency: PUT one event per person for a few people
            delays: list[float] = []
            for user in list(calendars)[: min(10, people)]:
                start = base + timedelta(hours=2)
                put_at = time.perf_counter()
                await server.put_event(
                    user,
                    calendars[user],
                    "new",
                    simple_event("new", stamp(start), stamp(start + timedelta(minutes=30))),
                )
                while True:
                    update = await updates.queue.get()
                    if update.person_id == user and any(e.uid == "new" for e in update.events):
                        delays.append(time.perf_counter() - put_at)
                        break
        finally:
            task.cancel()
            await asyncio.wait({task})
    print(f"people={people} events/person={events} interval={interval}s")
    print(
        f"first complete set for everyone: {first:.2f} s, {first_requests} HTTP requests "
        f"({first_requests / people:.1f}/person)"
    )
    print(
        f"idle: {idle_requests} requests over {idle_cycles} person-cycles "
        f"({idle_requests / max(1, idle_cycles):.2f} requests/person-cycle)"
    )
    print(
        f"PUT -> CalendarUpdate: median {statistics.median(delays):.2f} s, "
        f"max {max(delays):.2f} s (interval {interval}s +/- {interval / 10:.2f}s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    asyncio.run(main(args.people, args.events, args.interval))
