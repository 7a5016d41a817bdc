"""What the rooms daemon writes to people, in bokmål, nynorsk or English.

Texts posted in a room (reminders, the archive notice) use the room's language; an
invitation uses the member's own language when the directory knows it, else the room's.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Any

LANGUAGES = ("nb", "nn", "en")


@cache
def _catalogue(language: str) -> dict[str, str]:
    text = files("bridges.rooms").joinpath(f"catalogs/{language}.toml").read_text("utf-8")
    return tomllib.loads(text)


def text(language: str, key: str, **params: Any) -> str:
    """The text for `key`; an unknown language falls back to bokmål (the region's default)."""
    catalogue = _catalogue(language if language in LANGUAGES else "nb")
    return catalogue[key].format(**params)
