"""Step 5: recurrence expansion, bounded, one series at a time when a series breaks.

Before expanding: a VEVENT without a usable DTSTART is removed, and a recurring series whose
expansion would be too costly (a "recurrence bomb") is removed with its overrides, by
estimating the rule's iterations before dateutil ever runs it: more than `MAX_SERIES_COST`
rule iterations up to the window end, or more than `MAX_SERIES_INSTANCES` occurrences in the
window, or beyond `MAX_CALENDAR_COST` for the whole calendar. Only the window is expanded.

Plain events and plain series are expanded by `direct` (cheapest by far); the others by
recurring-ical-events over the calendar at once, and if it fails on it, each
series is expanded on its own so the one that fails is the only one refused. Series that would
take the calendar past `max_instances` occurrences are refused, later ones first.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Component

from samtek.calendar.direct import Occurrence
from samtek.calendar.direct import split as direct_split
from samtek.calendar.report import ITEM_ERRORS, CpuBudget, Problem, problem
from samtek.model import TimeWindow

MAX_SERIES_INSTANCES = 1_000  # occurrences of one series inside the window
MAX_SERIES_COST = 200_000  # rule iterations (periods x BY* expansion) from DTSTART to window end
MAX_CALENDAR_COST = 1_000_000  # the same, summed over one calendar's series (~4 s worst case)
SLACK = timedelta(days=1)  # floating times may sit up to ~14 h either side of UTC
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


def expand(
    calendar: Calendar,
    window: TimeWindow,
    tz: ZoneInfo,
    max_instances: int,
    problems: list[Problem] | None,
    budget: CpuBudget,
    direct: bool = True,
) -> list[Component | Occurrence]:
    """The occurrences that may touch the window (with SLACK), refused series left out.
    Plain events and series are expanded here (`direct`), the others by the library."""
    drop_unusable(calendar, window, tz, problems)
    budget.check("checking recurrences")
    start, end = window.start - SLACK, window.end + SLACK
    simple, handled = direct_split(vevents(calendar), start, end) if direct else ([], set())
    occurrences: list[Component | Occurrence] = list(simple)
    everything = calendar.subcomponents
    calendar.subcomponents = [c for c in everything if id(c) not in handled]
    try:
        if any(c.name == "VEVENT" for c in calendar.subcomponents):
            # between() is much cheaper than after(): dateutil skips to the window without
            # building occurrences. The guards above bound what it can return.
            occurrences += recurring_ical_events.of(calendar).between(start, end)
    except ITEM_ERRORS:
        occurrences += _series_by_series(calendar, start, end, problems, budget)
    finally:
        calendar.subcomponents = everything
    budget.check("expanding recurrences")
    return _within_total(calendar, occurrences, max_instances, problems)


def uid_of(occurrence: Component | Occurrence) -> str:
    component = occurrence.component if isinstance(occurrence, Occurrence) else occurrence
    return str(component.get("UID", ""))


def _series_by_series(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    problems: list[Problem] | None,
    budget: CpuBudget,
) -> list[Component]:
    zones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    series: dict[str, list[Component]] = {}
    for component in vevents(calendar):
        series.setdefault(str(component.get("UID", "")), []).append(component)
    occurrences: list[Component] = []
    for uid, components in series.items():
        budget.check("expanding recurrences")
        single = Calendar()
        for component in [*zones, *components]:
            single.add_component(component)
        try:
            occurrences.extend(recurring_ical_events.of(single).between(start, end))
        except ITEM_ERRORS as exc:
            problem(problems, Problem(f"cannot expand ({type(exc).__name__})", uid or "(no UID)"))
    return occurrences


def _within_total(
    calendar: Calendar,
    occurrences: list[Component | Occurrence],
    max_instances: int,
    problems: list[Problem] | None,
) -> list[Component | Occurrence]:
    per_uid = Counter(uid_of(o) for o in occurrences)
    if sum(per_uid.values()) <= max_instances:
        return occurrences
    allowed: set[str] = set()
    total = 0
    for uid in dict.fromkeys(str(c.get("UID", "")) for c in vevents(calendar)):
        count = per_uid.get(uid, 0)
        if total + count > max_instances:
            problem(
                problems,
                Problem(
                    f"refused: its {count} occurrences in the window would take the calendar"
                    f" past {max_instances} (a recurrence rule that repeats too often?)",
                    uid or "(no UID)",
                ),
            )
            continue
        total += count
        allowed.add(uid)
    return [o for o in occurrences if uid_of(o) in allowed]


def drop_unusable(
    calendar: Calendar, window: TimeWindow, tz: ZoneInfo, problems: list[Problem] | None
) -> None:
    """Remove VEVENTs without a usable DTSTART, and whole series that are recurrence bombs."""
    refused: set[str] = set()
    unusable: set[int] = set()
    budget = float(MAX_CALENDAR_COST)
    for component in vevents(calendar):
        uid = str(component.get("UID", "")) or "(no UID)"
        value = start_value(component)
        if not isinstance(value, date):
            problem(problems, Problem(f"no usable DTSTART ({_broken_reason(component)})", uid))
            unusable.add(id(component))
            continue
        try:
            cost, reason = _bomb_reason(component, aware(value, tz), window, tz)
        except ITEM_ERRORS as exc:  # icalendar raises on access to a broken RRULE
            cost, reason = 0.0, f"unreadable RRULE ({type(exc).__name__})"
        if reason is None and budget - cost < 0:
            reason = f"the calendar's expansion budget ({MAX_CALENDAR_COST:,} iterations) is spent"
        if reason is None:
            budget -= cost
        else:
            refused.add(uid)
            problem(problems, Problem(f"recurrence refused: {reason}", uid))
    calendar.subcomponents = [  # one pass: removing one by one is quadratic
        c
        for c in calendar.subcomponents
        if id(c) not in unusable
        and not (c.name == "VEVENT" and (str(c.get("UID", "")) or "(no UID)") in refused)
    ]


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
        interval = int((rule.get("INTERVAL") or [1])[0])
        if interval == 0 and not rule.get("COUNT"):  # dateutil never gets past the first period
            return 0.0, "INTERVAL=0 without COUNT never ends"
        interval = max(1, interval)
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
    except ITEM_ERRORS:
        return None
    return value if isinstance(value, date) else None


def vevents(calendar: Calendar) -> list[Component]:
    return [c for c in calendar.subcomponents if c.name == "VEVENT"]


def _broken_reason(component: Component) -> str:
    reasons = [f"{name}: unreadable" for name, _error in getattr(component, "errors", [])]
    return "; ".join(reasons) or "missing"


def aware(value: date | datetime, tz: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=tz)
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)
