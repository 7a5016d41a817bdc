"""iCalendar (RFC 5545) text -> the CalendarEvents of one window, for one person.

Shared by every connector that receives ICS (iCal feeds, CalDAV). CPU-bound and synchronous:
callers run it in an executor. Expansion is lazy and bounded, so an RRULE without end or a
FREQ=SECONDLY rule costs at most `max_instances` occurrences, never a hang.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import recurring_ical_events
import x_wr_timezone
from icalendar import Calendar, Component

from samtek.calendar import CalendarError
from samtek.model import BusyStatus, CalendarEvent, Sensitivity, TimeWindow

DEFAULT_MAX_INSTANCES = 5_000

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


def parse_calendar(data: bytes) -> Calendar:
    try:
        calendar = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise CalendarError(f"malformed iCalendar data: {exc}") from exc
    if not isinstance(calendar, Calendar):
        raise CalendarError("malformed iCalendar data: no VCALENDAR")
    try:
        # Google exports: X-WR-TIMEZONE says how to read UTC/floating times.
        return x_wr_timezone.to_standard(calendar)
    except (ValueError, KeyError) as exc:
        raise CalendarError(f"bad X-WR-TIMEZONE: {exc}") from exc


def parse_events(
    data: bytes,
    window: TimeWindow,
    timezone: str,
    attendee_email: str | None = None,
    max_instances: int = DEFAULT_MAX_INSTANCES,
) -> list[CalendarEvent]:
    """The person's events overlapping `window`; floating and DATE values use `timezone`."""
    calendar = parse_calendar(data)
    tz = ZoneInfo(timezone)
    # Floating times are compared in the person's zone: hand naive bounds to the library.
    query = recurring_ical_events.of(calendar, skip_bad_series=True)
    events: list[CalendarEvent] = []
    try:
        for count, component in enumerate(query.after(window.start)):
            if count >= max_instances:
                raise CalendarError(
                    f"more than {max_instances} occurrences in the window"
                    f" {window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}; refusing the rest"
                    " (a recurrence rule that repeats too often?)"
                )
            start = _aware(component.get("DTSTART").dt, tz)
            if start >= window.end:
                break
            event = _to_event(component, tz, attendee_email)
            if event is not None and window.overlaps(event.start, event.end):
                events.append(event)
    except CalendarError:
        raise
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise CalendarError(f"cannot expand recurrences: {exc}") from exc
    return events


def _to_event(
    component: Component, tz: ZoneInfo, attendee_email: str | None
) -> CalendarEvent | None:
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return None
    partstat = _partstat(component, attendee_email)
    if partstat == "DECLINED":
        return None
    dtstart = component.get("DTSTART").dt
    all_day = not isinstance(dtstart, datetime)
    start = _aware(dtstart, tz)
    dtend = component.get("DTEND")
    if dtend is not None:
        end = _aware(dtend.dt, tz)
    elif component.get("DURATION") is not None:
        end = start + component.get("DURATION").dt
    else:  # RFC 5545 §3.6.1: a DATE start lasts one day, a DATE-TIME start no time at all
        end = start + (timedelta(days=1) if all_day else timedelta(0))
    recurrence_id = component.get("RECURRENCE-ID")
    return CalendarEvent(
        uid=str(component.get("UID", "")) or f"no-uid-{start.isoformat()}",
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
        recurrence_id=_aware(recurrence_id.dt, tz) if recurrence_id is not None else None,
    )


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
    attendees = component.get("ATTENDEE", [])
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        if str(attendee).lower().removeprefix("mailto:") == email.lower():
            return str(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper()
    return None


def _text(component: Component, name: str) -> str | None:
    value = component.get(name)
    return str(value).strip() or None if value is not None else None


def _aware(value: date | datetime, tz: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=tz)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
