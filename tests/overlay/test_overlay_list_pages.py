"""`list` answers in pages of whole users (mod_samtek_overlay on a real Prosody 0.12): with
10,000 users overlaid one answer would be megabytes built in one pass of the server's loop."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from samtek.devserver.prosody import ProsodyServer
from samtek.model import Show
from samtek.xmpp import overlay as overlay_module
from samtek.xmpp.overlay import Overlay, PresenceOverlays, Scheduled
from tests.overlay.helpers import NS, Component, ahead, entry
from tests.rooms.helpers import connected_link, xmpp_section


async def page(component: Component, **attrs: str) -> ET.Element:
    found = (await component.iq("get", ET.Element(f"{{{NS}}}list", attrs))).xml.find(
        f"{{{NS}}}list"
    )
    assert found is not None
    return found


def users(listed: ET.Element) -> list[str]:
    return sorted({item.attrib["jid"] for item in listed})


async def test_list_pages_whole_users_in_jid_order(
    prosody: ProsodyServer, component: Component
) -> None:
    alice, bob, carol = (prosody.jid(u) for u in ("alice", "bob", "carol"))
    until = ahead(600).strftime("%Y-%m-%dT%H:%M:%SZ")
    await component.set(carol, "dnd", "c1", until, "I møte")
    await component.set(alice, "away", "a1", until)
    await component.schedule(
        alice,
        [
            entry("entry", None, "dnd", "a2", ahead(300), ahead(400)),
            entry("entry", None, "dnd", "a3", ahead(500), ahead(600)),
        ],
    )
    await component.schedule(bob, [entry("entry", None, "dnd", "b1", ahead(300), ahead(600))])

    first = await page(component, max="2")  # alice's three items are never split
    assert users(first) == [alice] and len(first) == 3
    assert first.get("last") == alice
    rest = await page(component, max="2", after=alice)
    assert users(rest) == [bob, carol] and rest.get("last") is None
    last = await page(component, max="2", after=bob)
    assert [(i.tag, i.get("jid")) for i in last] == [(f"{{{NS}}}overlay", carol)]
    # A client that predates pages gets everything at once; a page is never empty.
    whole = await page(component)
    assert users(whole) == [alice, bob, carol] and whole.get("last") is None
    assert users(await page(component, max="0")) == [alice]


async def test_the_client_reads_every_page(
    prosody: ProsodyServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overlay_module, "LIST_PAGE", 1)
    link, running = await connected_link(xmpp_section(prosody, tmp_path))
    try:
        overlays = PresenceOverlays(link, prosody.domain)
        alice, bob, carol = (prosody.jid(u) for u in ("alice", "bob", "carol"))
        until = ahead(600).replace(microsecond=0)
        busy = Overlay(Show.DND, "I møte", "m1", until)
        assert await overlays.set(alice, busy)
        assert await overlays.set(carol, busy)
        later = Scheduled(ahead(300).replace(microsecond=0), busy)
        await overlays.schedule(bob, [later])

        state = await overlays.list()
        assert state.overlays == {alice: busy, carol: busy}
        assert state.scheduled == {bob: (later,)}
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
