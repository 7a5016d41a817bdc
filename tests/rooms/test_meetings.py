"""Meeting reminders: moved meetings move their timer, cancelled ones post nothing, a
reminder due while the service was down is posted if the meeting has not started, and each
occurrence is reminded once (the store's claim)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bridges.rooms.meetings import MeetingScheduler
from bridges.rooms.settings import RoomsSection
from bridges.rooms.spec import Room, RoomSpec
from bridges.rooms.video import VideoLinks
from samtek.clock import Clock
from samtek.model import BusyBlock, CalendarEvent, CalendarRef, Person, TimeWindow
from samtek.store import open_store

LEAD_SECONDS = 1.0


class Calendar:
    """A CalendarSource holding events in memory (stands in for a connector instance)."""

    def __init__(self) -> None:
        self.items: list[CalendarEvent] = []

    async def events(self, person: Person, window: TimeWindow) -> list[CalendarEvent]:
        return [e for e in self.items if window.overlaps(e.start, e.end)]

    async def free_busy(
        self, people: Sequence[Person], window: TimeWindow
    ) -> dict[str, list[BusyBlock]]:
        return {}


def room() -> Room:
    spec = RoomSpec.model_validate(
        {"id": "r", "name": "R", "owners": ["kari"], "calendar": {"source": "cal", "address": "a"}}
    )
    return Room(
        spec, "r@conference.test", frozenset(), frozenset(), Path("r.toml"), CalendarRef("cal", "a")
    )


def event(uid: str, start: datetime) -> CalendarEvent:
    return CalendarEvent(uid=uid, start=start, end=start + timedelta(minutes=30), subject=uid)


@pytest.mark.clock_sensitive
async def test_moved_cancelled_late_and_once(clock: Clock) -> None:
    settings = RoomsSection.model_validate({"spec_dir": "x", "reminder_minutes": LEAD_SECONDS / 60})
    posts: list[tuple[str, str]] = []
    calendar = Calendar()
    now = clock.now()
    moved, cancelled, late = (
        event("moved", now + timedelta(seconds=1.5)),
        event("cancelled", now + timedelta(seconds=1.5)),
        event("late", now + timedelta(seconds=0.5)),  # its reminder time has passed
    )
    calendar.items = [moved, cancelled, late]
    async with open_store("sqlite:///:memory:") as store:
        scheduler = MeetingScheduler(
            settings,
            store,
            VideoLinks(settings, clock),
            lambda r, text: posts.append((r, text)),
            lambda: True,
            clock,
        )
        await scheduler.refresh([room()], {"cal": calendar})
        # before the first timer fires: move one meeting, cancel the other
        calendar.items = [event("moved", now + timedelta(seconds=2.5)), late]
        await scheduler.refresh([room()], {"cal": calendar})
        await asyncio.sleep(2.0)  # past the moved reminder (1.5 s from start)
        await scheduler.refresh([room()], {"cal": calendar})  # again: nothing is re-posted
        await asyncio.sleep(0.1)
        scheduler.close()
    texts = sorted(text.split("«")[1].split("»")[0] for _, text in posts)
    assert texts == ["late", "moved"]
