"""End to end: a call on the municipal PBX (real Kamailio + baresip, through the SIP
connector) shows as Busy/InACall in the person's Teams (the Graph fake) and clears after
hang-up; Teams presence is read at the same time and SAMTEK's own call is not read back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from connectors.graph import GraphConnector
from samtek.devserver.prosody import ProsodyServer
from samtek.model import ClaimSource
from tests.fakes.graph.server import FakeGraph
from tests.servers.sip import SipPeer
from tests.telephony.test_phone_presence_e2e import clients, running_service, write_config

BJORN = "bjorn@kongsberg.test"


@pytest.fixture
async def pbx() -> AsyncIterator[SipPeer]:
    peer = SipPeer(users={"a": "1001", "b": "1002"})
    try:
        await peer.start()
        yield peer
    finally:
        await peer.stop()


def with_teams(path: Path, graph: FakeGraph) -> Path:
    secret = path.parent / "graph.secret"
    secret.write_text(graph.client_secret)
    text = path.read_text().replace(
        'phones = ["10 02"]',
        f'phones = ["10 02"]\ncalendars = [{{ source = "m365", address = "{BJORN}" }}]',
    )
    text = text.replace(
        "[[people]]",
        f"""[connectors.m365]
type = "graph"
tenant_id = "{graph.tenant}"
client_id = "{graph.client_id}"
client_secret = "file:{secret}"
authority_host = "{graph.base}"
graph_url = "{graph.base}/v1.0"
ca_file = "{graph.ca_file}"
poll_interval_seconds = 3600
teams_presence = true
presence_poll_seconds = 0.2
teams_write = true
teams_write_people = ["bjorn"]

[[people]]""",
        1,
    )
    path.write_text(text)
    return path


async def until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not check():
            await asyncio.sleep(0.05)


async def test_pbx_call_shows_in_teams_and_clears(
    prosody: ProsodyServer, pbx: SipPeer, graph: FakeGraph, tmp_path: Path
) -> None:
    bjorn, carl = await clients(prosody)
    graph.presence.set_client(BJORN, "Available", "Available")
    config = with_teams(write_config(tmp_path, prosody, pbx), graph)
    a, b = pbx.uas["a"], pbx.uas["b"]
    async with running_service(config) as running:
        conn = running.service.connectors["m365"]
        assert isinstance(conn, GraphConnector) and conn.teams is not None
        presence = running.service.presence
        assert presence is not None
        await a.dial(pbx.uri("1002"))
        await b.wait_event("CALL_INCOMING")
        await b.accept()
        await until(lambda: graph.presence.app_session(BJORN) is not None)
        assert graph.presence.of(BJORN)["activity"] == "InACall"
        rounds = conn.teams.rounds
        await until(lambda: conn.teams is not None and conn.teams.rounds >= rounds + 3)
        assert [c for c in presence.claims("bjorn") if c.source is ClaimSource.TEAMS] == []

        await a.hangup()
        await until(lambda: graph.presence.app_session(BJORN) is None)
        assert graph.presence.of(BJORN)["activity"] == "Available"
    assert graph.count("setPresence") == 1 and graph.count("clearPresence") == 1
    await bjorn.disconnect()
    await carl.disconnect()
