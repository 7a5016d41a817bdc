"""Events that connectors publish on the bus and bridges consume."""

from __future__ import annotations

from dataclasses import dataclass

from samtek.model import CalendarEvent, OutOfOffice, Show, TimeWindow


@dataclass(frozen=True, slots=True)
class CalendarUpdate:
    """The complete set of a person's events within `window`, as one source sees it now.

    Complete, not a delta: a consumer replaces what it had for (source, person, window),
    so a moved or cancelled event disappears without a separate message.
    """

    source: str
    person_id: str
    window: TimeWindow
    events: tuple[CalendarEvent, ...]


@dataclass(frozen=True, slots=True)
class OutOfOfficeUpdate:
    source: str
    person_id: str
    oof: OutOfOffice


@dataclass(frozen=True, slots=True)
class ManualPresenceChange:
    """A user changed their status by hand while an overlay was shown (reported by the server)."""

    jid: str
    show: Show
    status: str | None
    dismissed_transition: str
