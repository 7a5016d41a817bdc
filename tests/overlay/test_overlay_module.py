"""mod_samtek_overlay on a real Prosody 0.12 with real slixmpp clients and component.

Negative checks ("X did not receive Y") never sleep: they look at what a stream received
before a later stanza that the server necessarily sent after Y would have been sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from samtek.devserver.prosody import ProsodyServer
from tests.overlay.helpers import (
    NS,
    PASSWORD,
    Client,
    Component,
    IqKind,
    dismissed_in,
    error_condition,
    send_iq,
    show_of,
    until_in,
)

NewClient = Callable[..., Awaitable[Client]]
CAPS = "http://jabber.org/protocol/caps"


def caps() -> ET.Element:
    return ET.Element(f"{{{CAPS}}}c", hash="sha-1", node="https://example.test", ver="abc=")


async def test_set_overlays_contacts_but_not_own_resources(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="working", priority=5, extra=caps())
    phone = await client("alice", "phone", show="away", status="on the go")
    await bob.presence_from(phone.jid, 0, "away", "on the go")
    bob_mark, phone_mark = bob.presences.mark(), phone.presences.mark()

    result = await component.set(
        prosody.jid("alice"), "dnd", "t1", until_in(600), "I møte til 11:00"
    )
    assert not dismissed_in(result)

    for resource in (laptop.jid, phone.jid):
        await bob.presence_from(resource, bob_mark, "dnd", "I møte til 11:00")
    # Other children survive the overlay.
    seen = bob.from_(laptop.jid, bob_mark)[-1]
    assert seen["priority"] == 5
    assert seen.xml.find(f"{{{CAPS}}}c") is not None
    assert len(seen.xml.findall("{jabber:client}status")) == 1
    # Own resources: laptop re-sends its unchanged presence; phone sees it real, bob overlaid.
    bob_mark = bob.presences.mark()
    await laptop.send_presence(status="working", priority=5, extra=caps())
    await phone.presence_from(laptop.jid, phone_mark, "available", "working")
    await bob.presence_from(laptop.jid, bob_mark, "dnd", "I møte til 11:00")
    assert not phone.presences.since(phone_mark, lambda p: show_of(p) == "dnd")
    assert not laptop.presences.since(0, lambda p: show_of(p) == "dnd")


async def test_clear_restores_real_presence(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", show="chat", status="free")
    mark = bob.presences.mark()
    await component.set(prosody.jid("alice"), "dnd", "t1", until_in(600), "busy")
    await bob.presence_from(laptop.jid, mark, "dnd", "busy")

    mark = bob.presences.mark()
    await component.clear(prosody.jid("alice"))
    await bob.presence_from(laptop.jid, mark, "chat", "free")
    assert not (await component.list())


async def test_until_passes_restores_real_presence_without_clear(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free")
    mark = bob.presences.mark()
    await component.set(prosody.jid("alice"), "dnd", "short", until_in(2), "quick sync")
    await bob.presence_from(laptop.jid, mark, "dnd", "quick sync")

    mark = bob.presences.mark()
    await bob.presence_from(laptop.jid, mark, "available", "free")  # the server's own timer
    assert not (await component.list())


async def test_manual_change_dismisses_overlay(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    alice = prosody.jid("alice")
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="working")
    phone = await client("alice", "phone", show="away", status="on the go")
    mark = bob.presences.mark()
    await component.set(alice, "dnd", "t1", until_in(600), "meeting")
    await bob.presence_from(phone.jid, mark, "dnd", "meeting")
    await bob.presence_from(laptop.jid, mark, "dnd", "meeting")

    mark = bob.presences.mark()
    await laptop.send_presence(show="away", status="lunsj")
    await bob.presence_from(laptop.jid, mark, "away", "lunsj")  # the manual presence
    await bob.presence_from(phone.jid, mark, "away", "on the go")  # other resource real again
    note = await component.messages.wait_for(
        lambda m: m.xml.find(f"{{{NS}}}dismissed") is not None, 0, "<dismissed/> message"
    )
    dismissed = note.xml.find(f"{{{NS}}}dismissed")
    assert dismissed is not None
    assert note["from"] == prosody.domain
    assert dismissed.attrib == {"jid": alice, "transition": "t1", "show": "away"}
    assert dismissed.findtext(f"{{{NS}}}status") == "lunsj"

    # SAMTEK re-sends the same transition (e.g. after its restart): refused, nothing changes.
    refused_mark = bob.presences.mark()
    assert dismissed_in(await component.set(alice, "dnd", "t1", until_in(600), "meeting"))
    listing = await component.list()
    assert [(e.tag, e.get("transition")) for e in listing] == [(f"{{{NS}}}dismissed", "t1")]

    # A new transition applies again and replaces the dismissal record.
    new_mark = bob.presences.mark()
    assert not dismissed_in(await component.set(alice, "xa", "t2", until_in(600), "workshop"))
    await bob.presence_from(laptop.jid, new_mark, "xa", "workshop")
    await bob.presence_from(phone.jid, new_mark, "xa", "workshop")
    between = bob.presences.items[refused_mark:new_mark]
    assert not [p for p in between if p["status"] == "meeting"]
    listing = await component.list()
    assert [(e.tag, e.get("transition")) for e in listing] == [(f"{{{NS}}}overlay", "t2")]


async def test_login_and_probe_during_overlay(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    # Alice is offline: the overlay is stored, contacts keep seeing her offline.
    await component.set(prosody.jid("alice"), "dnd", "t1", until_in(600), "meeting")
    laptop = await client("alice", "laptop", status="just logged in")
    await bob.presence_from(laptop.jid, 0, "dnd", "meeting")
    assert not laptop.presences.since(0, lambda p: show_of(p) == "dnd")  # own reflection real
    # Bob's second device logs in later: the probe answer is overlaid too.
    bob_phone = await client("bob", "phone")
    await bob_phone.presence_from(laptop.jid, 0, "dnd", "meeting")


async def test_last_resource_offline_keeps_overlay(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop")
    await component.set(prosody.jid("alice"), "away", "t1", until_in(600), "meeting")
    await laptop.close()
    await bob.presences.wait_for(
        lambda p: p["from"] == laptop.jid and p["type"] == "unavailable", 0, "unavailable"
    )
    assert [e.get("transition") for e in await component.list()] == ["t1"]
    phone = await client("alice", "phone")
    await bob.presence_from(phone.jid, 0, "away", "meeting")


async def test_one_off_directed_target_gets_what_she_sent_and_no_resends(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    """Issue 13, item 7: a stranger she once sent presence to never sees the overlay (it can
    carry a confidential subject) nor, at clear, her real status (never sent to them)."""
    carol = await client("carol", "desk")  # not on alice's roster
    bob = await client("bob", "desk")  # a contact
    laptop = await client("alice", "laptop", status="free")
    laptop.xmpp.send_presence(pto=carol.jid, pstatus="for carol")
    await carol.presence_from(laptop.jid, 0, "available", "for carol")
    mark = bob.presences.mark()
    await laptop.send_presence(status="at the doctor")  # her real status, not sent to carol
    await bob.presence_from(laptop.jid, mark, "available", "at the doctor")

    mark = bob.presences.mark()
    await component.set(prosody.jid("alice"), "dnd", "t1", until_in(600), "Lønnssamtale")
    await bob.presence_from(laptop.jid, mark, "dnd", "Lønnssamtale")
    laptop.xmpp.send_presence(pto=carol.jid, pstatus="still for carol")
    await carol.presence_from(laptop.jid, 0, "available", "still for carol")
    await component.clear(prosody.jid("alice"))
    # Sent after the clear's re-sends: anything those sent to carol arrived before it.
    laptop.xmpp.send_presence(pto=carol.jid, pstatus="barrier")
    await carol.presence_from(laptop.jid, 0, "available", "barrier")
    seen = [(show_of(p), p["status"]) for p in carol.from_(laptop.jid)]
    assert seen == [
        ("available", "for carol"),
        ("available", "still for carol"),
        ("available", "barrier"),
    ]


async def test_list_returns_state(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    until = until_in(600)
    await component.set(prosody.jid("alice"), "dnd", "t-a", until, "I møte til 11:00")
    await component.set(prosody.jid("bob"), "xa", "t-b", until)
    items = {e.get("jid"): e for e in await component.list()}
    assert set(items) == {prosody.jid("alice"), prosody.jid("bob")}
    a = items[prosody.jid("alice")]
    assert a.tag == f"{{{NS}}}overlay"
    assert (a.get("show"), a.get("transition"), a.get("until")) == ("dnd", "t-a", until)
    assert a.findtext(f"{{{NS}}}status") == "I møte til 11:00"
    assert items[prosody.jid("bob")].find(f"{{{NS}}}status") is None


async def test_untrusted_sender_is_forbidden(prosody: ProsodyServer, client: NewClient) -> None:
    carol = await client("carol", "desk")
    requests: list[tuple[IqKind, ET.Element]] = [
        (
            "set",
            ET.Element(
                f"{{{NS}}}set",
                jid=prosody.jid("alice"),
                show="dnd",
                transition="x",
                until=until_in(600),
            ),
        ),
        ("set", ET.Element(f"{{{NS}}}clear", jid=prosody.jid("alice"))),
        ("get", ET.Element(f"{{{NS}}}list")),
    ]
    for kind, payload in requests:
        iq = carol.xmpp.make_iq(ito=prosody.domain, itype=kind)
        iq.append(payload)
        with pytest.raises(IqError) as err:
            await send_iq(iq)
        assert error_condition(err.value.iq) == "forbidden"


@pytest.mark.parametrize(
    ("change", "condition"),
    [
        ({"show": "busy"}, "bad-request"),
        ({"show": None}, "bad-request"),
        ({"until": None}, "bad-request"),
        ({"until": "tomorrow"}, "bad-request"),
        ({"until": "2020-01-01T00:00:00Z"}, "bad-request"),
        ({"transition": None}, "bad-request"),
        ({"transition": "x" * 257}, "bad-request"),
        ({"transition": ""}, "bad-request"),
        ({"jid": None}, "bad-request"),
        ({"jid": "alice@elsewhere.test"}, "bad-request"),
        ({"jid": "alice@region.test/laptop"}, "bad-request"),
        ({"jid": "nobody@region.test"}, "item-not-found"),
    ],
)
async def test_malformed_set_is_rejected(
    prosody: ProsodyServer, component: Component, change: dict[str, str | None], condition: str
) -> None:
    attrs: dict[str, str | None] = {
        "jid": prosody.jid("alice"),
        "show": "dnd",
        "transition": "t",
        "until": until_in(600),
    }
    attrs.update(change)
    payload = ET.Element(f"{{{NS}}}set", {k: v for k, v in attrs.items() if v is not None})
    with pytest.raises(IqError) as err:
        await component.iq("set", payload)
    assert error_condition(err.value.iq) == condition
    assert not (await component.list())


async def test_muc_room_sees_overlay_and_its_end(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    room = f"proj@{prosody.muc_domain}"
    laptop = await client("alice", "laptop", status="free")
    carol = await client("carol", "desk")  # in the room, not a contact of alice

    async def join(c: Client, nick: str) -> None:
        p = c.xmpp.make_presence(pto=f"{room}/{nick}", pstatus="free" if c is laptop else None)
        p.append(ET.Element("{http://jabber.org/protocol/muc}x"))
        p.send()
        await c.presences.wait_for(lambda q: q["from"] == f"{room}/{nick}", 0, f"join {nick}")

    await join(laptop, "alice")
    unlock = laptop.xmpp.make_iq_set(ito=room)  # accept the default config ("instant room")
    query = ET.Element("{http://jabber.org/protocol/muc#owner}query")
    ET.SubElement(query, "{jabber:x:data}x", type="submit")
    unlock.append(query)
    await send_iq(unlock)
    await join(carol, "carol")

    mark = carol.presences.mark()
    await component.set(prosody.jid("alice"), "dnd", "t1", until_in(600), "meeting")
    await carol.presence_from(f"{room}/alice", mark, "dnd", "meeting")
    mark = carol.presences.mark()
    await component.clear(prosody.jid("alice"))
    await carol.presence_from(f"{room}/alice", mark, "available", "free")


async def test_component_reconnect_keeps_overlay_prosody_restart_drops_it(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    await component.set(prosody.jid("alice"), "dnd", "t1", until_in(600), "meeting")
    await component.close()  # SAMTEK crashes or restarts: the overlay stays in Prosody
    again = Component(prosody)
    await again.connect()
    assert [e.get("transition") for e in await again.list()] == ["t1"]
    await again.close()

    await prosody.restart()  # in-memory state only: SAMTEK must re-send after this
    after = Component(prosody)
    await after.connect()
    assert not (await after.list())
    await after.close()


async def test_identical_reset_sends_nothing_new(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free")
    until = until_in(600)
    await component.set(prosody.jid("alice"), "dnd", "t1", until, "meeting")
    await bob.presence_from(laptop.jid, 0, "dnd", "meeting")
    mark = bob.presences.mark()
    assert not dismissed_in(
        await component.set(prosody.jid("alice"), "dnd", "t1", until, "meeting")
    )
    await component.clear(prosody.jid("alice"))
    await bob.presence_from(laptop.jid, mark, "available", "free")
    # Only the clear's real presence arrived: the identical re-set caused no broadcast.
    assert [show_of(p) for p in bob.from_(laptop.jid, mark)] == ["available"]


async def enter(c: Client, room: str, nick: str, owner: bool = False) -> None:
    """Join `room` as `nick`; the owner creates it and accepts the default configuration."""
    p = c.xmpp.make_presence(pto=f"{room}/{nick}", pstatus="free")
    p.append(ET.Element("{http://jabber.org/protocol/muc}x"))
    p.send()
    await c.presences.wait_for(lambda q: q["from"] == f"{room}/{nick}", 0, f"join {nick}")
    if owner:
        unlock = c.xmpp.make_iq_set(ito=room)
        query = ET.Element("{http://jabber.org/protocol/muc#owner}query")
        ET.SubElement(query, "{jabber:x:data}x", type="submit")
        unlock.append(query)
        await send_iq(unlock)


@pytest.fixture
async def few_rooms() -> AsyncIterator[ProsodyServer]:
    server = ProsodyServer(extra_host_config="\tsamtek_overlay_max_rooms = 2\n")
    for user in ("alice", "bob", "carol"):
        server.add_user(user, PASSWORD)
    async with server:
        yield server


async def test_resends_reach_at_most_max_rooms_per_session(few_rooms: ProsodyServer) -> None:
    """The amplification of one set is bounded: with samtek_overlay_max_rooms = 2 only the
    first two rooms alice is in get her presence again."""
    prosody = few_rooms
    component = Component(prosody)
    await component.connect()
    rooms = [f"r{i}@{prosody.muc_domain}" for i in range(3)]
    laptop, carol = Client(prosody, "alice", "laptop"), Client(prosody, "carol", "desk")
    bob: Client | None = None
    try:
        await laptop.connect(status="free")
        await carol.connect()
        for room in rooms:
            await enter(laptop, room, "alice", owner=True)
            await enter(carol, room, "carol")
        bob = Client(prosody, "bob", "desk")
        await bob.connect()
        mark = carol.presences.mark()
        await component.set(prosody.jid("alice"), "dnd", "t1", until_in(600), "meeting")
        for room in rooms[:2]:
            await carol.presence_from(f"{room}/alice", mark, "dnd", "meeting")
        # bob's presence is routed after the set's re-sends: a re-send to r2 came before it.
        bob.xmpp.send_presence(pto=carol.jid, pstatus="barrier")
        await carol.presence_from(bob.jid, mark, "available", "barrier")
        assert not carol.from_(f"{rooms[2]}/alice", mark)
    finally:
        for c in (laptop, carol, bob):
            if c is not None:
                await c.close()
        await component.close()


async def test_resend_after_nick_change_goes_to_the_new_nick_only(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    """A re-send to her old occupant JID would be a nick change back (XEP-0045 §7.6)."""
    room = f"proj@{prosody.muc_domain}"
    laptop = await client("alice", "laptop", status="free")
    carol = await client("carol", "desk")
    bob = await client("bob", "desk")
    await enter(laptop, room, "alice", owner=True)
    await enter(carol, room, "carol")
    mark = carol.presences.mark()
    laptop.xmpp.send_presence(pto=f"{room}/alice2", pstatus="free")
    await carol.presence_from(f"{room}/alice2", mark, "available", "free")

    mark = carol.presences.mark()
    await component.set(prosody.jid("alice"), "dnd", "t1", until_in(600), "meeting")
    await carol.presence_from(f"{room}/alice2", mark, "dnd", "meeting")
    bob.xmpp.send_presence(pto=carol.jid, pstatus="barrier")
    await carol.presence_from(bob.jid, mark, "available", "barrier")
    assert not carol.from_(f"{room}/alice", mark)
