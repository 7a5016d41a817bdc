"""Phone presence and missed calls end to end: Kamailio + baresip -> SAMTEK -> Prosody.

anna (1001) calls bjorn (1002). bjorn has a client online with his own status; carl is
subscribed to bjorn and sees "Telefonen ringer"/"På telefonen" (dnd) during the call and
bjorn's own presence after it. A call bjorn does not answer gives exactly one missed-call
message in bjorn's client, also after SAMTEK restarts and the call is reported again.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slixmpp.stanza import Message

from samtek.app import Service
from samtek.bus import Subscription
from samtek.config import load_config
from samtek.devserver.prosody import ProsodyServer
from samtek.plugin import discover_connectors
from samtek.telephony import CallEvent, CallState, DeviceStateUpdate
from tests.servers.sip import SipPeer
from tests.xmpp_clients import SeenPresence, TestClient

OWN_STATUS = "Saksbehandling"
# The day is named only when the message is written on a later day than the call (a call
# just before midnight, or one held while Prosody was down across midnight).
MISSED_FROM_ANNA = re.compile(r"Tapt anrop fra Anna Ås \(1001\) (\w+ \d+\. \w+ )?kl\. \d\d:\d\d")


@pytest.fixture
async def sip_peer() -> AsyncIterator[SipPeer]:
    peer = SipPeer(users={"a": "1001", "b": "1002"})
    try:
        await peer.start()
        yield peer
    finally:
        await peer.stop()


def write_config(directory: Path, prosody: ProsodyServer, peer: SipPeer) -> Path:
    secret = directory / "component.secret"
    secret.write_text(prosody.component_secret)
    path = directory / "samtek.toml"
    path.write_text(
        f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{prosody.component_jid}"
component_secret = "file:{secret}"
port = {prosody.component_port}

[store]
url = "sqlite:///{directory}/state.db"

[http]
port = 0

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"

[connectors.pbx]
type = "sip"
server_host = "127.0.0.1"
server_port = {peer.sip_port}
bind_host = "127.0.0.1"
bind_port = 0
subscription_expires = 120
probe_interval = 0.5
transaction_timeout = 2
retry_initial = 0.2
retry_max = 2

[[people]]
id = "anna"
jid = "{prosody.jid("anna")}"
name = "Anna Ås"
municipality = "kongsberg"
phones = ["1001"]

[[people]]
id = "bjorn"
jid = "{prosody.jid("bjorn")}"
name = "Bjørn Berg"
municipality = "kongsberg"
phones = ["10 02"]
"""
    )
    return path


class Inbox:
    """Chat messages a client receives."""

    def __init__(self, client: TestClient) -> None:
        assert client.xmpp is not None
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        client.xmpp.add_event_handler("message", self._on_message)

    def _on_message(self, message: Message) -> None:
        if message["body"]:
            self.messages.put_nowait(message)

    async def next(self, timeout: float = 15) -> Message:
        return await asyncio.wait_for(self.messages.get(), timeout)


async def clients(prosody: ProsodyServer) -> tuple[TestClient, TestClient]:
    for name in ("anna", "bjorn", "carl"):
        prosody.add_user(name, "pw")
    prosody.add_contact("bjorn", prosody.jid("carl"), subscription="both")
    prosody.add_contact("carl", prosody.jid("bjorn"), subscription="both")
    await prosody.start()
    bjorn = TestClient(prosody.jid("bjorn"), "pw", prosody.c2s_port, status=OWN_STATUS)
    carl = TestClient(prosody.jid("carl"), "pw", prosody.c2s_port)
    await bjorn.connect()
    await carl.connect()
    first = await carl.next_from(prosody.jid("bjorn"))
    assert (first.show, first.status) == ("", OWN_STATUS)
    return bjorn, carl


async def next_change(client: TestClient, bare: str, previous: SeenPresence) -> SeenPresence:
    """The next presence from `bare` that differs from `previous` (re-sends are skipped)."""
    while True:
        seen = await client.next_from(bare, timeout=20)
        if (seen.show, seen.status) != (previous.show, previous.status):
            return seen


@dataclass
class Running:
    service: Service
    calls: Subscription[CallEvent]
    devices: Subscription[DeviceStateUpdate]

    async def wait_phones(self, extensions: set[str]) -> None:
        """Until the SIP connector reported every phone's first state (it is subscribed)."""
        seen: set[str] = set()
        async with asyncio.timeout(20):
            async for update in self.devices:
                seen.add(update.extension)
                if extensions <= seen:
                    return

    async def next_call(self, state: CallState, skip: str | None = None) -> CallEvent:
        """The next call event of bjorn's phone in `state` (a hang guard, not a bound)."""
        async with asyncio.timeout(30):
            async for event in self.calls:
                if event.extension == "1002" and event.state is state and event.call_id != skip:
                    return event
        raise AssertionError(f"no {state} call reported")


