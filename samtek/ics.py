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
  calendar; only the window is expanded, and at most `max_instances` occurrences in total.

Problems that cost single events (dropped lines, unusable events, refused series): a caller
that passes a `problems` list gets the remaining events and the problems appended there (to
show in its health); without one, the first such problem raises CalendarError, so nothing is
lost silently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurring_ical_events
import structlog
import x_wr_timezone
from icalendar import Calendar, Component

from samtek.calendar import CalendarError
from samtek.model import BusyStatus, CalendarEvent, Sensitivity, TimeWindow

try:  # CLDR windowsZones.xml, generated into icalendar (version and date in that module)
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
except ImportError:  # pragma: no cover - an icalendar without it: the zones Norway meets
    WINDOWS_TO_OLSON = {
        "W. Europe Standard Time": "Europe/Berlin",
        "Romance Standard Time": "Europe/Paris",
        "Central Europe Standard Time": "Europe/Budapest",
        "Central European Standard Time": "Europe/Warsaw",
        "GMT Standard Time": "Europe/London",
        "FLE Standard Time": "Europe/Kiev",
        "UTC": "Etc/UTC",
    }
# Outlook/Exchange spellings that are not Windows zone ids.
_MS_ALIASES = {"tzone://Microsoft/Utc": "Etc/UTC", "Coordinated Universal Time": "Etc/UTC"}

log = structlog.get_logger("samtek.ics")

DEFAULT_MAX_INSTANCES = 5_000
MAX_SERIES_INSTANCES = 1_000  # occurrences of one series inside the window
MAX_SERIES_COST = 200_000  # rule iterations (periods x BY* expansion) from DTSTART to window end
MAX_CALENDAR_COST = 1_000_000  # the same, summed over one calendar's series (~4 s worst case)
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
_PERIOD_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3_600,
    "DAILY": 86_400,
    "WEEKLY": 7 * 86_400,
    "MONTHLY": 28 * 86_400,
    "YEARLY": 365 * 86_400,
}
_BY_PARTS = ("BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY",
             "BYWEEKNO", "BYMONTH")

# name *(";" param) ":" value, params possibly quoted (RFC 5545 §3.1).
_PARAM = r'[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*'
_CONTENT_LINE = re.compile(rf"^[A-Za-z0-9-]+(?:;{_PARAM})*:")
_MS_UTC_UNQUOTED = re.compile(r";TZID=tzone://Microsoft/Utc:", re.IGNORECASE)
_TZID_PARAM = re.compile(r'(;TZID=)(?:"([^"]*)"|([^";:]*))', re.IGNORECASE)


def _windows_zone(name: str) -> str | None:
    name = name.strip().strip('"')
    return WINDOWS_TO_OLSON.get(name) or _MS_ALIASES.get(name)


