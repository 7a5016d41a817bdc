"""Out-of-office auto-replies follow the mailbox's external audience (EWS and Graph).

The fake servers hold each mailbox's automatic replies, read through the real exchangelib
and Graph client code; the replies go out through a real Prosody with mod_samtek_oof.
Alice (EWS) answers outsiders she knows (ExternalAudience Known), Bob (Graph) everyone
(externalAudience all), Carol (EWS) no outsider (None). Anna is in the directory; "friend"
and "stranger" are accounts on the server outside it, friend in everyone's roster.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from exchangelib.settings import OofSettings

from connectors.ews.mapping import to_oof as ews_oof
from connectors.graph.mapping import to_oof as graph_oof
from samtek.devserver.prosody import ProsodyServer
from samtek.model import ExternalAudience, OutOfOffice
from tests.assistant.chat_client import ChatClient
from tests.conftest import RunningService
from tests.exchange.test_hybrid_presence_e2e import write_config
from tests.fakes.ews.server import FakeEws
from tests.fakes.graph.server import FakeGraph
from tests.fakes.mailboxes import FakeOof

INTERNAL = {"alice": "Intern A: ring 1234.", "bob": "Intern B.", "carol": "Intern C."}
EXTERNAL = {"alice": "Ekstern A.", "bob": "Ekstern B.", "carol": "Ekstern C."}
CAROL = """
[[people]]
id = "carol"
jid = "{jid}"
name = "Carol Onprem"
municipality = "kongsberg"
calendars = [{{ address = "carol@kongsberg.test" }}]
oof_autoreply = true

[[people]]
id = "anna"
jid = "{anna}"
name = "Anna Berg"
municipality = "kongsberg"
"""


@pytest.fixture
async def oof_prosody() -> AsyncIterator[ProsodyServer]:
    server = ProsodyServer(oof=True)
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()


def region(tmp_path: Path, prosody: ProsodyServer, ews: FakeEws, graph: FakeGraph) -> Path:
    path = write_config(tmp_path, prosody, ews, graph)
    text = path.read_text().replace(
        'calendars = [{ address = "alice@kongsberg.test" }]',
        'calendars = [{ address = "alice@kongsberg.test" }]\noof_autoreply = true',
    )
    text = text.replace(
        'calendars = [{ address = "bob@notodden.test" }]',
        'calendars = [{ address = "bob@notodden.test" }]\noof_autoreply = true',
    )
    path.write_text(text + CAROL.format(jid=prosody.jid("carol"), anna=prosody.jid("anna")))
    return path


async def replies(client: ChatClient, sender: str, count: int) -> list[str]:
    return [await client.next_reply(sender=sender) for _ in range(count)]


async def test_outsiders_get_the_external_text_only_as_the_audience_allows(
    oof_prosody: ProsodyServer,
    samtek_service: type[RunningService],
    ews: FakeEws,
    graph: FakeGraph,
    tmp_path: Path,
) -> None:
    prosody = oof_prosody
    away = ("alice", "bob", "carol")
    for name in (*away, "anna", "friend", "stranger"):
        prosody.add_user(name, "pw")
    for name in away:
        prosody.add_contact(name, prosody.jid("friend"))
    await prosody.start()
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(hours=1), now + timedelta(days=3)
    for name, mailbox, state, audience in (
        ("alice", ews.state, "Scheduled", "Known"),
        ("bob", graph.state, "Scheduled", "All"),
        ("carol", ews.state, "Enabled", "None"),
    ):
        domain = "notodden" if name == "bob" else "kongsberg"
        oof = FakeOof(state, start, end, INTERNAL[name], EXTERNAL[name], audience)
        mailbox.set_oof(f"{name}@{domain}.test", oof)
    await samtek_service(region(tmp_path, prosody, ews, graph)).start()

    def client(name: str) -> ChatClient:
        return ChatClient(prosody.jid(name), "pw", prosody.c2s_port, prosody.component_jid)

    anna, friend, stranger = client("anna"), client("friend"), client("stranger")
    for c in (anna, friend, stranger):
        await c.connect()
    jid = {name: prosody.jid(name) for name in away}
    try:
        # Until the component has read the mailboxes and told the server, no reply comes.
        async with asyncio.timeout(20):
            while anna.inbox.qsize() < 3:
                for name in away:
                    anna.say("Hei", to=jid[name])
                await asyncio.sleep(0.2)
        # In the directory: the internal text, from everyone.
        internal = sorted(await replies(anna, prosody.component_jid, 3))
        for name in away:
            assert sum(INTERNAL[name] in text for text in internal) == 1, internal
        assert not any(text in reply for reply in internal for text in EXTERNAL.values())

        # Not in the directory, but a contact: Alice (Known) and Bob (All) answer externally.
        for name in away:
            friend.say("Hi", to=jid[name])
        external = sorted(await replies(friend, prosody.component_jid, 2))
        assert external == ["Automatisk svar: Ekstern A.", "Automatisk svar: Ekstern B."]
        # A stranger: only Bob (All) answers, with the external text.
        for name in away:
            stranger.say("Hi", to=jid[name])
        assert await stranger.next_reply() == "Automatisk svar: Ekstern B."
        await asyncio.sleep(1.0)  # any further (wrong) auto-reply would have come by now
        assert friend.inbox.empty() and stranger.inbox.empty()
    finally:
        for c in (anna, friend, stranger):
            await c.disconnect()


@pytest.mark.parametrize(
    ("graph", "ews", "audience"),
    [
        ("none", "None", ExternalAudience.NONE),
        ("contactsOnly", "Known", ExternalAudience.KNOWN),
        ("all", "All", ExternalAudience.ALL),
        ("somethingNew", "SomethingNew", ExternalAudience.NONE),  # unknown: nobody outside
    ],
)
def test_external_audience_is_read_from_both_apis(
    graph: str, ews: str, audience: ExternalAudience
) -> None:
    setting = {
        "status": "alwaysEnabled",
        "externalAudience": graph,
        "internalReplyMessage": "inn",
        "externalReplyMessage": "ut",
    }
    assert graph_oof(setting) == OutOfOffice(True, None, None, "inn", "ut", audience)
    settings = OofSettings(
        state=OofSettings.ENABLED, internal_reply="inn", external_reply="ut", external_audience=ews
    )
    assert ews_oof(settings) == OutOfOffice(True, None, None, "inn", "ut", audience)
