"""The byte-level pre-filter only drops VEVENTs that provably miss the window."""

from datetime import UTC, datetime, timedelta

import recurring_ical_events
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from samtek.calendar.filter import prefilter
from samtek.calendar.ics import parse_events
from samtek.model import TimeWindow

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
WINDOW = TimeWindow(NOW - timedelta(hours=24), NOW + timedelta(days=14))


def feed(*blocks: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
        + "".join(blocks)
        + "END:VCALENDAR\r\n"
    ).encode()


def vevent(uid: str, *lines: str) -> str:
    return (
        "BEGIN:VEVENT\r\nUID:"
        + uid
        + "\r\n"
        + "".join(f"{x}\r\n" for x in lines)
        + "END:VEVENT\r\n"
    )


def stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def test_keeps_everything_it_cannot_rule_out() -> None:
    far = NOW + timedelta(days=200)
    data = feed(
        vevent("far", f"DTSTART:{stamp(far)}", f"DTEND:{stamp(far + timedelta(hours=1))}"),
        vevent("recurring-far", f"DTSTART:{stamp(far - timedelta(days=400))}", "RRULE:FREQ=DAILY"),
        vevent("override", f"RECURRENCE-ID:{stamp(far)}", f"DTSTART:{stamp(far)}"),
        vevent("duration", f"DTSTART:{stamp(far)}", "DURATION:PT1H"),
        vevent("long-oof", "DTSTART;VALUE=DATE:20260101", "DTEND;VALUE=DATE:20270101"),
        vevent("folded", f"DTSTART;TZID=Europe/Oslo:{stamp(far)[:-1]}", " X", "DTEND:x"),
        vevent("in", f"DTSTART:{stamp(NOW)}", f"DTEND:{stamp(NOW + timedelta(hours=1))}"),
    )
    kept, dropped = prefilter(data, WINDOW)
    assert dropped == 1
    assert b"UID:far\r\n" not in kept
    for uid in (b"recurring-far", b"override", b"duration", b"long-oof", b"folded", b"UID:in"):
        assert uid in kept


offsets = st.integers(min_value=-400 * 24, max_value=400 * 24)  # hours from now


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(offsets, st.integers(1, 72 * 60), st.booleans()), max_size=25))
def test_same_events_as_the_plain_libraries_over_the_whole_file(events: list) -> None:
    blocks = []
    for n, (hours, minutes, weekly) in enumerate(events):
        start = NOW + timedelta(hours=hours)
        lines = [f"DTSTART:{stamp(start)}", f"DTEND:{stamp(start + timedelta(minutes=minutes))}"]
        if weekly:
            lines.append("RRULE:FREQ=WEEKLY;COUNT=30")
        blocks.append(vevent(f"e{n}", "DTSTAMP:20261101T000000Z", *lines))
    data = feed(*blocks)
    ours = {(e.uid, e.start) for e in parse_events(data, WINDOW, "Europe/Oslo")}
    plain = {
        (str(c["UID"]), c["DTSTART"].dt)
        for c in recurring_ical_events.of(Calendar.from_ical(data)).between(
            WINDOW.start, WINDOW.end
        )
    }
    assert ours == plain
