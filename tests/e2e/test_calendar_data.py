"""Calendar data as it really is, end to end on a real Prosody (issue 14, items 1, 2, 6).

alice's feed carries a recurrence bomb, CMS junk lines and an event with an unreadable start
next to her current meeting, whose SUMMARY is folded inside an "ø" (Apple folds at 75
octets). carol's current meeting is an unanswered invitation that addresses her by a
urn:uuid: address with her e-mail in the EMAIL parameter (Apple). bob, their contact, must
see alice in the meeting with its subject intact, carol as tentative, and SAMTEK's health
must name what it refused.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from samtek.devserver.prosody import ProsodyServer
from tests.e2e.regions import write_config
from tests.xmpp_clients import TestClient

OSLO = ZoneInfo("Europe/Oslo")


def stamp(t: datetime) -> bytes:
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ").encode()


def calendar(*events: bytes) -> bytes:
    return b"\r\n".join(
        [b"BEGIN:VCALENDAR", b"VERSION:2.0", b"PRODID:-//e2e//EN", *events, b"END:VCALENDAR", b""]
    )


def vevent(*lines: bytes) -> bytes:
    return b"\r\n".join([b"BEGIN:VEVENT", *lines, b"END:VEVENT"])


def alice_feed(start: datetime, end: datetime) -> bytes:
    summary = 'SUMMARY;ALTREP="https://kongsberg.kommune.example/sak/2026-014":Budsjettmøte'
    raw = summary.encode()
    cut = raw.index("ø".encode()) + 1  # fold between the two octets of "ø"
    folded = raw[:cut] + b"\r\n " + raw[cut:]
    meeting = vevent(
        b"UID:budget",
        b"DTSTAMP:" + stamp(start),
        b"DTSTART:" + stamp(start),
        b"DTEND:" + stamp(end),
        b"</td></tr>",
        folded,
    )
    bomb = vevent(
        b"UID:bomb",
        b"DTSTAMP:20260101T000000Z",
        b"DTSTART:20010101T000000Z",
        b"DTEND:20010101T000001Z",
        b"RRULE:FREQ=SECONDLY",
    )
    broken = vevent(
        b"UID:broken", b"DTSTAMP:20260101T000000Z", b"DTSTART:i morgen", b"SUMMARY:Ukjent"
    )
    return calendar(bomb, meeting, broken)


def carol_feed(start: datetime, end: datetime) -> bytes:
    return calendar(
        vevent(
            b"UID:invite",
            b"DTSTAMP:" + stamp(start),
            b"DTSTART:" + stamp(start),
            b"DTEND:" + stamp(end),
            "SUMMARY:Planmøte".encode(),
            b'ORGANIZER;CN="Kari";EMAIL="kari@example.test":urn:uuid:6f1e0b8a-0c2b-4d57',
            b'ATTENDEE;CN="Carol";EMAIL="Carol@Example.TEST";PARTSTAT=NEEDS-ACTION;RSVP',
            b" =TRUE:urn:uuid:0b7a8c1d-2e3f-4a5b",
        )
    )


async def test_bad_events_cost_only_themselves_and_replies_show(
    prosody: ProsodyServer, samtek_service, tmp_path: Path
) -> None:
    for user in ("alice", "bob", "carol"):
        prosody.add_user(user, "pw")
    for user in ("alice", "carol"):
        prosody.add_contact(user, prosody.jid("bob"), subscription="both")
        prosody.add_contact("bob", prosody.jid(user), subscription="both")
    await prosody.start()
    # The connector's window follows the real clock: the meetings are running now.
    now = datetime.now(UTC).replace(microsecond=0)
    start, end = now - timedelta(minutes=5), now + timedelta(minutes=30)
    (tmp_path / "alice.ics").write_bytes(alice_feed(start, end))
    (tmp_path / "carol.ics").write_bytes(carol_feed(start, end))
    feeds = {"alice": tmp_path / "alice.ics", "carol": tmp_path / "carol.ics"}
    config = write_config(tmp_path, prosody, feeds, show_subject=True)
    email = 'name = "Carol"\nemail = "carol@example.test"'
    config.write_text(config.read_text().replace('name = "Carol"', email))
    clients = [TestClient(prosody.jid(u), "pw", prosody.c2s_port) for u in ("alice", "carol")]
    for client in clients:
        await client.connect()
    bob = TestClient(prosody.jid("bob"), "pw", prosody.c2s_port)
    await bob.connect()
    service = await samtek_service(config).start()

    until = end.astimezone(OSLO).strftime("%H:%M")
    seen = {}
    while len(seen) < 2:
        presence = await asyncio.wait_for(bob.seen.get(), 20)
        for user in ("alice", "carol"):
            if presence.sender.startswith(prosody.jid(user)) and presence.show:
                seen[user] = (presence.show, presence.status)
    assert seen["alice"] == ("dnd", f"I møte: Budsjettmøte (til {until})")
    assert seen["carol"] == ("away", f"Kanskje i møte: Planmøte (til {until})")

    counts = {
        item: c
        for health in service.supervisor.health().values()
        for item, c in health.snapshot().item_counts.items()
    }
    assert (counts["alice"].published, counts["alice"].refused) == (1, 2)
    reasons = "\n".join(counts["alice"].reasons)
    assert "event bomb: recurrence refused" in reasons
    assert "event broken: no usable DTSTART" in reasons
    assert "event budget: malformed iCalendar data: 1 line(s)" in reasons
    assert (counts["carol"].published, counts["carol"].refused) == (1, 0)
    for client in (*clients, bob):
        await client.disconnect()
