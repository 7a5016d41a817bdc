"""Feeds parsed in worker processes: the same answer as in-process, problems included, and a
pool that survives a worker killed between or during parses, or stuck."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta

import pytest

from samtek.calendar import CalendarError
from samtek.calendar.ics import parse_feed
from samtek.calendar.pool import ParsePool
from samtek.model import TimeWindow

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
WINDOW = TimeWindow(NOW - timedelta(hours=24), NOW + timedelta(days=14))


def stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def feed(events: int = 3, broken: bool = False) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN"]
    for n in range(events):
        start = NOW + timedelta(hours=n)
        lines += [
            "BEGIN:VEVENT",
            f"UID:e{n}",
            f"DTSTART:{stamp(start)}",
            f"DTEND:{stamp(start + timedelta(minutes=30))}",
            f"SUMMARY:Møte {n}",
            "RRULE:FREQ=DAILY;COUNT=10",
            "END:VEVENT",
        ]
    if broken:
        lines += ["BEGIN:VEVENT", "UID:broken", "DTSTART:not-a-date", "END:VEVENT"]
    return ("\r\n".join([*lines, "END:VCALENDAR", ""])).encode()


async def test_parses_twice_with_the_in_process_answer_and_problems() -> None:
    pool = ParsePool(2)
    try:
        await pool.start()
        workers = pool.pids()
        assert len(workers) == 2
        for _ in range(3):  # the same workers, again and again
            events, problems = await pool.parse(feed(broken=True), WINDOW, "Europe/Oslo")
            assert (events, problems) == parse_feed(feed(broken=True), WINDOW, "Europe/Oslo")
            assert len(events) == 30 and [p.uid for p in problems] == ["broken"]
        assert pool.pids() == workers
    finally:
        await pool.aclose()
    assert all(not os.path.exists(f"/proc/{pid}") for pid in workers)


async def test_before_a_worker_is_ready_feeds_are_parsed_at_once_in_a_thread() -> None:
    pool = ParsePool(1)
    try:
        events, _ = await pool.parse(feed(), WINDOW, "Europe/Oslo")  # no worker yet
        assert len(events) == 30
        await pool.start()  # the first parse started one
        assert len(pool.pids()) == 1
    finally:
        await pool.aclose()


async def test_a_feed_refused_whole_is_its_calendar_error() -> None:
    pool = ParsePool(1)
    try:
        await pool.start()
        with pytest.raises(CalendarError, match="VCALENDAR"):
            await pool.parse(b"not a calendar", WINDOW, "Europe/Oslo")
        events, _ = await pool.parse(feed(), WINDOW, "Europe/Oslo")  # the worker lives on
        assert len(events) == 30
    finally:
        await pool.aclose()


async def test_a_killed_worker_is_replaced() -> None:
    pool = ParsePool(1)
    try:
        await pool.start()
        (first,) = pool.pids()
        os.kill(first, signal.SIGKILL)  # out of memory, or an operator
        with pytest.raises(CalendarError, match="parser process died"):
            await pool.parse(feed(), WINDOW, "Europe/Oslo")
        events, _ = await pool.parse(feed(), WINDOW, "Europe/Oslo")
        assert len(events) == 30
        await pool.start()
        assert len(pool.pids()) == 1 and pool.pids() != [first]
    finally:
        await pool.aclose()


async def test_a_stuck_worker_is_killed_and_replaced() -> None:
    # No CPU budget and a feed far costlier than the wall-time limit: the parse cannot end.
    pool = ParsePool(1, hang_seconds=0.01)
    try:
        await pool.start()
        with pytest.raises(CalendarError, match="did not finish"):
            await pool.parse(feed(events=2_000), WINDOW, "Europe/Oslo", None, 5_000, (), None)
        assert pool.pids() == []
    finally:
        await pool.aclose()
    pool = ParsePool(1)
    try:
        await pool.start()
        events, _ = await pool.parse(feed(), WINDOW, "Europe/Oslo")
        assert len(events) == 30
    finally:
        await pool.aclose()


async def test_workers_are_retired_after_their_share_of_feeds() -> None:
    pool = ParsePool(1, tasks_per_worker=2)
    try:
        await pool.start()
        first = pool.pids()
        await pool.parse(feed(), WINDOW, "Europe/Oslo")
        assert pool.pids() == first
        await pool.parse(feed(), WINDOW, "Europe/Oslo")
        assert pool.pids() == []  # retired after its second feed
        await pool.parse(feed(), WINDOW, "Europe/Oslo")
        await pool.start()
        assert len(pool.pids()) == 1 and pool.pids() != first
    finally:
        await pool.aclose()
