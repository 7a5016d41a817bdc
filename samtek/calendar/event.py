"""Step 6: one occurrence -> the CalendarEvent a person's presence is made of.

- End: DTEND, or DTSTART + DURATION where weeks and days are nominal (same wall-clock time)
  and hours, minutes and seconds exact (RFC 5545 §3.3.6): 23:00 CET + PT4H on the night
  clocks go forward ends at 04:00 CEST. recurring-ical-events adds durations on the wall
  clock, so `repair` keeps the written DURATION in an internal property for this step.
- Privacy: any CLASS other than PUBLIC (or none) hides the details (RFC 5545 §3.8.1.3: an
  unknown value is to be treated as PRIVATE).
- The person's reply: the ATTENDEE that is the person, matched on every address they have
  (the mailto: address in any letter case, the EMAIL parameter of RFC 7986 §6.2 used with
  urn:uuid: addresses, directory aliases); PARTSTAT maps to `Participation` and
  `busy_after_reply` decides (unanswered shows as tentative, as Outlook does; declined and
  delegated give no presence). Unknown PARTSTAT values count as NEEDS-ACTION (§3.2.12), and
  so does a missing one, except from Outlook: it writes no PARTSTAT in its exports and puts
  the person's reply into X-MICROSOFT-CDO-BUSYSTATUS (TENTATIVE until answered).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Component

from samtek.calendar.direct import Occurrence
from samtek.calendar.expand import aware
from samtek.calendar.repair import INTERNAL_PREFIX
from samtek.model import (
    BusyStatus,
    CalendarEvent,
    Participation,
    Sensitivity,
    busy_after_reply,
)

WRITTEN_DURATION = f"{INTERNAL_PREFIX}DURATION"
ZERO = timedelta(0)
_CDO_BUSY = {
    "FREE": BusyStatus.FREE,
    "TENTATIVE": BusyStatus.TENTATIVE,
    "BUSY": BusyStatus.BUSY,
    "OOF": BusyStatus.OOF,
    "WORKINGELSEWHERE": BusyStatus.ELSEWHERE,
}
_PARTSTAT = {
    "ACCEPTED": Participation.ACCEPTED,
    "TENTATIVE": Participation.TENTATIVE,
    "NEEDS-ACTION": Participation.NEEDS_ACTION,
    "DECLINED": Participation.DECLINED,
    "DELEGATED": Participation.DELEGATED,
}
_MEETING_URL_PROPS = (
    "X-MICROSOFT-SKYPETEAMSMEETINGURL",
    "X-GOOGLE-CONFERENCE",
    "X-SAMTEK-VIDEO-URL",
    "URL",
)
_DURATION = re.compile(
    r"^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE
)


def to_event(
    occurrence: Component | Occurrence,
    tz: ZoneInfo,
    addresses: frozenset[str],
    recurring: set[str],
) -> CalendarEvent | None:
    """The occurrence as the person lives it, or None when it gives them no presence: a
    component from recurring-ical-events, or one from `direct` (its times given apart)."""
    direct = occurrence if isinstance(occurrence, Occurrence) else None
    component = direct.component if direct is not None else occurrence
    assert isinstance(component, Component)
    if str(component.get("STATUS", "")).upper() == "CANCELLED":
        return None
    busy = busy_after_reply(_busy(component), reply(component, addresses))
    if busy is None:
        return None
    dtstart = direct.start if direct is not None else component.get("DTSTART").dt
    all_day = not isinstance(dtstart, datetime)
    start = aware(dtstart, tz)
    dtend = direct.end if direct is not None else _end_value(component)
    end = _end(component, dtend, start, all_day, tz)
    uid = str(component.get("UID", ""))
    # The library stamps every occurrence with a RECURRENCE-ID; only series have one.
    recurrence_id: date | None = None
    if uid in recurring:
        recurrence_id = direct.recurrence_id if direct is not None else _dt(component)
    return CalendarEvent(
        uid=uid or f"no-uid-{start.isoformat()}",
        start=start,
        end=max(end, start),
        busy=busy,
        sensitivity=sensitivity(component),
        all_day=all_day,
        subject=_text(component, "SUMMARY"),
        location=_text(component, "LOCATION"),
        online_meeting_url=next(
            (str(component[p]) for p in _MEETING_URL_PROPS if component.get(p)), None
        ),
        recurrence_id=aware(recurrence_id, tz) if recurrence_id is not None else None,
    )


def sensitivity(component: Component) -> Sensitivity:
    value = str(component.get("CLASS", "PUBLIC")).strip().upper()
    if value == "PUBLIC":
        return Sensitivity.NORMAL
    return Sensitivity.CONFIDENTIAL if value == "CONFIDENTIAL" else Sensitivity.PRIVATE


def reply(component: Component, addresses: frozenset[str]) -> Participation | None:
    """The person's own reply, ORGANIZER for their own meetings, None if not addressed."""
    if not addresses:
        return None
    partstat: Participation | None = None
    for attendee in _as_list(component.get("ATTENDEE")):
        if _is_person(attendee, addresses):
            written = attendee.params.get("PARTSTAT")
            if written is None and component.get("X-MICROSOFT-CDO-BUSYSTATUS") is not None:
                break  # Outlook writes no PARTSTAT; its busy status already is the reply
            written = str(written or "NEEDS-ACTION").strip().upper()  # the default, §3.2.12
            partstat = _PARTSTAT.get(written, Participation.NEEDS_ACTION)
            break
    organizer = component.get("ORGANIZER")
    if organizer is not None and _is_person(organizer, addresses):
        # Organisers appear as attendees too (Google, Apple); only a decline changes anything.
        return partstat if partstat is Participation.DECLINED else Participation.ORGANIZER
    return partstat


