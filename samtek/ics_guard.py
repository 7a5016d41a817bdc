"""Defences applied to ICS text before it is expanded (used by samtek.ics).

- Text: undecodable bytes, lines that are not content lines, Outlook's Windows zone names
  (rewritten to IANA names from CLDR's windowsZones table, so the tz database is used).
- Events: a VEVENT without a usable DTSTART is removed; a recurring series whose expansion
  would be too costly (a "recurrence bomb") is removed with its overrides, by estimating the
  rule's iterations before dateutil ever runs it.

Each problem goes to the caller's `problems` list, or raises CalendarError when there is none.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

import structlog
from icalendar import Calendar, Component

from samtek.calendar import CalendarError
from samtek.model import TimeWindow

log = structlog.get_logger("samtek.ics")

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

MAX_SERIES_INSTANCES = 1_000  # occurrences of one series inside the window
MAX_SERIES_COST = 200_000  # rule iterations (periods x BY* expansion) from DTSTART to window end
MAX_CALENDAR_COST = 1_000_000  # the same, summed over one calendar's series (~4 s worst case)
_PERIOD_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3_600,
    "DAILY": 86_400,
    "WEEKLY": 7 * 86_400,
    "MONTHLY": 28 * 86_400,
    "YEARLY": 365 * 86_400,
}
_BY_PARTS = (
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
)

# name *(";" param) ":" value, params possibly quoted (RFC 5545 §3.1).
_PARAM = r'[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*'
_CONTENT_LINE = re.compile(rf"^[A-Za-z0-9-]+(?:;{_PARAM})*:")
_MS_UTC_UNQUOTED = re.compile(r";TZID=tzone://Microsoft/Utc:", re.IGNORECASE)
_TZID_PARAM = re.compile(r'(;TZID=)(?:"([^"]*)"|([^";:]*))', re.IGNORECASE)


def _windows_zone(name: str) -> str | None:
    name = name.strip().strip('"')
    return WINDOWS_TO_OLSON.get(name) or _MS_ALIASES.get(name)


def sanitise(data: bytes, problems: list[str] | None) -> bytes:
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
        problem(problems, f"malformed iCalendar data: {dropped} line(s) are not content lines")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _rewrite_tzid(match: re.Match[str]) -> str:
    name = match.group(2) if match.group(2) is not None else match.group(3)
    olson = _windows_zone(name)
    return f"{match.group(1)}{olson}" if olson else match.group(0)


def drop_unusable(
    calendar: Calendar, window: TimeWindow, tz: ZoneInfo, problems: list[str] | None
) -> None:
    """Remove VEVENTs without a usable DTSTART, and whole series that are recurrence bombs."""
    refused: set[str] = set()
    budget = float(MAX_CALENDAR_COST)
    for component in vevents(calendar):
        uid = str(component.get("UID", "")) or "(no UID)"
        value = start_value(component)
        if not isinstance(value, date):
            problem(problems, f"event {uid}: no usable DTSTART ({_broken_reason(component)})")
            _remove(calendar, component)
            continue
        try:
            cost, reason = _bomb_reason(component, aware(value, tz), window, tz)
        except (ValueError, TypeError) as exc:  # icalendar raises on access to a broken RRULE
            cost, reason = 0.0, f"unreadable RRULE ({exc})"
        if reason is None and budget - cost < 0:
            reason = f"the calendar's expansion budget ({MAX_CALENDAR_COST:,} iterations) is spent"
        if reason is None:
            budget -= cost
        else:
            refused.add(uid)
            problem(problems, f"event {uid}: recurrence refused: {reason}")
    for component in vevents(calendar):
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
            last = min(last, aware(until, start.tzinfo or window.end.tzinfo or tz))
        cost = max(0.0, (last - start).total_seconds()) / period * expansion
        count = (rule.get("COUNT") or [None])[0]
        if count is not None and expansion == 1:
            cost = min(cost, float(count))
        span = max(0.0, (min(last, window.end) - max(start, window.start)).total_seconds())
        in_window = span / period * expansion
        if count is not None:
            in_window = min(in_window, float(count))
        if cost > MAX_SERIES_COST:
            return cost, (
                f"FREQ={freq} from {start:%Y-%m-%d} needs ~{cost:,.0f} iterations "
                f"(limit {MAX_SERIES_COST:,})"
            )
        if in_window > MAX_SERIES_INSTANCES:
            return cost, (
                f"FREQ={freq} gives ~{in_window:,.0f} occurrences in the window "
                f"(limit {MAX_SERIES_INSTANCES:,})"
            )
        total += cost
    return total, None


def start_value(component: Component) -> date | None:
    dtstart = component.get("DTSTART")
    try:
        value = getattr(dtstart, "dt", None)  # a broken property raises on access
    except ValueError:
        return None
    return value if isinstance(value, date) else None


def vevents(calendar: Calendar) -> list[Component]:
    return [c for c in calendar.subcomponents if c.name == "VEVENT"]


def _remove(calendar: Calendar, component: Component) -> None:
    calendar.subcomponents = [c for c in calendar.subcomponents if c is not component]


def _broken_reason(component: Component) -> str:
    reasons = [f"{name}: {error}" for name, error in getattr(component, "errors", [])]
    return "; ".join(reasons) or "missing"


def problem(problems: list[str] | None, text: str) -> None:
    if problems is None:
        raise CalendarError(text)
    log.warning("ics problem", problem=text)
    problems.append(text)


def aware(value: date | datetime, tz: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=tz)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
