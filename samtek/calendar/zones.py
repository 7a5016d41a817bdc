"""Outlook's Windows zone names ("W. Europe Standard Time") -> IANA names, from CLDR's
windowsZones table, so the tz database (with its history) is used rather than the one-rule
VTIMEZONE Outlook writes. Used by `repair` on TZID properties and TZID parameters; and
zones of a file's own get ids of their own (`private_zone_ids`)."""

from __future__ import annotations

import functools
import hashlib
import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:  # repair imports this module
    from samtek.calendar.repair import Section

try:  # CLDR windowsZones.xml, generated into icalendar (version and date in that module)
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON
except ImportError:  # pragma: no cover - an icalendar without it: the zones Norway meets
    WINDOWS_TO_OLSON = {
        "W. Europe Standard Time": "Europe/Berlin",
        "Romance Standard Time": "Europe/Paris",
        "Central Europe Standard Time": "Europe/Budapest",
        "Central European Standard Time": "Europe/Warsaw",
        "GMT Standard Time": "Europe/London",
        "FLE Standard Time": "Europe/Kiev",
        "UTC": "Etc/UTC",
    }
# Outlook/Exchange spellings that are not Windows zone ids.
_MS_ALIASES = {"tzone://Microsoft/Utc": "Etc/UTC", "Coordinated Universal Time": "Etc/UTC"}

_MS_UTC_UNQUOTED = re.compile(r";TZID=tzone://Microsoft/Utc:", re.IGNORECASE)
_TZID_PARAM = re.compile(r'(;TZID=)(?:"([^"]*)"|([^";:]*))', re.IGNORECASE)


def _windows_zone(name: str) -> str | None:
    name = name.strip().strip('"')
    return WINDOWS_TO_OLSON.get(name) or _MS_ALIASES.get(name)


def rewrite_zones(name: str, line: str) -> str:
    if name == "TZID":
        olson = _windows_zone(line.partition(":")[2].replace("\\,", ","))
        return f"TZID:{olson}" if olson else line
    if ";" not in line.partition(":")[0] and "tzone://" not in line:
        return line
    # Exchange may write this alias unquoted although it contains a colon.
    line = _MS_UTC_UNQUOTED.sub(";TZID=Etc/UTC:", line)
    return _TZID_PARAM.sub(_rewrite_tzid, line)


def _rewrite_tzid(match: re.Match[str]) -> str:
    name = match.group(2) if match.group(2) is not None else match.group(3)
    olson = _windows_zone(name)
    return f"{match.group(1)}{olson}" if olson else match.group(0)


def private_zone_ids(sections: list[Section]) -> None:
    """Give each VTIMEZONE that defines a zone of its own ("Customized Time Zone", Outlook's
    display names) an id made from its definition, in place.

    icalendar keeps such definitions in one process-wide cache, by TZID, first one wins: two
    people whose Outlook both says "Customized Time Zone" (for different zones) would share
    the first one's. Named by content, each definition is its own.
    """
    for section in sections:
        renamed: dict[str, str] = {}
        for block in section.blocks:
            if block.name != "VTIMEZONE":
                continue
            for n, line in enumerate(block.lines):
                if line.upper().startswith("TZID:"):
                    tzid = _unescape(line[5:])  # TEXT here, a quoted parameter where used
                    if not _known(tzid):
                        digest = hashlib.sha256("\n".join(block.lines).encode()).hexdigest()
                        renamed[tzid] = f"{tzid} ({digest[:12]})"
                        block.lines[n] = "TZID:" + _escape(renamed[tzid])
                    break
        if not renamed:
            continue
        for block in section.blocks:
            if block.name != "VTIMEZONE":
                block.lines = [
                    _rename(line, renamed) if "TZID=" in line.upper() else line
                    for line in block.lines
                ]


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text.strip())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")


def _rename(line: str, renamed: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(2) if match.group(2) is not None else match.group(3)
        new = renamed.get(name)
        return f'{match.group(1)}"{new}"' if new is not None else match.group(0)

    return _TZID_PARAM.sub(one, line)


@functools.cache
def _known(tzid: str) -> bool:
    """A zone the tz database knows (also as a "globally unique" /vendor/Area/City id)."""
    parts = tzid.strip().strip("/").split("/")
    return any(_in_tzdb("/".join(parts[start:])) for start in range(len(parts)))


def _in_tzdb(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
