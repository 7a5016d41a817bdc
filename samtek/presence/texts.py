"""Status texts from message catalogues (catalogs/<lang>.toml), times in the person's zone.

"until" reads as a clock time today ("14:00"), "tomorrow 09:00", or a date further out
("måndag 2. desember"); out-of-office always names the day it ends. A state that ends at
midnight (all-day events: working elsewhere, out of office, a day-long course) ends on a
date, said the way people say it: "Jobber fra et annet sted i dag", "Fraværende til og med
fredag", "Out of office until Friday", never "til i morgen 00:00".
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo

from babel.dates import format_date

from samtek.model import ClaimKind

LANGUAGES = ("nb", "nn", "en")
_KEYS = {
    ClaimKind.IN_MEETING: "in_meeting",
    ClaimKind.TENTATIVE: "tentative",
    ClaimKind.PRESENTING: "presenting",
    ClaimKind.OUT_OF_OFFICE: "out_of_office",
    ClaimKind.WORKING_ELSEWHERE: "working_elsewhere",
    ClaimKind.PHONE_RINGING: "phone_ringing",
    ClaimKind.ON_PHONE: "on_phone",
    ClaimKind.PHONE_DND: "phone_dnd",
}
_WITH_SUBJECT = {ClaimKind.IN_MEETING, ClaimKind.TENTATIVE}
_BABEL_LOCALE = {"nb": "nb_NO", "nn": "nn_NO", "en": "en_GB"}


@cache
def catalogue(language: str) -> dict[str, str]:
    if language not in LANGUAGES:
        raise ValueError(f"no message catalogue for language {language!r}")
    text = files("samtek.presence").joinpath(f"catalogs/{language}.toml").read_text("utf-8")
    return tomllib.loads(text)


def status_text(
    kind: ClaimKind,
    until: datetime,
    now: datetime,
    language: str,
    timezone: str,
    subject: str | None = None,
    open_ended: bool = False,
) -> str:
    """The status line for a winning claim. `subject` must already respect privacy.
    `open_ended`: the state has no known end (Teams presence): no "until"."""
    texts = catalogue(language)
    key = _KEYS[kind]
    if open_ended and f"{key}_open" in texts:
        return texts[f"{key}_open"]
    if subject and kind in _WITH_SUBJECT:
        key += "_subject"
    tz = ZoneInfo(timezone)
    days = format_days(until, now, language, tz)
    if days is not None and f"{key}_days" in texts:
        return texts[f"{key}_days"].format(days=days, subject=subject)
    return texts[key].format(
        until=format_until(until, now, language, tz, date_only=kind is ClaimKind.OUT_OF_OFFICE),
        subject=subject,
    )


def format_days(until: datetime, now: datetime, language: str, tz: ZoneInfo) -> str | None:
    """For a state ending at local midnight, the days it covers from today on: "i dag",
    "i dag og i morgen", "til og med fredag" (within a week), "til og med fredag 11.
    desember"; None for any other end (a clock time is then the right answer)."""
    local_until, local_now = until.astimezone(tz), now.astimezone(tz)
    if local_until.timetz().replace(tzinfo=None) != time(0, 0) or local_until <= local_now:
        return None
    last_day = local_until.date() - timedelta(days=1)
    gap = (last_day - local_now.date()).days
    texts = catalogue(language)
    if gap <= 0:
        return texts["days_today"]
    if gap == 1:
        return texts["days_tomorrow"]
    if gap < 7:
        weekday = format_date(last_day, "EEEE", locale=_BABEL_LOCALE[language])
        return texts["days_through"].format(day=weekday)
    return texts["days_through"].format(day=_day(last_day, language))


def format_until(
    until: datetime, now: datetime, language: str, tz: ZoneInfo, date_only: bool = False
) -> str:
    local_until, local_now = until.astimezone(tz), now.astimezone(tz)
    day_gap = (local_until.date() - local_now.date()).days
    if date_only:
        # Out of office names the day it ends ("til måndag 2. desember"), no clock time.
        return _day(local_until.date(), language)
    clock = f"{local_until:%H:%M}"
    if day_gap == 0:
        return clock
    if day_gap == 1:
        return catalogue(language)["until_tomorrow"].format(time=clock)
    return f"{_day(local_until.date(), language)} {clock}"


def _day(day: date, language: str) -> str:
    # "måndag 2. desember" (nn), "mandag 2. desember" (nb), "Monday 2 December" (en)
    pattern = "EEEE d MMMM" if language == "en" else "EEEE d. MMMM"
    return format_date(day, pattern, locale=_BABEL_LOCALE[language])
