"""Benchmark: the switchboard console at 10,000 people.

1. Search as you type: a whole answer (index look-up plus the rows the page gets) for queries
   typed letter by letter, with typos, numbers and nynorsk words; p50/p99 per keystroke.
2. Boundary to page: 2,000 of them start a meeting in the same second. The real presence
   bridge's timers fire, the console turns the changed people into rows, and 50 operator
   pages, each a real HTTP client on the console's SSE stream, see the rows; p50/p99 from
   the boundary until a page has parsed that person's changed row, over all pages.

No XMPP server is needed: the bridge never reconciled with one, so it only plans and fires
timers (what the console listens to). Everything runs in this one process (the pages too).

    .venv/bin/python bench/switchboard.py --people 10000 --starts 2000 --pages 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web

from bridges.presence import PresenceBridge
from bridges.switchboard.console import Switchboard
from bridges.switchboard.routes import build_app
from bridges.switchboard.search import SearchIndex
from bridges.switchboard.sessions import COOKIE
from bridges.switchboard.settings import SwitchboardSection
from samtek.bus import Bus
from samtek.clock import SystemClock
from samtek.config import MunicipalitySection, PresenceSection, XmppSection
from samtek.directory import DirectoryService
from samtek.events import CalendarUpdate, DirectoryPerson, DirectoryUpdate
from samtek.health import HealthReporter
from samtek.model import CalendarEvent, TimeWindow
from samtek.store import open_store
from samtek.store.audit import AuditLog
from samtek.xmpp.link import XmppLink
from samtek.xmpp.overlay import PresenceOverlays

FIRST = "Kari Ola Per Anne Bjørn Åse Øyvind Kåre Ingrid Siri Lars Marit Nils Hege Tor Solveig"
LAST = "Nordmann Hansen Berg Ødegård Haugen Lie Dahl Strand Bakken Sæther Aas Moen Kvam Foss"
DEPTS = ["Sjukeheimen", "Sykehjemmet", "Heimetenesta", "Hjemmetjenesten", "Byggjesak",
         "Byggesak", "Skule", "Skole", "Servicetorget", "Økonomi"]  # fmt: skip
MUNICIPALITIES = [MunicipalitySection(id=f"m{i}", name=f"Kommune {i}") for i in range(10)]


def people(n: int) -> list[DirectoryPerson]:
    rng = random.Random(7)
    first, last = FIRST.split(), LAST.split()
    out = []
    for i in range(n):
        name = f"{rng.choice(first)} {rng.choice(last)} {i}"
        out.append(
            DirectoryPerson(
                id=f"p{i}", jid=f"p{i}@region.test", name=name, municipality=f"m{i % 10}",
                email=f"p{i}@region.test", phones=(f"+47 9{i:07d}", f"{10000 + i}"),
            )
        )  # fmt: skip
    return out


def queries(n: int) -> list[str]:
    rng = random.Random(11)
    typed = []
    words = [
        "kari nordmann",
        "odegard",
        "oyvind hagen",
        "sjukeheim",
        "heimetenesta",
        "9000123",
        "kare saether",
        "nordmnan",
        "hnasen",
        "byggesak",
        "p123@region",
        "solveig k",
    ]
    while len(typed) < n:
        word = rng.choice(words)
        typed += [word[:k] for k in range(1, len(word) + 1)]  # as typed, letter by letter
    return typed[:n]


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[p - 1] if len(values) > 1 else values[0]


async def main(args: argparse.Namespace) -> None:
    bus = Bus()
    directory = DirectoryService({}, MUNICIPALITIES, bus)
    everyone = people(args.people)
    operators = frozenset(p.id for p in everyone[: args.pages])
    with tempfile.TemporaryDirectory() as tmp:
        async with open_store(f"sqlite:///{tmp}/bench.db") as store:
            await directory.apply(DirectoryUpdate("bench", tuple(everyone), {"sb": operators}))
            xmpp = XmppSection(domain="region.test", component_jid="samtek.region.test",
                               component_secret="env:PATH")  # fmt: skip
            link = XmppLink(xmpp, HealthReporter("xmpp"))  # never connected
            presence = PresenceBridge(directory, bus, store, PresenceOverlays(link, "region.test"),
                                      PresenceSection(), HealthReporter("presence"))  # fmt: skip
            settings = SwitchboardSection(
                ldap_servers=["ldaps://unused.test"], user_dn_template="uid={username}",
                operator_groups=["sb"], max_streams=args.pages + 10, cookie_secure=False,
            )  # fmt: skip
            names = {m.id: m.name for m in MUNICIPALITIES}
            console = Switchboard(settings, directory, presence, link, {}, AuditLog(store.db),
                                  names, SystemClock(), HealthReporter("switchboard"))  # fmt: skip
            t0 = time.perf_counter()
            console.index = SearchIndex(directory.people().values(), names)
            print(f"index of {len(console.index)} people built in {time.perf_counter() - t0:.2f} s")

            timings = []
            for query in queries(args.queries):
                t = time.perf_counter()
                console.search(query)
                timings.append((time.perf_counter() - t) * 1000)
            print(f"search as you type, {len(timings)} keystrokes: p50 {pct(timings, 50):.2f} ms,"
                  f" p99 {pct(timings, 99):.2f} ms, max {max(timings):.2f} ms")  # fmt: skip

            tasks = [asyncio.create_task(presence.run()), asyncio.create_task(console.run())]
            app = web.Application()
            app.add_subapp("/switchboard", build_app(console))
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

            now = datetime.now(UTC)
            boundary = (now + timedelta(seconds=args.lead)).replace(microsecond=0)
            starters = everyone[args.pages : args.pages + args.starts]
            window = TimeWindow(now - timedelta(hours=1), now + timedelta(days=1))
            t = time.perf_counter()
            for p in starters:
                end = boundary + timedelta(hours=1)
                event = CalendarEvent(uid=f"m-{p.id}", start=boundary, end=end, subject="Møte")
                await bus.publish(CalendarUpdate("bench", p.id, window, (event,)))
            while any(not presence.claims(p.id) for p in starters[-1:]):
                await asyncio.sleep(0.01)
            print(f"{len(starters)} calendars in {time.perf_counter() - t:.1f} s")

            seen: list[float] = []
            wanted = {p.id for p in starters}
            connected = 0
            all_connected = asyncio.Event()

            async def page(username: str) -> None:
                nonlocal connected
                token, _ = console.sessions.create(username, username)
                url = f"http://127.0.0.1:{port}/switchboard/api/stream"
                forever = aiohttp.ClientTimeout(total=None)
                async with (
                    aiohttp.ClientSession(cookies={COOKIE: token}) as http,
                    http.get(url, timeout=forever) as response,
                ):
                    got: set[str] = set()
                    connected += 1
                    if connected == len(operators):
                        all_connected.set()
                    buffer = b""
                    async for chunk in response.content.iter_any():
                        buffer += chunk
                        *messages, buffer = buffer.split(b"\n\n")
                        for message in messages:
                            if not message.startswith(b"event: rows\n"):
                                continue
                            arrived = time.time()
                            for row in json.loads(message.split(b"data: ", 1)[1]):
                                new = row["id"] in wanted and row["id"] not in got
                                if row["state"] == "meeting" and new:
                                    got.add(row["id"])
                                    seen.append(arrived - boundary.timestamp())
                        if len(got) == len(wanted):
                            return

            pages = [asyncio.create_task(page(op)) for op in sorted(operators)]
            await asyncio.wait_for(all_connected.wait(), 60)
            if datetime.now(UTC) >= boundary:
                raise SystemExit("setup took longer than --lead seconds; raise --lead")
            await asyncio.wait_for(asyncio.gather(*pages), args.lead + 60)
            print(f"{len(starters)} meeting starts at one instant, {len(operators)} pages:"
                  f" boundary -> row parsed in the page p50 {pct(seen, 50) * 1000:.0f} ms,"
                  f" p99 {pct(seen, 99) * 1000:.0f} ms, max {max(seen) * 1000:.0f} ms"
                  f" ({len(seen)} rows; slow pages dropped: {console.hub.dropped})")  # fmt: skip
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--starts", type=int, default=2_000)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--lead", type=float, default=20.0, help="seconds until the boundary")
    asyncio.run(main(parser.parse_args()))
