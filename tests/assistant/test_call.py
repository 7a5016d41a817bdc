"""`ring`/`call` through the SIP connector against a real Kamailio with two baresip phones.

Anna has extension 1001 (phone "a"), Kari Nordmann 1002 (phone "b").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from samtek.devserver.prosody import ProsodyServer
from tests.assistant.chat_client import ChatClient
from tests.assistant.region import ASKERS, OTHERS, write_region
from tests.conftest import RunningService
from tests.servers.sip import SipPeer


@pytest.fixture
async def sip_peer() -> AsyncIterator[SipPeer]:
    peer = SipPeer(users={"a": "1001", "b": "1002"})
    try:
        await peer.start()
        yield peer
    finally:
        await peer.stop()


def sip_section(peer: SipPeer) -> str:
    return f"""
[connectors.pbx]
type = "sip"
server_host = "127.0.0.1"
server_port = {peer.sip_port}
bind_host = "127.0.0.1"
bind_port = 0
transaction_timeout = 2
originate_answer_timeout = 3
originate_transfer_timeout = 15
"""


async def test_call_rings_the_askers_phone_then_connects(
    prosody: ProsodyServer,
    samtek_service: type[RunningService],
    sip_peer: SipPeer,
    tmp_path: Path,
) -> None:
    for name in ASKERS + OTHERS:
        prosody.add_user(name, "pw")
    await prosody.start()
    region = write_region(tmp_path, prosody, rate_burst=50, extra_config=sip_section(sip_peer))
    await samtek_service(region.config).start()
    anna = ChatClient(prosody.jid("anna"), "pw", prosody.c2s_port, prosody.component_jid)
    await anna.connect()
    a, b = sip_peer.uas["a"], sip_peer.uas["b"]
    try:
        # Unanswered: Anna's phone rings, nobody picks up, she is told.
        assert await anna.ask("ring kari nordmann") == (
            "Telefonen din (1001) ringer nå – svar, så kobler jeg deg til Kari Nordmann (1002)."
        )
        await a.wait_event("CALL_INCOMING")
        failed = await anna.next_reply()
        # Something useful and a reference for the helpdesk; the PBX's own text stays in the log.
        assert failed.startswith(
            "Samtalen til Kari Nordmann ble ikke satt opp: telefonen din ble ikke besvart"
        )
        assert re.search(r"\(Referanse [0-9a-f]{8} for brukerstøtte\.\)$", failed), failed
        assert "127.0.0.1" not in failed and "failed" not in failed and "sip" not in failed
        await a.wait_event("CALL_CLOSED")

        # Answered: A picks up, B rings and answers; no further message to Anna.
        assert (await anna.ask("Ring 1002")).startswith("Telefonen din (1001) ringer nå")
        await a.wait_event("CALL_INCOMING")
        await a.accept()
        incoming = await b.wait_event("CALL_INCOMING")
        assert "1001" in incoming["peeruri"]
        await b.accept()
        await b.wait_event("CALL_ESTABLISHED")
        # Kari is on the phone now: status says so, and why (hang guard while it travels).
        async with asyncio.timeout(15):
            while "telefonen" not in (status := await anna.ask("status kari nordmann")):
                await asyncio.sleep(0.2)
        assert status.splitlines()[0] == "Kari Nordmann: På telefonen (fra telefonen)."
        await b.hangup()
        assert (await anna.ask("hjelp")).startswith("Dette kan jeg")  # nothing else came first
    finally:
        await anna.disconnect()
