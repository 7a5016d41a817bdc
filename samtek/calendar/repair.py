"""Step 2: content lines -> the VCALENDAR's components as blocks, repairing what exporters
and feed mergers really break, so the damage costs a line, never the feed:

- A raw line break inside a text value (the exporter forgot to escape it): the next line is
  no content line. Joined back onto the text property it belongs to; any other line that is
  not a content line is dropped.
- Several VCALENDAR objects in one stream (RFC 5545 §3.4 allows it; naive mergers produce it):
  each becomes a `Section` with its own calendar properties (X-WR-TIMEZONE applies to its own
  events only); `parse` merges them.
- Components left open (a lost END:VALARM, END:VEVENT or END:VCALENDAR) are closed where
  their parent ends or the next VCALENDAR begins; stray END lines are dropped.
- Outlook's Windows zone names are rewritten to IANA names (`zones`).

Every repair is reported with the UID of its event (a `Problem` that refused nothing).
A component with more properties (or EXDATE/RDATE values) than any real event has, and a
series with more overrides than any real one, are refused here, before the parser spends
anything on them; the lines of the first are not even kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from samtek.calendar import CalendarError
from samtek.calendar.read import Lines
from samtek.calendar.report import CpuBudget, Problem, problem
from samtek.calendar.zones import private_zone_ids, rewrite_zones

# A daily meeting over ten years with its holidays excluded has a few hundred EXDATEs, and
# a few hundred moved or edited instances (overrides sharing its UID).
MAX_PROPERTIES_PER_COMPONENT = 5_000
MAX_COMPONENTS_PER_UID = 2_000
# icalendar keeps every zone definition it parses for the life of the process: a feed with
# thousands of distinct VTIMEZONEs would grow that cache on every poll. Real files have a few.
MAX_ZONES = 100

INTERNAL_PREFIX = "X-SAMTEK-INTERNAL-"  # properties SAMTEK adds itself; never taken from a feed
# The properties `filter` decides by (at the top level of a VEVENT).
FILTERED = frozenset({"DTSTART", "DTEND", "RRULE", "RDATE", "RECURRENCE-ID", "DURATION"})

# name *(";" param) ":" value, params possibly quoted (RFC 5545 §3.1).
_PARAM = r'[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*'
_CONTENT_LINE = re.compile(rf"^[A-Za-z0-9-]+(?:;{_PARAM})*:")
_LOOKS_LIKE_PROPERTY = re.compile(r"^[A-Za-z0-9-]+[;:]")
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
    # For `filter`, so it need not read every line again: where its top-level lines are
    # (indexes, as lines are changed in place later), and whether it overrides an occurrence.
    dates: list[int] = field(default_factory=list)
    override: bool = False

    def label(self) -> str:
        return self.uid or f"({self.name} without UID)"


@dataclass
class Section:
    """One VCALENDAR object of the stream: its own properties and its components."""

    properties: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


@dataclass
class _Damage:
    not_utf8: int = 0
    joined: int = 0
    dropped: int = 0
    closed: int = 0

    def add(self, other: _Damage) -> None:
        self.not_utf8 += other.not_utf8
        self.joined += other.joined
        self.dropped += other.dropped
        self.closed += other.closed


def repair(read: Lines, problems: list[Problem] | None, budget: CpuBudget) -> list[Section]:
    """The stream's VCALENDAR objects; raises CalendarError when there is none, or it is cut."""
    stream = _Stream(problems)
    for number, line in enumerate(read.text):
        if number % 10_000 == 0:
            budget.check("reading lines")
        stream.feed(line, number in read.not_utf8)
    if stream.section is not None:
        raise CalendarError("malformed iCalendar data: truncated (no END:VCALENDAR at the end)")
    if not stream.sections:
        start = (read.text[0] if read.text else "")[:60]
        raise CalendarError(
            f"malformed iCalendar data: no BEGIN:VCALENDAR (it starts with {start!r})"
        )
    stream.report_damage()
    _refuse_crowded_series(stream.sections, problems)
    private_zone_ids(stream.sections)
    return stream.sections


