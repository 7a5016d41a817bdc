"""A first read of many feeds is shown as progress (count and estimate on the status page):
here one feed's server does not answer yet, so health says 2 of 3 read until it does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from samtek.store import Store, open_store
from tests.ical.test_feed_errors import person, run_connector

WAIT = 30.0  # a guard against hangs


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path}/s.db") as s:
        yield s


async def test_first_read_progress(store: Store) -> None:
    release = asyncio.Event()
    body = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//NO\r\nEND:VCALENDAR\r\n"

    async def feed(request: web.Request) -> web.Response:
        if request.match_info["name"] == "slow":
            await release.wait()  # this municipality's server is slow today
        return web.Response(body=body, content_type="text/calendar")

    app = web.Application()
    app.router.add_get("/{name}.ics", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    people = [person(name, f"{base}/{name}.ics") for name in ("kari", "ola", "slow")]
    task, _updates, health = await run_connector(people, store)
    try:
        async with asyncio.timeout(WAIT):
            while (work := health.snapshot().progress) is None or work.done < 2:
                await asyncio.sleep(0.05)
        assert (work.what, work.done, work.total) == ("feeds read", 2, 3)
        release.set()
        async with asyncio.timeout(WAIT):
            while health.snapshot().progress is not None:  # all read: no more progress
                await asyncio.sleep(0.05)
    finally:
        release.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
