"""The assistant's answers from message catalogues (catalogs/<lang>.toml), never from code.

`Texts(lang, tz)` renders a key with parameters and formats days, times and lists the way
that language writes them ("tirsdag 2. desember", "Tuesday 2 December").
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo

from babel.dates import format_date

LANGUAGES = ("nb", "nn", "en")
FALLBACK = "nb"
_BABEL_LOCALE = {"nb": "nb_NO", "nn": "nn_NO", "en": "en_GB"}


@cache
def catalogue(language: str) -> dict[str, str]:
    if language not in LANGUAGES:
        raise ValueError(f"no assistant catalogue for language {language!r}")
    text = files("bridges.assistant").joinpath(f"catalogs/{language}.toml").read_text("utf-8")
    return tomllib.loads(text)


class Texts:
    def __init__(self, language: str, timezone: str) -> None:
        self.language = language if language in LANGUAGES else FALLBACK
        self.tz = ZoneInfo(timezone)

    def __call__(self, key: str, **params: object) -> str:
        return catalogue(self.language)[key].format(**params)

    def day(self, day: date) -> str:
        pattern = "EEEE d MMMM" if self.language == "en" else "EEEE d. MMMM"
        return format_date(day, pattern, locale=_BABEL_LOCALE[self.language])

    def clock(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.tz):%H:%M}"

    def local_day(self, moment: datetime) -> str:
        return self.day(moment.astimezone(self.tz).date())

    def either(self, items: Sequence[str]) -> str:
        """'A eller B', 'A, B eller C' (the catalogue's word for 'or')."""
        return self._join(items, self("or"))

    def all_of(self, items: Sequence[str]) -> str:
        """'A, B og C' (the catalogue's word for 'and')."""
        return self._join(items, self("and"))

    def both(self, items: Sequence[str]) -> str:
        """'A, B, C' — names listed together."""
        return ", ".join(items)

    @staticmethod
    def _join(items: Sequence[str], word: str) -> str:
        if len(items) <= 1:
            return "".join(items)
        return f"{', '.join(items[:-1])} {word} {items[-1]}"
