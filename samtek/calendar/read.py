"""Step 1: bytes -> content lines (RFC 5545 §3.1), with cheap limits checked first.

Unfolding works on the octets, before any decoding: a fold may split a multi-octet UTF-8
character ("ø" is two octets), and decoding first would see two broken halves. Each line is
then decoded on its own: UTF-8, and only for a line that is not UTF-8, Windows-1252 (older
Outlook and Lotus exports), so one stray byte damages one value at most, and it is reported.

Line endings are read as exporters really write them: CRLF, LF, CR, and CR CR LF.

Before any of that, the feed is measured with byte counts that run at C speed: a feed with
more components or lines than any real calendar has is refused before it costs anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from samtek.calendar import CalendarError
from samtek.calendar.report import CpuBudget

# A year of a busy person's meetings is ~1,000 components and ~30,000 lines; a large shared
# municipal calendar a few times that. Beyond these a feed is refused whole, cheaply.
MAX_COMPONENTS = 20_000
MAX_LINES = 500_000

_FOLD = re.compile(rb"\r*\n[ \t]|\r[ \t]")
_LINE_END_BYTES = re.compile(rb"\r*\n|\r")
_LINE_END = re.compile(r"\r*\n|\r")
# The same for a feed whose every line ends in CRLF, or in LF: the same matches, found ten
# times faster (a pattern that starts with a literal is searched for, not tried everywhere).
_FOLD_CRLF = re.compile(rb"\r\n[ \t]")
_FOLD_LF = re.compile(rb"\n[ \t]")
_BOM = b"\xef\xbb\xbf"


def measure(data: bytes) -> None:
    """Refuse a feed that is larger than any real calendar, before parsing it."""
    lines = max(data.count(b"\n"), data.count(b"\r"))
    if lines > MAX_LINES:
        raise CalendarError(f"refused: {lines:,} lines, more than {MAX_LINES:,}")
    # BEGIN: at the start or after a line break, in any letter case
    lower = data.lower()
    components = lower.startswith(b"begin:") + lower.count(b"\nbegin:") + lower.count(b"\rbegin:")
    if components > MAX_COMPONENTS:
        raise CalendarError(f"refused: {components:,} components, more than {MAX_COMPONENTS:,}")


def _endings(data: bytes) -> str | None:
    """The one line ending `data` uses throughout ("\r\n" or "\n"), or None when mixed."""
    crs = data.count(b"\r")
    if crs == 0:
        return "\n"
    if crs == data.count(b"\n") == data.count(b"\r\n"):
        return "\r\n"
    return None


@dataclass(frozen=True, slots=True)
class Lines:
    text: list[str]  # unfolded and decoded, blank lines left out
    not_utf8: frozenset[int] = frozenset()  # indexes of lines read as Windows-1252


def read_lines(data: bytes, budget: CpuBudget) -> Lines:
    """The content lines of `data`; `repair` reports the lines that were not UTF-8 (it knows
    which event each belongs to)."""
    measure(data)
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    ending = _endings(data)  # unfolding keeps it: it removes whole line breaks
    fold = _FOLD if ending is None else _FOLD_CRLF if ending == "\r\n" else _FOLD_LF
    unfolded = fold.sub(b"", data)
    budget.check("unfolding")
    try:  # the common case, at C speed
        text = unfolded.decode("utf-8")
        lines = _LINE_END.split(text) if ending is None else text.split(ending)
        not_utf8: set[int] = set()
        marks = "\ufeff" in text
    except UnicodeDecodeError:
        lines, not_utf8 = _decode_each(unfolded)
        marks = True
    budget.check("decoding")
    if marks and any("\ufeff" in line[:1] for line in lines):  # merged files keep their BOMs
        lines = [line.lstrip("\ufeff") for line in lines]
    if not not_utf8:
        return Lines([line for line in lines if line.strip()])
    kept = [n for n, line in enumerate(lines) if line.strip()]
    return Lines(
        [lines[n] for n in kept], frozenset(i for i, n in enumerate(kept) if n in not_utf8)
    )


def _decode_each(unfolded: bytes) -> tuple[list[str], set[int]]:
    lines: list[str] = []
    fallback: set[int] = set()
    for raw in _LINE_END_BYTES.split(unfolded):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            fallback.add(len(lines))
            lines.append(raw.decode("cp1252", errors="replace"))
    return lines, fallback
