"""Benchmark: the iCal connector over N people's feeds served on loopback.

Each feed has --events events (20 % weekly recurring, the rest single), spread over a year
around now. The feed server runs in its own process. Printed:
- full refresh: time until every person's CalendarUpdate is published, SAMTEK's CPU and peak
  RSS, both summed over the service's process and its parser processes (the feed server's
  process is not counted);
- unchanged refresh: time for every feed's next poll to be answered 304 (conditional GET);
- parse + expand cost per feed: samtek.calendar.ics.parse_events against plain icalendar +
  recurring-ical-events `between()` over the whole file, same feeds, same window.

    .venv/bin/python bench/ical_feeds.py --people 10000
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import recurring_ical_events
from aiohttp import web
from icalendar import Calendar

from connectors.ical import IcalConfig, IcalConnector
from samtek.bus import Bus
from samtek.calendar.ics import parse_events
from samtek.events import CalendarUpdate
from samtek.health import HealthReporter
from samtek.model import CalendarRef, Person, TimeWindow
from samtek.plugin import ConnectorContext, Directory
from samtek.store import open_store

VARIANTS = 40  # distinct feed bodies; person i gets variant i % VARIANTS (same cost each)


def make_feed(variant: int, events: int, now: datetime) -> bytes:
    rng = random.Random(variant)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//samtek bench//NO"]
    for n in range(events):
        start = now + timedelta(days=rng.randint(-180, 180), hours=rng.randint(7, 16))
        start = start.replace(minute=0, second=0, microsecond=0)
        stamp = start.strftime("%Y%m%dT%H%M%SZ")
        end = (start + timedelta(minutes=rng.choice((30, 60, 90)))).strftime("%Y%m%dT%H%M%SZ")
        lines += [
            "BEGIN:VEVENT",
            f"UID:v{variant}-e{n}@bench",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{stamp}",
            f"DTEND:{end}",
            f"SUMMARY:Møte {n}",
        ]
        if n % 5 == 0:
            lines.append(f"RRULE:FREQ=WEEKLY;COUNT={rng.randint(4, 52)}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def serve(port_out: multiprocessing.Queue, counts: object, events: int) -> None:
    now = datetime.now(UTC)
    bodies = [make_feed(v, events, now) for v in range(VARIANTS)]

    async def feed(request: web.Request) -> web.Response:
        variant = int(request.match_info["n"]) % VARIANTS
        etag = f'"v{variant}"'
        if request.headers.get("If-None-Match") == etag:
            counts[1] += 1  # type: ignore[index]
            return web.Response(status=304)
        counts[0] += 1  # type: ignore[index]
        return web.Response(
            body=bodies[variant], headers={"ETag": etag}, content_type="text/calendar"
        )

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/feed/{n}.ics", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port_out.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def _service_pids(excluded: set[int]) -> list[int]:
    """This process and its descendants (the parser pool), without the feed server."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, grew = {os.getpid()}, True
    while grew:
        found = {p for p, parent in parents.items() if parent in tree and p not in excluded}
        grew = not found <= tree
        tree |= found
    return sorted(tree)


def _tree_cpu(excluded: set[int]) -> float:
    """CPU seconds of the service's processes, with the reaped workers' (cutime, cstime)."""
    total = 0
    for pid in _service_pids(excluded):
        fields = _stat(pid)
        if fields is not None:
            total += sum(int(f) for f in fields[11:15])
    return total / _TICK


def _tree_rss(excluded: set[int]) -> int:
    """Resident set of the service's processes summed, in KiB (shared pages counted twice)."""
    total = 0
    for pid in _service_pids(excluded):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class People(Directory):
    def __init__(self, people: list[Person]) -> None:
        self._people = {p.id: p for p in people}

    def people(self) -> Mapping[str, Person]:
        return self._people


