"""iCalendar (RFC 5545) text -> the CalendarEvents of one window, for one person.

Shared by every connector that receives ICS (iCal feeds, CalDAV). CPU-bound and synchronous:
callers run it in an executor. What real exports throw at it, and what happens:

- Outlook's Windows zone names ("W. Europe Standard Time") are rewritten to IANA names from
  CLDR's windowsZones table before parsing, so the tz database (with its history) is used
  rather than the one-rule VTIMEZONE Outlook writes; unknown TZIDs fall back to the file's
  VTIMEZONE, then to the person's zone.
- X-WR-TIMEZONE (Google, Apple) says how to read UTC and floating times; remaining floating
  times and DATE values are in the person's zone.
- Lines that are not content lines are dropped; a VEVENT without a usable DTSTART is skipped.
- EXDATE/RDATE/RECURRENCE-ID overrides come from recurring-ical-events; cancelled instances,
  STATUS:CANCELLED events and events the person declined are left out.
- Recurrence bombs: a series whose expansion would cost more than `MAX_SERIES_COST` rule
  iterations up to the window end, or more than `MAX_SERIES_INSTANCES` in the window, is
  refused before expanding it, as are series beyond `MAX_CALENDAR_COST` for the whole
  calendar (all in samtek/ics_guard.py); only the window is expanded, and at most
  `max_instances` occurrences in total.

Problems that cost single events (dropped lines, unusable events, refused series): a caller
that passes a `problems` list gets the remaining events and the problems appended there (to
show in its health); without one, the first such problem raises CalendarError, so nothing is
lost silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurring_ical_events
import x_wr_timezone
from icalendar import Calendar, Component

from samtek.calendar import CalendarError
from samtek.ics_guard import aware, drop_unusable, sanitise, vevents
from samtek.ics_prefilter import prefilter
from samtek.model import BusyStatus, CalendarEvent, Sensitivity, TimeWindow

DEFAULT_MAX_INSTANCES = 5_000
_SLACK = timedelta(days=1)  # floating times may sit up to ~14 h either side of UTC

_CDO_BUSY = {
    "FREE": BusyStatus.FREE,
    "TENTATIVE": BusyStatus.TENTATIVE,
    "BUSY": BusyStatus.BUSY,
    "OOF": BusyStatus.OOF,
    "WORKINGELSEWHERE": BusyStatus.ELSEWHERE,
}
_CLASS = {"PRIVATE": Sensitivity.PRIVATE, "CONFIDENTIAL": Sensitivity.CONFIDENTIAL}
_MEETING_URL_PROPS = (
    "X-MICROSOFT-SKYPETEAMSMEETINGURL",
    "X-GOOGLE-CONFERENCE",
    "X-SAMTEK-VIDEO-URL",
    "URL",
)


def parse_calendar(data: bytes, problems: list[str] | None = None) -> Calendar:
    try:
        calendar = Calendar.from_ical(sanitise(data, problems))
    except (ValueError, IndexError, KeyError) as exc:
        raise CalendarError(f"malformed iCalendar data: {exc}") from exc
    if not isinstance(calendar, Calendar):
        raise CalendarError("malformed iCalendar data: no VCALENDAR")
    try:
        # Google exports: X-WR-TIMEZONE says how to read UTC/floating times.
        standard: Calendar = x_wr_timezone.to_standard(calendar)
        return standard
    except (ValueError, KeyError, ZoneInfoNotFoundError) as exc:
        raise CalendarError(f"bad X-WR-TIMEZONE: {exc}") from exc


def parse_events(
    data: bytes,
    window: TimeWindow,
    timezone: str,
    attendee_email: str | None = None,
    max_instances: int = DEFAULT_MAX_INSTANCES,
    problems: list[str] | None = None,
) -> list[CalendarEvent]:
    """The person's events overlapping `window`; floating and DATE values use `timezone`."""
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown person timezone {timezone!r}") from exc
    # Single events far outside the window never reach the slow parser (measured 4x cheaper
    # on a year-long feed); anything uncertain is kept for it.
    data, _dropped = prefilter(data, window)
    calendar = parse_calendar(data, problems)
    drop_unusable(calendar, window, tz, problems)
    recurring = {
        str(c.get("UID", ""))
        for c in vevents(calendar)
        if any(c.get(p) is not None for p in ("RRULE", "RDATE", "RECURRENCE-ID"))
    }
    events: list[CalendarEvent] = []
    try:
        query = recurring_ical_events.of(calendar, skip_bad_series=True)
        # between() is much cheaper than after(): dateutil skips to the window without
        # building occurrences. The guards above bound what it can return.
        occurrences = query.between(window.start - _SLACK, window.end + _SLACK)
        if len(occurrences) > max_instances:
            raise CalendarError(
                f"{len(occurrences)} occurrences in the window"
                f" {window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}, more than {max_instances}"
                " (a recurrence rule that repeats too often?)"
            )
        for component in occurrences:
            event = _to_event(component, tz, attendee_email, recurring)
            if event is not None and window.overlaps(event.start, event.end):
                events.append(event)
    except CalendarError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
        raise CalendarError(f"cannot expand recurrences: {exc}") from exc
    events.sort(key=lambda e: (e.start, e.end, e.key))
    return events


