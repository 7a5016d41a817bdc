"""Servers without sync-collection, and one fetch per collection at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from samtek.model import BusyStatus, TimeWindow
from samtek.plugin import AuthFailed
from tests.caldav.conftest import (
    SERVICE_PASSWORD,
    SERVICE_USER,
    make_config,
    person,
    run_connector,
)
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
    await radicale.put_event(
        "alice", cal, "a", simple_event("a", stamp(start), stamp(start + timedelta(hours=1)))
    )
    await radicale.put_event(
        "alice",
        cal,
        "b",
        simple_event("b", stamp(start + timedelta(hours=2)), stamp(start + timedelta(hours=3))),
    )
    async with DavProxy.running(radicale.url, without_sync=True) as proxy:
        address = f"{proxy.url}/alice/calendar/"
        config = make_config(radicale, url=proxy.url + "/")
        async with run_connector(config, [person("alice", address)]) as run:
            assert {e.uid for e in (await run.next_update("alice")).events} == {"a", "b"}
            await radicale.put_event(
                "alice",
                cal,
                "c",
                simple_event(
                    "c", stamp(start + timedelta(hours=4)), stamp(start + timedelta(hours=5))
                ),
            )
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
    await radicale.put_event(
        "alice", cal, "a", simple_event("a", stamp(start), stamp(start + timedelta(hours=1)))
    )
    async with DavProxy.running(radicale.url, delay=0.05) as proxy:
        address = f"{proxy.url}/alice/calendar/"
        alice = person("alice", address)
        config = make_config(radicale, url=proxy.url + "/", sync_interval=0.05)
        async with run_connector(config, [alice]) as run:
            await run.next_update("alice")
            window = run.connector._window()
            results = await asyncio.gather(*(run.connector.events(alice, window) for _ in range(8)))
            assert all([e.uid for e in r] == ["a"] for r in results)
    assert proxy.requests[("REPORT", "/alice/calendar/")] >= 9
    assert proxy.max_in_flight["/alice/calendar/"] == 1


async def test_free_busy_is_computed_from_events_where_the_server_refuses_it(
    radicale: RadicaleServer,
) -> None:
    cal = await radicale.make_calendar("alice")
    start = tomorrow(9)
    await radicale.put_event(
        "alice", cal, "busy", simple_event("busy", stamp(start), stamp(start + timedelta(hours=1)))
    )
    await radicale.put_event(
        "alice",
        cal,
        "free",
        simple_event(
            "free",
            stamp(start + timedelta(hours=2)),
            stamp(start + timedelta(hours=3)),
            extra="TRANSP:TRANSPARENT",
        ),
    )
    await radicale.put_event(
        "alice",
        cal,
        "declined",
        simple_event(
            "declined",
            stamp(start + timedelta(hours=4)),
            stamp(start + timedelta(hours=5)),
            extra="ATTENDEE;PARTSTAT=DECLINED:mailto:alice@example.test",
        ),
    )
    async with DavProxy.running(radicale.url, refuse_free_busy=True) as proxy:
        alice = person("alice", f"{proxy.url}/alice/calendar/")
        async with run_connector(make_config(radicale, url=proxy.url + "/"), [alice]) as run:
            await run.next_update("alice")
            window = TimeWindow(start - timedelta(hours=1), start + timedelta(hours=8))
            result = await run.connector.free_busy([alice], window)
    assert [(b.start, b.end, b.busy) for b in result["alice"]] == [
        (start, start + timedelta(hours=1), BusyStatus.BUSY)
    ]
    assert proxy.requests[("REPORT", "/alice/calendar/")] >= 3


async def test_bearer_token_auth(radicale: RadicaleServer) -> None:
    cal = await radicale.make_calendar("alice")
    start = tomorrow(9)
    await radicale.put_event(
        "alice", cal, "a", simple_event("a", stamp(start), stamp(start + timedelta(hours=1)))
    )
    bearer = ("tok-3f9a", SERVICE_USER, SERVICE_PASSWORD)
    async with DavProxy.running(radicale.url, bearer=bearer) as proxy:
        alice = person("alice", f"{proxy.url}/alice/calendar/")
        good = make_config(
            radicale, url=proxy.url + "/", auth={"type": "bearer", "token": SecretStr("tok-3f9a")}
        )
        async with run_connector(good, [alice]) as run:
            assert [e.uid for e in (await run.next_update("alice")).events] == ["a"]
        bad = make_config(
            radicale, url=proxy.url + "/", auth={"type": "bearer", "token": SecretStr("tok-wrong")}
        )
        async with run_connector(bad, [alice]) as run:
            with pytest.raises(AuthFailed, match="401 Unauthorized"):
                await run.task


async def test_server_errors_are_retried_with_backoff_and_recover(
    radicale: RadicaleServer,
) -> None:
    cal = await radicale.make_calendar("alice")
    start = tomorrow(9)
    await radicale.put_event(
        "alice", cal, "a", simple_event("a", stamp(start), stamp(start + timedelta(hours=1)))
    )
    async with DavProxy.running(radicale.url) as proxy:
        alice = person("alice", f"{proxy.url}/alice/calendar/")
        async with run_connector(make_config(radicale, url=proxy.url + "/"), [alice]) as run:
            await run.next_update("alice")
            proxy.fail_next = 3
            await radicale.put_event(
                "alice",
                cal,
                "b",
                simple_event(
                    "b", stamp(start + timedelta(hours=2)), stamp(start + timedelta(hours=3))
                ),
            )
            update = await run.next_update("alice", lambda u: len(u.events) == 2)
            assert [e.uid for e in update.events] == ["a", "b"]
            health = run.ctx.health.snapshot()
            assert health.item_errors == {}
            assert health.last_error is not None
            assert "503 Service Unavailable" in health.last_error
            assert f"{proxy.url}/alice/calendar/" in health.last_error
    assert proxy.fail_next == 0


async def test_same_origin_redirects_are_followed(radicale: RadicaleServer) -> None:
    cal = await radicale.make_calendar("alice")
    start = tomorrow(9)
    await radicale.put_event(
        "alice", cal, "a", simple_event("a", stamp(start), stamp(start + timedelta(hours=1)))
    )
    async with DavProxy.running(radicale.url, redirect_no_slash=True) as proxy:
        alice = person("alice", f"{proxy.url}/alice/calendar")  # no trailing slash
        async with run_connector(make_config(radicale, url=proxy.url + "/"), [alice]) as run:
            assert [e.uid for e in (await run.next_update("alice")).events] == ["a"]
    assert proxy.requests[("PROPFIND", "/alice/calendar")] >= 1
