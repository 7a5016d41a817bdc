"""`ledig <person> [dag]` / `free <person> [day]`: busy blocks and free working time."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from bridges.assistant.calendars import CalendarUnavailable, NoCalendar
from bridges.assistant.commands.common import one_person, when_or_explain
from bridges.assistant.context import Ask, Deps
from bridges.assistant.slots import merge, subtract
from samtek.model import BusyStatus, TimeWindow

_LABELS = {
    BusyStatus.BUSY: "busy",
    BusyStatus.TENTATIVE: "tentative",
    BusyStatus.OOF: "oof",
    BusyStatus.ELSEWHERE: "elsewhere",
}


async def run(deps: Deps, ask: Ask) -> None:
    when = await when_or_explain(ask, ask.parsed.words)
    if when is None:
        return
    person = await one_person(deps, ask, when.rest, "usage_free")
    if person is None:
        return
    texts = ask.texts
    day = when.day or ask.now.astimezone(texts.tz).date()
    start = datetime.combine(day, time(0), texts.tz)
    window = TimeWindow(start, datetime.combine(day + timedelta(days=1), time(0), texts.tz))
    try:
        busy = (await deps.calendars.busy([person], window))[person.id]
    except NoCalendar:
        await ask.reply(texts("no_calendar", name=person.name))
        return
    except CalendarUnavailable:
        await ask.reply(texts("calendar_unavailable", name=person.name))
        return
    lines = [texts("free_header", name=person.name, day=texts.day(day))]
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
    await ask.reply("\n".join(lines))
