"""ARI connector against a fake Asterisk ARI speaking the documented REST JSON and events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from connectors.ari import AriConfig, AriConnector
from samtek.bus import Bus
from samtek.health import HealthReporter
from samtek.model import Person
from samtek.plugin import AuthFailed, ConnectorContext
from samtek.telephony import (
    CallDirection,
    CallEvent,
    CallState,
    CallTransfer,
    DeviceState,
    DeviceStateUpdate,
    Telephony,
    TelephonyError,
)
from tests.fakes.ari import FakeAri
from tests.telephony.conftest import StaticDirectory, eventually

PEOPLE = [
    Person(id="anna", jid="anna@x.test", name="Anna", municipality="m", phones=("1001",)),
    Person(id="bjorn", jid="bjorn@x.test", name="Bjørn", municipality="m", phones=("10 02",)),
]


@dataclass
class Running:
    connector: AriConnector
    directory: StaticDirectory
    calls: list[CallEvent] = field(default_factory=list)
    devices: list[DeviceStateUpdate] = field(default_factory=list)

    def of(self, ext: str) -> list[tuple[CallDirection, CallState, str]]:
        return [(e.direction, e.state, e.remote_number) for e in self.calls if e.extension == ext]

    def device(self, ext: str) -> list[DeviceState]:
        return [e.state for e in self.devices if e.extension == ext]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    server = FakeAri()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def running(fake: FakeAri, password: str, **overrides: object) -> AsyncIterator[Running]:
    bus = Bus()
    calls, devices = bus.subscribe(CallEvent), bus.subscribe(DeviceStateUpdate)
    config = AriConfig.model_validate(
        {
            "type": "ari",
            "url": fake.url,
            "username": fake.username,
            "password": password,
            "retry_initial": 0.05,
            "retry_max": 0.5,
            "originate_answer_timeout": 5,
            "directory_poll": 0.1,
        }
        | overrides
    )
    directory = StaticDirectory(PEOPLE)
    ctx = ConnectorContext("asterisk", directory, bus, HealthReporter("ari"), None)  # type: ignore[arg-type]  # ari keeps no store
    result = Running(AriConnector(config, ctx), directory)

    async def record() -> None:
        async def take_calls() -> None:
            async for event in calls:
                result.calls.append(event)

        async def take_devices() -> None:
            async for event in devices:
                result.devices.append(event)

        await asyncio.gather(take_calls(), take_devices())

    tasks = [asyncio.create_task(result.connector.run()), asyncio.create_task(record())]
    try:
        yield result
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def password(tmp_path: Path) -> str:
    """The config takes a secret reference, never the password itself."""
    path = tmp_path / "ari.secret"
    path.write_text(FakeAri.password)
    return f"file:{path}"


def test_connector_is_a_telephony() -> None:
    assert issubclass(AriConnector, Telephony)
    assert issubclass(AriConnector, CallTransfer)


async def started(fake: FakeAri, run: Running) -> None:
    await run.connector.connected.wait()
    assert {"endpoint:PJSIP/1001", "deviceState:PJSIP/1002"} <= fake.subscriptions
    await eventually(lambda: run.device("1001") == run.device("1002") == [DeviceState.IDLE])


async def test_answered_and_missed_calls(fake: FakeAri, password: str) -> None:
    async with running(fake, password) as run:
        await started(fake, run)
        call = await fake.ring("PJSIP", "1001", "Anna", "1002")
        await fake.answer(call)
        await fake.hangup(call)
        await eventually(lambda: len(run.of("1002")) == 3 and len(run.of("1001")) == 3)
        assert run.of("1002") == [
            (CallDirection.IN, CallState.RINGING, "1001"),
            (CallDirection.IN, CallState.ANSWERED, "1001"),
            (CallDirection.IN, CallState.HUNG_UP, "1001"),
        ]
        assert run.of("1001") == [
            (CallDirection.OUT, CallState.RINGING, "1002"),
            (CallDirection.OUT, CallState.ANSWERED, "1002"),
            (CallDirection.OUT, CallState.HUNG_UP, "1002"),
        ]
        ringing = next(e for e in run.calls if e.extension == "1002")
        assert ringing.call_id == call.callee["id"] and ringing.remote_name == "Anna"
        assert run.device("1002") == [
            DeviceState.IDLE,
            DeviceState.RINGING,
            DeviceState.IN_USE,
            DeviceState.IDLE,
        ]

        missed = await fake.ring("PJSIP", "1001", "Anna", "1002")
        await fake.hangup(missed, cause=(19, "No user responding"))
        await eventually(lambda: len(run.of("1002")) == 5)
        assert run.of("1002")[3:] == [
            (CallDirection.IN, CallState.RINGING, "1001"),
            (CallDirection.IN, CallState.MISSED, "1001"),
        ]


async def test_originate_hits_ari_and_waits_for_answer(fake: FakeAri, password: str) -> None:
    async with running(fake, password) as run:
        await started(fake, run)
        origination = asyncio.create_task(run.connector.originate("1001", "1002"))
        await eventually(lambda: len(fake.originates) == 1)
        sent = fake.originates[0]
        assert (sent["endpoint"], sent["extension"], sent["context"]) == (
            "PJSIP/1001",
            "1002",
            "from-internal",
        )
        assert sent["callerId"] == '"SAMTEK" <1002>'
        await fake.answer_channel(sent["channelId"])
        assert await origination == sent["channelId"]
        # Our own leg ringing anna is not a call to report (no "missed call from SAMTEK").
        assert run.of("1001") == []

        refused = asyncio.create_task(run.connector.originate("1001", "1003"))
        await eventually(lambda: len(fake.originates) == 2)
        channel = fake.channels[fake.originates[1]["channelId"]]
        await fake.destroy(channel, (21, "Call Rejected"))
        with pytest.raises(TelephonyError, match="Call Rejected"):
            await refused
        with pytest.raises(TelephonyError, match="not a valid extension"):
            await run.connector.originate("1001", "1002\r\nX: y")


async def test_transfer_moves_the_caller_to_the_target_and_drops_the_operator(
    fake: FakeAri, password: str
) -> None:
    async with running(fake, password) as run:
        await started(fake, run)
        with pytest.raises(TelephonyError, match="no answered call"):
            await run.connector.transfer("1001", "1002")
        # Carl (1003, not in the directory) calls Anna, who answers in the Stasis app.
        call = await fake.ring("PJSIP", "1003", "Carl", "1001")
        await fake.answer(call)
        fake.bridge(call)
        await eventually(lambda: len(run.of("1001")) == 2)
        moved = await run.connector.transfer("1001", "1002")
        assert moved == call.caller["id"]
        assert fake.continued == [
            {"context": "from-internal", "extension": "1002", "priority": "1"}
        ]
        # Bjørn's phone rings with Carl on the line; Anna's leg is hung up.
        await eventually(lambda: len(run.of("1002")) == 1 and len(run.of("1001")) == 3)
        assert run.of("1002") == [(CallDirection.IN, CallState.RINGING, "1003")]
        assert run.of("1001")[2] == (CallDirection.IN, CallState.HUNG_UP, "1003")
        assert call.callee["id"] not in fake.channels
        target = next(c for c in fake.channels.values() if c["name"].startswith("PJSIP/1002-"))
        await fake.answer_channel(target["id"])
        await eventually(lambda: len(run.of("1002")) == 2)
        assert run.of("1002")[1] == (CallDirection.IN, CallState.ANSWERED, "1003")
        with pytest.raises(TelephonyError, match="not a valid extension"):
            await run.connector.transfer("1002", "1001\r\nX: y")


async def test_transfer_of_a_call_outside_stasis_is_refused_clearly(
    fake: FakeAri, password: str
) -> None:
    async with running(fake, password) as run:
        await started(fake, run)
        call = await fake.ring("PJSIP", "1003", "Carl", "1001")
        await fake.answer(call)
        fake.bridge(call, stasis=False)  # bridged by Dial(): ARI may not move it
        await eventually(lambda: len(run.of("1001")) == 2)
        with pytest.raises(TelephonyError, match="Stasis application"):
            await run.connector.transfer("1001", "1002")
        assert fake.continued == [] and call.callee["id"] in fake.channels


async def test_reconnects_after_the_socket_drops(fake: FakeAri, password: str) -> None:
    async with running(fake, password) as run:
        await started(fake, run)
        call = await fake.ring("PJSIP", "1001", "Anna", "1002")
        await fake.answer(call)
        await eventually(lambda: len(run.of("1002")) == 2)
        unanswered = await fake.ring("PJSIP", "1003", "Carl", "1001")
        await eventually(lambda: len(run.of("1001")) == 3)  # out ringing+answered, in ringing
        await fake.drop()
        fake.subscriptions.clear()  # a restarted Asterisk forgets the app's subscriptions
        # The call ends while SAMTEK is disconnected: no ChannelDestroyed reaches it.
        fake.channels.clear()
        fake.device_states["PJSIP/1002"] = "NOT_INUSE"
        await fake.wait_connections(2)
        await eventually(lambda: "endpoint:PJSIP/1002" in fake.subscriptions)
        # The answered call ended while disconnected: hung up. The unanswered one may have
        # been answered meanwhile: no guess, and so no false "missed call".
        await eventually(lambda: len(run.of("1002")) == 3)
        assert run.of("1002")[2] == (CallDirection.IN, CallState.HUNG_UP, "1001")
        await eventually(lambda: run.device("1002")[-1:] == [DeviceState.IDLE])
        # Events flow again on the new socket.
        await run.connector.connected.wait()
        again = await fake.ring("PJSIP", "1001", "Anna", "1002")
        await eventually(lambda: len(run.of("1002")) == 4)
        assert again.callee["id"] != call.callee["id"]
        assert unanswered.callee["id"] not in {
            e.call_id for e in run.calls if e.state.value != "ringing"
        }


async def test_dnd_through_astdb(fake: FakeAri, password: str) -> None:
    fake.astdb["DND/1001"] = "YES"  # set on the phone before SAMTEK started
    async with running(fake, password) as run:
        await run.connector.connected.wait()
        await eventually(lambda: run.device("1001") == [DeviceState.DND])
        await run.connector.set_dnd("1002", True)
        assert fake.astdb["DND/1002"] == "YES"
        await run.connector.set_dnd("1001", False)
        assert fake.astdb["DND/1001"] == ""
        await eventually(lambda: run.device("1002")[-1:] == [DeviceState.DND])
        await eventually(lambda: run.device("1001")[-1:] == [DeviceState.IDLE])


async def test_refused_credentials_stop_the_connector(fake: FakeAri, password: str) -> None:
    bus = Bus()
    config = AriConfig.model_validate(
        {"type": "ari", "url": fake.url, "username": "wrong", "password": password}
    )
    ctx = ConnectorContext("asterisk", StaticDirectory(PEOPLE), bus, HealthReporter("ari"), None)  # type: ignore[arg-type]
    with pytest.raises(AuthFailed, match="wrong"):
        await asyncio.wait_for(AriConnector(config, ctx).run(), 5)


async def test_follows_directory_changes(fake: FakeAri, password: str) -> None:
    async with running(fake, password) as run:
        await started(fake, run)
        carl = Person(id="carl", jid="carl@x.test", name="Carl", municipality="m", phones=("1003",))
        run.directory.replace([PEOPLE[0], carl])
        await eventually(lambda: "endpoint:PJSIP/1003" in fake.subscriptions)
        await eventually(lambda: run.device("1003") == [DeviceState.IDLE])
        await eventually(lambda: "endpoint:PJSIP/1002" not in fake.subscriptions)
        assert "deviceState:PJSIP/1002" not in fake.subscriptions
        await fake.ring("PJSIP", "1001", "Anna", "1002")  # no longer watched
        await fake.ring("PJSIP", "1001", "Anna", "1003")
        await eventually(lambda: len(run.of("1003")) == 1)
        assert run.of("1002") == []


async def test_follows_a_directory_change_at_once(fake: FakeAri, password: str) -> None:
    """The change signal (samtek/served.py) wakes the connector: no directory_poll wait."""
    async with running(fake, password, directory_poll=3600) as run:
        await started(fake, run)
        carl = Person(id="carl", jid="carl@x.test", name="Carl", municipality="m", phones=("1003",))
        run.directory.replace([PEOPLE[0], carl])
        run.connector.ctx.served.notify()  # as the directory service does on every change
        await eventually(lambda: "endpoint:PJSIP/1003" in fake.subscriptions)
        await eventually(lambda: "endpoint:PJSIP/1002" not in fake.subscriptions)


async def test_dnd_mirrored_by_a_custom_device_state(fake: FakeAri, password: str) -> None:
    async with running(fake, password, dnd_device="Custom:DND{extension}") as run:
        await started(fake, run)
        assert "deviceState:Custom:DND1002" in fake.subscriptions
        await fake.set_device("Custom:DND1002", "BUSY")  # *76 dialled on the phone
        await eventually(lambda: run.device("1002")[-1:] == [DeviceState.DND])
        await fake.set_device("Custom:DND1002", "NOT_INUSE")
        await eventually(lambda: run.device("1002")[-1:] == [DeviceState.IDLE])
        await run.connector.set_dnd("1001", True)
        assert fake.device_states["Custom:DND1001"] == "BUSY"
        assert fake.astdb["DND/1001"] == "YES"
        await eventually(lambda: run.device("1001")[-1:] == [DeviceState.DND])
