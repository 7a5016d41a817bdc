"""mod_samtek_rooms.erl: SAMTEK's component writes and removes a project room's XEP-0402
bookmark in a member's PEP (bridges/rooms/invites.py), as her own client then sees it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from bridges.rooms.invites import NS, Inviter
from samtek.devserver.ejabberd import EjabberdServer
from samtek.xmpp.muc import MucClient
from tests.overlay.helpers import error_condition
from tests.rooms.helpers import PASSWORD, Person, connected_link, xmpp_section

NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner"
NODE = "urn:xmpp:bookmarks:1"


@pytest.fixture
async def server() -> AsyncIterator[EjabberdServer]:
    ejabberd = EjabberdServer(rooms=True)
    for user in ("ola", "per"):
        ejabberd.add_user(user, PASSWORD)
    try:
        await ejabberd.start()
        yield ejabberd
    finally:
        await ejabberd.stop()
        ejabberd.cleanup()


@contextlib.asynccontextmanager
async def inviter(server: EjabberdServer, tmp: Path) -> AsyncIterator[Inviter]:
    link, task = await connected_link(xmpp_section(server, tmp))  # type: ignore[arg-type]
    try:
        yield Inviter(MucClient(link, server.muc_domain), server.domain)
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def node_config(person: Person) -> dict[str, str]:
    pubsub = ET.Element(f"{{{NS_PUBSUB_OWNER}}}pubsub")
    ET.SubElement(pubsub, f"{{{NS_PUBSUB_OWNER}}}configure", node=NODE)
    reply = await person.iq(person.jid, "get", pubsub)
    return {
        field.attrib.get("var", ""): field.findtext("{jabber:x:data}value") or ""
        for field in reply.xml.iterfind(".//{jabber:x:data}field")
    }


async def test_bookmark_is_written_private_and_removed(
    server: EjabberdServer, tmp_path: Path
) -> None:
    room = f"e134@{server.muc_domain}"
    ola = Person(server.jid("ola"), server.c2s_port)
    per = Person(server.jid("per"), server.c2s_port)
    await ola.connect()
    await per.connect()
    try:
        async with inviter(server, tmp_path) as invites:
            await invites.bookmark(room, server.jid("ola"), "E134 Damåsen–Saggrenda")
            conference = (await ola.bookmarks())[room]
            assert conference.tag == f"{{{NODE}}}conference"
            assert conference.attrib == {"name": "E134 Damåsen–Saggrenda", "autojoin": "true"}
            assert conference.findtext(f"{{{NODE}}}nick") == "ola"
            # The node XEP-0402 asks for: only ola reads her bookmarks.
            config = await node_config(ola)
            assert config["pubsub#access_model"] == "whitelist"
            assert config["pubsub#persist_items"] in ("1", "true")
            assert config["pubsub#send_last_published_item"] == "never"
            with pytest.raises(IqError):
                await per.iq(server.jid("ola"), "get", _items_query())

            await invites.bookmark(room, server.jid("per"), "E134")  # a second account
            assert room in await per.bookmarks()

            await invites.forget(room, server.jid("ola"))
            assert room not in await ola.bookmarks()
            await invites.forget(room, server.jid("ola"))  # again: nothing to remove, fine
    finally:
        await ola.disconnect()
        await per.disconnect()


def _items_query() -> ET.Element:
    pubsub = ET.Element("{http://jabber.org/protocol/pubsub}pubsub")
    ET.SubElement(pubsub, "{http://jabber.org/protocol/pubsub}items", node=NODE)
    return pubsub


async def test_untrusted_bookmark_request_is_forbidden(server: EjabberdServer) -> None:
    per = Person(server.jid("per"), server.c2s_port)
    await per.connect()
    try:
        request = ET.Element(
            f"{{{NS}}}bookmark", jid=server.jid("ola"), room=f"r@{server.muc_domain}"
        )
        ET.SubElement(request, f"{{{NODE}}}conference", name="x", autojoin="true")
        with pytest.raises(IqError) as err:
            await per.iq(server.domain, "set", request)
        assert error_condition(err.value.iq) == "forbidden"
        ola = Person(server.jid("ola"), server.c2s_port)
        await ola.connect()
        with pytest.raises(IqError) as none:  # nothing was written: not even the node
            await ola.bookmarks()
        assert error_condition(none.value.iq) == "item-not-found"
        await ola.disconnect()
    finally:
        await per.disconnect()
