"""Days, clock times and durations in Norwegian (bokmål, nynorsk) and English.

Works on folded tokens (see normalize.py). Understood:

- days: "i dag", "i morgen"/"i morgon", "i overmorgen", weekday names ("fredag" = the next
  Friday, today included; "neste fredag" = Friday of next week; "fredag neste uke"),
  "på"/"on" before a day, "2.12", "2.12.2026", "2026-12-02", "1. des", "1 desember 2026",
  "3rd of december", "december 3";
- weeks: "uke 49"/"veke 49"/"week 49", "neste uke"/"neste veke"/"next week", "denne uka"/
  "this week" (a first and last day);
- clock times: "kl 10", "10:30", "14.30" (a dotted pair whose second number is no month),
  "at 2pm", ranges "10-11", "kl 14.30-15", "fra 10 til 11", "from 10 to 11", "mellom 10 og 11";
- relative: "om en time", "om 30 min", "in an hour", "nå"/"now" (needs the asker's now);
- durations: "30 min", "1,5 t", "2 hours", "halvtime"; "innen fredag"/"innan 4.12"/"by friday".

What is not a time expression is returned as `rest` (the people, for the commands). The work
is linear in the number of words (each word tries a fixed set of patterns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta


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
    end: time | None = None  # "10-11": the end of a clock range
    through: date | None = None  # "neste uke": the last day of a span starting at `day`
    part_of_day: bool = False  # at/end came from "formiddag", "afternoon": no exact time
    from_day: bool = False  # "fra mandag": `day` starts a search, not a single day


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
_MONTHS: dict[str, int] = {}
for _index, _names in enumerate(
    [
        ("jan", "januar", "january"),
        ("feb", "februar", "february"),
        ("mars", "march"),  # not "mar": a word of its own
        ("apr", "april"),
        ("mai", "may"),
        ("jun", "juni", "june"),
        ("jul", "juli", "july"),
        ("aug", "august"),
        ("sep", "sept", "september"),
        ("okt", "oktober", "oct", "october"),
        ("nov", "november"),
        ("des", "desember", "dec", "december"),
    ],
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _index
_WEEK_WORDS = {"uke", "uka", "uken", "veke", "veka", "week"}
_NEXT = {"neste", "next", "kommende", "komande"}
_THIS = {"denne", "this"}
_FILLER_BEFORE_DAY = {"pa", "on", "den", "the", "i", "in", "during"}
_UNTIL_WORDS = {"innen", "innan", "by", "before", "within", "for", "til", "until", "to", "tom"}
# "fra mandag", "etter fredag", "fra og med mandag": a search starts then (days after it too).
_START_WORDS = {"fra": 0, "fraa": 0, "from": 0, "etter": 1, "after": 1}
_THROUGH = ("til", "og", "med")
_FROM_INCLUSIVE = ("fra", "og", "med")
_ATTACHED_KL = re.compile(r"^kl\.?(\d.*)$")
_AT_WORDS = {"kl", "kl.", "klokka", "klokken", "at", "@"}
_RANGE_WORDS = {"til", "to", "until", "-", "–", "—", "og", "and"}
_FROM_WORDS = {"fra", "fraa", "from", "mellom", "between"}
_IN_WORDS = {"om", "in"}
# Parts of the day, as clock ranges: "i morgen formiddag", "friday afternoon".
_DAY_PARTS: dict[str, tuple[time, time | None]] = {
    "formiddag": (time(8), time(12)),
    "formiddagen": (time(8), time(12)),
    "foremiddag": (time(8), time(12)),
    "foremiddagen": (time(8), time(12)),
    "morning": (time(8), time(12)),
    "ettermiddag": (time(12), time(16)),
    "ettermiddagen": (time(12), time(16)),
    "ettermiddagan": (time(12), time(16)),
    "afternoon": (time(12), time(16)),
    "kveld": (time(16), time(21)),
    "kvelden": (time(16), time(21)),
    "kveldinga": (time(16), time(21)),
    "evening": (time(16), time(21)),
}
_DAY_PARTS |= {
    "noon": (time(12), None),
    "lunsj": (time(11), time(12)),
    "lunch": (time(11), time(12)),
}
_DAY_UNITS = {"dag": 1, "dager": 1, "dagar": 1, "day": 1, "days": 1, "uke": 7, "uker": 7}
_DAY_UNITS |= {"veke": 7, "veker": 7, "vekor": 7, "week": 7, "weeks": 7}
_PART_FILLER = {"i", "pa", "in", "on", "the", "at", "kl", "til", "to"}
# Words before a day or week that add nothing: "i løpet av neste uke", "sometime next week".
_SPAN_FILLER = [
    ("i", "lopet", "av"),
    ("in", "the", "course", "of"),
    ("sometime",),
    ("some", "time"),
]
_NOW = {("na",), ("no",), ("now",), ("right", "now"), ("akkurat", "na"), ("akkurat", "no")}
_MINUTE_UNITS = {"m", "min", "mins", "minutt", "minutter", "minute", "minutes"}
_HOUR_UNITS = {"t", "h", "hr", "hrs", "time", "timer", "timar", "hour", "hours", "timen"}
_WORD_AMOUNTS = {"en": 1.0, "ei": 1.0, "ein": 1.0, "one": 1.0, "an": 1.0, "a": 1.0}
_HALF_HOUR = {"halvtime", "halvtimen", "halftime", "half-hour"}

_DATE_DOTTED = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?\.?$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_NUMBER = re.compile(r"^(\d{1,2})(?:\.|st|nd|rd|th)?$")
_YEAR = re.compile(r"^(20\d{2})$")
_CLOCK = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?(am|pm)?$")
_CLOCK_STRICT = re.compile(r"^(\d{1,2})(?::(\d{2})|(?::(\d{2}))?(am|pm))$")
_CLOCK_RANGE = re.compile(
    r"^(\d{1,2}(?:[:.]\d{2})?(?:am|pm)?)[-–—](\d{1,2}(?:[:.]\d{2})?(am|pm)?)$"
)
_WEEK_NUMBER = re.compile(r"^(?:uke|veke|week)?(\d{1,2})$")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")
_NUMBER_UNIT = re.compile(r"^(\d+(?:[.,]\d+)?)([a-z]+)$")


def _date(year: int, month: int, day: int, token: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise WhenError(token) from None


def _coming(year: int, month: int, day: int, today: date, token: str) -> date:
    """A day and month without a year: this year's, or next year's if already past."""
    found = _date(year, month, day, token)
    return found if found >= today else _date(year + 1, month, day, token)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_day(words: list[str], i: int, today: date) -> tuple[date, int] | None:
    """A day expression starting at words[i]: (the day, tokens used), else None.

    Raises WhenError for something date-shaped that is no real date ("31.2").
    """
    for phrase, offset in _RELATIVE.items():
        if tuple(words[i : i + len(phrase)]) == phrase:
            return today + timedelta(days=offset), len(phrase)
    word = words[i]
    following = words[i + 1] if i + 1 < len(words) else ""
    if word in _NEXT and following in _WEEKDAYS:
        return _monday(today) + timedelta(days=7 + _WEEKDAYS[following]), 2
    if word in _WEEKDAYS:
        if following in _NEXT and i + 2 < len(words) and words[i + 2] in _WEEK_WORDS:
            return _monday(today) + timedelta(days=7 + _WEEKDAYS[word]), 3
        # The next such day, today included ("fredag" on a Friday is today).
        return today + timedelta(days=(_WEEKDAYS[word] - today.weekday()) % 7), 1
    named = _named_date(words, i, today)
    if named is not None:
        return named
    dotted = _DATE_DOTTED.match(word)
    if dotted:
        d, m, y = dotted.groups()
        if not y and int(m) > 12 and _CLOCK.match(word):
            return None  # "14.30" is a clock time
        if y:
            year = int(y) + (2000 if len(y) == 2 else 0)
            return _date(year, int(m), int(d), word), 1
        return _coming(today.year, int(m), int(d), today, word), 1
    iso = _DATE_ISO.match(word)
    if iso:
        return _date(int(iso[1]), int(iso[2]), int(iso[3]), word), 1
    return None


def _named_date(words: list[str], i: int, today: date) -> tuple[date, int] | None:
    """ "1. des", "1 desember 2026", "3rd of december", "december 3"."""
    word = words[i]
    number = _DAY_NUMBER.match(word)
    used = 1
    if number is not None:
        j = i + 1
        if j < len(words) and words[j] == "of":
            j += 1
        if j >= len(words) or words[j].rstrip(".") not in _MONTHS:
            return None
        month, day_of_month, used = _MONTHS[words[j].rstrip(".")], int(number[1]), j - i + 1
    elif word.rstrip(".") in _MONTHS and i + 1 < len(words):
        number = _DAY_NUMBER.match(words[i + 1])
        if number is None:
            return None
        month, day_of_month, used = _MONTHS[word.rstrip(".")], int(number[1]), 2
    else:
        return None
    token = " ".join(words[i : i + used])
    year = _YEAR.match(words[i + used]) if i + used < len(words) else None
    if year is not None:
        return _date(int(year[1]), month, day_of_month, token), used + 1
    return _coming(today.year, month, day_of_month, today, token), used


def parse_week(words: list[str], i: int, today: date) -> tuple[date, date, int] | None:
    """ "uke 49", "neste uke", "denne uka", "next week": (first day, last day, tokens used)."""
    word = words[i]
    following = words[i + 1] if i + 1 < len(words) else ""
    if word in _WEEK_WORDS and following:
        number = _WEEK_NUMBER.match(following)
        if number is not None:
            return (*_iso_week(int(number[1]), today, f"{word} {following}"), 2)
    if word.startswith(("uke", "veke", "week")) and word[-1].isdigit():
        number = _WEEK_NUMBER.match(word)
        if number is not None:
            return (*_iso_week(int(number[1]), today, word), 1)
    if word in _NEXT and following in _WEEK_WORDS:
        monday = _monday(today) + timedelta(days=7)
        return monday, monday + timedelta(days=6), 2
    if word in _THIS and following in _WEEK_WORDS:
        return today, _monday(today) + timedelta(days=6), 2
    return None


def _iso_week(number: int, today: date, token: str) -> tuple[date, date]:
    """Week `number` of this year, or of next year once it is past."""
    for year in (today.year, today.year + 1):
        try:
            monday = date.fromisocalendar(year, number, 1)
        except ValueError:
            raise WhenError(token) from None
        if monday + timedelta(days=6) >= today:
            return max(monday, today), monday + timedelta(days=6)
    raise WhenError(token)


def _clock(word: str, token: str, strict: bool) -> time | None:
    match = (_CLOCK_STRICT if strict else _CLOCK).match(word)
    if not match:
        return None
    if strict:
        hour, minute, suffix = int(match[1]), int(match[2] or match[3] or 0), match[4]
    else:
        hour, minute, suffix = int(match[1]), int(match[2] or 0), match[3]
    if suffix is not None:
        if not 1 <= hour <= 12:
            raise WhenError(token)
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    elif 1 <= hour <= 6 and not strict:
        hour += 12  # "kl 2", "between 1 and 3": office hours, not the night
    if hour > 23 or minute > 59:
        raise WhenError(token)
    return time(hour, minute)


def _clock_with_suffix(words: list[str], i: int, strict: bool) -> tuple[time, int] | None:
    """A clock time at words[i], with a separate "am"/"pm" after it ("2 pm")."""
    word = words[i]
    if i + 1 < len(words) and words[i + 1] in {"am", "pm"} and re.match(r"^\d{1,2}$", word):
        found = _clock(word + words[i + 1], f"{word} {words[i + 1]}", strict=False)
        return (found, 2) if found is not None else None
    found = _clock(word, word, strict)
    return (found, 1) if found is not None else None


def _duration(words: list[str], i: int) -> tuple[timedelta, int] | None:
    word = words[i]
    if word in _HALF_HOUR:
        return timedelta(minutes=30), 1
    if word in _WORD_AMOUNTS and i + 1 < len(words) and words[i + 1] in _HALF_HOUR:
        return timedelta(minutes=30), 2  # "en halvtime"
    if word == "half" and words[i + 1 : i + 3] in (["an", "hour"], ["a", "hour"]):
        return timedelta(minutes=30), 3
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


def starts_relative(words: list[str], i: int) -> bool:
    """words[i] is "om"/"in" starting a relative time ("om en time"), not a subject."""
    if words[i] not in _IN_WORDS or i + 1 >= len(words):
        return False
    return _duration(words, i + 1) is not None or _days_ahead(words, i + 1) is not None


def _days_ahead(words: list[str], i: int) -> tuple[int, int] | None:
    """ "en uke", "2 dager", "a week" at words[i]: (days, tokens used)."""
    if i + 1 >= len(words) or words[i + 1] not in _DAY_UNITS:
        return None
    amount = words[i]
    count = int(_WORD_AMOUNTS[amount]) if amount in _WORD_AMOUNTS else None
    if count is None and amount.isdigit() and len(amount) <= 2:
        count = int(amount)
    return (count * _DAY_UNITS[words[i + 1]], 2) if count is not None else None


@dataclass(slots=True)
class _Found:
    day: date | None = None
    at: time | None = None
    end: time | None = None
    duration: timedelta | None = None
    until: date | None = None
    through: date | None = None
    part_of_day: bool = False
    from_day: bool = False


def _clock_range(words: list[str], i: int, found: _Found) -> int:
    """A clock time or range at words[i] ("10", "10-11", "10 til 11"): tokens used, or 0."""
    word = words[i]
    exact = found.at is None or found.part_of_day  # an exact time wins over "ettermiddag"
    if exact and (_CLOCK_RANGE.match(word) or _clock_with_suffix(words, i, strict=False)):
        found.end, found.part_of_day = None, False
    span = _CLOCK_RANGE.match(word)
    if span is not None:
        end = _clock(span[2], word, strict=False)
        first = span[1]
        if span[3] and not first.endswith(("am", "pm")):  # "2-3pm": 2pm; "11-1pm": 11am
            start = _clock(first + span[3], word, strict=False)
            if start is not None and end is not None and start >= end:
                start = _clock(first + "am", word, strict=False)
        else:
            start = _clock(first, word, strict=False)
        if start is None or end is None or end <= start:
            raise WhenError(word)
        found.at, found.end = start, end
        return 1
    clock = _clock_with_suffix(words, i, strict=False)
    if clock is None:
        return 0
    found.at, used = clock
    j = i + used
    if j + 1 < len(words) and words[j] in _RANGE_WORDS:
        k = j + 1 + (1 if words[j + 1] in _AT_WORDS and j + 2 < len(words) else 0)
        closing = _clock_with_suffix(words, k, strict=False)
        if closing is not None and closing[0] > found.at:
            found.end = closing[0]
            return k + closing[1] - i
    return used


def parse_when(words: list[str], today: date, now: datetime | None = None) -> When:
    """Pull days, clock times, durations and 'until' out of `words`; the rest stays in order.

    `now` (the asker's local time) is needed for "om en time" / "nå"; without it those words
    stay in the rest.
    """
    found = _Found()
    rest: list[str] = []
    i = 0
    while i < len(words):
        used = _one(words, i, today, now, found)
        if used:
            i += used
        else:
            rest.append(words[i])
            i += 1
    return When(
        day=found.day,
        at=found.at,
        duration=found.duration,
        until=found.until,
        rest=tuple(rest),
        end=found.end,
        through=found.through,
        part_of_day=found.part_of_day,
        from_day=found.from_day,
    )


def _one(words: list[str], i: int, today: date, now: datetime | None, found: _Found) -> int:
    """Tokens used by a time expression at words[i] (recorded in `found`), or 0."""
    word = words[i]
    following = words[i + 1] if i + 1 < len(words) else None
    attached = _ATTACHED_KL.match(word)
    if attached is not None and i + 1 <= len(words):  # "kl10", "kl.10-11"
        return _clock_range([*words[:i], attached[1], *words[i + 1 :]], i, found)
    if tuple(words[i : i + 3]) in (_THROUGH, _FROM_INCLUSIVE) and i + 3 < len(words):
        day = parse_day(words, i + 3, today)
        if day is not None:
            if words[i] == "til":
                reference = found.day if found.from_day and found.day else today
                found.until = (parse_day(words, i + 3, reference) or day)[0]
            else:
                found.day, found.from_day = day[0], True
            return 3 + day[1]
    if following is not None and word in _START_WORDS:
        day = parse_day(words, i + 1, today)
        if day is not None:
            found.day = day[0] + timedelta(days=_START_WORDS[word])
            found.from_day = True
            return 1 + day[1]
    if following is not None:
        if word in _UNTIL_WORDS:
            # "fra mandag til fredag": the Friday after that Monday
            reference = found.day if found.from_day and found.day else today
            day = parse_day(words, i + 1, reference)
            if day is not None:
                found.until = day[0]
                return 1 + day[1]
            week = parse_week(words, i + 1, today)
            if week is not None:
                found.until = week[1]
                return 1 + week[2]
        if word in _AT_WORDS or word in _FROM_WORDS:
            j = i + 1 + (1 if word in _FROM_WORDS and following in _AT_WORDS else 0)
            if j < len(words):
                try:
                    used = _clock_range(words, j, found)
                except WhenError as exc:  # "kl 25": quote it as written
                    raise WhenError(" ".join([*words[i:j], exc.token])) from None
                if used:
                    return j - i + used
        if word in _FILLER_BEFORE_DAY:
            j = i + 1
            if j < len(words) - 1 and words[j] in _FILLER_BEFORE_DAY:
                j += 1  # "on the 3rd of december"
            week = parse_week(words, j, today)
            if week is not None:
                found.day, found.through = week[0], week[1]
                return j - i + week[2]
            day = parse_day(words, j, today)
            if day is not None:
                found.day = day[0]
                return j - i + day[1]
        if word in _IN_WORDS and _days_ahead(words, i + 1) is not None:
            days, used = _days_ahead(words, i + 1) or (0, 0)
            found.day = today + timedelta(days=days)
            return 1 + used
        if word in {"i", "for", "pa"}:
            span = _duration(words, i + 1)
            if span is not None:  # "i 45 min", "for an hour"
                found.duration = span[0]
                return 1 + span[1]
        if now is not None and word in _IN_WORDS:
            span = _duration(words, i + 1)
            if span is not None:
                moment = now + span[0]
                found.day, found.at = moment.date(), moment.time().replace(second=0, microsecond=0)
                return 1 + span[1]
    if following == "pa" and word == "midt" and words[i + 2 : i + 3] == ["dagen"]:
        if found.at is None or found.part_of_day:
            found.at, found.end, found.part_of_day = time(11), time(13), True  # "midt på dagen"
        return 3
    if word in _DAY_PARTS or (word in _PART_FILLER and following in _DAY_PARTS):
        part = word if word in _DAY_PARTS else str(following)
        if found.at is None or found.part_of_day:  # "kl 14 i ettermiddag": 14 stays
            found.at, found.end = _DAY_PARTS[part]
            found.part_of_day = True
        return 1 if word in _DAY_PARTS else 2
    for filler in _SPAN_FILLER:
        if tuple(words[i : i + len(filler)]) == filler and i + len(filler) < len(words):
            j = i + len(filler)
            week = parse_week(words, j, today)
            if week is not None:
                found.day, found.through = week[0], week[1]
                return len(filler) + week[2]
    if now is not None:
        for phrase in _NOW:
            if tuple(words[i : i + len(phrase)]) == phrase:
                found.day, found.at = now.date(), now.time().replace(second=0, microsecond=0)
                return len(phrase)
    week = parse_week(words, i, today)
    if week is not None:
        found.day, found.through, used = week
        return used
    day = parse_day(words, i, today)
    if day is not None:
        found.day = day[0]
        return day[1]
    span_match = _CLOCK_RANGE.match(word)
    if span_match is not None and not _DATE_ISO.match(word):
        return _clock_range(words, i, found)
    dotted = _DATE_DOTTED.match(word)
    if dotted is not None:  # parse_day declined it: a clock time such as "14.30"
        return _clock_range(words, i, found)
    clock = _clock_with_suffix(words, i, strict=True)
    if clock is not None:
        return _clock_range(words, i, found)
    span = _duration(words, i)
    if span is not None:
        found.duration = span[0]
        return span[1]
    return 0
