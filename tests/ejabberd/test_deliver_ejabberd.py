"""mod_samtek_deliver.erl on a real ejabberd 23.01: the delivery tests of
tests/delivery/test_delivery.py unchanged (only the server differs), and what the module does
with offline users, untrusted senders, oversize requests, its id memory and groupchat."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError
from slixmpp.stanza import Message

from samtek.devserver.ejabberd import EjabberdServer
from samtek.health import HealthReporter
from samtek.xmpp.delivery import NS
from samtek.xmpp.link import XmppLink
from samtek.xmpp.muc import MucClient
from tests.delivery.test_delivery import (
    PASSWORD,
    Inbox,
    ServerFactory,
    supervised,
    test_burst_survives_a_dead_stream,
    test_the_module_shows_a_repeated_id_once,
    until,
)
from tests.overlay.helpers import PASSWORD as CAROL_PASSWORD
from tests.overlay.helpers import Client, Component, error_condition, send_iq
from tests.overlay.test_overlay_module import enter
from tests.rooms.helpers import xmpp_section
from tests.xmpp_clients import TestClient

__all__ = ["test_burst_survives_a_dead_stream", "test_the_module_shows_a_repeated_id_once"]


@pytest.fixture
def make_server() -> ServerFactory:
    return EjabberdServer  # type: ignore[return-value]


def payload(message_id: str, to: str, body: str, mtype: str = "chat") -> ET.Element:
    deliver = ET.Element(f"{{{NS}}}deliver", id=message_id)
    message = ET.SubElement(deliver, "{jabber:client}message", to=to, type=mtype)
    ET.SubElement(message, "{jabber:client}body").text = body
    return deliver


def deliver_server(**module_options: object) -> EjabberdServer:
    """ejabberd with mod_samtek_deliver (and `module_options`) and the users."""
    server = EjabberdServer(deliver=True)
    server.extra_modules = {
        "mod_samtek_deliver": {"trusted": [server.component_jid], **module_options}
    }
    server.add_user("kari", PASSWORD)
    server.add_user("carol", CAROL_PASSWORD)  # a Client of tests/overlay/helpers.py
    return server


@contextlib.asynccontextmanager
async def delivering(
    tmp_path: Path, **module_options: object
) -> AsyncIterator[tuple[EjabberdServer, XmppLink]]:
    """A deliver_server with SAMTEK's link connected."""
    async with deliver_server(**module_options) as server:
        settings = xmpp_section(server, tmp_path)  # type: ignore[arg-type]
        link = XmppLink(settings, HealthReporter("xmpp"))
        async with supervised(link):
            await until(lambda: link.connected, "component connected")
            yield server, link


async def online(server: EjabberdServer, user: str) -> tuple[TestClient, Inbox]:
    inbox = Inbox()
    client = TestClient(server.jid(user), PASSWORD, server.c2s_port)
    await client.connect(on_message=inbox)
    return client, inbox


async def answer(component: Component, request: ET.Element) -> str:
    """ "result", or the error condition of the answer to a raw delivery request."""
    iq = component.xmpp.make_iq(ito=component.server.domain, itype="set")
    iq["from"] = component.server.component_jid
    iq.append(request)
    try:
        await send_iq(iq)
    except IqError as err:
        return error_condition(err.iq)
    return "result"


async def test_message_to_an_offline_user_is_stored_and_shown_at_login(tmp_path: Path) -> None:
    """The result comes after mod_offline stored it: she sees it once when she logs in."""
    async with delivering(tmp_path) as (server, link):
        kari = server.jid("kari")
        await link.send_iq(server.domain, "set", payload("m1", kari, "mens du var borte"))
        await link.send_iq(server.domain, "set", payload("m1", kari, "mens du var borte"))
        client, inbox = await online(server, "kari")
        await link.send_iq(server.domain, "set", payload("m2", kari, "nå"))
        await until(lambda: inbox.bodies["nå"] == 1, "the online message")
        await until(lambda: inbox.bodies["mens du var borte"] == 1, "the stored message")
        assert inbox.bodies == {"mens du var borte": 1, "nå": 1}
        await client.disconnect()


async def test_oversize_and_malformed_requests_are_refused_and_not_delivered() -> None:
    """The limits of the Prosody module: id 1..128 characters, body up to 16,384 bytes, a
    <message/> with a valid 'to'; a refused request delivers nothing. (A raw component:
    SAMTEK's own link cuts every text to 8,000 characters before it is sent.)"""
    async with deliver_server() as server:
        component = Component(server)  # type: ignore[arg-type]
        await component.connect()
        client, inbox = await online(server, "kari")
        try:
            kari = server.jid("kari")
            refused = {
                "no message": ET.Element(f"{{{NS}}}deliver", id="m0"),
                "empty id": payload("", kari, "tom id"),
                "long id": payload("x" * 129, kari, "lang id"),
                "bad to": payload("m1", "a@b@c", "ugyldig"),
                "long body": payload("m2", kari, "ø" * 8193),  # 16,386 bytes
            }
            answers = {what: await answer(component, r) for what, r in refused.items()}
            assert answers == {
                "no message": "bad-request",
                "empty id": "bad-request",
                "long id": "bad-request",
                "bad to": "bad-request",
                "long body": "not-acceptable",
            }
            # The bounds themselves are accepted; the last one is the barrier for the refused.
            assert await answer(component, payload("y" * 128, kari, "ø" * 8192)) == "result"
            assert await answer(component, payload("m3", kari, "siste")) == "result"
            await until(lambda: inbox.bodies["siste"] == 1, "the last message")
            assert inbox.bodies == {"ø" * 8192: 1, "siste": 1}
        finally:
            await client.disconnect()
            await component.close()


