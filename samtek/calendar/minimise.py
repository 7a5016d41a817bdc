"""Keep of an iCalendar object only what presence needs, before it is kept anywhere.

Connectors that keep raw calendar data (CalDAV mirrors it, in memory and in the store, to
sync incrementally) pass it through `minimise` first. Each VEVENT keeps the properties the
ICS parser reads; the subject, location and meeting link only when its class is PUBLIC
(private, confidential and unknown classes hide them). Descriptions, alarms, attachments,
comments and vendor extras are dropped from every event, to-dos and journal entries
entirely. Everything outside events (VTIMEZONE, X-WR-TIMEZONE) stays as it is. Kept lines
are kept byte for byte, folding included.
"""

from __future__ import annotations

import re

# Everything the ICS parser and recurrence expansion read from an event (keep in step).
_STRUCTURE = frozenset(
    {
        "UID", "DTSTAMP", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE",
        "EXRULE", "RECURRENCE-ID", "SEQUENCE", "STATUS", "TRANSP", "CLASS", "ATTENDEE",
        "ORGANIZER", "X-MICROSOFT-CDO-BUSYSTATUS",
    }
)  # fmt: skip
# Shown to contacts who may see them: subject, location, the meeting link properties.
_DETAILS = frozenset(
    {"SUMMARY", "LOCATION", "URL", "X-MICROSOFT-SKYPETEAMSMEETINGURL", "X-GOOGLE-CONFERENCE",
     "X-SAMTEK-VIDEO-URL"}
)  # fmt: skip
_DROPPED_COMPONENTS = frozenset({"VTODO", "VJOURNAL"})
# A physical line: its content and its line break (CRLF, LF or none at the end).
_LINE = re.compile(rb"([^\r\n]*)(\r\n|\n|\r|$)")


def minimise(data: bytes) -> bytes:
    out: list[bytes] = []
    event: list[list[bytes]] | None = None  # the logical lines of the VEVENT being read
    skip: bytes | None = None  # END line that closes a dropped component
    for logical in _logical_lines(data):
        name, value = _name_value(logical)
        if skip is not None:
            if name == b"END" and value == skip:
                skip = None
            continue
        if event is not None:
            event.append(logical)
            if name == b"END" and value == b"VEVENT":
                out += _event_lines(event)
                event = None
        elif name == b"BEGIN" and value == b"VEVENT":
            event = [logical]
        elif name == b"BEGIN" and value.decode("ascii", "replace") in _DROPPED_COMPONENTS:
            skip = value
        else:
            out += logical
    if event is not None:  # unterminated: left for the parser to report, minimised too
        out += _event_lines(event)
    return b"".join(out)


def _event_lines(lines: list[list[bytes]]) -> list[bytes]:
    classes = {_name_value(line)[1] for line in lines if _name_value(line)[0] == b"CLASS"}
    # Any class but PUBLIC hides the details (an unknown class counts as private).
    hidden = bool(classes - {b"PUBLIC"})
    kept: list[bytes] = []
    depth = 0  # nested components (VALARM) are dropped whole
    for line in lines:
        name = _name_value(line)[0]
        if name == b"BEGIN":
            depth += 1
            if depth == 1:
                kept += line
            continue
        if name == b"END":
            depth -= 1
            if depth == 0:
                kept += line
            continue
        if depth != 1:
            continue
        text = name.decode("ascii", "replace")
        if text in _STRUCTURE or (text in _DETAILS and not hidden):
            kept += line
    return kept


def _logical_lines(data: bytes) -> list[list[bytes]]:
    """Physical lines (with their breaks) grouped into unfolded content lines."""
    result: list[list[bytes]] = []
    for match in _LINE.finditer(data):
        physical = match.group(0)
        if not physical:
            break
        if physical[:1] in (b" ", b"\t") and result:
            result[-1].append(physical)  # a continuation (RFC 5545 §3.1)
        else:
            result.append([physical])
    return result


def _name_value(logical: list[bytes]) -> tuple[bytes, bytes]:
    """The property name and, for BEGIN/END/CLASS, the value; upper case."""
    parts = [p.rstrip(b"\r\n") for p in logical]
    unfolded = parts[0] + b"".join(p[1:] for p in parts[1:])
    name = re.split(rb"[;:]", unfolded, maxsplit=1)[0].strip().upper()
    if name not in (b"BEGIN", b"END", b"CLASS"):
        return name, b""
    return name, unfolded.split(b":", 1)[-1].strip().upper()
