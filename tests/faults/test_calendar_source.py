"""A calendar source that hangs, answers 500, or serves garbage (a real aiohttp server).

While the source is broken: the connector's health says what is wrong, and presence keeps
following the last good calendar (alice stays in her meeting; nothing flickers). When the
source is fixed, the change made in the meantime (the meeting cancelled) reaches her contacts.
Printed: how long each fault took to show in health, and fix -> contact.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from samtek.devserver.prosody import ProsodyServer
from samtek.health import HealthReporter, HealthState
from tests.conftest import RunningService
from tests.e2e.regions import ics_meeting, next_whole_second
from tests.faults.helpers import online_pair, poll, report, setup_users, until_seen, write_config

HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//samtek faults//EN\r\n"


class FlakySource:
    """Serves /alice.ics according to `mode`: ok, hang, error500, garbage."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.body = HEAD + "END:VCALENDAR\r\n"
        self.port = 0
        self._release = asyncio.Event()  # lets hanging requests end at teardown

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "hang":
            await self._release.wait()
        if self.mode == "error500":
            return web.Response(status=500, text="Internal Server Error")
        if self.mode == "garbage":
            return web.Response(body=b"\x00\xff<html>not a calendar", content_type="text/calendar")
        return web.Response(text=self.body, content_type="text/calendar")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alice.ics"

    def release(self) -> None:
        self._release.set()


@pytest.fixture
async def source() -> AsyncIterator[FlakySource]:
    flaky = FlakySource()
    app = web.Application()
    app.router.add_get("/alice.ics", flaky.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    flaky.port = runner.addresses[0][1]
    try:
        yield flaky
    finally:
        flaky.release()
        await runner.cleanup()


async def test_broken_source_keeps_last_calendar_and_recovers(
    prosody: ProsodyServer,
    samtek_service: type[RunningService],
    tmp_path: Path,
    source: FlakySource,
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    source.body = (
        HEAD + ics_meeting("m1", start, start + timedelta(hours=1)) + "\r\nEND:VCALENDAR\r\n"
    )
    config = write_config(
        tmp_path,
        prosody,
        {"alice": source.url},
        connector_options="refresh_interval = 1\ntimeout = 1.5\njitter = 0",
    )
    service = await samtek_service(config).start()
    health: HealthReporter = service.supervisor.health()["connector:feeds"]
    try:
        await until_seen(bob, prosody, "dnd")
        for mode, expect in (("error500", "500"), ("garbage", ""), ("hang", "")):
            source.mode = mode
            broken = time.monotonic()
            await poll(lambda: health.state == HealthState.DEGRADED, 20, f"{mode} in health")
            reason = health.snapshot().last_error or ""
            print(f"\n{mode}: {reason}")
            assert expect in reason
            report(f"calendar source {mode}: fault -> health degraded", time.monotonic() - broken)
            source.mode = "ok"
            await poll(lambda: health.state == HealthState.OK, 20, "health ok again")
        # Through all of it alice stayed in her meeting: no presence change reached bob.
        assert [p for p in bob.drain() if p.sender.startswith(prosody.jid("alice"))] == []

        source.mode = "error500"
        await poll(lambda: health.state == HealthState.DEGRADED, 20, "500 again")
        source.body = HEAD + "END:VCALENDAR\r\n"  # cancelled while the source was broken
        source.mode = "ok"
        fixed = time.time()
        cleared = await until_seen(bob, prosody, "", timeout=20)
        report("calendar source fixed -> cancelled meeting cleared at a contact", cleared - fixed)
    finally:
        source.release()
        await alice.disconnect()
        await bob.disconnect()
