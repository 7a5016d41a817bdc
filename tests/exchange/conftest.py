"""Fixtures for the Exchange connector tests: loopback EWS/Graph fakes, the real store,
a static directory, and a helper that runs a connector as a task and always stops it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar

import pytest

from samtek.bus import Bus, Subscription
from samtek.health import HealthReporter
from samtek.model import CalendarRef, Person
from samtek.plugin import Connector, ConnectorContext, Directory
from samtek.store import Store, open_store
from tests.fakes.ews.server import FakeEws
from tests.fakes.graph.server import FakeGraph

T = TypeVar("T")
DOMAIN = "kommune.no"


class StaticDirectory(Directory):
    def __init__(self, people: list[Person]) -> None:
        self._people = {p.id: p for p in people}

    def people(self) -> Mapping[str, Person]:
        return self._people


def person(name: str, source: str) -> Person:
    address = f"{name}@{DOMAIN}"
    return Person(
        id=name,
        jid=address,
        name=name.title(),
        municipality="Testvik",
        email=address,
        calendars=(CalendarRef(source, address),),
    )


@pytest.fixture
async def store(tmp_path: Any) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path}/s.db") as s:
        yield s


@pytest.fixture
async def ews() -> AsyncIterator[FakeEws]:
    fake = FakeEws()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def graph(tmp_path: Any) -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
    await fake.start(tmp_path)
    try:
        yield fake
    finally:
        await fake.stop()


def context(name: str, people: list[Person], store: Store) -> ConnectorContext:
    return ConnectorContext(
        name, StaticDirectory(people), bus=Bus(), health=HealthReporter(name), store=store
    )


@contextlib.asynccontextmanager
async def running(connector: Connector) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(connector.run(), name=f"run-{connector.name}")
    try:
        yield task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def wait_for(sub: Subscription[T], predicate: Callable[[T], bool], limit: float = 15) -> T:
    """The next published event matching `predicate` (the limit only guards against a hang)."""

    async def scan() -> T:
        async for event in sub:
            if predicate(event):
                return event
        raise AssertionError("subscription ended")

    return await asyncio.wait_for(scan(), limit)