def addresses_of(email: str | None, aliases: Iterable[str] = ()) -> frozenset[str]:
    """The normalised addresses a person is known by."""
    return frozenset(n for n in (_normal(a) for a in (email, *aliases) if a) if n)


def exact_end(start: datetime, written: str) -> datetime | None:
    """DTSTART + DURATION: days and weeks nominal, then hours/minutes/seconds exact."""
    parts = _duration(written)
    if parts is None:
        return None
    nominal = start + parts[0]  # aware + timedelta: wall-clock arithmetic
    if not parts[1]:
        return nominal
    return (nominal.astimezone(UTC) + parts[1]).astimezone(start.tzinfo)


def _duration(written: str) -> tuple[timedelta, timedelta] | None:
    """(nominal, exact) parts of an RFC 5545 §3.3.6 duration."""
    match = _DURATION.match(written.strip())
    if match is None:
        return None
    sign = -1 if match.group(1) == "-" else 1
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups()[1:])
    return (
        sign * timedelta(weeks=weeks, days=days),
        sign * timedelta(hours=hours, minutes=minutes, seconds=seconds),
    )


def _end(
    component: Component, value: date | None, start: datetime, all_day: bool, tz: ZoneInfo
) -> datetime:
    library_end = aware(value, tz) if value is not None else None
    written = component.get(WRITTEN_DURATION)
    parts = _duration(str(written)) if written is not None else None
    # The library's end is the written DURATION on the wall clock, unless the occurrence has
    # a length of its own (an RDATE period): then that one is kept.
    if parts is not None and (library_end is None or library_end == start + sum(parts, ZERO)):
        end = exact_end(start, str(written))
        if end is not None:
            return end
    if library_end is not None:
        return _repair_gap(start, library_end)
    # RFC 5545 §3.6.1: a DATE start lasts one day, a DATE-TIME start no time at all
    return start + (timedelta(days=1) if all_day else timedelta(0))


def _repair_gap(start: datetime, end: datetime) -> datetime:
    """An occurrence starting in a spring-forward gap (02:30 on the DST night) gets its end
    by wall-clock arithmetic and can end up no later than it starts; keep its length."""
    wall = end.replace(tzinfo=None) - start.replace(tzinfo=None)
    if wall > timedelta(0) and end.astimezone(UTC) <= start.astimezone(UTC):
        return (start.astimezone(UTC) + wall).astimezone(start.tzinfo)
    return end


def _dt(component: Component) -> Any:
    recurrence_id = component.get("RECURRENCE-ID")
    return recurrence_id.dt if recurrence_id is not None else None  # raises when broken


def _end_value(component: Component) -> date | None:
    try:
        value = getattr(component.get("DTEND"), "dt", None)
    except ValueError:  # broken DTEND: fall back to the default length
        return None
    return value if isinstance(value, date) else None


def _busy(component: Component) -> BusyStatus:
    cdo = component.get("X-MICROSOFT-CDO-BUSYSTATUS")
    if cdo is not None and str(cdo).upper() in _CDO_BUSY:
        return _CDO_BUSY[str(cdo).upper()]
    if str(component.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return BusyStatus.FREE
    if str(component.get("STATUS", "")).upper() == "TENTATIVE":
        return BusyStatus.TENTATIVE
    return BusyStatus.BUSY


def _is_person(address: Any, addresses: frozenset[str]) -> bool:
    params = getattr(address, "params", {})
    email = params.get("EMAIL") if hasattr(params, "get") else None
    return _normal(str(address)) in addresses or (
        email is not None and _normal(str(email)) in addresses
    )


def _normal(address: str) -> str:
    address = address.strip().strip('"').strip()
    if address[:7].lower() == "mailto:":
        address = address[7:]
    return address.strip().lower()


def _as_list(value: Any) -> Iterable[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(component: Component, name: str) -> str | None:
    value = component.get(name)
    return str(value).strip() or None if value is not None else None