def compare_parsers(events: int) -> None:
    now = datetime.now(UTC)
    window = TimeWindow(now - timedelta(hours=24), now + timedelta(days=14))
    feeds = [make_feed(v, events, now) for v in range(8)]
    ours, plain = [], []
    for data in feeds:
        t = time.perf_counter()
        parse_events(data, window, "Europe/Oslo")
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        recurring_ical_events.of(Calendar.from_ical(data)).between(window.start, window.end)
        plain.append(time.perf_counter() - t)
    print(
        f"parse+expand per feed ({events} events, {len(feeds[0]) // 1024} KiB): "
        "samtek.calendar.ics "
        f"{statistics.median(ours) * 1000:.1f} ms, plain icalendar+recurring-ical-events "
        f"{statistics.median(plain) * 1000:.1f} ms (median of {len(feeds)})"
    )


async def run(people: int, events: int, interval: float, workdir: Path) -> None:
    ports: multiprocessing.Queue = multiprocessing.Queue()
    counts = multiprocessing.Array("i", 2)  # [200s, 304s]
    server = multiprocessing.Process(target=serve, args=(ports, counts, events), daemon=True)
    server.start()
    port = ports.get(timeout=60)
    base = f"http://127.0.0.1:{port}"
    directory = People(
        [
            Person(
                f"p{i}",
                f"p{i}@region.test",
                f"P{i}",
                "m",
                calendars=(CalendarRef("feeds", f"{base}/feed/{i}.ics"),),
            )
            for i in range(people)
        ]
    )
    workdir.mkdir(parents=True, exist_ok=True)
    async with open_store(f"sqlite:///{workdir}/bench.db") as store:
        bus = Bus()
        updates = bus.subscribe(CalendarUpdate, maxsize=people + 10)
        config = IcalConfig(
            type="ical", refresh_interval=interval, jitter=0.05, max_concurrent_fetches=32
        )
        health = HealthReporter("feeds")
        connector = IcalConnector(config, ConnectorContext("feeds", directory, bus, health, store))
        excluded = {server.pid or 0}
        rss_before = _tree_rss(excluded)
        peak = [rss_before]

        async def sample() -> None:
            while True:
                peak[0] = max(peak[0], _tree_rss(excluded))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        cpu0, loop_cpu0 = _tree_cpu(excluded), _cpu()
        t0 = time.perf_counter()
        task = asyncio.create_task(connector.run())
        seen: set[str] = set()
        while len(seen) < people:
            seen.add((await asyncio.wait_for(updates.__anext__(), 600)).person_id)
        full = time.perf_counter() - t0
        full_cpu, loop_cpu = _tree_cpu(excluded) - cpu0, _cpu() - loop_cpu0
        sampler.cancel()
        rss = max(peak[0], _tree_rss(excluded))
        print(
            f"full refresh of {people} feeds: {full:.1f} s ({people / full:.0f} feeds/s), "
            f"SAMTEK CPU {full_cpu:.1f} s ({full_cpu / people * 1000:.1f} ms/feed; event-loop "
            f"process {loop_cpu:.1f} s), peak RSS of all its processes {rss / 1024:.0f} MB "
            f"(+{(rss - rss_before) / 1024:.0f} MB)"
        )
        # The next `people` polls after the first load: all conditional, all 304.
        target = counts[1] + people  # type: ignore[index]
        t1, cpu1 = time.perf_counter(), _cpu()
        while counts[1] < target:  # type: ignore[index]
            await asyncio.sleep(0.01)
        wave, wave_cpu = time.perf_counter() - t1, _cpu() - cpu1
        errors = len(health.snapshot().item_errors)
        print(
            f"unchanged refresh: {people} conditional GETs answered 304 over {wave:.1f} s "
            f"(the poll wave, interval {interval:g} s), event-loop CPU {wave_cpu:.2f} s "
            f"({wave_cpu / people * 1000:.2f} ms/feed); full downloads in all: "
            f"{counts[0]}; feeds in error: {errors}"
        )  # type: ignore[index]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    server.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--interval", type=float, default=30.0, help="poll interval (s)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/samtek-bench-ical"))
    args = parser.parse_args()
    compare_parsers(args.events)
    asyncio.run(run(args.people, args.events, args.interval, args.workdir))
