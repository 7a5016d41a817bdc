"""Fixtures: a real Kamailio + baresip peer and a running SIP connector against it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from connectors.sip import SipConfig, SipConnector
from samtek.bus import Bus, Subscription
from samtek.health import HealthReporter
from samtek.model import Person
from samtek.plugin import AuthFailed, ConnectorContext, Directory
from samtek.telephony import CallEvent, CallState, DeviceState, DeviceStateUpdate
from tests.servers.sip import SipPeer

T = TypeVar("T")


class StaticDirectory(Directory):
    def __init__(self, people: list[Person]) -> None:
        self._people = {p.id: p for p in people}

    def people(self) -> Mapping[str, Person]:
        return self._people

    def replace(self, people: list[Person]) -> None:
        self._people = {p.id: p for p in people}


@dataclass
class Running:
    connector: SipConnector
    health: HealthReporter
    directory: StaticDirectory
    calls: Subscription[CallEvent]
    devices: Subscription[DeviceStateUpdate]
    call_log: list[CallEvent] = field(default_factory=list)
    device_log: list[DeviceStateUpdate] = field(default_factory=list)

    async def record(self) -> None:
        """Keep every published event (tests assert on whole sequences)."""

        async def calls() -> None:
            async for event in self.calls:
                self.call_log.append(event)

        async def devices() -> None:
            async for event in self.devices:
                self.device_log.append(event)

        await asyncio.gather(calls(), devices())

    def calls_of(self, ext: str) -> list[CallEvent]:
        return [e for e in self.call_log if e.extension == ext]

    def devices_of(self, ext: str) -> list[DeviceState]:
        return [e.state for e in self.device_log if e.extension == ext]

    async def wait_call(self, ext: str, state: CallState, after: int = 0) -> CallEvent:
        """The first `state` event of `ext` at index >= `after` in its call list."""
        found: list[CallEvent] = []

        def seen() -> bool:
            found[:] = [e for e in self.calls_of(ext)[after:] if e.state is state]
            return bool(found)

        await eventually(seen)
        return found[0]

    async def wait_subscribed(
        self, extensions: set[str], not_in: frozenset[str] = frozenset(), limit: float = 20
    ) -> dict[str, str]:
        """Wait until every extension has an active subscription (Call-ID not in `not_in`)."""
        async with asyncio.timeout(limit):
            while True:
                subs = self.connector.subscriptions()
                if extensions <= subs.keys() and not set(subs.values()) & not_in:
                    return subs
                await asyncio.sleep(0.05)


async def eventually(condition: Callable[[], bool], limit: float = 20) -> None:
    """Wait until `condition()` holds (a hang guard, not a latency assertion)."""
    async with asyncio.timeout(limit):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


@pytest.fixture
async def sip_peer() -> AsyncIterator[SipPeer]:
    peer = SipPeer(users={"a": "1001", "b": "1002"})
    try:
        await peer.start()
        yield peer
    finally:
        await peer.stop()


def make_connector(peer: SipPeer, **overrides: object) -> Running:
    """A SIP connector for people with phones 1001 and 1002, configured for quick tests."""
    people = [
        Person(id="anna", jid="anna@example.org", name="Anna", municipality="x", phones=("1001",)),
        Person(
            id="bjorn", jid="bjorn@example.org", name="Bjørn", municipality="x", phones=("1002",)
        ),
    ]
    bus = Bus()
    health = HealthReporter("pbx")
    directory = StaticDirectory(people)
    ctx = ConnectorContext("pbx", directory, bus=bus, health=health, store=None)  # type: ignore[arg-type]  # sip keeps no store
    settings: dict[str, object] = {
        "type": "sip",
        "server_host": "127.0.0.1",
        "server_port": peer.sip_port,
        "bind_host": "127.0.0.1",
        "bind_port": 0,
        "subscription_expires": 120,
        "probe_interval": 0.5,
        "transaction_timeout": 2,
        "retry_initial": 0.2,
        "retry_max": 2,
        "originate_answer_timeout": 15,
        "originate_transfer_timeout": 15,
    }
    config = SipConfig.model_validate(settings | overrides)
    return Running(
        SipConnector(config, ctx),
        health,
        directory,
        bus.subscribe(CallEvent),
        bus.subscribe(DeviceStateUpdate),
    )


@contextlib.asynccontextmanager
async def running_connector(running: Running) -> AsyncIterator[asyncio.Task[None]]:
    """Run the connector and record its events; cancel (and so unsubscribe) on exit."""
    task = asyncio.create_task(running.connector.run())
    recorder = asyncio.create_task(running.record())
    try:
        yield task
    finally:
        for t in (task, recorder):
            t.cancel()
            # AuthFailed: the test that provoked it has checked it already.
            with contextlib.suppress(asyncio.CancelledError, AuthFailed):
                await t


@pytest.fixture
async def sip_connector(sip_peer: SipPeer) -> AsyncIterator[Running]:
    running = make_connector(sip_peer)
    async with running_connector(running):
        await running.wait_subscribed({"1001", "1002"})
        yield running
