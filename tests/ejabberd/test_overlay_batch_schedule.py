"""<batch/> (and scheduled overlays) in mod_samtek_overlay.erl, on a real ejabberd 23.01: the
same wire format and per-item results as the Prosody module (tests/overlay/)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from samtek.devserver.ejabberd import EjabberdServer
from tests.ejabberd.conftest import server_with_users
from tests.overlay.helpers import NS, Client, Component, entry, error_condition, show_of

NewClient = Callable[..., Awaitable[Client]]


def ahead(seconds: float) -> datetime:
    # The server's real clock: its timers are what is tested here.
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_batch_of_sets_and_clears_has_one_result_per_item_in_order(
    prosody: EjabberdServer, component: Component, client: NewClient
) -> None:
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free")
    await bob.presence_from(laptop.jid, 0, "available", "free")
    alice, bob_jid = prosody.jid("alice"), prosody.jid("bob")
    mark = bob.presences.mark()
    await component.iq("set", entry("set", alice, "dnd", "t1", None, ahead(30), "møte"))
    await bob.presence_from(laptop.jid, mark, "dnd", "møte")
    await laptop.send_presence(show="away", status="lunsj")  # dismisses t1
    await component.messages.wait_for(
        lambda m: m.xml.find(f"{{{NS}}}dismissed") is not None, 0, "dismissal notice"
    )
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
