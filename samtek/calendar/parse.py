"""Step 4: blocks -> one icalendar Calendar, each component parsed on its own.

Parsing block by block means a component the parser cannot read costs only itself (it is
reported with its UID), and the CPU budget is checked between components. VTIMEZONEs are
parsed first: icalendar resolves a TZID while it parses the events that use it.

Several VCALENDAR objects are merged into one calendar; each object's X-WR-TIMEZONE (Google,
Apple) is applied to its own events first, so a merger cannot change how they are read.
"""

from __future__ import annotations

import x_wr_timezone
from icalendar import Calendar, Component

from samtek.calendar.repair import Block, Section
from samtek.calendar.report import ITEM_ERRORS, CpuBudget, Problem, problem

_KEPT = ("VTIMEZONE", "VEVENT")  # presence needs nothing else (VTODO, VJOURNAL, VFREEBUSY)


def parse_sections(
    sections: list[Section], problems: list[Problem] | None, budget: CpuBudget
) -> Calendar:
    merged: Calendar | None = None
    zones: set[str] = set()
    for section in sections:
        calendar = _header(section, problems)
        for block in sorted(
            section.blocks, key=lambda b: _KEPT.index(b.name) if b.name in _KEPT else 9
        ):
            if block.name not in _KEPT:
                continue
            budget.check("parsing")
            component = _component(block, problems)
            if component is not None:
                calendar.add_component(component)
        calendar = _standard(calendar, problems)
        if merged is None:
            merged = calendar
            zones = {str(z.get("TZID")) for z in calendar.walk("VTIMEZONE")}
            continue
        for component in calendar.subcomponents:
            tzid = str(component.get("TZID")) if component.name == "VTIMEZONE" else None
            if tzid is not None and tzid in zones:
                continue  # the same zone from another object: the first one is kept
            if tzid is not None:
                zones.add(tzid)
            merged.add_component(component)
    assert merged is not None  # repair() returns at least one section
    return merged


def _header(section: Section, problems: list[Problem] | None) -> Calendar:
    text = "\r\n".join(["BEGIN:VCALENDAR", *section.properties, "END:VCALENDAR", ""])
    try:
        calendar = Calendar.from_ical(text)
    except ITEM_ERRORS as exc:
        problem(
            problems,
            Problem(f"calendar properties unreadable, ignored ({_short(exc)})", None, False),
        )
        return Calendar()
    return calendar if isinstance(calendar, Calendar) else Calendar()


def _component(block: Block, problems: list[Problem] | None) -> Component | None:
    try:
        component = Component.from_ical("\r\n".join([*block.lines, ""]))
    except ITEM_ERRORS as exc:
        problem(problems, Problem(f"unreadable {block.name} ({_short(exc)})", block.label()))
        return None
    return component if isinstance(component, Component) else None


def _standard(calendar: Calendar, problems: list[Problem] | None) -> Calendar:
    """X-WR-TIMEZONE says how to read UTC and floating times (Google, Apple exports)."""
    try:
        standard: Calendar = x_wr_timezone.to_standard(calendar)
    except ITEM_ERRORS as exc:  # ZoneInfoNotFoundError is a KeyError
        problem(problems, Problem(f"X-WR-TIMEZONE ignored ({_short(exc)})", None, False))
        return calendar
    return standard


def _short(exc: Exception) -> str:
    """The error without the data it quotes (an event's text must not reach the logs)."""
    return type(exc).__name__
