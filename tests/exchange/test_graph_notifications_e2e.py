"""End to end: a meeting created in the fake Microsoft 365 reaches a contact on the real
Prosody through a change notification that the fake POSTs to SAMTEK's public listener, with
delta polling effectively off; and a dropped notification is repaired by the delta safety net.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from samtek.app import Service
from samtek.devserver.prosody import ProsodyServer
from tests.exchange.test_graph_notifications import PATH, STATE, free_port
from tests.exchange.test_hybrid_presence_e2e import OWN
from tests.fakes.graph.notify import DeliveryFault
from tests.fakes.graph.server import FakeGraph
from tests.xmpp_clients import SeenPresence, TestClient

BOB = "bob@notodden.test"


def write_config(
    directory: Path, prosody: ProsodyServer, graph: FakeGraph, port: int, polling: str
) -> Path:
    secrets = {
        "xmpp": prosody.component_secret,
        "graph": graph.client_secret,
        "state": STATE,
    }
    for name, value in secrets.items():
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
port = {port}
admin_port = 0

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
notification_url = "http://127.0.0.1:{port}{PATH}"
client_state = "file:{directory}/state.secret"
{polling}

[[people]]
id = "bob"
jid = "{prosody.jid("bob")}"
name = "Bob Cloud"
municipality = "notodden"
calendars = [{{ address = "{BOB}" }}]
""")
    return path


async def contacts(prosody: ProsodyServer) -> tuple[TestClient, TestClient, SeenPresence]:
    for name in ("bob", "carl"):
        prosody.add_user(name, "pw")
    prosody.add_contact("bob", prosody.jid("carl"))
    prosody.add_contact("carl", prosody.jid("bob"))
    await prosody.start()
    bob = TestClient(prosody.jid("bob"), "pw", prosody.c2s_port, status=OWN)
    carl = TestClient(prosody.jid("carl"), "pw", prosody.c2s_port)
    for client in (bob, carl):
        await client.connect()
    async with asyncio.timeout(10):
        while (seen := await carl.seen.get()).sender.split("@")[0] != "bob":
            pass
    return bob, carl, seen


async def ready(service: Service, graph: FakeGraph) -> None:
    """Bob's mailbox was read once and has its subscription."""
    health = service.connectors["m365"].ctx.health
    async with asyncio.timeout(15):
        while health.snapshot().last_success is None or not graph.notifier.of(BOB):
            await asyncio.sleep(0.05)


async def next_change(carl: TestClient, old: SeenPresence) -> SeenPresence:
    async with asyncio.timeout(30):
        while True:
            seen = await carl.seen.get()
            if seen.sender.split("@")[0] == "bob" and (seen.show, seen.status) != (
                old.show,
                old.status,
            ):
                return seen


async def test_meeting_reaches_contact_through_a_notification(
    prosody: ProsodyServer, samtek_service, graph: FakeGraph, tmp_path: Path
) -> None:
    bob, carl, own = await contacts(prosody)
    assert own.status == OWN
    port = free_port()
    # Delta every hour: within this test only a notification can carry the meeting.
    polling = "poll_interval_seconds = 3600\nsafety_poll_minutes = 600"
    service = await samtek_service(write_config(tmp_path, prosody, graph, port, polling)).start()
    await ready(service, graph)
    deltas = graph.count("delta")

    now = datetime.now(UTC).replace(microsecond=0)
    graph.state.add_event(BOB, "Budsjett", now - timedelta(minutes=5), now + timedelta(hours=1))
    busy = await next_change(carl, own)
    assert busy.show == "dnd" and busy.status.startswith("I møte til")
    async with asyncio.timeout(5):  # the fake records a delivery once SAMTEK answered it
        while not graph.notifier.delivered:
            await asyncio.sleep(0.01)
    assert [d.status for d in graph.notifier.delivered] == [202]
    assert graph.count("delta") == deltas + 1
    for client in (bob, carl):
        await client.disconnect()


async def test_dropped_notification_is_repaired_by_delta(
    prosody: ProsodyServer, samtek_service, graph: FakeGraph, tmp_path: Path
) -> None:
    bob, carl, own = await contacts(prosody)
    port = free_port()
    # The safety net runs every 1.2 s here (an hour in production).
    polling = "poll_interval_seconds = 0.2\nsafety_poll_minutes = 0.02"
    service = await samtek_service(write_config(tmp_path, prosody, graph, port, polling)).start()
    await ready(service, graph)
    graph.notifier.faults.append(DeliveryFault("drop"))

    now = datetime.now(UTC).replace(microsecond=0)
    graph.state.add_event(BOB, "Budsjett", now - timedelta(minutes=5), now + timedelta(hours=1))
    busy = await next_change(carl, own)
    assert busy.show == "dnd" and busy.status.startswith("I møte til")
    assert len(graph.notifier.dropped) == 1 and graph.notifier.delivered == []
    for client in (bob, carl):
        await client.disconnect()
