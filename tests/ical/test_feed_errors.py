"""Bad feeds give a clear error in the connector's health; other people keep their calendars.

A real aiohttp server on loopback serves the feeds; the connector runs as in the service.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from connectors.ical import IcalConfig, IcalConnector
from samtek.bus import Bus
from samtek.events import CalendarUpdate
from samtek.health import HealthReporter, HealthState
from samtek.model import CalendarRef, Person
from samtek.plugin import ConnectorContext, Directory
from samtek.store import Store, open_store
from tests.e2e.regions import ics_meeting

NOW = datetime.now(UTC).replace(microsecond=0)
GOOD = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
    + ics_meeting("m1", NOW + timedelta(hours=1), NOW + timedelta(hours=2))
    + "\r\nEND:VCALENDAR\r\n"
).encode()


class People(Directory):
    def __init__(self, people: list[Person]) -> None:
        self._people = {p.id: p for p in people}

    def people(self) -> Mapping[str, Person]:
        return self._people


@pytest.fixture
async def feeds() -> AsyncIterator[dict[str, object]]:
    """A loopback feed server; tests read its request log."""
    log: list[tuple[str, str | None]] = []
    app = web.Application()

    async def good(request: web.Request) -> web.Response:
        log.append((request.path, request.headers.get("If-None-Match")))
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=GOOD, headers={"ETag": '"v1"'}, content_type="text/calendar")

    async def malformed(_: web.Request) -> web.Response:
        return web.Response(
            body=b"BEGIN:VCALENDAR\r\nthis is not ics\r\n", content_type="text/calendar"
        )

    async def huge(_: web.Request) -> web.StreamResponse:
        # 50 MB, streamed without Content-Length: the limit must hold while streaming.
        response = web.StreamResponse()
        response.content_type = "text/calendar"
        await response.prepare(_)
        chunk = b"X-FILLER:" + b"a" * 65_000 + b"\r\n"
        for _i in range(50 * 1024 * 1024 // len(chunk)):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def gzip_bomb(_: web.Request) -> web.Response:
        body = gzip.compress(b"\r\n" * (40 * 1024 * 1024))
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    async def loop_redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.url))

    app.router.add_get("/good.ics", good)
    app.router.add_get("/bad.ics", malformed)
    app.router.add_get("/huge.ics", huge)
    app.router.add_get("/bomb.ics", gzip_bomb)
    app.router.add_get("/loop.ics", loop_redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield {"base": f"http://127.0.0.1:{port}", "log": log}
    await runner.cleanup()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path}/s.db") as s:
        yield s


async def run_connector(people: list[Person], store: Store, **settings: object):
    bus = Bus()
    updates = bus.subscribe(CalendarUpdate)
    health = HealthReporter("connector:feeds")
    values = {"refresh_interval": 1, "jitter": 0.0, "max_bytes": 20_000_000, **settings}
    config = IcalConfig(type="ical", **values)
    connector = IcalConnector(config, ConnectorContext("feeds", People(people), bus, health, store))
    task = asyncio.create_task(connector.run())
    return task, updates, health


def person(pid: str, address: str) -> Person:
    return Person(pid, f"{pid}@region.test", pid, "k", calendars=(CalendarRef("feeds", address),))


async def wait_for_errors(health: HealthReporter, items: set[str], timeout: float = 20) -> dict:
    async with asyncio.timeout(timeout):
        while not items <= set(health.snapshot().item_errors):
            await asyncio.sleep(0.05)
    return health.snapshot().item_errors


async def test_bad_feeds_are_reported_and_others_keep_working(feeds, store, tmp_path) -> None:
    base = feeds["base"]
    missing_file = tmp_path / "nowhere" / "gone.ics"
    people = [
        person("alice", f"{base}/good.ics"),
        person("bad", f"{base}/bad.ics"),
        person("huge", f"{base}/huge.ics"),
        person("bomb", f"{base}/bomb.ics"),
        person("loop", f"{base}/loop.ics"),
        person("offline", "http://127.0.0.1:9/unreachable.ics?token=secret123"),
        person("nofile", str(missing_file)),
    ]
    task, updates, health = await run_connector(people, store)
    try:
        update = await asyncio.wait_for(updates.__anext__(), 10)
        assert update.person_id == "alice" and [e.uid for e in update.events] == ["m1"]
        errors = await wait_for_errors(health, {"bad", "huge", "bomb", "loop", "offline", "nofile"})
        assert "malformed iCalendar data" in errors["bad"]
        assert "larger than the limit of 20000000 bytes" in errors["huge"]
        assert "larger than the limit" in errors["bomb"]
        assert "more than 5 redirects" in errors["loop"]
        assert "cannot fetch http://127.0.0.1:9/unreachable.ics" in errors["offline"]
        assert "secret123" not in errors["offline"]  # feed tokens never reach logs or health
        assert "cannot read" in errors["nofile"] and "gone.ics" in errors["nofile"]
        assert "alice" not in errors
        assert health.state is HealthState.DEGRADED
        # alice's unchanged feed is re-validated with a conditional GET, not re-downloaded.
        await asyncio.sleep(2.5)
        assert ("/good.ics", '"v1"') in feeds["log"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_local_file_change_is_seen_at_once(store, tmp_path) -> None:
    feed = tmp_path / "alice.ics"
    feed.write_bytes(GOOD)
    task, updates, health = await run_connector(
        [person("alice", str(feed))], store, refresh_interval=3600
    )
    try:
        first = await asyncio.wait_for(updates.__anext__(), 10)
        assert [e.uid for e in first.events] == ["m1"]
        feed.write_bytes(GOOD.replace(b"UID:m1", b"UID:m2"))
        second = await asyncio.wait_for(updates.__anext__(), 5)  # inotify, not the 1 h poll
        assert [e.uid for e in second.events] == ["m2"]
        assert health.state is HealthState.OK
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
