"""Free time: working-hour windows minus everyone's busy blocks (pure functions).

Intervals are (start, end) pairs of aware datetimes, half-open. Working hours are wall-clock
times in one timezone, so a window stays 08:00-16:00 across a daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class WorkingHours:
    start: time = time(8, 0)
    end: time = time(16, 0)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday = 0

    def windows(self, first: date, last: date, tz: ZoneInfo) -> list[Interval]:
        """The working-hour window of every working day from `first` to `last` inclusive."""
        out = []
        day = first
        while day <= last:
            if day.weekday() in self.weekdays:
                start = datetime.combine(day, self.start, tz)
                end = datetime.combine(day, self.end, tz)
                if end > start:
                    out.append((start, end))
            day += timedelta(days=1)
        return out


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Union of intervals, sorted; touching intervals join."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def subtract(windows: Iterable[Interval], busy: Iterable[Interval]) -> list[Interval]:
    """The parts of `windows` not covered by any busy interval."""
    blocked = merge(busy)
    free: list[Interval] = []
    for w_start, w_end in merge(windows):
        cursor = w_start
        for b_start, b_end in blocked:
            if b_end <= cursor or b_start >= w_end:
                continue
            if b_start > cursor:
                free.append((cursor, b_start))
            cursor = max(cursor, b_end)
            if cursor >= w_end:
                break
        if cursor < w_end:
            free.append((cursor, w_end))
    return free


def round_up(moment: datetime, step: timedelta) -> datetime:
    """The first multiple of `step` (counted from the hour) at or after `moment`."""
    base = moment.replace(minute=0, second=0, microsecond=0)
    steps = -(-(moment - base) // step)  # ceiling division
    return base + steps * step


def common_slots(
    windows: Iterable[Interval],
    busy: Iterable[Interval],
    duration: timedelta,
    earliest: datetime,
    limit: int = 3,
    step: timedelta = timedelta(minutes=15),
) -> list[Interval]:
    """The first `limit` slots of `duration`, one per free stretch, free for everyone.

    `busy` is everyone's blocks together. A slot starts at the beginning of a free stretch
    (or at `earliest` rounded up to `step`), so it never straddles anyone's meeting.
    """
    start_from = round_up(earliest, step)
    slots: list[Interval] = []
    for free_start, free_end in subtract(windows, busy):
        start = max(free_start, start_from)
        if free_end - start >= duration:
            slots.append((start, start + duration))
            if len(slots) >= limit:
                break
    return slots
