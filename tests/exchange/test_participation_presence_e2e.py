"""End to end to a contact on the real Prosody (issue 14, item 8): a meeting cancelled by
its organiser but still marked busy in the attendee's calendar, and a declined one still
marked busy, give no "I møte"; an unanswered invitation shows as tentative, as in Outlook.

Kongsberg is on EWS, Notodden on Graph (fake servers driven by the real exchangelib and
MSAL + aiohttp code). Each person also has one event that gives a known, lower state, so
what the contact sees first is decided by the whole set and nothing waits for an absence.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from samtek.devserver.prosody import ProsodyServer
from tests.exchange.test_hybrid_presence_e2e import OWN, changes, write_config
from tests.fakes.ews.server import FakeEws
from tests.fakes.graph.server import FakeGraph
from tests.xmpp_clients import SeenPresence, TestClient

ALICE = "alice@kongsberg.test"
BOB = "bob@notodden.test"


async def test_cancelled_and_declined_meetings_still_marked_busy(
    prosody: ProsodyServer, samtek_service, ews: FakeEws, graph: FakeGraph, tmp_path: Path
) -> None:
    for name in ("alice", "bob", "carl"):
        prosody.add_user(name, "pw")
    for name in ("alice", "bob"):
        prosody.add_contact(name, prosody.jid("carl"))
        prosody.add_contact("carl", prosody.jid(name))
    await prosody.start()
    alice = TestClient(prosody.jid("alice"), "pw", prosody.c2s_port, status=OWN)
    bob = TestClient(prosody.jid("bob"), "pw", prosody.c2s_port, status=OWN)
    carl = TestClient(prosody.jid("carl"), "pw", prosody.c2s_port)
    for client in (alice, bob, carl):
        await client.connect()
    own: dict[str, SeenPresence] = {}
    async with asyncio.timeout(10):
        while len(own) < 2:
            seen = await carl.seen.get()
            if seen.sender.split("@")[0] in ("alice", "bob"):
                own.setdefault(seen.sender.split("@")[0], seen)

    # The service runs on real time, so the meetings are placed around the present.
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(minutes=5), now + timedelta(hours=1)
    for add, box in ((ews.state.add_event, ALICE), (graph.state.add_event, BOB)):
        # Exchange keeps a cancelled meeting in the attendee's calendar (subject prefixed
        # "Canceled: ") with the busy status it had, until the attendee removes it.
        add(box, "Canceled: Budsjett", start, end, response="Accept", cancelled=True)
        add(box, "Styremøte", start, end, response="Decline")
    # Alice: working elsewhere (lower than a meeting) is what remains.
    ews.state.add_event(ALICE, "Hjemmekontor", start, end, busy="WorkingElsewhere")
    # Bob: one invitation he has not answered (busy as sent by the organiser).
    graph.state.add_event(BOB, "Ubesvart", start, end, response="NoResponseReceived")
    await samtek_service(write_config(tmp_path, prosody, ews, graph)).start()

    seen = await changes(carl, own)
    a_seen, b_seen = seen["alice"], seen["bob"]
    assert a_seen.show == ""  # working elsewhere: available, not dnd
    assert a_seen.status.startswith("Jobber fra et annet sted")
    assert b_seen.show == "away"
    assert b_seen.status.startswith("Kanskje i møte til")
    for status in (a_seen.status, b_seen.status):
        assert "Budsjett" not in status and "Styremøte" not in status
    for client in (alice, bob, carl):
        await client.disconnect()
