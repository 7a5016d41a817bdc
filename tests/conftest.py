"""Shared fixtures: real servers started by the suite, and a SAMTEK service in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from samtek.app import Service
from samtek.config import Config, load_config
from samtek.devserver.prosody import ProsodyServer
from samtek.logging import configure_logging
from samtek.plugin import discover_connectors

configure_logging("info", json=False)


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

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.service: Service | None = None
        self._task: asyncio.Task[None] | None = None

    def load(self) -> Config:
        return load_config(self.config_path, discover_connectors())

    async def start(self) -> Service:
        self.service = Service(self.load())
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
        def __init__(self, config_path: Path) -> None:
            super().__init__(config_path)
            started.append(self)

    yield Tracked
    for running in started:
        await running.stop()
