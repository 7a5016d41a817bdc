"""Two ejabberd nodes in one cluster on this machine: the overlay is one state for the whole
cluster.  SAMTEK's component on node A sets an overlay for alice, whose devices and contact
are on node B; node A stops; node B still knows the overlay, expires it by itself, and the
component, reconnected to B, carries on.  Scheduled overlays likewise fire on B."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from samtek.devserver.ejabberd import Cluster, EjabberdServer
from tests.conftest import RunningService
from tests.e2e.regions import ics_meeting, next_whole_second, write_config, write_ics
from tests.overlay.helpers import PASSWORD, Client, Component, entry, until_in
from tests.xmpp_clients import SeenPresence, TestClient

EXPIRY = 8  # seconds: long enough that node A is stopped before the overlay ends


@pytest.fixture
async def nodes() -> AsyncIterator[tuple[EjabberdServer, EjabberdServer]]:
    cluster = Cluster()
    await cluster.start()
    a = EjabberdServer(cluster=cluster)
    for user in ("alice", "bob"):
        a.add_user(user, PASSWORD)
    a.add_contact("alice", a.jid("bob"))
    a.add_contact("bob", a.jid("alice"))
    b = EjabberdServer(cluster=cluster, join=a)
    try:
        await a.start()
        await b.start()  # joins A's mnesia: users, rosters and the overlay table
        yield a, b
    finally:
        for node in (b, a):
            await node.stop()
            node.cleanup()
        await cluster.stop()


async def test_overlay_set_on_node_a_reaches_node_b_and_survives_a(
    nodes: tuple[EjabberdServer, EjabberdServer],
) -> None:
    a, b = nodes
    bob = Client(b, "bob", "desk")  # type: ignore[arg-type]
    laptop = Client(b, "alice", "laptop")  # type: ignore[arg-type]
    via_a = Component(a)  # type: ignore[arg-type]
    via_b = Component(b)  # type: ignore[arg-type]
    try:
        await bob.connect()
        await laptop.connect(status="free")
        await via_a.connect()
        mark = bob.presences.mark()
        await via_a.set(a.jid("alice"), "dnd", "t1", until_in(EXPIRY), "meeting")
        await bob.presence_from(laptop.jid, mark, "dnd", "meeting")
        assert not laptop.presences.since(0, lambda p: p["show"] == "dnd")

        await via_a.close()
        await a.stop()  # SAMTEK's node goes away; B keeps the table and arms the timer
        await via_b.connect()
        listing = await via_b.list()
        assert [e.get("transition") for e in listing] == ["t1"]  # not expired yet

        mark = bob.presences.mark()
        await bob.presence_from(laptop.jid, mark, "available", "free")  # B's own expiry
        assert not await via_b.list()

        mark = bob.presences.mark()
        await via_b.set(b.jid("alice"), "xa", "t2", until_in(600), "workshop")
        await bob.presence_from(laptop.jid, mark, "xa", "workshop")
    finally:
        for c in (bob, laptop):
            await c.close()
        await via_b.close()


async def test_entry_scheduled_through_node_a_fires_on_node_b_after_a_stops(
    nodes: tuple[EjabberdServer, EjabberdServer],
) -> None:
    """A scheduled overlay is cluster state too: scheduled through A, which then stops, it is
    applied at its `from` and expired at its `until` by B's own timers."""
    a, b = nodes
    bob = Client(b, "bob", "desk")  # type: ignore[arg-type]
    laptop = Client(b, "alice", "laptop")  # type: ignore[arg-type]
    via_a = Component(a)  # type: ignore[arg-type]
    try:
        await bob.connect()
        await laptop.connect(status="free")
        await via_a.connect()
        # The server's real clock: its timers are what is tested; A stops well before.
        now = datetime.now(UTC)
        start, end = now + timedelta(seconds=EXPIRY), now + timedelta(seconds=EXPIRY + 2)
        await via_a.schedule(
            a.jid("alice"), [entry("entry", None, "dnd", "t1", start, end, "meeting")]
        )
        mark = bob.presences.mark()
        await via_a.close()
        await a.stop()
        await bob.presence_from(laptop.jid, mark, "dnd", "meeting")  # B applies it
        await bob.presence_from(laptop.jid, mark, "available", "free")  # and expires it
    finally:
        for c in (bob, laptop):
            await c.close()


