"""Two ejabberd nodes in one cluster on this machine: the overlay is one state for the whole
cluster.  SAMTEK's component on node A sets an overlay for alice, whose devices and contact
are on node B; node A stops; node B still knows the overlay, expires it by itself, and the
component, reconnected to B, carries on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from samtek.devserver.ejabberd import Cluster, EjabberdServer
from tests.overlay.helpers import PASSWORD, Client, Component, until_in

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
