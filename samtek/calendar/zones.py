"""Outlook's Windows zone names ("W. Europe Standard Time") -> IANA names, from CLDR's
windowsZones table, so the tz database (with its history) is used rather than the one-rule
VTIMEZONE Outlook writes. Used by `repair` on TZID properties and TZID parameters."""

from __future__ import annotations

import re

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
