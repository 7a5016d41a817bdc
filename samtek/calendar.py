"""The capability every calendar connector offers (iCal, CalDAV, EWS, Graph).

The runtime publishes `CalendarUpdate`s from each connector's own change detection; these
request/response methods serve the chat assistant and room meetings.
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
