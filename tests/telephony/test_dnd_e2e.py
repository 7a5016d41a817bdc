"""Do-not-disturb both ways: real Prosody (mod_samtek_dnd) + SAMTEK + the fake Asterisk ARI.

bjorn (1002) and anna (1001) are in Kongsberg (`dnd_sync = "both"`), dora (1003) in Notodden
(`dnd_sync = "off"`); carl has them all as contacts. A dnd picked by hand in bjorn's client
writes AstDB DND/1002 = YES (and Custom:DND1002 = BUSY); DND switched on the phone
(Custom:DND1002 BUSY, as FreePBX's *76 does) shows to carl as "Ikke forstyrr".

Absence is proven with sentinels, never with waiting: the presence bridge and the DND bridge
each handle their input in order, so a later change becoming visible proves an earlier one was
handled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridges.dnd import bridge as dnd_bridge
from bridges.dnd.bridge import ECHO_WINDOW
from samtek.app import Service
from samtek.bus import Subscription
from samtek.clock import SYSTEM_CLOCK, Clock, FixedClock
from samtek.config import load_config
from samtek.devserver.prosody import ProsodyServer, lua_str
from samtek.model import ClaimKind
from samtek.plugin import discover_connectors
from samtek.telephony import DeviceState, DeviceStateUpdate
from tests.fakes.ari import FakeAri
from tests.xmpp_clients import SeenPresence, TestClient

PEOPLE = {"anna": "1001", "bjorn": "1002", "dora": "1003"}


@pytest.fixture
async def ari() -> AsyncIterator[FakeAri]:
    server = FakeAri()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def dnd_prosody() -> AsyncIterator[ProsodyServer]:
    server = ProsodyServer()
    trusted = lua_str(server.component_jid)
    server.extra_host_config = (
        '\tmodules_enabled = { "samtek_overlay"; "samtek_deliver"; "samtek_dnd" }\n'
        f"\tsamtek_dnd_trusted = {{ {trusted} }}\n"
    )
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()


def write_config(directory: Path, prosody: ProsodyServer, ari: FakeAri) -> Path:
    (directory / "component.secret").write_text(prosody.component_secret)
    (directory / "ari.secret").write_text(ari.password)
    people = "".join(
        f"""
[[people]]
id = "{name}"
jid = "{prosody.jid(name)}"
name = "{name.title()}"
municipality = "{"notodden" if name == "dora" else "kongsberg"}"
phones = ["{ext}"]
"""
        for name, ext in PEOPLE.items()
    )
    path = directory / "samtek.toml"
    path.write_text(
        f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{prosody.component_jid}"
component_secret = "file:{directory / "component.secret"}"
port = {prosody.component_port}

[store]
url = "sqlite:///{directory}/state.db"

[http]
port = 0

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
dnd_sync = "both"

[[municipalities]]
id = "notodden"
name = "Notodden kommune"
dnd_sync = "off"

[connectors.pbx]
type = "ari"
url = "{ari.url}"
username = "{ari.username}"
password = "file:{directory / "ari.secret"}"
dnd_device = "Custom:DND{{extension}}"
retry_initial = 0.05
retry_max = 0.5
{people}"""
    )
    return path


@dataclass
class Running:
    service: Service
    devices: Subscription[DeviceStateUpdate]

    async def device_reported(self, ext: str, state: DeviceState) -> None:
        async with asyncio.timeout(20):
            async for update in self.devices:
                if update.extension == ext and update.state is state:
                    return

    def phone_dnd_claims(self, person_id: str) -> list[ClaimKind]:
        assert self.service.presence is not None
        claims = self.service.presence.claims(person_id)
        return [c.kind for c in claims if c.kind is ClaimKind.PHONE_DND]


