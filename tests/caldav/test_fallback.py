"""Servers without sync-collection, and one fetch per collection at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.caldav.conftest import make_config, person, run_connector
from tests.servers.dav_proxy import DavProxy
from tests.servers.radicale import RadicaleServer, simple_event


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def tomorrow(hour: int) -> datetime:
    day = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    return day.replace(hour=hour)


async def test_ctag_and_etag_fallback_without_sync_collection(radicale: RadicaleServer) -> None:
    cal = await radicale.make_calendar("alice")
    start = tomorrow(9)
    await radicale.put_event("alice", cal, "a", simple_event(
        "a", stamp(start), stamp(start + timedelta(hours=1))))
    await radicale.put_event("alice", cal, "b", simple_event(
        "b", stamp(start + timedelta(hours=2)), stamp(start + timedelta(hours=3))))
    async with DavProxy.running(radicale.url, without_sync=True) as proxy:
        address = f"{proxy.url}/alice/calendar/"
        config = make_config(radicale, url=proxy.url + "/")
        async with run_connector(config, [person("alice", address)]) as run:
            assert {e.uid for e in (await run.next_update("alice")).events} == {"a", "b"}
            await radicale.put_event("alice", cal, "c", simple_event(
                "c", stamp(start + timedelta(hours=4)), stamp(start + timedelta(hours=5))))
            update = await run.next_update("alice", lambda u: len(u.events) == 3)
            assert {e.uid for e in update.events} == {"a", "b", "c"}
            stats = run.connector.collection(address).stats
            assert stats.sync_reports == 0
            assert stats.ctag_checks >= 1
            assert stats.fetched == 3  # a, b once; then only c
    assert proxy.requests[("REPORT", "/alice/calendar/")] >= 3  # listing + multiget, twice


async def test_a_collection_is_never_fetched_twice_at_once(radicale: RadicaleServer) -> None:
    cal = await radicale.make_calendar("alice")
    start = tomorrow(9)
    await radicale.put_event("alice", cal, "a", simple_event(
        "a", stamp(start), stamp(start + timedelta(hours=1))))
    async with DavProxy.running(radicale.url, delay=0.05) as proxy:
        address = f"{proxy.url}/alice/calendar/"
        alice = person("alice", address)
        config = make_config(radicale, url=proxy.url + "/", sync_interval=0.05)
        async with run_connector(config, [alice]) as run:
            await run.next_update("alice")
            window = run.connector._window()
            results = await asyncio.gather(*(run.connector.events(alice, window)
                                             for _ in range(8)))
            assert all([e.uid for e in r] == ["a"] for r in results)
    assert proxy.requests[("REPORT", "/alice/calendar/")] >= 9
    assert proxy.max_in_flight["/alice/calendar/"] == 1
