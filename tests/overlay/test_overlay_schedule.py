"""Scheduled overlays and batches in mod_samtek_overlay, on a real Prosody 0.12.

Scheduled entries fire by the server's own timers, so these tests use the server's real
time: starts a second or two ahead. Negative checks never sleep: "A was not applied" is read
from what bob received before B, which the server would necessarily have sent after A.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from slixmpp.exceptions import IqError

from samtek.devserver.prosody import ProsodyServer
from tests.overlay.helpers import (
    NS,
    PASSWORD,
    Client,
    Component,
    ahead,
    alice_dismisses_t1,
    entry,
    error_condition,
    show_of,
)

NewClient = Callable[..., Awaitable[Client]]


def statuses(client: Client, full_jid: str, mark: int) -> list[str]:
    return [str(p["status"]) for p in client.from_(full_jid, mark)]


async def test_schedule_applies_each_entry_at_from_and_expires_at_until(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free")
    await bob.presence_from(laptop.jid, 0, "available", "free")
    alice = prosody.jid("alice")
    a_from, b_from = ahead(1.5), ahead(3.0)
    b_until = ahead(4.5)
    mark = bob.presences.mark()
    await component.schedule(
        alice,
        [
            entry("entry", None, "dnd", "t1", a_from, b_from, "I møte til 11:00"),
            entry("entry", None, "away", "t2", b_from, b_until, "Kanskje i møte"),
        ],
    )
    listed = await component.list()
    assert [(e.tag, e.get("transition")) for e in listed] == [
        (f"{{{NS}}}scheduled", "t1"),
        (f"{{{NS}}}scheduled", "t2"),
    ]
    assert listed[0].get("from") == entry("entry", None, "dnd", "t1", a_from, b_from).get("from")

    await bob.presence_from(laptop.jid, mark, "dnd", "I møte til 11:00")
    assert time.time() >= a_from.timestamp()
    await bob.presence_from(laptop.jid, mark, "away", "Kanskje i møte")
    assert time.time() >= b_from.timestamp()
    # t1 ends and t2 starts at the same instant: one presence, never the real one between.
    assert statuses(bob, laptop.jid, mark) == ["I møte til 11:00", "Kanskje i møte"]
    listed = await component.list()
    assert [(e.tag, e.get("transition")) for e in listed] == [(f"{{{NS}}}overlay", "t2")]

    await bob.presence_from(laptop.jid, mark, "available", "free")
    assert time.time() >= b_until.timestamp()
    assert not list(await component.list())


async def test_new_schedule_replaces_pending_entries_and_an_empty_one_cancels(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free")
    await bob.presence_from(laptop.jid, 0, "available", "free")
    alice = prosody.jid("alice")
    mark = bob.presences.mark()
    old = [entry("entry", None, "dnd", "old", ahead(1.0), ahead(30), "gammelt møte")]
    await component.schedule(alice, old)
    # The calendar changed: the meeting moved.
    await component.schedule(
        alice, [entry("entry", None, "dnd", "new", ahead(2.0), ahead(30), "nytt møte")]
    )
    listed = await component.list()
    assert [e.get("transition") for e in listed] == ["new"]
    await bob.presence_from(laptop.jid, mark, "dnd", "nytt møte")
    assert "gammelt møte" not in statuses(bob, laptop.jid, mark)

    # The meeting was cancelled: an empty schedule removes what is pending, not the active one.
    await component.schedule(
        alice, [entry("entry", None, "away", "gone", ahead(1.0), ahead(30), "avlyst")]
    )
    await component.schedule(alice, [])
    listed = await component.list()
    assert [(e.tag, e.get("transition")) for e in listed] == [(f"{{{NS}}}overlay", "new")]
    mark = bob.presences.mark()
    # A later fence entry: the cancelled one would have arrived before it.
    await component.schedule(
        alice, [entry("entry", None, "xa", "fence", ahead(2.0), ahead(30), "fence")]
    )
    await bob.presence_from(laptop.jid, mark, "xa", "fence")
    assert statuses(bob, laptop.jid, mark) == ["fence"]


async def test_scheduled_set_with_from_and_a_late_one(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free")
    await bob.presence_from(laptop.jid, 0, "available", "free")
    alice = prosody.jid("alice")
    start = ahead(1.5)
    mark = bob.presences.mark()
    await component.iq("set", entry("set", alice, "dnd", "t1", start, ahead(30), "møte"))
    # A set of the same transition replaces the pending one (here: a new end).
    await component.iq("set", entry("set", alice, "dnd", "t1", start, ahead(40), "møte"))
    listed = await component.list()
    assert [(e.tag, e.get("transition")) for e in listed] == [(f"{{{NS}}}scheduled", "t1")]
    await bob.presence_from(laptop.jid, mark, "dnd", "møte")
    assert time.time() >= start.timestamp()

    # Sent late (`from` has passed): applied at once, like a plain set.
    mark = bob.presences.mark()
    await component.iq("set", entry("set", alice, "away", "t2", ahead(-5), ahead(30), "sent"))
    await bob.presence_from(laptop.jid, mark, "away", "sent")


async def test_dismissal_wins_for_the_active_transition_not_the_next(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free")
    await bob.presence_from(laptop.jid, 0, "available", "free")
    alice = prosody.jid("alice")
    mark = bob.presences.mark()
    await component.iq("set", entry("set", alice, "dnd", "t1", None, ahead(30), "møte 1"))
    await bob.presence_from(laptop.jid, mark, "dnd", "møte 1")
    # Scheduled ahead: t1 again (a longer end) and then the next transition, t2.
    await component.schedule(
        alice,
        [
            entry("entry", None, "dnd", "t1", ahead(1.0), ahead(2.5), "møte 1 forlenget"),
            entry("entry", None, "dnd", "t2", ahead(2.5), ahead(30), "møte 2"),
        ],
    )
    mark = bob.presences.mark()
    await laptop.send_presence(show="away", status="lunsj")
    await component.messages.wait_for(
        lambda m: m.xml.find(f"{{{NS}}}dismissed") is not None, 0, "dismissal notice"
    )
    await bob.presence_from(laptop.jid, mark, "away", "lunsj")
    await bob.presence_from(laptop.jid, mark, "dnd", "møte 2")
    assert statuses(bob, laptop.jid, mark) == ["lunsj", "møte 2"]


async def test_presence_changed_after_the_boundary_was_prepared_is_the_one_overlaid(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    # The module builds a boundary's stanzas 5 s ahead; what the clients send after that
    # must still be what contacts see overlaid at the boundary.
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free", priority=1)
    await bob.presence_from(laptop.jid, 0, "available", "free")
    start = ahead(4.5)  # within the 5 s: prepared at once
    await component.schedule(
        prosody.jid("alice"), [entry("entry", None, "dnd", "t1", start, ahead(30), "I møte")]
    )
    await component.list()  # a round trip: the prepare pass has run
    mark = bob.presences.mark()
    await laptop.send_presence(status="ute", priority=5)  # no overlay yet: no dismissal
    phone = await client("alice", "phone", status="mobil")
    await bob.presence_from(laptop.jid, mark, "available", "ute")
    overlaid = await bob.presence_from(laptop.jid, mark, "dnd", "I møte")
    assert time.time() >= start.timestamp()
    assert overlaid["priority"] == 5
    await bob.presence_from(phone.jid, mark, "dnd", "I møte")


async def test_scheduled_start_happens_with_the_component_disconnected(
    prosody: ProsodyServer, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free")
    await bob.presence_from(laptop.jid, 0, "available", "free")
    component = Component(prosody)
    await component.connect()
    start, end = ahead(2.0), ahead(3.5)
    await component.schedule(
        prosody.jid("alice"), [entry("entry", None, "dnd", "t1", start, end, "I møte")]
    )
    mark = bob.presences.mark()
    await component.close()  # SAMTEK dies a moment before the boundary
    await bob.presence_from(laptop.jid, mark, "dnd", "I møte")
    assert time.time() >= start.timestamp()
    await bob.presence_from(laptop.jid, mark, "available", "free")


@pytest.fixture
async def small_limits() -> AsyncIterator[ProsodyServer]:
    server = ProsodyServer(
        extra_host_config=(
            "\tsamtek_overlay_max_scheduled = 2\n"
            "\tsamtek_overlay_max_horizon = 3600\n"
            "\tsamtek_overlay_max_batch = 3\n"
        )
    )
    for user in ("alice", "bob"):
        server.add_user(user, PASSWORD)
    async with server:
        yield server


async def test_limits_per_user_horizon_and_batch(small_limits: ProsodyServer) -> None:
    component = Component(small_limits)
    await component.connect()
    alice = small_limits.jid("alice")
    try:

        async def refused(payload_call: Awaitable[object]) -> str:
            with pytest.raises(IqError) as caught:
                await payload_call
            return error_condition(caught.value.iq)

        three = [
            entry("entry", None, "dnd", f"t{i}", ahead(60 * i + 60), ahead(7200)) for i in range(3)
        ]
        assert await refused(component.schedule(alice, three)) == "policy-violation"
        await component.schedule(alice, three[:2])
        third = entry("set", alice, "dnd", "t9", ahead(600), ahead(7200))
        assert await refused(component.iq("set", third)) == "policy-violation"
        far = [entry("entry", None, "dnd", "far", ahead(2 * 3600), ahead(3 * 3600))]
        assert await refused(component.schedule(alice, far)) == "policy-violation"
        backwards = [entry("entry", None, "dnd", "b", ahead(600), ahead(300))]
        assert await refused(component.schedule(alice, backwards)) == "bad-request"
        no_from = [entry("entry", None, "dnd", "n", None, ahead(300))]
        assert await refused(component.schedule(alice, no_from)) == "bad-request"
        # Nothing refused changed the schedule (all or nothing).
        assert [e.get("transition") for e in await component.list()] == ["t0", "t1"]
        clears = [entry("clear", alice, "dnd", "x", None, ahead(1))] * 4
        payload = component.batch(clears)
        assert await refused(payload) == "bad-request"
    finally:
        await component.close()


async def test_batch_has_one_result_per_item_in_order(
    prosody: ProsodyServer, component: Component, client: NewClient
) -> None:
    bob, laptop, mark = await alice_dismisses_t1(prosody, component, client)
    alice, bob_jid = prosody.jid("alice"), prosody.jid("bob")
    schedule = entry("schedule", alice, "dnd", "x", None, ahead(1))
    schedule.attrib = {"jid": alice}
    schedule.append(entry("entry", None, "xa", "t3", ahead(600), ahead(900), "senere"))
    results = await component.batch(
        [
            entry("set", alice, "dnd", "t1", None, ahead(30), "møte"),  # dismissed
            entry("set", f"nobody@{prosody.domain}", "dnd", "t2", None, ahead(30)),
            entry("set", bob_jid, "away", "t2", None, ahead(30), "opptatt"),
            schedule,
            entry("clear", bob_jid, "dnd", "x", None, ahead(1)),
        ]
    )
    assert [(r.tag.split("}")[1], r.get("condition")) for r in results] == [
        ("dismissed", None),
        ("refused", "item-not-found"),
        ("ok", None),
        ("ok", None),
        ("ok", None),
    ]
    listed = [
        (e.tag.split("}")[1], e.get("jid"), e.get("transition")) for e in await component.list()
    ]
    assert sorted(listed) == [("dismissed", alice, "t1"), ("scheduled", alice, "t3")]
    assert show_of(bob.from_(laptop.jid, mark)[-1]) == "away"
