"""Step 2: content lines -> the VCALENDAR's components as blocks, repairing what exporters
and feed mergers really break, so the damage costs a line, never the feed:

- A raw line break inside a text value (the exporter forgot to escape it): the next line is
  no content line. Joined back onto the text property it belongs to; any other line that is
  not a content line is dropped.
- Several VCALENDAR objects in one stream (RFC 5545 §3.4 allows it; naive mergers produce it):
  each becomes a `Section` with its own calendar properties (X-WR-TIMEZONE applies to its own
  events only); `parse` merges them.
- Components left open (a missing END:VALARM) are closed where their parent ends; stray END
  lines are dropped.
- Outlook's Windows zone names ("W. Europe Standard Time") are rewritten to IANA names from
  CLDR's windowsZones table, so the tz database (with its history) is used rather than the
  one-rule VTIMEZONE Outlook writes.

A component with more properties (or EXDATE/RDATE values) than any real event has is refused
here, before the parser spends anything on it; its lines are not even kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from samtek.calendar import CalendarError
from samtek.calendar.read import Lines
from samtek.calendar.report import CpuBudget, Problem, problem

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

# A daily meeting over ten years with its holidays excluded has a few hundred EXDATEs, and
# a few hundred moved or edited instances (overrides sharing its UID).
MAX_PROPERTIES_PER_COMPONENT = 5_000
MAX_COMPONENTS_PER_UID = 2_000

INTERNAL_PREFIX = "X-SAMTEK-INTERNAL-"  # properties SAMTEK adds itself; never taken from a feed

# name *(";" param) ":" value, params possibly quoted (RFC 5545 §3.1).
_PARAM = r'[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*'
_CONTENT_LINE = re.compile(rf"^[A-Za-z0-9-]+(?:;{_PARAM})*:")
_LOOKS_LIKE_PROPERTY = re.compile(r"^[A-Za-z0-9-]+[;:]")
_MS_UTC_UNQUOTED = re.compile(r";TZID=tzone://Microsoft/Utc:", re.IGNORECASE)
_TZID_PARAM = re.compile(r'(;TZID=)(?:"([^"]*)"|([^";:]*))', re.IGNORECASE)
# Properties of value type TEXT (RFC 5545 §3.8), where exporters leave raw line breaks.
_TEXT_PROPERTIES = frozenset(
    {"SUMMARY", "DESCRIPTION", "LOCATION", "COMMENT", "CONTACT", "RESOURCES", "CATEGORIES"}
)


@dataclass
class Block:
    """One component directly inside a VCALENDAR (VEVENT, VTIMEZONE, ...), nested ones included."""

    name: str
    lines: list[str] = field(default_factory=list)
    uid: str | None = None
    values: int = 0  # properties plus list values, against MAX_PROPERTIES_PER_COMPONENT
    refused: bool = False

    def label(self) -> str:
        return self.uid or f"({self.name} without UID)"


@dataclass
class Section:
    """One VCALENDAR object of the stream: its own properties and its components."""

    properties: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


@dataclass
class _Damage:
    joined: int = 0
    dropped: int = 0
    closed: int = 0
    not_utf8: int = 0


def repair(read: Lines, problems: list[Problem] | None, budget: CpuBudget) -> list[Section]:
    """The stream's VCALENDAR objects; raises CalendarError when there is none, or it is cut."""
    lines = read.text
    sections: list[Section] = []
    section: Section | None = None
    block: Block | None = None
    stack: list[str] = []  # open components inside `block`
    damage: dict[int | None, _Damage] = {}  # per block (by id), None: the calendar itself
    owners: dict[int, Block] = {}
    previous: str | None = None  # the last kept property's name, for raw line breaks
    for number, line in enumerate(lines):
        if number % 10_000 == 0:
            budget.check("reading lines")
        owner = id(block) if block is not None else None
        if block is not None:
            owners[id(block)] = block
        if number in read.not_utf8:
            damage.setdefault(owner, _Damage()).not_utf8 += 1
        if not _CONTENT_LINE.match(line):
            if previous is not None and _is_text(previous) and not _LOOKS_LIKE_PROPERTY.match(line):
                target = block.lines if block is not None else section.properties if section else []
                if target:
                    target[-1] += "\\n" + _escape_text(line)
                    damage.setdefault(owner, _Damage()).joined += 1
                    continue
            damage.setdefault(owner, _Damage()).dropped += 1
            continue
        name, _, value = line.partition(":")
        name = name.split(";", 1)[0].upper()
        upper_value = value.strip().upper()
        if name == "BEGIN" and upper_value == "VCALENDAR":
            if section is not None:  # a merger dropped END lines: close what is open
                if block is not None:
                    damage.setdefault(owner, _Damage()).closed += len(stack)
                    block.lines.extend(f"END:{left}" for left in reversed(stack))
                    _close(section, block, problems)
                    block, stack = None, []
                sections.append(section)
            section = Section()
            previous = None
            continue
        if section is None:  # outside any VCALENDAR (between two objects, or junk)
            damage.setdefault(None, _Damage()).dropped += 1
            continue
        if name == "END" and upper_value == "VCALENDAR":
            if block is not None:  # an END was lost: close what is open
                damage.setdefault(owner, _Damage()).closed += len(stack)
                block.lines.extend(f"END:{left}" for left in reversed(stack))
                _close(section, block, problems)
                block, stack = None, []
            sections.append(section)
            section, previous = None, None
            continue
        if block is None:
            if name == "BEGIN":
                block, stack = Block(upper_value), [upper_value]
                block.lines.append(f"BEGIN:{upper_value}")
            elif name == "END":
                damage.setdefault(None, _Damage()).dropped += 1
            elif not name.startswith(INTERNAL_PREFIX):
                section.properties.append(line)
            previous = name
            continue
        previous = name
        if name == "END":
            if upper_value not in stack:
                damage.setdefault(owner, _Damage()).dropped += 1
                continue
            while stack and stack[-1] != upper_value:  # close what was left open
                damage.setdefault(owner, _Damage()).closed += 1
                block.lines.append(f"END:{stack.pop()}")
            stack.pop()
            block.lines.append(f"END:{upper_value}")
            if not stack:
                _close(section, block, problems)
                block = None
            continue
        if name == "BEGIN":
            stack.append(upper_value)
            block.lines.append(f"BEGIN:{upper_value}")
            continue
        if name == "UID" and len(stack) == 1 and block.uid is None:
            block.uid = value.strip()
        if name.startswith(INTERNAL_PREFIX):
            continue
        block.values += 1 + (value.count(",") if name in ("EXDATE", "RDATE") else 0)
        if block.values > MAX_PROPERTIES_PER_COMPONENT:
            if not block.refused:
                block.refused = True
                block.lines = block.lines[:1] + [ln for ln in block.lines if ln.startswith("UID")]
            continue
        if not block.refused:
            block.lines.append(_rewrite_zones(name, line))
            if name == "DURATION" and len(stack) == 1:  # as written: `event` needs it
                block.lines.append(f"{INTERNAL_PREFIX}DURATION:{value.strip()}")
    if section is not None:
        raise CalendarError("malformed iCalendar data: truncated (no END:VCALENDAR at the end)")
    if not sections:
        start = (lines[0] if lines else "")[:60]
        raise CalendarError(
            f"malformed iCalendar data: no BEGIN:VCALENDAR (it starts with {start!r})"
        )
    by_uid: dict[str | None, _Damage] = {}  # overrides share their series' UID
    for key, found in damage.items():
        total = by_uid.setdefault(owners[key].label() if key is not None else None, _Damage())
        total.joined += found.joined
        total.dropped += found.dropped
        total.closed += found.closed
        total.not_utf8 += found.not_utf8
    _report_damage(by_uid, problems)
    _refuse_crowded_series(sections, problems)
    return sections