async def test_a_restarted_node_gets_the_overlays_back_from_the_cluster(
    nodes: tuple[EjabberdServer, EjabberdServer],
) -> None:
    """Restarting one node of a running cluster keeps the overlays: the node copies the RAM
    table back from the others, lists it, and its sessions see it."""
    a, b = nodes
    via_b = Component(b)  # type: ignore[arg-type]
    await via_b.connect()
    try:
        await via_b.set(b.jid("alice"), "dnd", "t1", until_in(600), "meeting")
        await a.restart()
        via_a = Component(a)  # type: ignore[arg-type]
        await via_a.connect()
        try:
            assert [e.get("transition") for e in await via_a.list()] == ["t1"]
        finally:
            await via_a.close()
        bob = Client(b, "bob", "desk")  # type: ignore[arg-type]
        laptop = Client(a, "alice", "laptop")  # type: ignore[arg-type]
        try:
            await bob.connect()
            await laptop.connect(status="free")  # on the restarted node
            await bob.presence_from(laptop.jid, 0, "dnd", "meeting")
        finally:
            for c in (bob, laptop):
                await c.close()
    finally:
        await via_b.close()


class FirstAliveProxy:
    """A stand-in for the load balancer in front of the nodes' component listeners: each new
    connection goes to the first backend port that accepts it, bytes are copied both ways,
    and when one side closes so does the other."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for port in self.ports:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        else:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass  # the other direction's close ends this one too
    finally:
        writer.close()


async def test_samtek_follows_the_cluster_when_its_node_stops(
    nodes: tuple[EjabberdServer, EjabberdServer],
    samtek_service: type[RunningService],
    tmp_path: Path,
) -> None:
    """The real Service behind a load balancer: meeting 1 starts while SAMTEK is connected to
    node A; A stops mid-meeting; SAMTEK reconnects through the balancer to B; bob (on B)
    sees the end of meeting 1 and all of meeting 2: no transition is missed."""
    a, b = nodes
    proxy = FirstAliveProxy([a.component_port, b.component_port])
    await proxy.start()
    front = SimpleNamespace(
        domain=a.domain,
        component_jid=a.component_jid,
        component_secret=a.component_secret,
        component_port=proxy.port,
        jid=a.jid,
    )
    alice = TestClient(b.jid("alice"), PASSWORD, b.c2s_port, status="Ledig")
    bob = TestClient(b.jid("bob"), PASSWORD, b.c2s_port)
    await alice.connect()
    await bob.connect()
    try:
        assert (await bob.next_from(b.jid("alice"))).status == "Ledig"
        start = next_whole_second(2.5)
        m1_end = start + timedelta(seconds=8)
        m2_start, m2_end = start + timedelta(seconds=16), start + timedelta(seconds=20)
        feed = tmp_path / "alice.ics"
        write_ics(feed, ics_meeting("m1", start, m1_end), ics_meeting("m2", m2_start, m2_end))
        config = write_config(tmp_path, front, {"alice": feed})  # type: ignore[arg-type]
        await samtek_service(config).start()

        assert (await bob.next_from(b.jid("alice"), timeout=15)).show == "dnd"  # set via A
        await a.stop()  # SAMTEK's node goes away mid-meeting
        # Then: the end of meeting 1, meeting 2, its end (re-sends of the same show folded;
        # a re-assertion of meeting 1 after the reconnect may come first).
        changes = await show_changes(bob, b.jid("alice"), want=["", "dnd", ""], timeout=40)
        assert [c.show for c in changes] == ["", "dnd", ""], changes
        assert changes[1].status.startswith("I møte til ")
        assert (changes[0].status, changes[2].status) == ("Ledig", "Ledig")
    finally:
        await alice.disconnect()
        await bob.disconnect()
        await proxy.stop()


async def show_changes(
    bob: TestClient, bare: str, want: list[str], timeout: float
) -> list[SeenPresence]:
    """`bare`'s presences at bob, one per change of show, from the first change to want[0]
    until as many changes as `want` has."""
    out: list[SeenPresence] = []
    while len(out) < len(want):
        p = await bob.next_from(bare, timeout=timeout)
        if not out and p.show != want[0]:
            continue
        if not out or out[-1].show != p.show:
            out.append(p)
    return out
