"""Step 5b: occurrences of plain events and plain series without recurring-ical-events.

recurring-ical-events copies every occurrence into a new component and builds a dateutil
rule set per series: most of the cost of a year-long feed. Most events need none of that. An
event qualifies when its UID is its own (no override, no duplicate) and it has DTSTART and a
DTEND of the same kind that is not earlier, and no DURATION, RDATE, EXDATE, EXRULE or
RECURRENCE-ID. Such an event is one occurrence at DTSTART..DTEND; a series qualifies too when
its one RRULE has only FREQ=DAILY or WEEKLY, INTERVAL and COUNT or UNTIL (a UTC date-time),
and its times are date-times in one zone: then occurrence k starts k x INTERVAL days or weeks
after DTSTART on the wall clock, which is how dateutil steps such a rule. Which occurrences
touch the span is decided by the library's own `time_span_contains_event`.

Everything else goes through recurring-ical-events. `tests/ics/test_direct.py` compares both
ways event for event.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from icalendar import Component
from recurring_ical_events.util import time_span_contains_event

from samtek.calendar.report import ITEM_ERRORS

_EXCLUDED = ("DURATION", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID")
_STEP = {"DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}
_RULE_PARTS = frozenset({"FREQ", "INTERVAL", "COUNT", "UNTIL"})


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence of `component` at start..end; a series' has its RECURRENCE-ID."""

    component: Component
    start: date
    end: date
    recurrence_id: date | None


def split(
    components: list[Component], span_start: datetime, span_stop: datetime
) -> tuple[list[Occurrence], set[int]]:
    """(the occurrences of the plain events in the span, the ids of those components)."""
    uids = Counter(str(c.get("UID", "")) for c in components)
    occurrences: list[Occurrence] = []
    handled: set[int] = set()
    for component in components:
        uid = component.get("UID")
        if uid is None or uids[str(uid)] != 1 or any(p in component for p in _EXCLUDED):
            continue
        try:
            found = _occurrences(component, span_start, span_stop)
        except ITEM_ERRORS:  # a broken DTEND, a date beyond datetime's range: the library's
            found = None  # own error is what the feed reports
        if found is not None:
            occurrences += found
            handled.add(id(component))
    return occurrences, handled


def _occurrences(
    component: Component, span_start: datetime, span_stop: datetime
) -> list[Occurrence] | None:
    """The occurrences in the span, or None when the component is not plain."""
    start = getattr(component.get("DTSTART"), "dt", None)
    end = getattr(component.get("DTEND"), "dt", None)
    if not (isinstance(start, date) and isinstance(end, date)) or not _same_kind(start, end):
        return None
    if end < start:
        return None
    # The library widens the span by the event's length, failing where this overflows.
    earliest = span_start - (end - start)
    rule = component.get("RRULE")
    if rule is None:
        if time_span_contains_event(span_start, span_stop, start, end):
            return [Occurrence(component, start, end, None)]
        return []
    if not isinstance(start, datetime):  # dates: the library converts them; left to it
        return None
    plain = _plain_rule(rule)
    if plain is None:
        return None
    step, count, until = plain
    return _series(component, start, end - start, step, count, until, earliest, span_stop)


def _series(
    component: Component,
    first: datetime,
    length: timedelta,
    step: timedelta,
    count: int | None,
    until: datetime | None,
    earliest: datetime,
    span_stop: datetime,
) -> list[Occurrence]:
    """`earliest`: the span's start less the length (an occurrence starting then ends in it)."""
    span_start = earliest + length
    # Compared as the library compares (floating times read in the span's zone).
    aware = first if first.tzinfo is not None else first.replace(tzinfo=span_start.tzinfo)
    # One period early (the wall clock and the span's clock differ by a DST hour): every
    # candidate is checked below.
    k = max(0, (earliest - aware) // step - 1)
    occurrences: list[Occurrence] = []
    while count is None or k < count:
        start = first + k * step  # wall clock, as dateutil steps
        if until is not None and _aware(start, span_start) > until:
            break
        if _aware(start, span_start) > span_stop:
            break
        if time_span_contains_event(span_start, span_stop, start, start + length):
            occurrences.append(Occurrence(component, start, start + length, start))
        k += 1
    return occurrences


def _plain_rule(rule: Any) -> tuple[timedelta, int | None, datetime | None] | None:
    """(step, COUNT, UNTIL) of a plain DAILY or WEEKLY rule, or None."""
    if isinstance(rule, list) or not hasattr(rule, "keys") or set(rule.keys()) - _RULE_PARTS:
        return None
    try:
        (freq,) = rule.get("FREQ") or [None]
        (interval,) = rule.get("INTERVAL") or [1]
        (count,) = rule.get("COUNT") or [None]
        (until,) = rule.get("UNTIL") or [None]
    except ValueError:  # a part given twice
        return None
    if str(freq) not in _STEP or not _positive(interval):
        return None
    if count is not None and (not _positive(count) or until is not None):
        return None
    if until is not None and not (isinstance(until, datetime) and until.tzinfo is not None):
        return None
    return _STEP[str(freq)] * int(interval), None if count is None else int(count), until


def _positive(value: object) -> bool:
    """An integer of 1 or more (icalendar gives its own int subclass)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _same_kind(start: date, end: date) -> bool:
    """Both dates, both floating date-times, or both date-times in the same zone object."""
    if isinstance(start, datetime) and isinstance(end, datetime):
        return start.tzinfo is end.tzinfo
    return not isinstance(start, datetime) and not isinstance(end, datetime)


def _aware(value: datetime, span: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=span.tzinfo)
