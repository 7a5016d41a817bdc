"""mod_samtek_dnd.erl: the tests of tests/overlay/test_dnd_module.py, unchanged, against
ejabberd 23.01 (the conftest's ``prosody`` fixture loads the module with the component
trusted), plus the ejabberd-only checks: the rate-limited refusal log."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from samtek.devserver.ejabberd import EjabberdServer
from tests.ejabberd.conftest import server_with_users
from tests.overlay.helpers import Client, Component, error_condition, send_iq, until_in
from tests.overlay.test_dnd_module import (
    NS,
    reported,
    test_only_a_trusted_component_sets_the_watch_list,
    test_only_watched_users_and_only_changes_by_hand_are_reported,
    watch_list,
)

__all__ = [
    "test_only_a_trusted_component_sets_the_watch_list",
    "test_only_watched_users_and_only_changes_by_hand_are_reported",
]

FLOOD = 1000
MakeClient = Callable[..., Awaitable[Client]]


async def refused(client: Client) -> str:
    iq = client.xmpp.make_iq(ito=client.server.domain, itype="set")
    iq.append(ET.Element(f"{{{NS}}}watch"))
    with pytest.raises(IqError) as err:
        await send_iq(iq)
    return error_condition(err.value.iq)


async def test_untrusted_watch_flood_is_logged_once_per_sender_with_a_count() -> None:
    """An ordinary user sends 1,000 refused watch lists: the log gets one line for her and
    one summary line with the count."""
    server = server_with_users(dnd=False)
    # An interval longer than any test run: the counts below cannot depend on timing.
    server.extra_modules = {
        "mod_samtek_dnd": {"trusted": [server.component_jid], "log_interval": 3600}
    }
    await server.start()
    try:
        carol = Client(server, "carol", "desk")  # type: ignore[arg-type]
        await carol.connect()
        try:
            conditions = await asyncio.gather(*(refused(carol) for _ in range(FLOOD)))
            assert set(conditions) == {"forbidden"}
        finally:
            await carol.close()
        await server.stop()  # pending counts are logged at shutdown
        lines = server.log_path.read_text().splitlines()
        refusals = [line for line in lines if "dnd request from untrusted" in line]
        assert len(refusals) == 1, "\n".join(refusals[:10])
        summary = [line for line in lines if f"{FLOOD - 1} more refused DND requests" in line]
        assert len(summary) == 1
        assert "1 sender(s)" in summary[0]
    finally:
        await server.stop()
        server.cleanup()


def settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def test_a_resumed_stream_still_counts_as_in_dnd() -> None:
    """XEP-0198: her laptop's connection drops while it is in dnd and the stream is resumed
    (a new session on ejabberd).  Her phone picking dnd and the laptop leaving it change
    nothing (she stays in dnd); only the phone leaving it too is reported."""
    async with server_with_users(extra_modules={"mod_stream_mgmt": {}}) as server:
        component = Component(server)  # type: ignore[arg-type]
        laptop = Client(server, "alice", "laptop")  # type: ignore[arg-type]
        laptop.xmpp.register_plugin("xep_0198")
        phone = Client(server, "alice", "phone")  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        enabled: asyncio.Future[None] = loop.create_future()
        resumed: asyncio.Future[None] = loop.create_future()
        laptop.xmpp.add_event_handler("sm_enabled", lambda _: settle(enabled))
        laptop.xmpp.add_event_handler("session_resumed", lambda _: settle(resumed))
        await component.connect()
        try:
            await component.iq("set", watch_list(server.jid("alice")))
            mark = component.messages.mark()
            await laptop.connect()
            await asyncio.wait_for(enabled, 10)
            await phone.connect()
            await laptop.send_presence("dnd", "Fokus")
            assert await reported(component, mark, 1) == [(server.jid("alice"), "true")]

            disconnected: asyncio.Future[None] = loop.create_future()
            laptop.xmpp.add_event_handler("disconnected", lambda _: settle(disconnected))
            laptop.xmpp.end_session_on_disconnect = False  # keep the session: resume it
            laptop.xmpp.abort()
            await asyncio.wait_for(disconnected, 10)
            laptop.xmpp.connect("127.0.0.1", server.c2s_port)
            await asyncio.wait_for(resumed, 10)

            await phone.send_presence("dnd")
            await laptop.send_presence(None, "Tilbake")
            await phone.send_presence("away")
            assert await reported(component, mark, 2) == [
                (server.jid("alice"), "true"),
                (server.jid("alice"), "false"),
            ]
        finally:
            for c in (laptop, phone):
                await c.close()
            await component.close()


async def test_a_resource_that_went_offline_in_dnd_no_longer_counts(
    prosody: EjabberdServer, component: Component, client: MakeClient
) -> None:
    """Her laptop, in dnd, sends unavailable and then available on the same connection (a
    client going offline and online without reconnecting): it is no longer in dnd, so her
    phone picking dnd and leaving it are both reported."""
    alice = prosody.jid("alice")
    await component.iq("set", watch_list(alice))
    mark = component.messages.mark()
    laptop = await client("alice", "laptop", show="dnd")
    phone = await client("alice", "phone")
    laptop.xmpp.send_presence(ptype="unavailable")
    await laptop.send_presence(None, "Tilbake")  # her initial presence again: not by hand
    await phone.send_presence("dnd")
    await phone.send_presence("away")
    assert await reported(component, mark, 2) == [(alice, "true"), (alice, "false")]


async def test_an_overlay_to_dnd_is_not_a_change_by_hand(
    prosody: EjabberdServer, component: Component, client: MakeClient
) -> None:
    """SAMTEK's own overlay of dnd (and its end) is not reported; her picking dnd is."""
    alice = prosody.jid("alice")
    await component.iq("set", watch_list(alice))
    mark = component.messages.mark()
    laptop = await client("alice", "laptop")
    bob = await client("bob", "desk")
    seen = bob.presences.mark()
    await component.set(alice, "dnd", "t1", until_in(600), "I møte")
    await bob.presence_from(laptop.jid, seen, "dnd", "I møte")
    await component.clear(alice)
    await bob.presence_from(laptop.jid, seen, "available")
    await laptop.send_presence("dnd", "Fokus")
    assert await reported(component, mark, 1) == [(alice, "true")]


async def test_the_watch_list_is_bounded_by_max_users() -> None:
    """With max_users = 2 the first two users of the list are watched, in the list's order;
    a second part with add="true" adds nobody to a full list."""
    server = server_with_users(dnd=False)
    server.extra_modules = {"mod_samtek_dnd": {"trusted": [server.component_jid], "max_users": 2}}
    async with server:
        component = Component(server)  # type: ignore[arg-type]
        await component.connect()
        opened: list[Client] = []
        try:
            alice, bob, carol = (server.jid(u) for u in ("alice", "bob", "carol"))
            await component.iq("set", watch_list(carol, alice, alice, bob))
            part = watch_list(bob)
            part.set("add", "true")
            await component.iq("set", part)
            mark = component.messages.mark()
            for user in ("bob", "alice", "carol"):  # bob first: unwatched, so never reported
                device = Client(server, user, "desk")  # type: ignore[arg-type]
                opened.append(device)
                await device.connect()
                await device.send_presence("dnd")
            assert await reported(component, mark, 2) == [(alice, "true"), (carol, "true")]
        finally:
            for c in opened:
                await c.close()
            await component.close()
