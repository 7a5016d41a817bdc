"""iCalendar (RFC 5545) bytes -> the CalendarEvents of one window, for one person.

Shared by every connector that receives ICS (iCal feeds, CalDAV). CPU-bound and synchronous:
callers run it in an executor. The steps, one module each (see the package docstring):
read -> repair -> filter -> parse -> expand -> event.

One bad event never costs the calendar: a caller that passes a `problems` list gets every
event that could be read, and one `Problem` per refused or damaged item (with its UID and the
reason) to show in its health. Without a list, the first problem raises CalendarError, so
nothing is lost silently. The whole calendar is refused only when it is no calendar, is cut
off, or is larger or costlier than any real one (`read` limits, `cpu_seconds`).
"""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from samtek.calendar import CalendarError
from samtek.calendar.event import addresses_of, to_event
from samtek.calendar.expand import expand, uid_of, vevents
from samtek.calendar.filter import filter_sections
from samtek.calendar.parse import parse_sections
from samtek.calendar.read import read_lines
from samtek.calendar.repair import repair
from samtek.calendar.report import ITEM_ERRORS, CpuBudget, Problem, problem
from samtek.model import CalendarEvent, TimeWindow

DEFAULT_MAX_INSTANCES = 5_000
DEFAULT_CPU_SECONDS = 3.0  # a 500-event feed costs ~40 ms; a hostile one is stopped here

__all__ = [
    "DEFAULT_CPU_SECONDS",
    "DEFAULT_MAX_INSTANCES",
    "Problem",
    "parse_events",
    "parse_feed",
]


def parse_feed(
    data: bytes,
    window: TimeWindow,
    timezone: str,
    attendee_email: str | None = None,
    max_instances: int = DEFAULT_MAX_INSTANCES,
    aliases: Iterable[str] = (),
    cpu_seconds: float | None = DEFAULT_CPU_SECONDS,
) -> tuple[list[CalendarEvent], list[Problem]]:
    """`parse_events` collecting its problems, returned with the events: for a worker
    process, where a `problems` list passed in would be a copy nobody reads."""
    problems: list[Problem] = []
    events = parse_events(
        data, window, timezone, attendee_email, max_instances, problems, aliases, cpu_seconds
    )
    return events, problems


def parse_events(
    data: bytes,
    window: TimeWindow,
    timezone: str,
    attendee_email: str | None = None,
    max_instances: int = DEFAULT_MAX_INSTANCES,
    problems: list[Problem] | None = None,
    aliases: Iterable[str] = (),
    cpu_seconds: float | None = DEFAULT_CPU_SECONDS,
    *,
    direct: bool = True,
) -> list[CalendarEvent]:
    """The person's events overlapping `window`; floating and DATE values use `timezone`.
    `attendee_email` and `aliases` are the person's addresses (for their replies).
    `direct=False` sends every event through recurring-ical-events (the reference that the
    direct expansion of plain events is tested against)."""
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown person timezone {timezone!r}") from exc
    budget = CpuBudget(cpu_seconds)
    sections = repair(read_lines(data, budget), problems, budget)
    # Events and series far outside the window never reach the slow parser (a year-long
    # 500-event feed: 57 -> 36 ms); anything uncertain is kept for it.
    filter_sections(sections, window)
    calendar = parse_sections(sections, problems, budget)
    occurrences = expand(calendar, window, tz, max_instances, problems, budget, direct)
    recurring = {
        str(c.get("UID", ""))
        for c in vevents(calendar)
        if any(c.get(p) is not None for p in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    addresses = addresses_of(attendee_email, aliases)
    events: list[CalendarEvent] = []
    failed: set[str] = set()
    for number, component in enumerate(occurrences):
        if number % 500 == 0:
            budget.check("building events")
        uid = uid_of(component) or "(no UID)"
        try:
            event = to_event(component, tz, addresses, recurring)
        except ITEM_ERRORS as exc:
            if uid not in failed:  # once per series, not per occurrence
                failed.add(uid)
                problem(problems, Problem(f"unreadable occurrence ({type(exc).__name__})", uid))
            continue
        if event is not None and window.overlaps(event.start, event.end):
            events.append(event)
    events.sort(key=lambda e: (e.start, e.end, e.key))
    return events
