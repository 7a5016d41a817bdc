"""Outlook's "Customized Time Zone": the same TZID names different zones in different files.

icalendar caches a VTIMEZONE by its TZID for the whole process, first one wins; SAMTEK reads
many people's feeds in one process, so each file's own definition must be the one used.
"""

from __future__ import annotations

from datetime import UTC, datetime

from samtek.calendar.ics import parse_events
from samtek.model import TimeWindow

WINDOW = TimeWindow(datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC))


def outlook(standard: str, daylight: str, rules: tuple[str, str], uid: str) -> bytes:
    """An Outlook export whose zone is a customised one (as Exchange writes it)."""
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
        "VERSION:2.0",
        "BEGIN:VTIMEZONE",
        "TZID:Customized Time Zone",
        "BEGIN:STANDARD",
        "DTSTART:16011104T020000",
        f"RRULE:FREQ=YEARLY;{rules[0]}",
        f"TZOFFSETFROM:{daylight}",
        f"TZOFFSETTO:{standard}",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        "DTSTART:16010311T020000",
        f"RRULE:FREQ=YEARLY;{rules[1]}",
        f"TZOFFSETFROM:{standard}",
        f"TZOFFSETTO:{daylight}",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260301T080000Z",
        'DTSTART;TZID="Customized Time Zone":20260317T090000',
        'DTEND;TZID="Customized Time Zone":20260317T100000',
        "SUMMARY:Møte",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines).encode()


def test_each_file_keeps_its_own_customised_zone() -> None:
    europe = ("BYDAY=-1SU;BYMONTH=10", "BYDAY=-1SU;BYMONTH=3")
    oslo = outlook("+0100", "+0200", europe, "oslo")
    new_york = outlook("-0500", "-0400", ("BYDAY=1SU;BYMONTH=11", "BYDAY=2SU;BYMONTH=3"), "ny")
    # 17 March 2026: Oslo is still on +01:00, New York already on -04:00 (since 8 March)
    for _ in range(2):  # either order, any number of times in one process
        [in_oslo] = parse_events(oslo, WINDOW, "Europe/Oslo")
        [in_new_york] = parse_events(new_york, WINDOW, "Europe/Oslo")
        assert in_oslo.start == datetime(2026, 3, 17, 8, tzinfo=UTC)
        assert in_new_york.start == datetime(2026, 3, 17, 13, tzinfo=UTC)
