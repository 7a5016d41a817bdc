"""mod_samtek_dnd on a real Prosody: SAMTEK hears "dnd on/off" of watched users, nothing else.

Order proves absence: the module reports from the presence hook, so a later report reaching
the component means every earlier presence was handled (without a report).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from samtek.devserver.prosody import ProsodyServer, lua_str
from tests.overlay.helpers import PASSWORD, Client, Component, error_condition, send_iq

NS = "urn:samtek:dnd:0"
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def prosody() -> AsyncIterator[ProsodyServer]:
    server = ProsodyServer()
    server.extra_host_config = (
        '\tmodules_enabled = { "samtek_overlay"; "samtek_dnd" }\n'
        f"\tsamtek_dnd_trusted = {{ {lua_str(server.component_jid)} }}\n"
    )
    for user in ("alice", "bob", "carol"):
        server.add_user(user, PASSWORD)
    async with server:
        yield server


def watch_list(*jids: str) -> ET.Element:
    payload = ET.Element(f"{{{NS}}}watch")
    for jid in jids:
        ET.SubElement(payload, f"{{{NS}}}user", jid=jid)
    return payload


def reports(component: Component, mark: int = 0) -> list[tuple[str, str]]:
    found = []
    for message in component.messages.since(mark):
        item = message.xml.find(f"{{{NS}}}dnd")
        if item is not None:
            assert list(item) == [] and not (item.text or "").strip()  # never a status text
            found.append((item.attrib["jid"], item.attrib["on"]))
    return found


async def reported(component: Component, mark: int, count: int) -> list[tuple[str, str]]:
    """The dnd reports after `mark`, once there are `count` of them."""
    await component.messages.wait_for(
        lambda _m: len(reports(component, mark)) >= count, mark, f"{count} dnd reports"
    )
    return reports(component, mark)


async def test_only_watched_users_and_only_changes_by_hand_are_reported(
    prosody: ProsodyServer, component: Component, client: MakeClient
) -> None:
    alice, carol = prosody.jid("alice"), prosody.jid("carol")
    await component.iq("set", watch_list(alice, "carol@elsewhere.test", "not a jid"))
    mark = component.messages.mark()

    other = await client("carol", "laptop")
    await other.send_presence("dnd", "Fokus")  # carol is not watched
    laptop = await client("alice", "laptop", show="dnd")  # a login restoring dnd: not by hand
    await laptop.send_presence("dnd", "Skriver")  # still dnd: no change
    await laptop.send_presence(None, "Tilbake")
    assert await reported(component, mark, 1) == [(alice, "false")]

    # Several clients: alice is in dnd while any of them is.
    phone = await client("alice", "phone")
    await laptop.send_presence("dnd")
    await phone.send_presence("dnd")
    await laptop.send_presence("away")
    await phone.send_presence("xa")
    assert await reported(component, mark, 3) == [
        (alice, "false"),
        (alice, "true"),
        (alice, "false"),
    ]

    # A new list replaces the old one: alice is no longer watched; bob and carol (in a second
    # part, added) are.
    bob = await client("bob", "laptop")
    await component.iq("set", watch_list(prosody.jid("bob")))
    part = watch_list(carol)
    part.set("add", "true")
    await component.iq("set", part)
    await laptop.send_presence("dnd")
    await bob.send_presence("dnd")
    await other.send_presence(None)
    assert (await reported(component, mark, 5))[3:] == [
        (prosody.jid("bob"), "true"),
        (carol, "false"),
    ]


async def test_only_a_trusted_component_sets_the_watch_list(
    prosody: ProsodyServer, client: MakeClient
) -> None:
    bob = await client("bob", "laptop")
    iq = bob.xmpp.make_iq(ito=prosody.domain, itype="set")
    iq.append(watch_list(prosody.jid("bob")))
    with pytest.raises(IqError) as refused:
        await send_iq(iq)
    assert error_condition(refused.value.iq) == "forbidden"
