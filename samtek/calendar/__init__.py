"""Calendars: the capability every calendar connector offers (iCal, CalDAV, EWS, Graph), and
the path from iCalendar (RFC 5545) bytes to one person's events, one module per step:

- `read`: bytes -> content lines (unfold the octets, then decode line by line), counted
  against cheap limits before anything expensive runs;
- `repair`: exporter damage (raw line breaks in text, several VCALENDARs, lost END lines)
  -> component blocks, refusing absurd ones; `zones` maps Outlook's Windows zone names;
- `filter`: drop single events that provably miss the window;
- `parse`: each block on its own, so a broken event costs only itself;
- `expand`: recurrence, bounded (bombs refused before they run);
- `event`: one occurrence -> a CalendarEvent (duration, privacy, the person's reply);
- `ics.parse_events` runs them in order; `report` carries what each item cost.

The runtime publishes `CalendarUpdate`s from each connector's own change detection; the
request/response methods below serve the chat assistant and room meetings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from samtek.model import BusyBlock, CalendarEvent, Person, TimeWindow


@dataclass(frozen=True, slots=True)
class MeetingRequest:
    organiser: Person
    attendees: tuple[Person, ...]
    subject: str
    start: datetime
    end: datetime
    body: str | None = None
    location: str | None = None
    online_meeting_url: str | None = None


class CalendarError(Exception):
    """A calendar source failed for a clear reason (shown to admins and in health)."""


@runtime_checkable
class CalendarSource(Protocol):
    async def events(self, person: Person, window: TimeWindow) -> list[CalendarEvent]:
        """The person's events overlapping `window` (recurrences expanded)."""
        ...

    async def free_busy(
        self, people: Sequence[Person], window: TimeWindow
    ) -> dict[str, list[BusyBlock]]:
        """Busy blocks per person id (batched by the connector as its server allows)."""
        ...


@runtime_checkable
class MeetingWriter(Protocol):
    async def create_meeting(self, request: MeetingRequest) -> str:
        """Create the meeting in the organiser's calendar and invite attendees; returns its uid."""
        ...