# --- guards that run before expansion ----------------------------------------------------


# --- one occurrence -> CalendarEvent -----------------------------------------------------


def _to_event(
    component: Component, tz: ZoneInfo, attendee_email: str | None, recurring: set[str]
) -> CalendarEvent | None:
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return None
    partstat = _partstat(component, attendee_email)
    if partstat == "DECLINED":
        return None
    dtstart = component.get("DTSTART").dt
    all_day = not isinstance(dtstart, datetime)
    start = aware(dtstart, tz)
    dtend = _end_value(component)
    if dtend is not None:
        end = aware(dtend, tz)
    elif component.get("DURATION") is not None:
        end = start + component.get("DURATION").dt
    else:  # RFC 5545 §3.6.1: a DATE start lasts one day, a DATE-TIME start no time at all
        end = start + (timedelta(days=1) if all_day else timedelta(0))
    end = _repair_gap(start, end)
    uid = str(component.get("UID", ""))
    # The library stamps every occurrence with a RECURRENCE-ID; only series have one.
    recurrence_id = component.get("RECURRENCE-ID") if uid in recurring else None
    return CalendarEvent(
        uid=uid or f"no-uid-{start.isoformat()}",
        start=start,
        end=max(end, start),
        busy=_busy(component, partstat),
        sensitivity=_CLASS.get(str(component.get("CLASS", "PUBLIC")).upper(), Sensitivity.NORMAL),
        all_day=all_day,
        subject=_text(component, "SUMMARY"),
        location=_text(component, "LOCATION"),
        online_meeting_url=next(
            (str(component[p]) for p in _MEETING_URL_PROPS if component.get(p)), None
        ),
        recurrence_id=aware(recurrence_id.dt, tz) if recurrence_id is not None else None,
    )


def _repair_gap(start: datetime, end: datetime) -> datetime:
    """An occurrence starting in a spring-forward gap (02:30 on the DST night) gets its end
    by wall-clock arithmetic and can end up no later than it starts; keep its length."""
    wall = end.replace(tzinfo=None) - start.replace(tzinfo=None)
    if wall > timedelta(0) and end.astimezone(UTC) <= start.astimezone(UTC):
        return (start.astimezone(UTC) + wall).astimezone(start.tzinfo)
    return end


def _end_value(component: Component) -> date | None:
    try:
        value = getattr(component.get("DTEND"), "dt", None)
    except ValueError:  # broken DTEND: fall back to DURATION or the default length
        return None
    return value if isinstance(value, date) else None


def _busy(component: Component, partstat: str | None) -> BusyStatus:
    cdo = component.get("X-MICROSOFT-CDO-BUSYSTATUS")
    if cdo is not None and str(cdo).upper() in _CDO_BUSY:
        return _CDO_BUSY[str(cdo).upper()]
    if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return BusyStatus.FREE
    if partstat == "TENTATIVE" or str(component.get("STATUS", "")).upper() == "TENTATIVE":
        return BusyStatus.TENTATIVE
    return BusyStatus.BUSY


def _partstat(component: Component, email: str | None) -> str | None:
    if not email:
        return None
    for attendee in _as_list(component.get("ATTENDEE")):
        if str(attendee).lower().removeprefix("mailto:").strip() == email.lower():
            return str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    return None


def _as_list(value: Any) -> Iterable[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(component: Component, name: str) -> str | None:
    value = component.get(name)
    return str(value).strip() or None if value is not None else None
