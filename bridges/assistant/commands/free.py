"""`ledig <personer> [dag] [kl 10[-11]]` / `free <people> [day] [at 10]`: busy and free time.

With a clock time ("er ola ledig i morgen kl 10?") the first line answers yes or no for that
time (an hour, or the range asked for); with a span ("neste uke") every working day of it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bridges.assistant.calendars import CalendarUnavailable, NoCalendar
from bridges.assistant.commands.common import many_people, when_or_explain
from bridges.assistant.context import Ask, Deps
from bridges.assistant.slots import merge, subtract
from bridges.assistant.when import When
from samtek.model import BusyBlock, BusyStatus, Person, TimeWindow

_BLOCKING = {BusyStatus.BUSY, BusyStatus.TENTATIVE, BusyStatus.OOF}
_LABELS = {
    BusyStatus.BUSY: "busy",
    BusyStatus.TENTATIVE: "tentative",
    BusyStatus.OOF: "oof",
    BusyStatus.ELSEWHERE: "elsewhere",
}


MAX_DAYS = 7  # a span is shown a week at most


async def run(deps: Deps, ask: Ask) -> None:
    when = await when_or_explain(ask, ask.parsed.words)
    if when is None:
        return
    people = await many_people(deps, ask, when.rest, "usage_free")
    if people is None:
        return
    lines: list[str] = []
    for person in people:
        answer = await _one(deps, ask, person, when)
        if answer is None:
            return
        lines += answer
    await ask.reply("\n".join(lines))


async def _one(deps: Deps, ask: Ask, person: Person, when: When) -> list[str] | None:
    """One person's lines, or None after answering why there are none."""
    texts = ask.texts
    first = when.day or ask.now.astimezone(texts.tz).date()
    last = min(when.through or first, first + timedelta(days=MAX_DAYS - 1))
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if len(days) > 1:
        work_days = deps.working_hours.weekdays
        days = [d for d in days if d.weekday() in work_days] or days[:1]
    window = TimeWindow(
        datetime.combine(days[0], time(0), texts.tz),
        datetime.combine(days[-1] + timedelta(days=1), time(0), texts.tz),
    )
    try:
        busy = (await deps.calendars.busy([person], window))[person.id]
    except NoCalendar:
        await ask.reply(texts("no_calendar", name=person.name))
        return None
    except CalendarUnavailable:
        await ask.reply(texts("calendar_unavailable", name=person.name))
        return None
    lines = []
    if when.at is not None:
        asked = when.duration or timedelta(minutes=deps.settings.find_time_minutes)
        lines.append(_at_answer(ask, person.name, days[0], when, asked, busy))
    for day in days:
        lines += _day_lines(deps, ask, person.name, day, busy)
    return lines


def _at_answer(
    ask: Ask, name: str, day: date, when: When, asked: timedelta, busy: list[BusyBlock]
) -> str:
    """'Ja, Ola er ledig …' or 'Nei, Ola er opptatt …' for the time asked about."""
    texts = ask.texts
    assert when.at is not None
    start = datetime.combine(day, when.at, texts.tz)
    end = datetime.combine(day, when.end, texts.tz) if when.end is not None else start + asked
    clash = next(
        (
            b
            for b in sorted(busy, key=lambda b: b.start)
            if b.busy in _BLOCKING and b.start < end and start < b.end
        ),
        None,
    )
    values = {
        "name": name,
        "day": texts.day(day),
        "start": texts.clock(start),
        "end": texts.clock(end),
    }
    if clash is None:
        return texts("free_at_yes", **values)
    return texts("free_at_no", label=texts(_LABELS[clash.busy]), **values)


def _day_lines(deps: Deps, ask: Ask, name: str, day: date, busy: list[BusyBlock]) -> list[str]:
    texts = ask.texts
    start = datetime.combine(day, time(0), texts.tz)
    window = TimeWindow(start, datetime.combine(day + timedelta(days=1), time(0), texts.tz))
    lines = [texts("free_header", name=name, day=texts.day(day))]
    blocks = sorted(
        (b for b in busy if b.busy in _LABELS and window.overlaps(b.start, b.end)),
        key=lambda b: (b.start, b.end),
    )
    for block in blocks:
        lines.append(
            texts(
                "free_busy_line",
                start=texts.clock(max(block.start, window.start)),
                end=texts.clock(min(block.end, window.end)),
                label=texts(_LABELS[block.busy]),
            )
        )
    if not blocks:
        lines.append(texts("free_no_events"))
    work = deps.working_hours.windows(day, day, texts.tz)
    blocking = [(b.start, b.end) for b in blocks if b.busy is not BusyStatus.ELSEWHERE]
    free = subtract(work, merge(blocking))
    if free:
        ranges = ", ".join(f"{texts.clock(s)}–{texts.clock(e)}" for s, e in free)
        lines.append(texts("free_ranges", ranges=ranges))
    elif work:
        lines.append(texts("free_no_ranges"))
    return lines
