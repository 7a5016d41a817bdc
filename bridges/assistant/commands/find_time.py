"""`finn tid <people…> [varighet] [dag | uke] [innen dato]`: the first slots free for everyone.

A day ("i morgen") searches that day only; a week ("neste uke", "uke 49") that week;
otherwise `find_time_days` ahead, or up to "innen <dato>".

The asker takes part too when they have a calendar (they are booking a meeting with the
others). Working hours are in the asker's timezone; each person's busy time comes from their
own calendar source.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bridges.assistant.calendars import CalendarUnavailable, NoCalendar
from bridges.assistant.commands.common import many_people, when_or_explain
from bridges.assistant.context import Ask, Deps
from bridges.assistant.slots import Interval, common_slots
from bridges.assistant.when import When
from samtek.model import BusyStatus, TimeWindow

# Working elsewhere still leaves someone bookable; free time is free.
_BLOCKING = {BusyStatus.BUSY, BusyStatus.TENTATIVE, BusyStatus.OOF}


async def run(deps: Deps, ask: Ask) -> None:
    when = await when_or_explain(ask, ask.parsed.words)
    if when is None:
        return
    people = await many_people(deps, ask, when.rest, "usage_findtime")
    if people is None:
        return
    if ask.asker.calendars and ask.asker.id not in {p.id for p in people}:
        people.insert(0, ask.asker)
    texts = ask.texts
    settings = deps.settings
    duration = when.duration or timedelta(minutes=settings.find_time_minutes)
    today = ask.now.astimezone(texts.tz).date()
    first = max(when.day or today, today)
    if when.until is not None:
        last = when.until
    elif when.through is not None:  # "neste uke": that week
        last = when.through
    elif when.day is not None and not when.from_day:  # "i morgen": only that day
        last = first
    else:
        last = first + timedelta(days=settings.find_time_days - 1)
    if last < first:
        await ask.reply(texts("bad_date", token=texts.day(last)))
        return
    window = TimeWindow(
        datetime.combine(first, time(0), texts.tz),
        datetime.combine(last + timedelta(days=1), time(0), texts.tz),
    )
    try:
        busy = await deps.calendars.busy(people, window)
    except NoCalendar as exc:
        await ask.reply(texts("no_calendar", name=exc.person.name))
        return
    except CalendarUnavailable as exc:
        await ask.reply(texts("calendar_unavailable", name=exc.person.name))
        return
    blocked = [(b.start, b.end) for blocks in busy.values() for b in blocks if b.busy in _BLOCKING]
    slots = common_slots(
        _within(deps.working_hours.windows(first, last, texts.tz), when),
        blocked,
        duration,
        earliest=max(ask.now, window.start),
        limit=settings.find_time_results,
    )
    names = texts.both([p.name for p in people])
    minutes = int(duration.total_seconds() // 60)
    if not slots:
        await ask.reply(texts("findtime_none", minutes=minutes, names=names, until=texts.day(last)))
        return
    lines = [texts("findtime_header", names=names, minutes=minutes)]
    for start, end in slots:
        lines.append(
            texts(
                "findtime_slot",
                day=texts.local_day(start),
                start=texts.clock(start),
                end=texts.clock(end),
            )
        )
    await ask.reply("\n".join(lines))


def _within(windows: list[Interval], when: When) -> list[Interval]:
    """Working windows cut to the part of the day asked for ("fredag ettermiddag", "kl 10-12")."""
    if when.at is None:
        return windows
    out = []
    for start, end in windows:
        low = max(start, datetime.combine(start.date(), when.at, start.tzinfo))
        high = (
            end
            if when.end is None
            else min(end, datetime.combine(start.date(), when.end, start.tzinfo))
        )
        if high > low:
            out.append((low, high))
    return out