@contextlib.asynccontextmanager
async def running_service(config: Path) -> AsyncIterator[Running]:
    """SAMTEK in this loop, with the bus tapped before any connector starts."""
    service = Service(load_config(config, discover_connectors()))
    running = Running(
        service, service.bus.subscribe(CallEvent), service.bus.subscribe(DeviceStateUpdate)
    )
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await running.wait_phones({"1001", "1002"})
        yield running
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_contact_sees_call_and_own_presence_after(
    prosody: ProsodyServer, sip_peer: SipPeer, tmp_path: Path
) -> None:
    bjorn, carl = await clients(prosody)
    async with running_service(write_config(tmp_path, prosody, sip_peer)):
        await call_and_hang_up(sip_peer, carl, prosody.jid("bjorn"))
    # bjorn's own client never saw the overlay.
    bare = prosody.jid("bjorn")
    assert all(p.show != "dnd" for p in bjorn.drain() if p.sender.startswith(bare))
    await bjorn.disconnect()
    await carl.disconnect()


async def call_and_hang_up(sip_peer: SipPeer, carl: TestClient, bare: str) -> None:
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    own = SeenPresence("", "available", "", OWN_STATUS, 0)

    await a.dial(sip_peer.uri("1002"))
    await b.wait_event("CALL_INCOMING")
    ringing = await next_change(carl, bare, own)
    assert (ringing.show, ringing.status) == ("dnd", "Telefonen ringer")

    await b.accept()
    talking = await next_change(carl, bare, ringing)
    assert (talking.show, talking.status) == ("dnd", "På telefonen")

    await a.hangup()
    back = await next_change(carl, bare, talking)
    assert (back.show, back.status) == ("", OWN_STATUS)


async def test_one_missed_call_message_also_after_restart(
    prosody: ProsodyServer, sip_peer: SipPeer, tmp_path: Path
) -> None:
    bjorn, carl = await clients(prosody)
    inbox = Inbox(bjorn)
    config = write_config(tmp_path, prosody, sip_peer)
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    async with running_service(config) as first:
        await a.dial(sip_peer.uri("1002"))
        await b.wait_event("CALL_INCOMING")
        await first.next_call(CallState.RINGING)  # SAMTEK saw it ring before it ends
        await a.hangup()  # anna gives up: bjorn missed it
        missed = await first.next_call(CallState.MISSED)
        message = await inbox.next()
    assert message["from"].bare == prosody.component_jid
    assert message["type"] == "chat"
    assert MISSED_FROM_ANNA.fullmatch(str(message["body"]))

    async with running_service(config) as second:  # SAMTEK restarted
        await second.service.bus.publish(missed)  # the same call reported again
        # A second real missed call is the sentinel: its message arriving proves the
        # repeated report was handled before it (in order), without a message.
        await a.dial(sip_peer.uri("1002"))
        await b.wait_event("CALL_INCOMING")
        await second.next_call(CallState.RINGING, skip=missed.call_id)
        await b.hangup()  # bjorn rejects: missed as well
        await second.next_call(CallState.MISSED, skip=missed.call_id)
        sentinel = await inbox.next()
    assert MISSED_FROM_ANNA.fullmatch(str(sentinel["body"]))
    assert inbox.messages.empty()
    await bjorn.disconnect()
    await carl.disconnect()


async def test_restart_of_samtek_mid_call(
    prosody: ProsodyServer, sip_peer: SipPeer, tmp_path: Path
) -> None:
    bjorn, carl = await clients(prosody)
    config = write_config(tmp_path, prosody, sip_peer)
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    bare = prosody.jid("bjorn")
    async with running_service(config):
        await a.dial(sip_peer.uri("1002"))
        await b.wait_event("CALL_INCOMING")
        await b.accept()
        while (talking := await carl.next_from(bare, timeout=20)).status != "På telefonen":
            pass
    async with running_service(config) as second:  # restarted mid-call
        async with asyncio.timeout(20):
            while second.service.supervisor.health()["presence"].state.value != "ok":
                await asyncio.sleep(0.05)
        hung_up_at = time.time()
        await a.hangup()
        back = await next_change(carl, bare, talking)
    assert (back.show, back.status) == ("", OWN_STATUS)
    # The busy phone was restored from the store: no flicker of bjorn's own presence while
    # SAMTEK restarted, only after the hang-up.
    assert back.at >= hung_up_at
    await bjorn.disconnect()
    await carl.disconnect()


async def test_missed_call_while_the_xmpp_server_is_down(sip_peer: SipPeer, tmp_path: Path) -> None:
    # mod_offline keeps the message if SAMTEK reconnects before bjorn's client does.
    prosody = ProsodyServer(
        extra_host_config='\tmodules_enabled = { "samtek_overlay"; "offline" }\n'
    )
    try:
        bjorn, carl = await clients(prosody)
        await bjorn.disconnect()
        await carl.disconnect()
        a, b = sip_peer.uas["a"], sip_peer.uas["b"]
        async with running_service(write_config(tmp_path, prosody, sip_peer)) as run:
            await prosody.stop()
            await a.dial(sip_peer.uri("1002"))
            await b.wait_event("CALL_INCOMING")
            await run.next_call(CallState.RINGING)
            await a.hangup()
            await run.next_call(CallState.MISSED)  # SAMTEK holds the message meanwhile
            await prosody.restart()
            # Listening before the session starts: offline messages come right after it.
            bjorn = TestClient(prosody.jid("bjorn"), "pw", prosody.c2s_port)
            messages: asyncio.Queue[Message] = asyncio.Queue()
            await bjorn.connect(on_message=messages.put_nowait)
            message = await asyncio.wait_for(messages.get(), 30)
        assert MISSED_FROM_ANNA.fullmatch(str(message["body"]))
        await bjorn.disconnect()
    finally:
        await prosody.stop()
        prosody.cleanup()
