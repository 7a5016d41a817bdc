"""One bad event never costs a person their calendar (issue 14 item 1, issue 13 item 13).

The iCal connector runs as in the service on local feed files: the good events are published,
every refused or broken item is in health with its UID and reason, and health counts what
each feed published and refused. Hostile feeds are refused by cheap counting, before parsing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from samtek.health import HealthReporter, HealthState
from samtek.store import Store, open_store
from tests.e2e.regions import ics_meeting
from tests.ical.test_feed_errors import person, run_connector

# The connector's window follows the real clock (it has no injected clock yet).
NOW = datetime.now(UTC).replace(microsecond=0)
WAIT = 30.0  # a guard against hangs, not a latency bound


def stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def calendar(*events: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kommune//feed//NO\r\n"
    return (head + "\r\n".join(events) + "\r\nEND:VCALENDAR\r\n").encode()


GOOD = ics_meeting("good-1", NOW + timedelta(hours=1), NOW + timedelta(hours=2))
BOMB = "\r\n".join(
    [
        "BEGIN:VEVENT",
        "UID:bomb-1",
        "DTSTAMP:20260101T000000Z",
        "DTSTART:20010101T000000Z",
        "DTEND:20010101T000001Z",
        "RRULE:FREQ=SECONDLY",
        "END:VEVENT",
    ]
)
JUNK = ics_meeting("junk-1", NOW + timedelta(hours=3), NOW + timedelta(hours=4)).replace(
    "\r\nSUMMARY:",
    "\r\n</td></tr>\r\n;;;\r\nSUMMARY:",  # CMS remnants after DTEND
)
BROKEN = "\r\n".join(
    ["BEGIN:VEVENT", "UID:broken-1", "DTSTAMP:20260101T000000Z", "DTSTART:tomorrow", "END:VEVENT"]
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path}/s.db") as s:
        yield s


async def until(health: HealthReporter, item: str) -> None:
    async with asyncio.timeout(WAIT):
        while item not in health.snapshot().item_counts:
            await asyncio.sleep(0.05)


async def test_a_bomb_and_junk_cost_only_themselves(store: Store, tmp_path: Path) -> None:
    feed = tmp_path / "alice.ics"
    feed.write_bytes(calendar(GOOD, BOMB, JUNK, BROKEN))
    task, updates, health = await run_connector([person("alice", str(feed))], store)
    try:
        update = await asyncio.wait_for(updates.__anext__(), WAIT)
        assert update.person_id == "alice"
        assert [e.uid for e in update.events] == ["good-1", "junk-1"]
        await until(health, "alice")
        counts = health.snapshot().item_counts["alice"]
        assert (counts.published, counts.refused) == (2, 2)
        reasons = "\n".join(counts.reasons)
        assert "event bomb-1: recurrence refused: FREQ=SECONDLY" in reasons
        assert "event broken-1: no usable DTSTART" in reasons
        assert "event junk-1: malformed iCalendar data: 2 line(s)" in reasons
        error = health.snapshot().item_errors["alice"]
        assert "2 event(s) published, 2 refused" in error and "bomb-1" in error
        assert health.state is HealthState.DEGRADED
        # fixed at the source: the feed is healthy again
        feed.write_bytes(calendar(GOOD))
        update = await asyncio.wait_for(updates.__anext__(), WAIT)
        assert [e.uid for e in update.events] == ["good-1"]
        assert health.snapshot().item_errors == {}
        assert health.snapshot().item_counts["alice"].refused == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def exdates(count: int) -> str:
    """A daily series with `count` EXDATEs, one per line (what a careless sync tool writes)."""
    first = datetime(2001, 1, 1, 9, tzinfo=UTC)
    lines = [f"EXDATE:{stamp(first + timedelta(days=i))}" for i in range(count)]
    return "\r\n".join(
        [
            "BEGIN:VEVENT",
            "UID:exdates-1",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{stamp(first)}",
            "DURATION:PT30M",
            "RRULE:FREQ=DAILY",
            *lines,
            "END:VEVENT",
        ]
    )


def overrides(count: int) -> str:
    first = NOW.replace(hour=9, minute=0, second=0) - timedelta(days=count)
    series = "\r\n".join(
        [
            "BEGIN:VEVENT",
            "UID:series-1",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{stamp(first)}",
            "DURATION:PT30M",
            "RRULE:FREQ=DAILY",
            "END:VEVENT",
        ]
    )
    moved = (
        f"BEGIN:VEVENT\r\nUID:series-1\r\nDTSTAMP:20260101T000000Z\r\n"
        f"RECURRENCE-ID:{stamp(first + timedelta(days=i))}\r\n"
        f"DTSTART:{stamp(first + timedelta(days=i, hours=1))}\r\nDURATION:PT30M\r\n"
        "SUMMARY:Flyttet\r\nEND:VEVENT"
        for i in range(count)
    )
    return "\r\n".join([series, *moved])


async def test_hostile_feeds_are_refused_before_parsing(store: Store, tmp_path: Path) -> None:
    """200,000 EXDATEs cost only their series; 100,000 overrides (15 MB) the feed, while the
    last good state stays published (bench/ics_hostile.py measures the CPU and memory)."""
    many_exdates = tmp_path / "exdates.ics"
    many_exdates.write_bytes(calendar(GOOD, exdates(200_000)))
    many_overrides = tmp_path / "overrides.ics"
    many_overrides.write_bytes(calendar(GOOD))
    people = [person("ex", str(many_exdates)), person("ov", str(many_overrides))]
    task, updates, health = await run_connector(people, store, max_bytes=20 * 1024 * 1024)
    try:
        first = {}
        async with asyncio.timeout(WAIT):
            while len(first) < 2:
                update = await updates.__anext__()
                first[update.person_id] = [e.uid for e in update.events]
        assert first == {"ex": ["good-1"], "ov": ["good-1"]}
        await until(health, "ex")
        counts = health.snapshot().item_counts["ex"]
        assert (counts.published, counts.refused) == (1, 1)
        assert "event exdates-1: refused: more than 5,000 properties" in counts.reasons[0]
        many_overrides.write_bytes(calendar(GOOD, overrides(100_000)))
        async with asyncio.timeout(WAIT):
            while "ov" not in health.snapshot().item_errors:
                await asyncio.sleep(0.05)
        error = health.snapshot().item_errors["ov"]
        assert re.search(r"refused: [\d,]+ (lines|components), more than [\d,]+$", error)
        assert updates.queue.empty()  # nothing republished: contacts keep the last good state
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
