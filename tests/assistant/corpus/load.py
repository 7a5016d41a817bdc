"""The conversation corpus (messages.toml): each message with its hand-written meaning."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bridges.assistant.intent import Understood

# The corpus's "now": Wednesday 25 November 2026 09:00 in the asker's timezone (week 48).
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Europe/Oslo"))
FILE = Path(__file__).with_name("messages.toml")


@dataclass(frozen=True)
class Case:
    lang: str
    text: str
    expected: Understood


def cases() -> list[Case]:
    data = tomllib.loads(FILE.read_text("utf-8"))
    out = []
    for raw in data["case"]:
        lang, text = raw.pop("lang"), raw.pop("text")
        raw["people"] = tuple(raw.get("people", ()))
        raw["groups"] = tuple(raw.get("groups", ()))
        out.append(Case(lang, text, Understood(**raw)))
    return out
