"""Days, clock times and durations in Norwegian (bokmål, nynorsk) and English.

Works on folded tokens (see normalize.py): "i morgen", "mandag"/"måndag"/"monday",
"2.12", "2.12.2026", "2026-12-02", "kl 10", "10:30", "30 min", "1,5 t", "2 hours",
"innen fredag"/"innan 4.12"/"by friday". What is not a time expression is returned as
`rest` (the people, for the commands).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta


class WhenError(ValueError):
    """A token looked like a date, time or duration but is not a valid one."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


@dataclass(frozen=True, slots=True)
class When:
    day: date | None = None
    at: time | None = None
    duration: timedelta | None = None
    until: date | None = None
    rest: tuple[str, ...] = ()


_RELATIVE: dict[tuple[str, ...], int] = {
    ("i", "dag"): 0,
    ("idag",): 0,
    ("today",): 0,
    ("i", "morgen"): 1,
    ("i", "morgon"): 1,
    ("imorgen",): 1,
    ("imorgon",): 1,
    ("tomorrow",): 1,
    ("i", "overmorgen"): 2,
    ("i", "overmorgon"): 2,
    ("overmorgen",): 2,
    ("overmorgon",): 2,
    ("day", "after", "tomorrow"): 2,
}
_WEEKDAYS: dict[str, int] = {}
for _index, _names in enumerate(
    [
        # No short forms: "tor", "fri" and "man" are names or ordinary words.
        ("mandag", "monday"),
        ("tirsdag", "tysdag", "tuesday"),
        ("onsdag", "wednesday"),
        ("torsdag", "thursday"),
        ("fredag", "friday"),
        ("lordag", "laurdag", "saturday"),
        ("sondag", "sundag", "sunday"),
    ]
):
    for _name in _names:
        _WEEKDAYS[_name] = _index
_UNTIL_WORDS = {"innen", "innan", "by", "before", "within", "for"}
_AT_WORDS = {"kl", "kl.", "klokka", "klokken", "at"}
_MINUTE_UNITS = {"m", "min", "mins", "minutt", "minutter", "minute", "minutes"}
_HOUR_UNITS = {"t", "h", "hr", "hrs", "time", "timer", "timar", "hour", "hours", "timen"}
_WORD_AMOUNTS = {"en": 1.0, "ei": 1.0, "ein": 1.0, "one": 1.0, "an": 1.0, "a": 1.0}
_HALF_HOUR = {"halvtime", "halvtimen", "halftime"}

_DATE_DOTTED = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?\.?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?$")
_CLOCK_COLON = re.compile(r"^(\d{1,2}):(\d{2})$")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")
_NUMBER_UNIT = re.compile(r"^(\d+(?:[.,]\d+)?)([a-z]+)$")


def parse_day(words: list[str], i: int, today: date) -> tuple[date, int] | None:
    """A day expression starting at words[i]: (the day, tokens used), else None.

    Raises WhenError for something date-shaped that is no real date ("31.2").
    """
    for phrase, offset in _RELATIVE.items():
        if tuple(words[i : i + len(phrase)]) == phrase:
            return today + timedelta(days=offset), len(phrase)
    word = words[i]
    if word in _WEEKDAYS:
        # The next such day, today included ("fredag" on a Friday is today).
        return today + timedelta(days=(_WEEKDAYS[word] - today.weekday()) % 7), 1
    dotted = _DATE_DOTTED.match(word)
    if dotted:
        d, m, y = dotted.groups()
        year = int(y) + (2000 if y and len(y) == 2 else 0) if y else today.year
        day = _date(year, int(m), int(d), word)
        if not y and day < today:
            day = _date(year + 1, int(m), int(d), word)  # "2.1" in December is next year
        return day, 1
    iso = _DATE_ISO.match(word)
    if iso:
        return _date(int(iso[1]), int(iso[2]), int(iso[3]), word), 1
    return None


def _date(year: int, month: int, day: int, token: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise WhenError(token) from None


def _clock(word: str, token: str, strict: bool) -> time | None:
    match = (_CLOCK_COLON if strict else _CLOCK).match(word)
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour > 23 or minute > 59:
        raise WhenError(token)
    return time(hour, minute)


def _duration(words: list[str], i: int) -> tuple[timedelta, int] | None:
    word = words[i]
    if word in _HALF_HOUR:
        return timedelta(minutes=30), 1
    joined = _NUMBER_UNIT.match(word)
    if joined and (joined[2] in _MINUTE_UNITS or joined[2] in _HOUR_UNITS):
        return _amount(joined[1], joined[2], word), 1
    amount = word if _NUMBER.match(word) else None
    if amount is None and word in _WORD_AMOUNTS:
        amount = str(_WORD_AMOUNTS[word])
    if amount is not None and i + 1 < len(words):
        unit = words[i + 1]
        if unit in _MINUTE_UNITS or unit in _HOUR_UNITS:
            return _amount(amount, unit, f"{word} {unit}"), 2
    return None


def _amount(number: str, unit: str, token: str) -> timedelta:
    value = float(number.replace(",", "."))
    minutes = value if unit in _MINUTE_UNITS else value * 60
    if not 5 <= minutes <= 12 * 60:
        raise WhenError(token)
    return timedelta(minutes=round(minutes))


def parse_when(words: list[str], today: date) -> When:
    """Pull day, clock time, duration and 'until' out of `words`; the rest stays in order."""
    day = at = until = None
    duration = None
    rest: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _UNTIL_WORDS and i + 1 < len(words):
            found = parse_day(words, i + 1, today)
            if found is not None:
                until, used = found
                i += 1 + used
                continue
        if word in _AT_WORDS and i + 1 < len(words):
            clock = _clock(words[i + 1], f"{word} {words[i + 1]}", strict=False)
            if clock is not None:
                at = clock
                i += 2
                continue
        found = parse_day(words, i, today)
        if found is not None:
            day, used = found
            i += used
            continue
        clock = _clock(word, word, strict=True)
        if clock is not None:
            at = clock
            i += 1
            continue
        span = _duration(words, i)
        if span is not None:
            duration, used = span
            i += used
            continue
        rest.append(word)
        i += 1
    return When(day=day, at=at, duration=duration, until=until, rest=tuple(rest))