def _refuse_crowded_series(sections: list[Section], problems: list[Problem] | None) -> None:
    """A series with more overrides than any real one is refused before it is parsed."""
    per_uid: dict[str, int] = {}
    for section in sections:
        for block in section.blocks:
            if block.uid is not None:
                per_uid[block.uid] = per_uid.get(block.uid, 0) + 1
    crowded = {uid for uid, count in per_uid.items() if count > MAX_COMPONENTS_PER_UID}
    for uid in crowded:
        problem(
            problems,
            Problem(
                f"refused: {per_uid[uid]:,} components share this UID"
                f" (more than {MAX_COMPONENTS_PER_UID:,} overrides)",
                uid,
            ),
        )
    if crowded:
        for section in sections:
            section.blocks = [b for b in section.blocks if b.uid not in crowded]


def _close(section: Section, block: Block, problems: list[Problem] | None) -> None:
    if block.refused:
        problem(
            problems,
            Problem(
                f"refused: more than {MAX_PROPERTIES_PER_COMPONENT:,} properties or"
                " EXDATE/RDATE values",
                block.label(),
            ),
        )
        return
    section.blocks.append(block)


def _report_damage(damage: dict[str | None, _Damage], problems: list[Problem] | None) -> None:
    for uid, found in damage.items():
        if found.not_utf8:
            problem(
                problems,
                Problem(f"{found.not_utf8} line(s) not UTF-8, read as Windows-1252", uid, False),
            )
        if found.joined:
            problem(
                problems,
                Problem(f"{found.joined} raw line break(s) inside a text value joined", uid, False),
            )
        if found.dropped:
            problem(
                problems,
                Problem(
                    f"malformed iCalendar data: {found.dropped} line(s) dropped"
                    " (not content lines, or out of place)",
                    uid,
                    False,
                ),
            )
        if found.closed:
            problem(
                problems,
                Problem(f"{found.closed} component(s) without END, closed", uid, False),
            )


def _is_text(name: str) -> bool:
    return name in _TEXT_PROPERTIES or name.startswith("X-")


def _escape_text(text: str) -> str:
    """A raw continuation line as TEXT (RFC 5545 §3.3.11)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")


def _windows_zone(name: str) -> str | None:
    name = name.strip().strip('"')
    return WINDOWS_TO_OLSON.get(name) or _MS_ALIASES.get(name)


def _rewrite_zones(name: str, line: str) -> str:
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
