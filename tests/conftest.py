"""Shared fixtures: real servers started by the suite, and a SAMTEK service in-process."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from samtek.app import Service
from samtek.clock import SYSTEM_CLOCK, Clock, ShiftedClock
from samtek.config import Config, load_config
from samtek.devserver.prosody import ProsodyServer
from samtek.logging import configure_logging
from samtek.plugin import discover_connectors

configure_logging("info", json=False)

# scripts/test runs the tests marked `clock_sensitive` again with this set to fixed instants
# (just before midnight, DST change days, New Year's Eve, 29 February): ISO 8601 with offset.
TEST_NOW_ENV = "SAMTEK_TEST_NOW"


def instant_under_test() -> datetime | None:
    value = os.environ.get(TEST_NOW_ENV, "").strip()
    if not value:
        return None
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise pytest.UsageError(f"{TEST_NOW_ENV}={value!r} needs a UTC offset")
    return at


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Clock:
    """The clock of the code under test: it starts at SAMTEK_TEST_NOW (and runs at real
    speed) for tests marked `clock_sensitive`; otherwise it is the system clock. Tests read
    "now" only from here, and hand this clock to the service."""
    at = instant_under_test()
    if at is None or request.node.get_closest_marker("clock_sensitive") is None:
        return SYSTEM_CLOCK
    return ShiftedClock(at)


@pytest.fixture
async def prosody() -> AsyncIterator[ProsodyServer]:
    server = ProsodyServer()
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()


class RunningService:
    """Starts and stops `Service` in this event loop, like `samtek run` would."""

    def __init__(self, config_path: Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config_path = config_path
        self.clock = clock
        self.service: Service | None = None
        self._task: asyncio.Task[None] | None = None

    def load(self) -> Config:
        return load_config(self.config_path, discover_connectors())

    async def start(self) -> Service:
        self.service = Service(self.load(), clock=self.clock)
        ready = asyncio.Event()
        self._task = asyncio.create_task(self.service.run(ready))
        await asyncio.wait_for(ready.wait(), 10)
        return self.service

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@pytest.fixture
async def samtek_service() -> AsyncIterator[type[RunningService]]:
    started: list[RunningService] = []

    class Tracked(RunningService):
        def __init__(self, config_path: Path, clock: Clock = SYSTEM_CLOCK) -> None:
            super().__init__(config_path, clock)
            started.append(self)

    yield Tracked
    for running in started:
        await running.stop()
