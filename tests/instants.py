"""Expected texts that depend on the instant a test runs at (see the `clock` fixture).

Written from the rule the status texts follow (samtek/presence/texts.py docstring), not by
calling the code: an end later today is a clock time, one on the next day is "tomorrow" and
a clock time, in the reader's time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

TOMORROW = {"nb": "i morgen", "nn": "i morgon", "en": "tomorrow"}


def until_text(end: datetime, now: datetime, zone: ZoneInfo, language: str) -> str:
    """A clock time ("14:05") when `end` is later today in `zone`; "i morgen 00:53" when it is
    tomorrow there."""
    local_end, local_now = end.astimezone(zone), now.astimezone(zone)
    days = (local_end.date() - local_now.date()).days
    if days == 0:
        return f"{local_end:%H:%M}"
    if days == 1:
        return f"{TOMORROW[language]} {local_end:%H:%M}"
    raise ValueError(f"{end} is more than a day after {now}: not a short meeting's end")


def until_texts(
    end: datetime, zone: ZoneInfo, language: str, *between: datetime | float
) -> set[str]:
    """`until_text` for a text the service computed at some instant in `between` (datetimes,
    or time() values from the real-time e2e clients): near midnight it may read either way."""
    instants = (t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC) for t in between)
    return {until_text(end, t, zone, language) for t in instants}


_WEEKDAYS_NB = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
_MONTHS_NB = (
    *("januar", "februar", "mars", "april", "mai", "juni"),
    *("juli", "august", "september", "oktober", "november", "desember"),
)


def day_nb(day: date) -> str:
    """A day as a bokmål status names it: "mandag 2. desember"."""
    return f"{_WEEKDAYS_NB[day.weekday()]} {day.day}. {_MONTHS_NB[day.month - 1]}"
