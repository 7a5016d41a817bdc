"""Fixtures for the CalDAV connector tests: a real Radicale and a connector wired to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.caldav import CalDavConfig, CalDavConnector, MemoryStateStore
from samtek.bus import Bus, Subscription
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.events import CalendarUpdate
from samtek.health import HealthReporter
from samtek.model import CalendarRef, Person
from samtek.plugin import ConnectorContext, Directory
from tests.servers.radicale import RadicaleServer

SOURCE = "caldav1"
SERVICE_USER, SERVICE_PASSWORD = "samtek", "service-secret-1"
USERS = {"alice": "alice-secret-1", "bob": "bob-secret-1", SERVICE_USER: SERVICE_PASSWORD}
WAIT = 30.0  # a guard against hangs, not a latency assertion


class StaticDirectory(Directory):
    def __init__(self, people: list[Person]) -> None:
        self._people = {p.id: p for p in people}

    def people(self) -> Mapping[str, Person]:
        return self._people


def person(pid: str, address: str) -> Person:
    return Person(
        id=pid,
        jid=f"{pid}@chat.example.test",
        name=pid.title(),
        municipality="Testvik",
        timezone="Europe/Oslo",
        email=f"{pid}@example.test",
        calendars=(CalendarRef(SOURCE, address),),
    )


@dataclass
class Running:
    connector: CalDavConnector
    ctx: ConnectorContext
    updates: Subscription[CalendarUpdate]
    task: asyncio.Task[None]

    async def next_update(
        self, person_id: str, predicate: Callable[[CalendarUpdate], bool] = lambda u: True
    ) -> CalendarUpdate:
        """The next update for the person matching `predicate`; fails if the connector dies."""
        async with asyncio.timeout(WAIT):
            while True:
                get = asyncio.ensure_future(self.updates.queue.get())
                await asyncio.wait({get, self.task}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    self.task.result()  # raises the connector's error
                    raise AssertionError("connector stopped without an error")
                update = get.result()
                if update.person_id == person_id and predicate(update):
                    return update


@pytest.fixture
async def radicale() -> AsyncIterator[RadicaleServer]:
    async with RadicaleServer.running(USERS, service_user=SERVICE_USER) as server:
        yield server


def make_config(
    server: RadicaleServer, password: str = SERVICE_PASSWORD, **overrides: Any
) -> CalDavConfig:
    values: dict[str, Any] = {
        "type": "caldav",
        "url": server.url + "/",
        "auth": {"type": "basic", "username": SERVICE_USER, "password": SecretStr(password)},
        "sync_interval": 0.5,
        "sync_jitter": 0,
        "backoff_initial": 0.2,
        "backoff_max": 1,
        **overrides,
    }
    return CalDavConfig.model_validate(values)


@contextlib.asynccontextmanager
async def run_connector(
    config: CalDavConfig,
    people: list[Person],
    store: MemoryStateStore | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> AsyncIterator[Running]:
    ctx = ConnectorContext(
        SOURCE,
        StaticDirectory(people),
        bus=Bus(),
        health=HealthReporter(SOURCE),
        store=store or MemoryStateStore(),  # type: ignore[arg-type]
        clock=clock,
    )
    connector = CalDavConnector(config, ctx)
    updates = ctx.bus.subscribe(CalendarUpdate, maxsize=100)
    task = asyncio.create_task(connector.run(), name="caldav-under-test")
    try:
        yield Running(connector, ctx, updates, task)
    finally:
        task.cancel()
        # asyncio.wait does not raise: a test that expects the connector to fail awaits
        # run.task itself; any other failure already surfaced through next_update.
        await asyncio.wait({task})
        updates.close()


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll a condition (e.g. a health state) with a hang guard, not a latency bound."""
    async with asyncio.timeout(WAIT):
        while not predicate():
            await asyncio.sleep(0.05)
