"""Reading and repairing: line endings, folds and lost END lines as exporters really write
them (RFC 5545 §3.1, §3.4, §3.6); each repair reported with the UID of its event."""

from __future__ import annotations

from datetime import UTC, datetime

from samtek.calendar.ics import Problem, parse_events
from samtek.model import TimeWindow

WINDOW = TimeWindow(datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC))
A = b"BEGIN:VEVENT\nUID:a\nDTSTART:20260317T090000Z\nDTEND:20260317T100000Z\nSUMMARY:M\xc3\xb8te"
B = b"BEGIN:VEVENT\nUID:b\nDTSTART:20260318T090000Z\nDTEND:20260318T100000Z"


def read(data: bytes) -> tuple[list[tuple[str, str | None]], list[tuple[str | None, str]]]:
    problems: list[Problem] = []
    events = parse_events(data, WINDOW, "Europe/Oslo", problems=problems)
    return [(e.uid, e.subject) for e in events], [(p.uid, p.reason) for p in problems]


def test_every_line_ending_and_fold_exporters_write() -> None:
    lf = b"BEGIN:VCALENDAR\n" + A + b"\nEND:VEVENT\nEND:VCALENDAR\n"
    for ending in (b"\r\n", b"\n", b"\r", b"\r\r\n"):
        assert read(lf.replace(b"\n", ending)) == ([("a", "Møte")], [])
    # a fold is a line ending and one space or tab; it may split a UTF-8 character
    folded = lf.replace(b"M\xc3\xb8te", b"M\xc3\r\n\t\xb8te")
    assert read(folded) == ([("a", "Møte")], [])


def test_lost_end_lines_close_where_the_next_object_begins() -> None:
    merged = b"BEGIN:VCALENDAR\n" + A + b"\nBEGIN:VCALENDAR\n" + B + b"\nEND:VEVENT\nEND:VCALENDAR"
    assert read(merged.replace(b"\n", b"\r\n")) == (
        [("a", "Møte"), ("b", None)],
        [("a", "1 component(s) without END, closed")],
    )
    lower = (
        merged.replace(b"BEGIN:VCALENDAR", b"begin:vcalendar")
        .replace(b"BEGIN:VEVENT", b"Begin:VEvent")
        .replace(b"END:VEVENT", b"end:vevent")
    )
    assert [uid for uid, _ in read(lower)[0]] == ["a", "b"]  # names are case-insensitive


def test_a_stray_byte_costs_one_value_and_is_reported_with_its_event() -> None:
    data = b"BEGIN:VCALENDAR\n" + A + b"\nLOCATION:M\xf8terom\nEND:VEVENT\nEND:VCALENDAR\n"
    events = parse_events(data, WINDOW, "Europe/Oslo", problems=(problems := []))
    assert [(e.subject, e.location) for e in events] == [("Møte", "Møterom")]
    assert [(p.uid, p.reason, p.refused) for p in problems] == [
        ("a", "1 line(s) not UTF-8, read as Windows-1252", False)
    ]