async def test_id_memory_is_bounded(tmp_path: Path) -> None:
    """With max_ids = 2 the oldest id is forgotten (a repeat of it is shown again) while a
    recent one is still dropped."""
    async with delivering(tmp_path, max_ids=2) as (server, link):
        client, inbox = await online(server, "kari")
        kari = server.jid("kari")
        for message_id, body in [("a", "A"), ("b", "B"), ("c", "C"), ("a", "A2"), ("c", "C2")]:
            await link.send_iq(server.domain, "set", payload(message_id, kari, body))
        await link.send_iq(server.domain, "set", payload("d", kari, "D"))
        await until(lambda: inbox.bodies["D"] == 1, "the last message")
        assert inbox.bodies == {"A": 1, "B": 1, "C": 1, "A2": 1, "D": 1}
        await client.disconnect()


FLOOD = 1000


async def test_untrusted_sender_is_refused_and_the_flood_logged_once(tmp_path: Path) -> None:
    """An ordinary user sends 1,000 delivery requests: each is forbidden, nothing is
    delivered, and the log gets one line for her plus one summary line with the count."""
    async with delivering(tmp_path, log_interval=3600) as (server, link):
        kari, inbox = await online(server, "kari")
        carol = TestClient(server.jid("carol"), CAROL_PASSWORD, server.c2s_port)
        await carol.connect()
        assert carol.xmpp is not None
        xmpp = carol.xmpp

        async def forged() -> str:
            iq = xmpp.make_iq(ito=server.domain, itype="set")
            iq.append(payload("f1", server.jid("kari"), "falsk"))
            with pytest.raises(IqError) as err:
                await send_iq(iq)
            return error_condition(err.value.iq)

        conditions = await asyncio.gather(*(forged() for _ in range(FLOOD)))
        assert set(conditions) == {"forbidden"}
        await link.send_iq(server.domain, "set", payload("m1", server.jid("kari"), "ekte"))
        await until(lambda: inbox.bodies["ekte"] == 1, "the trusted message")
        assert inbox.bodies == {"ekte": 1}
        await carol.disconnect()
        await kari.disconnect()
        await server.stop()  # pending counts are logged at shutdown
        lines = server.log_path.read_text().splitlines()
    refusals = [line for line in lines if "delivery request from untrusted" in line]
    assert len(refusals) == 1, "\n".join(refusals[:10])
    summary = [line for line in lines if f"{FLOOD - 1} more refused delivery requests" in line]
    assert len(summary) == 1
    assert "1 sender(s)" in summary[0]


async def test_groupchat_is_refused_and_posted_by_entering_the_room(tmp_path: Path) -> None:
    """ejabberd's rooms cannot post under SAMTEK's nick for it: the module refuses groupchat
    (feature-not-implemented, <groupchat-unsupported/>), SAMTEK posts that message by
    entering the room, and chat messages stay confirmed (health stays clean)."""
    async with delivering(tmp_path) as (server, link):
        room = f"prosjekt@{server.muc_domain}"
        carol = Client(server, "carol", "desk")  # type: ignore[arg-type]
        said: list[tuple[str, str]] = []

        def heard(message: Message) -> None:
            if message["type"] == "groupchat":
                said.append((str(message["from"]), message["body"]))

        carol.xmpp.add_event_handler("message", heard)
        await carol.connect()
        try:
            await enter(carol, room, "carol", owner=True)
            request = payload("g1", room, "direkte", mtype="groupchat")
            with pytest.raises(IqError) as err:
                await link.send_iq(server.domain, "set", request)
            assert error_condition(err.value.iq) == "feature-not-implemented"
            assert err.value.iq.xml.find(f".//{{{NS}}}groupchat-unsupported") is not None

            muc = MucClient(link, server.muc_domain)
            assert await muc.post(room, "Møtet starter om 10 minutter", wait_seconds=20)
            await until(lambda: bool(said), "the room message")
            assert said == [(f"{room}/SAMTEK", "Møtet starter om 10 minutter")]
            kari, inbox = await online(server, "kari")
            link.send_message(server.jid("kari"), "hei")
            await until(lambda: link.outbox.confirmed == 1, "the chat message confirmed")
            await until(lambda: inbox.bodies["hei"] == 1, "the chat message")
            assert link.health.snapshot().item_errors == {}
            await kari.disconnect()
        finally:
            await carol.close()


async def test_the_component_cannot_speak_for_a_user(tmp_path: Path) -> None:
    """A <message from/> outside the component's own JIDs is replaced by the component's
    JID (as on Prosody): a trusted component still cannot forge a message from a user."""
    async with delivering(tmp_path) as (server, link):
        senders: list[tuple[str, str]] = []
        kari = TestClient(server.jid("kari"), PASSWORD, server.c2s_port)
        await kari.connect(on_message=lambda m: senders.append((m["body"], str(m["from"]))))
        for message_id, mfrom in [("f1", server.jid("carol")), ("f2", f"{link.jid}/rooms")]:
            request = payload(message_id, server.jid("kari"), message_id)
            request[0].set("from", mfrom)
            await link.send_iq(server.domain, "set", request)
        await until(lambda: len(senders) == 2, "both messages")
        assert sorted(senders) == [("f1", link.jid), ("f2", f"{link.jid}/rooms")]
        await kari.disconnect()
