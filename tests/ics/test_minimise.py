"""samtek.calendar.minimise: over the nasty-ICS corpus, the minimised calendar gives exactly the
events the original gives (private details were never kept anyway), and the details of
private events are gone from the bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from samtek.calendar import CalendarError
from samtek.calendar.ics import parse_events
from samtek.calendar.minimise import minimise
from samtek.model import CalendarEvent, TimeWindow

CORPUS = Path(__file__).parent.parent / "ics_corpus"
WINDOW = TimeWindow(datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC))
USABLE = ("floating_and_xwr.ics", "google_export.ics", "invalid_lines.ics",
          "oslo_dst_recurring.ics", "outlook_windows_zones.ics", "unknown_tzid.ics")  # fmt: skip


def events(data: bytes) -> list[CalendarEvent] | str:
    try:
        return parse_events(data, WINDOW, "Europe/Oslo", "ola@example.test", problems=[])
    except CalendarError as exc:
        return str(exc)


@pytest.mark.parametrize("name", USABLE)
def test_minimised_calendar_gives_the_same_events(name: str) -> None:
    original = (CORPUS / name).read_bytes()
    assert events(minimise(original)) == events(original)


def test_private_details_folded_lines_and_line_endings() -> None:
    data = (
        b"BEGIN:VCALENDAR\nVERSION:2.0\nX-WR-TIMEZONE:Europe/Oslo\n"
        b"BEGIN:VEVENT\nUID:p\nDTSTART:20260401T080000Z\nDTEND:20260401T090000Z\n"
        b"SUMMARY:L\xc3\xb8nnssamtale med\n  Kari\nLOCATION:HR\nX-ALT-DESC:<b>Kari</b>\n"
        b"cla\n ss:confi\n dential\n"  # folded anywhere, any case
        b"END:VEVENT\n"
        b"BEGIN:VTODO\nSUMMARY:Skriv oppsigelse\nEND:VTODO\nEND:VCALENDAR\n"
    )
    kept = minimise(data)
    for gone in (b"nnssamtale", b"Kari", b"LOCATION", b"oppsigelse", b"VTODO"):
        assert gone not in kept, gone
    assert b"X-WR-TIMEZONE:Europe/Oslo\n" in kept  # outside events: untouched
    assert b"UID:p\nDTSTART:20260401T080000Z\nDTEND:20260401T090000Z\n" in kept
    (event,) = events(kept)  # type: ignore[misc]
    assert event.uid == "p" and event.subject is None
