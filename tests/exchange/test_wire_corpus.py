"""Verbatim payloads written from Microsoft's documented formats (tests/exchange/corpus/),
served by the fake servers and read through the real exchangelib and aiohttp code. The
expected results are the ones written in each corpus file's header."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from samtek.clock import FixedClock
from samtek.events import CalendarUpdate
from samtek.model import BusyStatus
from samtek.store import Store
from tests.exchange import test_ews, test_graph
from tests.exchange.conftest import running, wait_for
from tests.fakes.ews.server import FakeEws
from tests.fakes.graph.server import FakeGraph

CORPUS = Path(__file__).parent / "corpus"
OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=OSLO)


def at(hour: int, day: int = 3) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=OSLO)


async def test_ews_corpus(ews: FakeEws, store: Store) -> None:
    lines = (CORPUS / "ews_finditem_items.xml").read_text("utf-8").splitlines()
    ews.state.box(test_ews.ALICE).raw_ews.extend(
        line for line in lines if line.startswith("<t:CalendarItem>")
    )
    conn = test_ews.connector(ews, store, ("alice",))
    conn.clock = FixedClock(T0)
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        update = await wait_for(updates, lambda u: u.person_id == "alice")
    assert [(e.subject, e.busy, e.start, e.end) for e in update.events] == [
        ("Ny rutine", BusyStatus.TENTATIVE, at(12), at(13)),
        ("Lesetid", BusyStatus.BUSY, at(16), at(17)),
        ("Fri", BusyStatus.OOF, at(0, day=4), at(0, day=5)),
    ]
    counts = conn.ctx.health.snapshot().item_counts[test_ews.ALICE]
    assert counts.published == 3
    assert [r.split(": ", 1)[0] for r in counts.reasons] == ["AAMkADUwLWJyb2tlbg=="]


async def test_graph_corpus(graph: FakeGraph, store: Store) -> None:
    payload = json.loads((CORPUS / "graph_calendarview_events.json").read_text("utf-8"))
    graph.state.box(test_graph.ALICE).raw_graph.extend(payload["value"])
    conn = test_graph.connector(graph, store, ("alice",))
    conn.clock = FixedClock(T0)
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        update = await wait_for(updates, lambda u: u.person_id == "alice")
        window = conn.window()
        view = await conn.events(conn.ctx.directory.people()["alice"], window)
    expected = [
        ("Plan", BusyStatus.BUSY, at(13), at(14)),
        ("Ny rutine", BusyStatus.TENTATIVE, at(15), at(16)),
        ("Windows-sone", BusyStatus.BUSY, at(16), at(17)),
    ]
    assert [(e.subject, e.busy, e.start, e.end) for e in update.events] == expected
    assert [(e.subject, e.busy, e.start, e.end) for e in view] == expected  # calendarView too
    counts = conn.ctx.health.snapshot().item_counts[test_graph.ALICE]
    assert counts.published == 3
    assert {r.split(": ", 1)[0] for r in counts.reasons} == {"AAMkAGcustom", "AAMkAGnostart"}