class _Stream:
    """The state while lines go by: the open VCALENDAR, the open component and its nesting."""

    def __init__(self, problems: list[Problem] | None) -> None:
        self.problems = problems
        self.sections: list[Section] = []
        self.section: Section | None = None
        self.block: Block | None = None
        self.stack: list[str] = []  # components open inside `block`
        self.previous: str | None = None  # the last property's name, for raw line breaks
        self.outside = _Damage()  # damage not inside any component
        self.damage: dict[int, tuple[Block, _Damage]] = {}
        self.zones = 0  # VTIMEZONEs kept, against MAX_ZONES
        self.zones_dropped = 0

    def feed(self, line: str, not_utf8: bool) -> None:
        if not_utf8:
            self._damage().not_utf8 += 1
        if not _CONTENT_LINE.match(line):
            self._not_a_content_line(line)
            return
        name, _, value = line.partition(":")
        name = name.split(";", 1)[0].upper()
        framing = name in ("BEGIN", "END")  # only their values are read in upper case
        if framing and value.strip().upper() == "VCALENDAR":
            self._calendar(begin=name == "BEGIN")
        elif self.section is None:  # outside any VCALENDAR: between two objects, or junk
            self.outside.dropped += 1
        elif self.block is None:
            self._top_level(self.section, name, value.strip().upper() if framing else "", line)
        else:
            self._in_block(self.block, name, value, line)

    def _not_a_content_line(self, line: str) -> None:
        target = self.block.lines if self.block is not None else None
        if target is None and self.section is not None:
            target = self.section.properties
        raw_break = self.previous is not None and _is_text(self.previous)
        if raw_break and target and not _LOOKS_LIKE_PROPERTY.match(line):
            target[-1] += "\\n" + _escape_text(line)
            self._damage().joined += 1
        else:
            self._damage().dropped += 1

    def _calendar(self, begin: bool) -> None:
        if self.section is not None:  # END:VCALENDAR, or a merger lost it: close what is open
            self._close_open_block()
            self.sections.append(self.section)
        elif not begin:
            self.outside.dropped += 1
        self.section = Section() if begin else None
        self.previous = None

    def _top_level(self, section: Section, name: str, value: str, line: str) -> None:
        self.previous = name
        if name == "BEGIN":
            self.block, self.stack = Block(value, [f"BEGIN:{value}"]), [value]
        elif name == "END":
            self.outside.dropped += 1
        elif not name.startswith(INTERNAL_PREFIX):
            section.properties.append(line)

    def _in_block(self, block: Block, name: str, value: str, line: str) -> None:
        self.previous = name
        if name == "END":
            self._end(block, value.strip().upper())
        elif name == "BEGIN":
            self.stack.append(value.strip().upper())
            block.lines.append(f"BEGIN:{self.stack[-1]}")
        elif not name.startswith(INTERNAL_PREFIX):
            self._property(block, name, value, line)

    def _end(self, block: Block, name: str) -> None:
        if name not in self.stack:
            self._damage().dropped += 1
            return
        while self.stack[-1] != name:  # close what was left open inside it
            self._damage().closed += 1
            block.lines.append(f"END:{self.stack.pop()}")
        self.stack.pop()
        block.lines.append(f"END:{name}")
        if not self.stack:
            self._finish(block)

    def _property(self, block: Block, name: str, value: str, line: str) -> None:
        top = len(self.stack) == 1
        if name == "UID" and top and block.uid is None:
            block.uid = value.strip()
        block.values += 1 + (value.count(",") if name in ("EXDATE", "RDATE") else 0)
        if block.values > MAX_PROPERTIES_PER_COMPONENT:
            if not block.refused:  # keep nothing more of it
                block.refused = True
                block.lines = block.lines[:1]
            return
        if block.refused:
            return
        block.lines.append(rewrite_zones(name, line))
        if top and name in FILTERED:
            block.dates.append(len(block.lines) - 1)
        if name.startswith("RECURRENCE-ID"):
            block.override = True
        if name == "DURATION" and top:  # as written: `event` reads days and hours apart
            block.lines.append(f"{INTERNAL_PREFIX}DURATION:{value.strip()}")

    def _close_open_block(self) -> None:
        if self.block is not None:
            self._damage().closed += len(self.stack)
            self.block.lines.extend(f"END:{name}" for name in reversed(self.stack))
            self._finish(self.block)

    def _finish(self, block: Block) -> None:
        self.block, self.stack = None, []
        assert self.section is not None
        if block.refused:
            reason = (
                f"refused: more than {MAX_PROPERTIES_PER_COMPONENT:,} properties or"
                " EXDATE/RDATE values"
            )
            problem(self.problems, Problem(reason, block.label()))
        elif block.name == "VTIMEZONE" and self.zones >= MAX_ZONES:
            self.zones_dropped += 1
        else:
            self.zones += block.name == "VTIMEZONE"
            self.section.blocks.append(block)

    def _damage(self) -> _Damage:
        if self.block is None:
            return self.outside
        return self.damage.setdefault(id(self.block), (self.block, _Damage()))[1]

    def report_damage(self) -> None:
        """One problem per kind of damage and event; the UID is known only at its end."""
        if self.zones_dropped:
            reason = f"{self.zones_dropped} VTIMEZONE(s) beyond the first {MAX_ZONES} dropped"
            problem(self.problems, Problem(reason, None, False))
        by_uid: dict[str | None, _Damage] = {None: self.outside}
        for block, found in self.damage.values():  # overrides share their series' UID
            by_uid.setdefault(block.label(), _Damage()).add(found)
        for uid, found in by_uid.items():
            for count, what in (
                (found.not_utf8, "{} line(s) not UTF-8, read as Windows-1252"),
                (found.joined, "{} raw line break(s) inside a text value joined"),
                (
                    found.dropped,
                    "malformed iCalendar data: {} line(s) dropped"
                    " (not content lines, or out of place)",
                ),
                (found.closed, "{} component(s) without END, closed"),
            ):
                if count:
                    problem(self.problems, Problem(what.format(count), uid, False))


def _refuse_crowded_series(sections: list[Section], problems: list[Problem] | None) -> None:
    """A series with more overrides than any real one is refused before it is parsed."""
    per_uid: dict[str, int] = {}
    for section in sections:
        for block in section.blocks:
            if block.uid is not None:
                per_uid[block.uid] = per_uid.get(block.uid, 0) + 1
    crowded = {uid for uid, count in per_uid.items() if count > MAX_COMPONENTS_PER_UID}
    for uid in crowded:
        reason = (
            f"refused: {per_uid[uid]:,} components share this UID"
            f" (more than {MAX_COMPONENTS_PER_UID:,} overrides)"
        )
        problem(problems, Problem(reason, uid))
    if crowded:
        for section in sections:
            section.blocks = [b for b in section.blocks if b.uid not in crowded]


def _is_text(name: str) -> bool:
    return name in _TEXT_PROPERTIES or name.startswith("X-")


def _escape_text(text: str) -> str:
    """A raw continuation line as TEXT (RFC 5545 §3.3.11)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