@contextlib.asynccontextmanager
async def running_service(config: Path, clock: Clock = SYSTEM_CLOCK) -> AsyncIterator[Running]:
    service = Service(load_config(config, discover_connectors()), clock=clock)
    running = Running(service, service.bus.subscribe(DeviceStateUpdate))
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with asyncio.timeout(20):  # the server watches the Kongsberg people
            while service.dnd is None or service.dnd.watching != 2:
                await asyncio.sleep(0.02)
        yield running
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def start_clients(prosody: ProsodyServer) -> dict[str, TestClient]:
    for name in (*PEOPLE, "carl"):
        prosody.add_user(name, "pw")
    for name in PEOPLE:
        prosody.add_contact(name, prosody.jid("carl"), subscription="both")
        prosody.add_contact("carl", prosody.jid(name), subscription="both")
    await prosody.start()
    clients = {name: TestClient(prosody.jid(name), "pw", prosody.c2s_port) for name in PEOPLE}
    clients["carl"] = TestClient(prosody.jid("carl"), "pw", prosody.c2s_port)
    for client in clients.values():
        await client.connect()
    return clients


async def sees(client: TestClient, bare: str, show: str, status: str) -> SeenPresence:
    """The next presence from `bare` with this show and status (others are skipped)."""
    while True:
        seen = await client.next_from(bare, timeout=20)
        if (seen.show, seen.status) == (show, status):
            return seen


async def until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not check():
            await asyncio.sleep(0.02)


async def test_dnd_set_in_chat_switches_the_phone_and_does_not_come_back(
    dnd_prosody: ProsodyServer, ari: FakeAri, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dnd_bridge, "WATCH_CHUNK", 1)  # bjorn is in the second part of the list
    clients = await start_clients(dnd_prosody)
    bjorn, carl = clients["bjorn"], clients["carl"]
    bare = dnd_prosody.jid("bjorn")
    async with running_service(write_config(tmp_path, dnd_prosody, ari)) as run:
        bjorn.set_presence("dnd", "Skriver rapport")
        await until(lambda: ari.astdb.get("DND/1002") == "YES")
        assert ari.device_states["Custom:DND1002"] == "BUSY"  # BLF keys light up
        await sees(carl, bare, "dnd", "Skriver rapport")  # bjorn's own words

        # Loop guard: the PBX reports our own DND back; it must not become "Ikke forstyrr".
        await run.device_reported("1002", DeviceState.DND)
        await ari.set_device("Custom:DND1001", "BUSY")  # sentinel: anna's phone DND, later
        await sees(carl, dnd_prosody.jid("anna"), "dnd", "Ikke forstyrr")
        assert run.phone_dnd_claims("bjorn") == []
        assert run.phone_dnd_claims("anna") == [ClaimKind.PHONE_DND]

        bjorn.set_presence("", "Tilbake")
        await until(lambda: ari.astdb.get("DND/1002") == "")
        assert ari.device_states["Custom:DND1002"] == "NOT_INUSE"
        await sees(carl, bare, "", "Tilbake")
    for client in clients.values():
        await client.disconnect()


async def test_a_dnd_switched_from_chat_stays_ours_across_a_restart(
    dnd_prosody: ProsodyServer, ari: FakeAri, tmp_path: Path
) -> None:
    clients = await start_clients(dnd_prosody)
    bjorn, carl = clients["bjorn"], clients["carl"]
    config = write_config(tmp_path, dnd_prosody, ari)
    async with running_service(config):
        bjorn.set_presence("dnd", "Skriver rapport")
        await until(lambda: ari.astdb.get("DND/1002") == "YES")
    async with running_service(config) as run:  # restarted: ARI reports bjorn's DND again
        await run.device_reported("1002", DeviceState.DND)
        await ari.set_device("Custom:DND1001", "BUSY")  # sentinel for the presence bridge
        await sees(carl, dnd_prosody.jid("anna"), "dnd", "Ikke forstyrr")
        assert run.phone_dnd_claims("bjorn") == []
        bjorn.set_presence("", "Tilbake")  # still SAMTEK's DND: chat switches it off
        await until(lambda: ari.astdb.get("DND/1002") == "")
    for client in clients.values():
        await client.disconnect()