def _sanitise(data: bytes, problems: list[str] | None) -> bytes:
    """Drop non-content lines and rewrite Windows zone names to IANA ones."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # older Outlook/Lotus exports: Windows-1252
        text = data.decode("cp1252", errors="replace")
        log.info("ics not UTF-8, read as Windows-1252")  # costs no event: not a problem
    text = text.lstrip("\ufeff")
    text = re.sub(r"\r?\n[ \t]", "", text)  # unfold (RFC 5545 §3.1)
    lines: list[str] = []
    dropped = 0
    for line in re.split(r"\r?\n|\r", text):
        if not line.strip():
            continue
        if not _CONTENT_LINE.match(line):
            dropped += 1
            continue
        if line.upper().startswith("TZID:"):
            olson = _windows_zone(line[5:].replace("\\,", ","))
            line = f"TZID:{olson}" if olson else line
        else:
            # Exchange may write this alias unquoted although it contains a colon.
            line = _MS_UTC_UNQUOTED.sub(";TZID=Etc/UTC:", line)
            line = _TZID_PARAM.sub(_rewrite_tzid, line)
        lines.append(line)
    if not any(line.upper().startswith("BEGIN:VCALENDAR") for line in lines):
        start = text[:60].strip().replace("\r", " ").replace("\n", " ")
        raise CalendarError(
            f"malformed iCalendar data: no BEGIN:VCALENDAR (it starts with {start!r})"
        )
    if not lines[-1].upper().startswith("END:VCALENDAR"):
        raise CalendarError("malformed iCalendar data: truncated (no END:VCALENDAR at the end)")
    if dropped:
        _problem(problems, f"malformed iCalendar data: {dropped} line(s) are not content lines")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _rewrite_tzid(match: re.Match[str]) -> str:
    name = match.group(2) if match.group(2) is not None else match.group(3)
    olson = _windows_zone(name)
    return f"{match.group(1)}{olson}" if olson else match.group(0)


def parse_calendar(data: bytes, problems: list[str] | None = None) -> Calendar:
    try:
        calendar = Calendar.from_ical(_sanitise(data, problems))
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
    calendar = parse_calendar(data, problems)
    _drop_unusable(calendar, window, tz, problems)
    recurring = {
        str(c.get("UID", ""))
        for c in _vevents(calendar)
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


def _drop_unusable(
    calendar: Calendar, window: TimeWindow, tz: ZoneInfo, problems: list[str] | None
) -> None:
    """Remove VEVENTs without a usable DTSTART, and whole series that are recurrence bombs."""
    refused: set[str] = set()
    budget = float(MAX_CALENDAR_COST)
    for component in _vevents(calendar):
        uid = str(component.get("UID", "")) or "(no UID)"
        value = _start_value(component)
        if not isinstance(value, date):
            _problem(problems, f"event {uid}: no usable DTSTART ({_broken_reason(component)})")
            _remove(calendar, component)
            continue
        try:
            cost, reason = _bomb_reason(component, _aware(value, tz), window, tz)
        except (ValueError, TypeError) as exc:  # icalendar raises on access to a broken RRULE
            cost, reason = 0.0, f"unreadable RRULE ({exc})"
        if reason is None and budget - cost < 0:
            reason = f"the calendar's expansion budget ({MAX_CALENDAR_COST:,} iterations) is spent"
        if reason is None:
            budget -= cost
        else:
            refused.add(uid)
            _problem(problems, f"event {uid}: recurrence refused: {reason}")
    for component in _vevents(calendar):
        if str(component.get("UID", "")) in refused:  # the series and its overrides
            _remove(calendar, component)


def _bomb_reason(
    component: Component, start: datetime, window: TimeWindow, tz: ZoneInfo
) -> tuple[float, str | None]:
    """(estimated iterations, why the series is refused or None)."""
    total = 0.0
    rules = component.get("RRULE")
    for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
        freq = str((rule.get("FREQ") or [""])[0]).upper()
        if freq not in _PERIOD_SECONDS:
            return 0.0, f"unknown FREQ {freq!r}"
        interval = max(1, int((rule.get("INTERVAL") or [1])[0]))
        period = _PERIOD_SECONDS[freq] * interval
        expansion = math.prod(len(rule.get(part) or [None]) for part in _BY_PARTS)
        until = (rule.get("UNTIL") or [None])[0]
        last = window.end
        if until is not None:
            last = min(last, _aware(until, start.tzinfo or window.end.tzinfo or tz))
        cost = max(0.0, (last - start).total_seconds()) / period * expansion
        count = (rule.get("COUNT") or [None])[0]
        if count is not None and expansion == 1:
            cost = min(cost, float(count))
        span = max(0.0, (min(last, window.end) - max(start, window.start)).total_seconds())
        in_window = span / period * expansion
        if count is not None:
            in_window = min(in_window, float(count))
        if cost > MAX_SERIES_COST:
            return cost, (f"FREQ={freq} from {start:%Y-%m-%d} needs ~{cost:,.0f} iterations "
                          f"(limit {MAX_SERIES_COST:,})")
        if in_window > MAX_SERIES_INSTANCES:
            return cost, (f"FREQ={freq} gives ~{in_window:,.0f} occurrences in the window "
                          f"(limit {MAX_SERIES_INSTANCES:,})")
        total += cost
    return total, None


def _start_value(component: Component) -> date | None:
    dtstart = component.get("DTSTART")
    try:
        value = getattr(dtstart, "dt", None)  # a broken property raises on access
    except ValueError:
        return None
    return value if isinstance(value, date) else None


def _vevents(calendar: Calendar) -> list[Component]:
    return [c for c in calendar.subcomponents if c.name == "VEVENT"]


def _remove(calendar: Calendar, component: Component) -> None:
    calendar.subcomponents = [c for c in calendar.subcomponents if c is not component]


def _broken_reason(component: Component) -> str:
    reasons = [f"{name}: {error}" for name, error in getattr(component, "errors", [])]
    return "; ".join(reasons) or "missing"


def _problem(problems: list[str] | None, text: str) -> None:
    if problems is None:
        raise CalendarError(text)
    log.warning("ics problem", problem=text)
    problems.append(text)


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
    start = _aware(dtstart, tz)
    dtend = _end_value(component)
    if dtend is not None:
        end = _aware(dtend, tz)
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
        recurrence_id=_aware(recurrence_id.dt, tz) if recurrence_id is not None else None,
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


def _aware(value: date | datetime, tz: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=tz)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
