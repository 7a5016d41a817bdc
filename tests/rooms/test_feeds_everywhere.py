"""Room ICS feeds answer on every instance, with one feed secret for all of them.

Two rooms bridges share one PostgreSQL store, as two instances do: A holds the rooms duty
and is connected to a real Prosody; B is on standby (no duty, no XMPP link). They start
together, so both race to create the feed secret. Each serves its feeds over a real HTTP
server; the same URL must work on both and give the room's meeting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from icalendar import Calendar, Event

from bridges.rooms.bridge import RoomsBridge
from bridges.rooms.settings import RoomsSection
from connectors.ical import IcalConfig, IcalConnector
from samtek.bus import Bus
from samtek.health import HealthReporter
from samtek.model import Person
from samtek.plugin import ConnectorContext
from samtek.store import open_store
from samtek.xmpp.link import XmppLink
from tests.e2e.regions import ics_meeting, write_ics
from tests.ical.test_feed_errors import People
from tests.postgres_fixture import postgres_server, postgres_url
from tests.rooms.helpers import PASSWORD, WAIT, connected_link, rooms_prosody, xmpp_section

__all__ = ["postgres_server", "postgres_url"]  # fixtures, used by name

SPEC = """
id = "vei"
name = "Veiprosjekt"
owners = ["kari"]
members = ["ola"]
calendar = {{ source = "feeds", address = "{feed}" }}
"""


@contextlib.asynccontextmanager
async def serve(bridge: RoomsBridge) -> AsyncIterator[str]:
    runner = web.AppRunner(bridge.feeds.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def feed_events(base: str, path: str) -> list[Event]:
    """The feed's events once it serves the meeting (a hang guard, not a bound)."""
    async with aiohttp.ClientSession() as http, asyncio.timeout(WAIT):
        while True:
            async with http.get(base + path.removeprefix("/rooms")) as response:
                if response.status == 200:
                    events = Calendar.from_ical(await response.read()).walk("VEVENT")
                    if events:
                        return list(events)
            await asyncio.sleep(0.1)


async def test_every_instance_serves_the_feeds_with_one_secret(
    postgres_url: str, tmp_path: Path
) -> None:
    prosody = rooms_prosody()
    for user in ("kari", "ola"):
        prosody.add_user(user, PASSWORD)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    calendar_file = tmp_path / "vei.ics"
    write_ics(calendar_file, ics_meeting("m1", start, start + timedelta(hours=1)))
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "vei.toml").write_text(SPEC.format(feed=calendar_file))
    people = {
        name: Person(name, prosody.jid(name), name.title(), "kongsberg") for name in ("kari", "ola")
    }
    settings = RoomsSection(spec_dir="specs", interval_seconds=300, jitsi_base_url="https://m.no")
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.callback(prosody.cleanup)
        stack.push_async_callback(prosody.stop)
        link_a, task_a = await connected_link(xmpp_section(prosody, tmp_path))
        link_b = XmppLink(xmpp_section(prosody, tmp_path), HealthReporter("xmpp"))  # never run
        bridges = []
        for name, link, duty in (("a", link_a, True), ("b", link_b, False)):
            store = await stack.enter_async_context(open_store(postgres_url))
            ctx = ConnectorContext("feeds", People([]), Bus(), HealthReporter("feeds"), store)
            source = IcalConnector(IcalConfig(type="ical"), ctx)
            bridges.append(
                RoomsBridge(
                    settings, people, link, store, prosody.domain, HealthReporter(f"rooms-{name}"),
                    sources={"feeds": source}, base_dir=tmp_path, duty_held=lambda d=duty: d,
                )
            )  # fmt: skip
        a, b = bridges
        runs = [asyncio.create_task(bridge.run()) for bridge in bridges]  # started together
        try:
            base_a = await stack.enter_async_context(serve(a))
            base_b = await stack.enter_async_context(serve(b))
            async with asyncio.timeout(WAIT):
                while a.feed_url("vei") is None or b.feed_url("vei") is None:
                    await asyncio.sleep(0.05)
            path = a.feed_url("vei")
            assert path is not None and b.feed_url("vei") == path  # one secret for both
            for base in (base_a, base_b):
                events = await feed_events(base, path)
                assert [e.decoded("dtstart") for e in events] == [start]
            assert a.passes >= 1 and b.passes == 0  # only A reconciled rooms
        finally:
            for task in (*runs, task_a):
                task.cancel()
            for task in (*runs, task_a):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
