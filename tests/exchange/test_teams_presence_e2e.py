"""End to end: Teams "presenting" in the fake Microsoft 365 shows to a contact on the real
Prosody, yields to the person's manual status, and the next Teams transition (a call) shows
again, as every other source does (docs/presence.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from connectors.graph import GraphConnector
from samtek.devserver.prosody import ProsodyServer
from tests.exchange.test_graph_notifications_e2e import BOB, contacts, next_change
from tests.fakes.graph.server import FakeGraph


def write_config(directory: Path, prosody: ProsodyServer, graph: FakeGraph) -> Path:
    for name, value in (("xmpp", prosody.component_secret), ("graph", graph.client_secret)):
        (directory / f"{name}.secret").write_text(value)
    path = directory / "samtek.toml"
    path.write_text(f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{prosody.component_jid}"
component_secret = "file:{directory}/xmpp.secret"
port = {prosody.component_port}
[store]
url = "sqlite:///{directory}/state.db"
[http]
port = 0

[[municipalities]]
id = "notodden"
name = "Notodden kommune"
calendar = "m365"

[connectors.m365]
type = "graph"
tenant_id = "{graph.tenant}"
client_id = "{graph.client_id}"
client_secret = "file:{directory}/graph.secret"
authority_host = "{graph.base}"
graph_url = "{graph.base}/v1.0"
ca_file = "{graph.ca_file}"
poll_interval_seconds = 3600
teams_presence = true
presence_poll_seconds = 0.2

[[people]]
id = "bob"
jid = "{prosody.jid("bob")}"
name = "Bob Cloud"
municipality = "notodden"
calendars = [{{ address = "{BOB}" }}]
""")
    return path


async def rounds(conn: GraphConnector, count: int) -> None:
    assert conn.teams is not None
    target = conn.teams.rounds + count
    async with asyncio.timeout(10):
        while conn.teams.rounds < target:
            await asyncio.sleep(0.05)


async def test_teams_presenting_shows_and_yields_to_manual_status(
    prosody: ProsodyServer, samtek_service, graph: FakeGraph, tmp_path: Path
) -> None:
    bob, carl, own = await contacts(prosody)
    graph.presence.set_client(BOB, "DoNotDisturb", "Presenting")
    service = await samtek_service(write_config(tmp_path, prosody, graph)).start()
    conn = service.connectors["m365"]
    assert isinstance(conn, GraphConnector)

    presenting = await next_change(carl, own)
    assert (presenting.show, presenting.status) == ("dnd", "Presenterer")

    bob.set_presence("away", "Lunsj")  # by hand: wins over this transition
    manual = await next_change(carl, presenting)
    assert (manual.show, manual.status) == ("away", "Lunsj")
    await rounds(conn, 3)  # Teams still says presenting: nothing comes back
    assert carl.seen.empty()

    graph.presence.set_client(BOB, "Busy", "InACall")  # the next transition shows again
    call = await next_change(carl, manual)
    assert (call.show, call.status) == ("dnd", "På telefonen")
    for client in (bob, carl):
        await client.disconnect()
