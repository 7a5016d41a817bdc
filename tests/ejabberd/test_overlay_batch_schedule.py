"""<batch/> and scheduled overlays in mod_samtek_overlay.erl, on a real ejabberd 23.01: the
same wire format, results and errors as the Prosody module.  The schedule and batch tests of
tests/overlay/test_overlay_schedule.py run here unchanged (the fixture `prosody` is an
ejabberd, see conftest.py); entries fire by the server's own timers, a second or two ahead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from samtek.devserver.ejabberd import EjabberdServer
from tests.ejabberd.conftest import server_with_users
from tests.overlay.helpers import (
    NS,
    Client,
    Component,
    ahead,
    alice_dismisses_t1,
    entry,
    error_condition,
    show_of,
)
from tests.overlay.test_overlay_schedule import (
    test_batch_has_one_result_per_item_in_order,
    test_dismissal_wins_for_the_active_transition_not_the_next,
    test_new_schedule_replaces_pending_entries_and_an_empty_one_cancels,
    test_schedule_applies_each_entry_at_from_and_expires_at_until,
    test_scheduled_set_with_from_and_a_late_one,
    test_scheduled_start_happens_with_the_component_disconnected,
)

__all__ = [
    "test_batch_has_one_result_per_item_in_order",
    "test_dismissal_wins_for_the_active_transition_not_the_next",
    "test_new_schedule_replaces_pending_entries_and_an_empty_one_cancels",
    "test_schedule_applies_each_entry_at_from_and_expires_at_until",
    "test_scheduled_set_with_from_and_a_late_one",
    "test_scheduled_start_happens_with_the_component_disconnected",
]

NewClient = Callable[..., Awaitable[Client]]


async def test_batch_of_sets_and_clears_has_one_result_per_item_in_order(
    prosody: EjabberdServer, component: Component, client: NewClient
) -> None:
    bob, laptop, mark = await alice_dismisses_t1(prosody, component, client)
    alice, bob_jid = prosody.jid("alice"), prosody.jid("bob")
    results = await component.batch(
        [
            entry("set", alice, "dnd", "t1", None, ahead(30), "møte"),  # dismissed
            entry("set", f"nobody@{prosody.domain}", "dnd", "t2", None, ahead(30)),
            entry("set", bob_jid, "away", "t2", None, ahead(30), "opptatt"),
            entry("set", bob_jid, "bogus", "t2", None, ahead(30)),
            ET.Element(f"{{{NS}}}frobnicate", jid=bob_jid),
            entry("clear", alice, "dnd", "x", None, ahead(1)),
        ]
    )
    assert [(r.tag.split("}")[1], r.get("condition")) for r in results] == [
        ("dismissed", None),
        ("refused", "item-not-found"),
        ("ok", None),
        ("refused", "bad-request"),
        ("refused", "bad-request"),
        ("ok", None),
    ]
    assert results[1].text == "no such user"
    listed = [
        (e.tag.split("}")[1], e.get("jid"), e.get("transition")) for e in await component.list()
    ]
    assert sorted(listed) == [("dismissed", alice, "t1"), ("overlay", bob_jid, "t2")]
    assert show_of(bob.from_(laptop.jid, mark)[-1]) == "away"


async def test_batch_over_max_batch_is_refused_whole() -> None:
    async with server_with_users(overlay_options={"max_batch": 3}) as server:
        component = Component(server)  # type: ignore[arg-type]
        await component.connect()
        try:
            bob = server.jid("bob")
            sets = [entry("set", bob, "dnd", f"t{i}", None, ahead(600)) for i in range(4)]
            with pytest.raises(IqError) as caught:
                await component.batch(sets)
            assert error_condition(caught.value.iq) == "bad-request"
            assert not list(await component.list())  # nothing applied
            assert [r.tag for r in await component.batch(sets[:3])] == [f"{{{NS}}}ok"] * 3
        finally:
            await component.close()


async def test_limits_per_user_horizon_and_schedule_errors() -> None:
    """max_scheduled and max_horizon as module options; refused with the same conditions as
    on Prosody, and a refused schedule changes nothing (all or nothing)."""
    options = {"max_scheduled": 2, "max_horizon": 3600}
    async with server_with_users(overlay_options=options) as server:
        component = Component(server)  # type: ignore[arg-type]
        await component.connect()
        alice = server.jid("alice")
        try:

            async def refused(payload_call: Awaitable[object]) -> str:
                with pytest.raises(IqError) as caught:
                    await payload_call
                return error_condition(caught.value.iq)

            three = [
                entry("entry", None, "dnd", f"t{i}", ahead(60 * i + 60), ahead(7200))
                for i in range(3)
            ]
            assert await refused(component.schedule(alice, three)) == "policy-violation"
            await component.schedule(alice, three[:2])
            third = entry("set", alice, "dnd", "t9", ahead(600), ahead(7200))
            assert await refused(component.iq("set", third)) == "policy-violation"
            # A set of a pending transition replaces it: not one more.
            again = entry("set", alice, "away", "t1", ahead(900), ahead(7200), "flyttet")
            await component.iq("set", again)
            far = [entry("entry", None, "dnd", "far", ahead(2 * 3600), ahead(3 * 3600))]
            assert await refused(component.schedule(alice, far)) == "policy-violation"
            backwards = [entry("entry", None, "dnd", "b", ahead(600), ahead(300))]
            assert await refused(component.schedule(alice, backwards)) == "bad-request"
            no_from = [entry("entry", None, "dnd", "n", None, ahead(300))]
            assert await refused(component.schedule(alice, no_from)) == "bad-request"
            listed = await component.list()
            assert [(e.tag, e.get("transition"), e.get("show")) for e in listed] == [
                (f"{{{NS}}}scheduled", "t0", "dnd"),
                (f"{{{NS}}}scheduled", "t1", "away"),
            ]
            assert listed[1].findtext(f"{{{NS}}}status") == "flyttet"
            assert listed[1].get("from") == again.get("from")
        finally:
            await component.close()
