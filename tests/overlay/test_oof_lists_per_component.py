"""mod_samtek_oof keeps one OOF list per component: with several SAMTEK instances, each
lists only the people of its partitions, and one instance's list must not replace
another's (real Prosody, two trusted components)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from xml.etree import ElementTree as ET

import pytest
import slixmpp
from slixmpp.stanza import Message
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from samtek.devserver.prosody import ProsodyServer, lua_str
from tests.overlay.helpers import PASSWORD, Client, Component, recorder

NS = "urn:samtek:oof:0"
UNTIL = "4102444800"  # 2100-01-01: far beyond any test run


class NamedComponent(Component):
    """The overlay tests' component, under another component JID."""

    def __init__(self, server: ProsodyServer, jid: str) -> None:
        super().__init__(server)
        self.jid = jid
        self.xmpp = slixmpp.ComponentXMPP(  # type: ignore[no-untyped-call]
            jid, server.component_secret, "127.0.0.1", server.component_port
        )
        self.xmpp.register_handler(
            Callback(
                "record message",
                MatchXPath("{jabber:component:accept}message"),
                recorder(self.messages),
            )
        )

    async def oof_list(self, *users: str) -> None:
        payload = ET.Element(f"{{{NS}}}oof")
        for user in users:
            ET.SubElement(payload, f"{{{NS}}}user", jid=user, until=UNTIL)
        iq = self.xmpp.make_iq(ito=self.server.domain, ifrom=self.jid, itype="set")
        iq.append(payload)
        await iq.send(timeout=10)  # type: ignore[no-untyped-call]


@pytest.fixture
async def prosody() -> AsyncIterator[ProsodyServer]:
    server = ProsodyServer(oof=True)
    second = f"samtek2.{server.domain}"
    trusted = f"{lua_str(server.component_jid)}, {lua_str(second)}"
    server.extra_host_config = (
        f"\tsamtek_oof_trusted = {{ {trusted} }}\n"
        f"\nComponent {lua_str(second)}\n\tcomponent_secret = {lua_str(server.component_secret)}\n"
    )
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()


def hit_for(to: str) -> Callable[[Message], bool]:
    def matches(message: Message) -> bool:
        hit = message.xml.find(f"{{{NS}}}oof-hit")
        return hit is not None and hit.attrib.get("to") == to

    return matches


async def test_each_instance_keeps_its_own_oof_list(prosody: ProsodyServer) -> None:
    for user in ("anna", "kari", "per"):
        prosody.add_user(user, PASSWORD)
    await prosody.start()
    first = NamedComponent(prosody, prosody.component_jid)
    second = NamedComponent(prosody, f"samtek2.{prosody.domain}")
    anna = Client(prosody, "anna", "phone")
    try:
        await first.connect()
        await second.connect()
        await anna.connect()
        await first.oof_list(prosody.jid("kari"))  # instance 1 serves kari
        await second.oof_list(prosody.jid("per"))  # instance 2 serves per

        mark = first.messages.mark()
        anna.xmpp.send_message(mto=slixmpp.JID(prosody.jid("kari")), mbody="Hei Kari", mtype="chat")
        await first.messages.wait_for(hit_for(prosody.jid("kari")), mark, "hit for kari")

        # Instance 1 now lists nobody: the next hit is per's, none for kari comes first.
        await first.oof_list()
        mark = first.messages.mark()
        anna.xmpp.send_message(
            mto=slixmpp.JID(prosody.jid("kari")), mbody="Hei igjen", mtype="chat"
        )
        anna.xmpp.send_message(mto=slixmpp.JID(prosody.jid("per")), mbody="Hei Per", mtype="chat")
        hit = await first.messages.wait_for(
            lambda m: m.xml.find(f"{{{NS}}}oof-hit") is not None, mark, "an oof hit"
        )
        assert hit_for(prosody.jid("per"))(hit)
    finally:
        await anna.close()
        await first.close()
        await second.close()