async def test_dnd_on_the_phone_shows_in_chat_and_chat_never_switches_it_off(
    dnd_prosody: ProsodyServer, ari: FakeAri, tmp_path: Path
) -> None:
    clients = await start_clients(dnd_prosody)
    bjorn, carl = clients["bjorn"], clients["carl"]
    bare = dnd_prosody.jid("bjorn")
    async with running_service(write_config(tmp_path, dnd_prosody, ari)):
        await ari.set_device("Custom:DND1002", "BUSY")  # *76 dialled on bjorn's phone
        await sees(carl, bare, "dnd", "Ikke forstyrr")

        # bjorn picks dnd and then available by hand: the phone's own DND is not chat's.
        bjorn.set_presence("dnd", "Fokus")
        await sees(carl, bare, "dnd", "Fokus")  # his manual status wins over the overlay
        bjorn.set_presence("", "")
        await sees(carl, bare, "", "")
        clients["anna"].set_presence("dnd", "")  # sentinel for the DND bridge, handled later
        await until(lambda: ari.astdb.get("DND/1001") == "YES")
        assert "DND/1002" not in ari.astdb
        assert ari.device_states["Custom:DND1002"] == "BUSY"
    for client in clients.values():
        await client.disconnect()


async def test_a_municipality_with_dnd_sync_off_is_left_alone(
    dnd_prosody: ProsodyServer, ari: FakeAri, tmp_path: Path
) -> None:
    clients = await start_clients(dnd_prosody)
    carl = clients["carl"]
    async with running_service(write_config(tmp_path, dnd_prosody, ari)) as run:
        await ari.set_device("Custom:DND1003", "BUSY")  # dora (Notodden): DND on her phone
        await run.device_reported("1003", DeviceState.DND)
        clients["dora"].set_presence("dnd", "Møte")  # and dnd by hand in chat
        await sees(carl, dnd_prosody.jid("dora"), "dnd", "Møte")

        await ari.set_device("Custom:DND1002", "BUSY")  # sentinel for the presence bridge
        await sees(carl, dnd_prosody.jid("bjorn"), "dnd", "Ikke forstyrr")
        assert run.phone_dnd_claims("dora") == []
        clients["anna"].set_presence("dnd", "")  # sentinel for the DND bridge
        await until(lambda: ari.astdb.get("DND/1001") == "YES")
        assert "DND/1003" not in ari.astdb
    for client in clients.values():
        await client.disconnect()


async def test_dnd_switched_off_at_the_phone_is_no_longer_chats(
    dnd_prosody: ProsodyServer, ari: FakeAri, tmp_path: Path, clock: Clock
) -> None:
    clients = await start_clients(dnd_prosody)
    bjorn, carl = clients["bjorn"], clients["carl"]
    bare = dnd_prosody.jid("bjorn")
    start = clock.now()
    frozen = FixedClock(start)  # only the DND bridge's echo window is stepped over
    async with running_service(write_config(tmp_path, dnd_prosody, ari), frozen) as run:
        bjorn.set_presence("dnd", "Skriver rapport")
        await until(lambda: ari.astdb.get("DND/1002") == "YES")
        await run.device_reported("1002", DeviceState.DND)

        frozen.set(start + ECHO_WINDOW)  # later, bjorn switches DND off and on at the phone
        await ari.set_device("Custom:DND1002", "NOT_INUSE")
        await ari.set_device("Custom:DND1002", "BUSY")
        await sees(carl, bare, "dnd", "Ikke forstyrr")  # now the phone's DND: shown

        bjorn.set_presence("", "Tilbake")  # leaving dnd in chat leaves the phone's DND alone
        clients["anna"].set_presence("dnd", "")  # sentinel for the DND bridge
        await until(lambda: ari.astdb.get("DND/1001") == "YES")
        assert ari.device_states["Custom:DND1002"] == "BUSY"
    for client in clients.values():
        await client.disconnect()
