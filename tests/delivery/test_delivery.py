"""Chat messages from SAMTEK arrive once each, also when the component stream dies
mid-burst (mod_samtek_deliver on a real Prosody); without the module they still arrive."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from slixmpp.stanza import Message

from samtek.devserver.prosody import ProsodyServer
from samtek.health import HealthReporter
from samtek.xmpp.delivery import NS
from samtek.xmpp.link import NotConnected, XmppLink
from tests.rooms.helpers import xmpp_section
from tests.xmpp_clients import TestClient

WAIT = 20.0
PASSWORD = "pw"
ServerFactory = Callable[..., ProsodyServer]


@pytest.fixture
def make_server() -> ServerFactory:
    """`make_server(deliver=...)`: the XMPP server under test (tests/ejabberd/ runs these
    tests unchanged against ejabberd by overriding this fixture)."""
    return ProsodyServer


class Inbox:
    def __init__(self) -> None:
        self.bodies: Counter[str] = Counter()

    def __call__(self, message: Message) -> None:
        if message["type"] in ("chat", "normal") and message["body"]:
            self.bodies[message["body"]] += 1

    async def wait_for(self, count: int) -> None:
        for _ in range(int(WAIT / 0.05)):
            if len(self.bodies) >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"only {len(self.bodies)} of {count} messages arrived")


@contextlib.asynccontextmanager
async def supervised(link: XmppLink) -> AsyncIterator[None]:
    """Reconnect after every lost stream, as the supervisor does (no backoff needed here)."""

    async def forever() -> None:
        while True:
            with contextlib.suppress(NotConnected):
                await link.run()
            await asyncio.sleep(0.1)

    task = asyncio.create_task(forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(predicate: Callable[[], bool], what: str) -> None:
    for _ in range(int(WAIT / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out: {what}")


@pytest.mark.parametrize("deliver", [True, False], ids=["module", "no-module"])
async def test_burst_survives_a_dead_stream(
    deliver: bool, tmp_path: Path, make_server: ServerFactory
) -> None:
    prosody = make_server(deliver=deliver)
    prosody.add_user("kari", PASSWORD)
    await prosody.start()
    try:
        inbox = Inbox()
        kari = TestClient(prosody.jid("kari"), PASSWORD, prosody.c2s_port)
        await kari.connect(on_message=inbox)
        link = XmppLink(xmpp_section(prosody, tmp_path), HealthReporter("xmpp"))
        async with supervised(link):
            await until(lambda: link.connected, "component connected")
            for n in range(100):
                link.send_message(prosody.jid("kari"), f"melding {n}")
                if n == 40:
                    await asyncio.sleep(0)  # some are in flight now
                    assert link._xmpp is not None
                    link._xmpp.abort()  # the stream dies mid-burst, unannounced
            if deliver:
                await inbox.wait_for(100)
                await until(lambda: link.outbox.waiting == 0, "every message confirmed")
                assert set(inbox.bodies.values()) == {1}, "a message was shown twice"
                assert link.health.snapshot().item_errors == {}
            else:
                # At most once: what was in the dead stream is lost, the rest arrives, and
                # health says why.
                await until(lambda: link.outbox.waiting == 0, "every message sent")
                await asyncio.sleep(0.5)
                assert set(inbox.bodies.values()) <= {1}
                assert "mod_samtek_deliver is not loaded" in str(link.health.snapshot().item_errors)
        await kari.disconnect()
    finally:
        await prosody.stop()
        prosody.cleanup()


async def test_the_module_shows_a_repeated_id_once(
    tmp_path: Path, make_server: ServerFactory
) -> None:
    prosody = make_server(deliver=True)
    prosody.add_user("kari", PASSWORD)
    await prosody.start()
    try:
        inbox = Inbox()
        kari = TestClient(prosody.jid("kari"), PASSWORD, prosody.c2s_port)
        await kari.connect(on_message=inbox)
        link = XmppLink(xmpp_section(prosody, tmp_path), HealthReporter("xmpp"))
        async with supervised(link):
            await until(lambda: link.connected, "component connected")
            for _ in range(3):  # a re-send after a lost confirmation carries the same id
                await link.send_iq(prosody.domain, "set", deliver("same-id", prosody.jid("kari")))
            await link.send_iq(prosody.domain, "set", deliver("other-id", prosody.jid("kari")))
            await inbox.wait_for(1)
            await asyncio.sleep(0.3)
        assert inbox.bodies == {"hei": 2}  # one per id
        await kari.disconnect()
    finally:
        await prosody.stop()
        prosody.cleanup()


def deliver(message_id: str, to: str) -> ET.Element:
    payload = ET.Element(f"{{{NS}}}deliver", id=message_id)
    message = ET.SubElement(payload, "{jabber:client}message", to=to, type="chat")
    ET.SubElement(message, "{jabber:client}body").text = "hei"
    return payload
