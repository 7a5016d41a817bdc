"""mod_samtek_overlay.erl checks that need ejabberd's own configuration: the room bound, and
refused requests that cannot flood the log.  The protocol itself: test_overlay_protocol.py."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from samtek.devserver.ejabberd import EjabberdServer
from tests.ejabberd.conftest import server_with_users
from tests.overlay.helpers import NS, Client, Component, IqKind, error_condition, send_iq, until_in
from tests.overlay.test_overlay_module import enter

FLOOD = 1000
NewClient = Callable[..., Awaitable[Client]]
NS_OOF = "urn:samtek:oof:0"
NS_ROOMS = "urn:samtek:rooms:0"


async def test_resends_reach_at_most_max_rooms_per_session() -> None:
    """The amplification of one set is bounded: with max_rooms = 2 only the first two rooms
    alice is in get her presence again."""
    async with server_with_users(overlay_options={"max_rooms": 2}) as server:
        component = Component(server)  # type: ignore[arg-type]
        await component.connect()
        rooms = [f"r{i}@{server.muc_domain}" for i in range(3)]
        laptop = Client(server, "alice", "laptop")  # type: ignore[arg-type]
        carol = Client(server, "carol", "desk")  # type: ignore[arg-type]
        bob = Client(server, "bob", "desk")  # type: ignore[arg-type]
        try:
            await laptop.connect(status="free")
            await carol.connect()
            for room in rooms:
                await enter(laptop, room, "alice", owner=True)
                await enter(carol, room, "carol")
            await bob.connect()
            mark = carol.presences.mark()
            await component.set(server.jid("alice"), "dnd", "t1", until_in(600), "meeting")
            for room in rooms[:2]:
                await carol.presence_from(f"{room}/alice", mark, "dnd", "meeting")
            # Sent after the set's re-sends (the same c2s process): a re-send to r2 came first.
            laptop.xmpp.send_presence(pto=carol.jid, pstatus="barrier")
            await carol.presence_from(laptop.jid, mark, "available", "barrier")
            assert not carol.from_(f"{rooms[2]}/alice", mark)
        finally:
            for c in (laptop, carol, bob):
                await c.close()
            await component.close()


async def refused(client: Client, kind: IqKind, payload: ET.Element) -> str:
    iq = client.xmpp.make_iq(ito=client.server.domain, itype=kind)
    iq.append(payload)
    with pytest.raises(IqError) as err:
        await send_iq(iq)
    return error_condition(err.value.iq)


async def test_untrusted_iq_flood_is_logged_once_per_sender_with_a_count() -> None:
    """An ordinary user sends 1,000 refused IQs to each module (overlay, OOF, rooms): the log
    gets one line per module and sender plus one summary line with the count."""
    server = server_with_users(overlay_options={"log_interval": 3600}, oof=True, rooms=True)
    # An interval longer than any test run: the counts below cannot depend on timing.
    slow = {"trusted": [server.component_jid], "log_interval": 3600}
    server.extra_modules = {"mod_samtek_oof": slow, "mod_samtek_rooms": slow}
    alice = server.jid("alice")
    requests: list[tuple[IqKind, ET.Element]] = [
        ("get", ET.Element(f"{{{NS}}}list")),
        ("set", ET.Element(f"{{{NS_OOF}}}oof")),
        ("set", ET.Element(f"{{{NS_ROOMS}}}bookmark", jid=alice, room="r@x.test")),
    ]
    await server.start()
    try:
        carol = Client(server, "carol", "desk")  # type: ignore[arg-type]
        await carol.connect()
        try:
            for kind, payload in requests:
                conditions = await asyncio.gather(
                    *(refused(carol, kind, copy.deepcopy(payload)) for _ in range(FLOOD))
                )
                assert set(conditions) == {"forbidden"}
        finally:
            await carol.close()
        await server.stop()  # pending counts are logged at shutdown
        lines = server.log_path.read_text().splitlines()
        refusals = [line for line in lines if "from untrusted" in line]
        assert len(refusals) == 3, "\n".join(refusals[:10])
        for what in (
            "refused overlay requests",
            "refused OOF requests",
            "refused bookmark requests",
        ):
            summary = [line for line in lines if f"{FLOOD - 1} more {what} not logged" in line]
            assert len(summary) == 1, what
            assert "1 sender(s)" in summary[0]
    finally:
        await server.stop()
        server.cleanup()


async def test_overlay_months_ahead_is_kept_and_expiry_keeps_working(
    prosody: EjabberdServer, component: Component, client: NewClient
) -> None:
    """An out-of-office overlay can last for months (an Erlang timer of ~10^10 ms): it is
    listed and shown, and other overlays still expire on time."""
    bob = await client("bob", "desk", status="free")
    laptop = await client("alice", "laptop", status="free")
    await laptop.presence_from(bob.jid, 0, "available", "free")  # the probe answer, first
    far = (datetime.now(UTC) + timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    mark = bob.presences.mark()
    await component.set(prosody.jid("alice"), "xa", "vacation", far, "På ferie")
    await bob.presence_from(laptop.jid, mark, "xa", "På ferie")
    mark = laptop.presences.mark()
    await component.set(prosody.jid("bob"), "dnd", "t1", until_in(2), "quick sync")
    await laptop.presence_from(bob.jid, mark, "dnd", "quick sync")
    listing = {e.get("jid"): e.get("until") for e in await component.list()}
    assert listing[prosody.jid("alice")] == far
    await laptop.presence_from(bob.jid, mark, "available", "free")  # the server's own timer
    assert [e.get("jid") for e in await component.list()] == [prosody.jid("alice")]


async def test_room_of_another_server_sees_the_overlay_and_its_end() -> None:
    """A room that is not on this host's MUC service (here: the MUC of another virtual host,
    which region.test treats like a remote one) sees the overlay in the presence her client
    sends it after the join and in the re-sends, like a local room."""
    async with server_with_users(extra_hosts=["other.test"]) as server:
        room = "proj@conference.other.test"
        component = Component(server)  # type: ignore[arg-type]
        laptop = Client(server, "alice", "laptop")  # type: ignore[arg-type]
        carol = Client(server, "carol", "desk")  # type: ignore[arg-type]
        await component.connect()
        try:
            await laptop.connect(status="free")
            await carol.connect()
            await enter(laptop, room, "alice", owner=True)
            await enter(carol, room, "carol")
            mark = carol.presences.mark()
            await component.set(server.jid("alice"), "dnd", "t1", until_in(600), "meeting")
            await carol.presence_from(f"{room}/alice", mark, "dnd", "meeting")  # re-send
            mark = carol.presences.mark()
            laptop.xmpp.send_presence(pto=f"{room}/alice", pstatus="free")  # her client
            await carol.presence_from(f"{room}/alice", mark, "dnd", "meeting")
            mark = carol.presences.mark()
            await component.clear(server.jid("alice"))
            await carol.presence_from(f"{room}/alice", mark, "available", "free")
        finally:
            for c in (laptop, carol):
                await c.close()
            await component.close()


async def test_rooms_are_remembered_across_a_resumed_stream() -> None:
    """XEP-0198: her client's connection drops and the stream is resumed (a new c2s process
    on ejabberd); the set after that still re-sends her presence to the room she is in."""
    async with server_with_users(extra_modules={"mod_stream_mgmt": {}}) as server:
        room = f"proj@{server.muc_domain}"
        component = Component(server)  # type: ignore[arg-type]
        laptop = Client(server, "alice", "laptop")  # type: ignore[arg-type]
        laptop.xmpp.register_plugin("xep_0198")
        carol = Client(server, "carol", "desk")  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        enabled, resumed = loop.create_future(), loop.create_future()
        laptop.xmpp.add_event_handler(
            "sm_enabled", lambda _: enabled.done() or enabled.set_result(1)
        )
        laptop.xmpp.add_event_handler("session_resumed", lambda _: resumed.set_result(1))
        await component.connect()
        try:
            await laptop.connect(status="free")
            await asyncio.wait_for(enabled, 10)
            await carol.connect()
            await enter(laptop, room, "alice", owner=True)
            await enter(carol, room, "carol")

            disconnected = loop.create_future()
            laptop.xmpp.add_event_handler(
                "disconnected", lambda _: disconnected.done() or disconnected.set_result(1)
            )
            laptop.xmpp.end_session_on_disconnect = False  # keep the session: resume it
            laptop.xmpp.abort()
            await asyncio.wait_for(disconnected, 10)
            laptop.xmpp.connect("127.0.0.1", server.c2s_port)
            await asyncio.wait_for(resumed, 10)

            mark = carol.presences.mark()
            await component.set(server.jid("alice"), "dnd", "t1", until_in(600), "meeting")
            await carol.presence_from(f"{room}/alice", mark, "dnd", "meeting")
        finally:
            for c in (laptop, carol):
                await c.close()
            await component.close()


async def test_nick_change_in_a_room_of_another_server_is_followed() -> None:
    """A re-send to her old occupant JID would be a nick change back (XEP-0045 §7.6): after
    a nick change in a room on another server, re-sends go to the new nick only."""
    async with server_with_users(extra_hosts=["other.test"]) as server:
        room = "proj@conference.other.test"
        component = Component(server)  # type: ignore[arg-type]
        laptop = Client(server, "alice", "laptop")  # type: ignore[arg-type]
        carol = Client(server, "carol", "desk")  # type: ignore[arg-type]
        bob = Client(server, "bob", "desk")  # type: ignore[arg-type]
        await component.connect()
        try:
            await laptop.connect(status="free")
            await carol.connect()
            await bob.connect()
            await enter(laptop, room, "alice", owner=True)
            await enter(carol, room, "carol")
            mark = carol.presences.mark()
            laptop.xmpp.send_presence(pto=f"{room}/alice2", pstatus="free")
            await carol.presence_from(f"{room}/alice2", mark, "available", "free")

            mark = carol.presences.mark()
            await component.set(server.jid("alice"), "dnd", "t1", until_in(600), "meeting")
            await carol.presence_from(f"{room}/alice2", mark, "dnd", "meeting")
            # Sent after the set's re-sends (the same c2s process): a re-send to the old
            # nick would have come first.
            laptop.xmpp.send_presence(pto=carol.jid, pstatus="barrier")
            await carol.presence_from(laptop.jid, mark, "available", "barrier")
            assert not carol.from_(f"{room}/alice", mark)
        finally:
            for c in (laptop, carol, bob):
                await c.close()
            await component.close()
