"""mod_samtek_mention.erl: a groupchat message addressed to SAMTEK ("SAMTEK: møter") reaches
SAMTEK's component as <addressed jid="sender's real bare JID"/> from the room, also in a
semi-anonymous room; other messages, and a non-occupant's, do not; the room gets every
message unchanged."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from bridges.assistant.chat import NS_ROOM
from samtek.devserver.ejabberd import EjabberdServer
from tests.overlay.helpers import Component
from tests.rooms.helpers import PASSWORD, Person

ADDRESSED = f"{{{NS_ROOM}}}addressed"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"


@pytest.fixture
async def server() -> AsyncIterator[EjabberdServer]:
    ejabberd = EjabberdServer(rooms=True)  # the harness loads mod_samtek_mention with rooms
    for user in ("kari", "ola", "lise", "per"):
        ejabberd.add_user(user, PASSWORD)
    async with ejabberd:
        yield ejabberd


def addressed(component: Component) -> list[tuple[str, str, str, str]]:
    """(from, type, jid, text) of every <addressed/> the component received."""
    found = []
    for message in component.messages.items:
        element = message.xml.find(ADDRESSED)
        if element is not None:
            found.append(
                (str(message["from"]), message["type"], element.get("jid", ""), element.text or "")
            )
    return found


def in_room(person: Person, room: str, nick: str) -> list[str]:
    return [
        str(m["body"])
        for m in person.messages
        if m["type"] == "groupchat" and str(m["from"]) == f"{room}/{nick}" and m["body"]
    ]


async def test_addressed_messages_reach_the_component_with_the_real_jid(
    server: EjabberdServer,
) -> None:
    room = f"vei@{server.muc_domain}"
    async with contextlib.AsyncExitStack() as stack:
        component = Component(server)  # type: ignore[arg-type]
        await component.connect()
        stack.push_async_callback(component.close)
        people = {}
        for user in ("kari", "ola", "lise", "per"):
            person = Person(server.jid(user), server.c2s_port)
            await person.connect()
            stack.push_async_callback(person.disconnect)
            people[user] = person
        kari, ola, lise, per = people["kari"], people["ola"], people["lise"], people["per"]
        assert (await kari.enter(room, "kari"))["type"] != "error"  # creates it; kari owns it
        # Semi-anonymous: only moderators see real JIDs; ola and lise are participants.
        await kari.set_room_config(room, {"muc#roomconfig_whois": "moderators"})
        assert (await kari.room_config(room))["muc#roomconfig_whois"] == "moderators"
        assert (await lise.enter(room, "lise"))["type"] != "error"
        assert (await ola.enter(room, "Olanick"))["type"] != "error"
        # lise sees ola's presence without ola's real JID
        seen = [p for p in lise.presences if str(p["from"]) == f"{room}/Olanick"]
        assert seen and all(
            item.get("jid") is None for p in seen for item in p.xml.iter(f"{{{NS_MUC_USER}}}item")
        )

        # per is no occupant: the room refuses his message, and nothing is forwarded
        assert per.xmpp is not None
        per.xmpp.send_message(mto=room, mbody="SAMTEK: møter", mtype="groupchat")  # type: ignore[arg-type]
        await per.wait_message(lambda m: m["type"] == "error", "the room's refusal")

        bodies = [
            "møter i dag, nokon?",  # not addressed
            "SAMTEKs møte er flytta",  # no separator: not addressed
            "SAMTEK: møter",
            "  samtek,neste møte  ",
            "@SAMTEK møter\nog meir",
            "x" * 2049,  # longer than the module's bound: never forwarded
            "SAMTEK: " + "x" * 2041,  # 2049 bytes
            "SAMTEK: siste",
        ]
        assert ola.xmpp is not None
        for body in bodies:
            ola.xmpp.send_message(mto=room, mbody=body, mtype="groupchat")  # type: ignore[arg-type]
        await component.messages.wait_for(
            lambda m: (e := m.xml.find(ADDRESSED)) is not None and e.text == "siste",
            what="the last addressed message",
        )
        assert addressed(component) == [
            (room, "normal", server.jid("ola"), "møter"),
            (room, "normal", server.jid("ola"), "neste møte"),
            (room, "normal", server.jid("ola"), "møter\nog meir"),
            (room, "normal", server.jid("ola"), "siste"),
        ]
        # The room got every message, unchanged, as from ola's nick.
        await lise.wait_message(lambda m: str(m["body"]) == "SAMTEK: siste", "last in room")
        assert in_room(lise, room, "Olanick") == bodies
        # nothing but <addressed/> messages reached the component
        assert all(m.xml.find(ADDRESSED) is not None for m in component.messages.items)
