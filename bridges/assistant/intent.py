"""What a message asks for, as one value: the intent and its slots (people, days, times).

The commands work from the same parts (`parse`, `parse_when`, `name_groups`), so this is
what they act on; tests, the language benchmark and "what I understood" answers use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from bridges.assistant.parsing import Command, parse
from bridges.assistant.people import name_groups, people_and_groups
from bridges.assistant.when import When, WhenError, parse_when

# Commands that name one person: all their words are that person.
ONE_PERSON = {Command.CALL}


@dataclass(frozen=True, slots=True)
class Understood:
    intent: str  # a Command value, or "unknown"
    people: tuple[str, ...] = ()  # folded, as the words name them
    groups: tuple[str, ...] = ()  # directory groups (a project room request)
    day: date | None = None
    through: date | None = None
    at: time | None = None
    end: time | None = None
    minutes: int | None = None
    until: date | None = None
    subject: str | None = None
    suggestion: str | None = None  # "Mente du …?" for an unknown message
    bad: str | None = None  # a date/time-shaped token that is no valid one


def understand(text: str, now: datetime) -> Understood:
    """`now` is the asker's local time (aware)."""
    parsed = parse(text)
    if parsed.command is None:
        return Understood("unknown", suggestion=parsed.suggestion)
    if parsed.command in (Command.HELP, Command.MEETINGS):
        return Understood(parsed.command.value)
    if parsed.command is Command.ROOM_REQUEST:  # no time words: "Møte 2027" is a name
        named, groups = people_and_groups(parsed.words)
        return Understood(
            parsed.command.value,
            people=tuple(" ".join(g) for g in named),
            groups=tuple(" ".join(g) for g in groups),
            subject=parsed.subject,
        )
    try:
        when = parse_when(list(parsed.words), now.date(), now)
    except WhenError as exc:
        return Understood(parsed.command.value, bad=exc.token)
    if parsed.command is Command.STATUS:  # always now: "hvor er ola nå?"
        when = When(rest=when.rest)
    people: tuple[str, ...] = ()
    if parsed.command in ONE_PERSON:
        people = (" ".join(when.rest),) if when.rest else ()
    else:
        people = tuple(" ".join(g) for g in name_groups(when.rest))
    return Understood(
        parsed.command.value,
        people=people,
        day=when.day,
        through=when.through,
        at=when.at,
        end=when.end,
        minutes=int(when.duration.total_seconds() // 60) if when.duration else None,
        until=when.until,
        subject=parsed.subject,
    )
