"""Graph calendar data as Microsoft 365 really sends it (issue 14, items 1 and 8): the
owner's reply (responseStatus, isOrganizer) and cancellations, non-IANA zone labels, and
one bad event costing only itself.

Shapes follow the Graph v1.0 event resource: responseStatus.response is one of none,
organizer, tentativelyAccepted, accepted, declined, notResponded; "none" is what Graph
reports for the organizer and, per its documentation, may stand for notResponded.
All instants are fixed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from connectors.graph import GraphConnector
from samtek.clock import FixedClock
from samtek.events import CalendarUpdate
from samtek.model import BusyStatus, TimeWindow
from samtek.store import Store
from tests.exchange.conftest import person, running, wait_for
from tests.exchange.test_graph import ALICE, NAME, connector
from tests.fakes.graph.server import FakeGraph
from tests.fakes.mailboxes import FakeOof

OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=OSLO)  # Thursday 3 December 2026, 09:00 in Oslo
WINDOW = TimeWindow(T0 - timedelta(days=1), T0 + timedelta(days=7))
EXPECTED = [
    ("Ubesvart", BusyStatus.TENTATIVE),  # notResponded: tentative, as Outlook shows it
    ("Ubesvart (none)", BusyStatus.TENTATIVE),  # "none" for an attendee = notResponded
    ("Kanskje", BusyStatus.TENTATIVE),
    ("Eget møte", BusyStatus.BUSY),  # organizer, reported as "none"
    ("Godtatt", BusyStatus.BUSY),
]


def at(hour: int, day: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=OSLO)


def fixed(conn: GraphConnector) -> GraphConnector:
    conn.clock = FixedClock(T0)
    return conn


def replies(graph: FakeGraph) -> None:
    add = graph.state.add_event
    add(ALICE, "Canceled: Budsjett", at(9), at(10), response="Accept", cancelled=True)
    add(ALICE, "Styremøte", at(10), at(11), response="Decline")
    add(ALICE, "Ubesvart", at(11), at(12), response="NoResponseReceived")
    add(ALICE, "Ubesvart (none)", at(12), at(13), response="Unknown", graph_response="none")
    add(ALICE, "Kanskje", at(13), at(14), response="Tentative")
    add(ALICE, "Eget møte", at(14), at(15), response="Organizer", graph_response="none")
    add(ALICE, "Godtatt", at(15), at(16), response="Accept")


async def test_reply_and_cancellation_decide_busy_in_calendar_view(
    graph: FakeGraph, store: Store
) -> None:
    replies(graph)
    conn = fixed(connector(graph, store))
    events = await conn.events(person("alice", NAME), WINDOW)
    assert [(e.subject, e.busy) for e in events] == EXPECTED


async def test_reply_and_cancellation_decide_busy_in_delta(graph: FakeGraph, store: Store) -> None:
    replies(graph)
    conn = fixed(connector(graph, store, ("alice",)))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        update = await wait_for(updates, lambda u: u.person_id == "alice")
    assert [(e.subject, e.busy) for e in update.events] == EXPECTED


async def test_zone_labels_resolved_or_the_event_alone_refused(
    graph: FakeGraph, store: Store
) -> None:
    add = graph.state.add_event
    add(ALICE, "Windows-sone", at(9), at(10), graph_zone="W. Europe Standard Time")
    custom = add(ALICE, "Egen sone", at(10), at(11), graph_zone="Customized Time Zone")
    tzone = add(ALICE, "tzone", at(11), at(12), graph_zone="tzone://Microsoft/Custom")
    friday = datetime(2026, 12, 4, tzinfo=OSLO)
    add(
        ALICE,
        "Kurs",
        friday,
        friday + timedelta(days=1),
        all_day=True,
        busy="WorkingElsewhere",
        graph_zone="Customized Time Zone",  # a date: the label does not matter
    )
    add(ALICE, "UTC", at(13), at(14))
    conn = fixed(connector(graph, store, ("alice",)))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        update = await wait_for(updates, lambda u: u.person_id == "alice")
    assert [(e.subject, e.start, e.end) for e in update.events] == [
        ("Windows-sone", at(9), at(10)),
        ("UTC", at(13), at(14)),
        ("Kurs", friday, friday + timedelta(days=1)),
    ]
    health = conn.ctx.health.snapshot()
    assert health.item_errors == {}  # the mailbox is fine; two events are not
    counts = health.item_counts[ALICE]
    assert counts.published == 3
    reasons = dict(r.split(": ", 1) for r in counts.reasons)
    assert set(reasons) == {custom.item_id, tzone.item_id}
    assert "Customized Time Zone" in reasons[custom.item_id]
    assert "Egen sone" not in reasons[custom.item_id]  # reasons never carry subjects


async def test_refused_event_recovers_when_fixed(graph: FakeGraph, store: Store) -> None:
    """A refused event is reported until a change makes it readable (delta round)."""
    bad = graph.state.add_event(ALICE, "Egen sone", at(10), at(11), graph_zone="tzone://x")
    conn = fixed(connector(graph, store, ("alice",), poll_interval_seconds=0.05))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        first = await wait_for(updates, lambda u: u.person_id == "alice")
        assert first.events == ()
        refused = conn.ctx.health.snapshot().item_counts[ALICE]
        assert [r.split(": ", 1)[0] for r in refused.reasons] == [bad.item_id]
        graph.state.update_event(ALICE, bad.item_id, graph_zone=None)
        fixed_update = await wait_for(updates, lambda u: len(u.events) == 1)
    assert [e.subject for e in fixed_update.events] == ["Egen sone"]
    assert conn.ctx.health.snapshot().item_counts[ALICE].refused == 0


async def test_automatic_replies_in_a_windows_zone(graph: FakeGraph, store: Store) -> None:
    """mailboxSettings gives scheduled times in the zone they were set in (a Windows name)."""
    start, end = at(8), at(0, day=7)
    oof = FakeOof("Scheduled", start, end, "På kurs", graph_zone="W. Europe Standard Time")
    graph.state.set_oof(ALICE, oof)
    conn = fixed(connector(graph, store))
    try:
        read = await conn.out_of_office(person("alice", NAME))
    finally:
        await conn.close()
    assert (read.enabled, read.start, read.end) == (True, start, end)
