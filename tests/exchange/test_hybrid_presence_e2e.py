"""A hybrid region in one running service: Kongsberg on on-prem Exchange (EWS), Notodden on
Microsoft 365 (Graph). Meetings appear, move and are cancelled in the fake servers (driven
through the real exchangelib / MSAL + aiohttp code); a contact on the real Prosody sees
presence follow for both people."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from samtek.devserver.prosody import ProsodyServer
from tests.fakes.ews.server import FakeEws
from tests.fakes.graph.server import FakeGraph
from tests.xmpp_clients import SeenPresence, TestClient

OWN = "Saksbehandling"


def write_config(directory: Path, prosody: ProsodyServer, ews: FakeEws, graph: FakeGraph) -> Path:
    secrets = {}
    for name, value in (
        ("xmpp", prosody.component_secret),
        ("ews", ews.password),
        ("graph", graph.client_secret),
    ):
        secrets[name] = directory / f"{name}.secret"
        secrets[name].write_text(value)
    path = directory / "samtek.toml"
    path.write_text(f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{prosody.component_jid}"
component_secret = "file:{secrets["xmpp"]}"
port = {prosody.component_port}
[store]
url = "sqlite:///{directory}/state.db"
[http]
port = 0

[[municipalities]]
id = "kongsberg"
name = "Kongsberg kommune"
calendar = "onprem"

[[municipalities]]
id = "notodden"
name = "Notodden kommune"
calendar = "m365"

[connectors.onprem]
type = "ews"
url = "{ews.url}"
username = "{ews.username}"
password = "file:{secrets["ews"]}"
auth_type = "basic"
poll_interval_seconds = 0.2

[connectors.m365]
type = "graph"
tenant_id = "{graph.tenant}"
client_id = "{graph.client_id}"
client_secret = "file:{secrets["graph"]}"
authority_host = "{graph.base}"
graph_url = "{graph.base}/v1.0"
ca_file = "{graph.ca_file}"
poll_interval_seconds = 0.2

[[people]]
id = "alice"
jid = "{prosody.jid("alice")}"
name = "Alice Onprem"
municipality = "kongsberg"
calendars = [{{ address = "alice@kongsberg.test" }}]

[[people]]
id = "bob"
jid = "{prosody.jid("bob")}"
name = "Bob Cloud"
municipality = "notodden"
calendars = [{{ address = "bob@notodden.test" }}]
""")
    return path


async def changes(carl: TestClient, previous: dict[str, SeenPresence]) -> dict[str, SeenPresence]:
    """The next change of every person in `previous` (one stream, nobody's update dropped)."""
    found: dict[str, SeenPresence] = {}
    async with asyncio.timeout(30):
        while len(found) < len(previous):
            seen = await carl.seen.get()
            name = seen.sender.split("@")[0]
            old = previous.get(name)
            if old and name not in found and (seen.show, seen.status) != (old.show, old.status):
                found[name] = seen
    return found


async def test_hybrid_region_presence_follows_ews_and_graph(
    prosody: ProsodyServer, samtek_service, ews: FakeEws, graph: FakeGraph, tmp_path: Path
) -> None:
    for name in ("alice", "bob", "carl"):
        prosody.add_user(name, "pw")
    for name in ("alice", "bob"):
        prosody.add_contact(name, prosody.jid("carl"))
        prosody.add_contact("carl", prosody.jid(name))
    await prosody.start()
    alice = TestClient(prosody.jid("alice"), "pw", prosody.c2s_port, status=OWN)
    bob = TestClient(prosody.jid("bob"), "pw", prosody.c2s_port, status=OWN)
    carl = TestClient(prosody.jid("carl"), "pw", prosody.c2s_port)
    for client in (alice, bob, carl):
        await client.connect()
    own: dict[str, SeenPresence] = {}
    async with asyncio.timeout(10):
        while len(own) < 2:
            seen = await carl.seen.get()
            if seen.sender.split("@")[0] in ("alice", "bob"):
                own.setdefault(seen.sender.split("@")[0], seen)
    assert own["alice"].status == own["bob"].status == OWN

    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(minutes=5), now + timedelta(hours=1)
    a_event = ews.state.add_event("alice@kongsberg.test", "Drift", start, end)
    b_event = graph.state.add_event("bob@notodden.test", "Budsjett", start, end)
    await samtek_service(write_config(tmp_path, prosody, ews, graph)).start()

    busy = await changes(carl, own)
    a_busy, b_busy = busy["alice"], busy["bob"]
    assert a_busy.show == b_busy.show == "dnd"
    assert a_busy.status.startswith("I møte til") and b_busy.status.startswith("I møte til")

    # Alice's meeting moves to tomorrow (EWS), Bob's is cancelled (Graph): both free now.
    later = now + timedelta(days=1)
    ews.state.move_event("alice@kongsberg.test", a_event.item_id, later, later + timedelta(hours=1))
    graph.state.cancel_event("bob@notodden.test", b_event.item_id)
    free = await changes(carl, busy)
    a_free, b_free = free["alice"], free["bob"]
    assert (a_free.show, a_free.status) == ("", OWN)
    assert (b_free.show, b_free.status) == ("", OWN)
    for client in (alice, bob, carl):
        await client.disconnect()
