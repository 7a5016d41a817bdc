"""The byte-level pre-filter only drops VEVENTs that provably miss the window."""

from datetime import UTC, datetime, timedelta

import recurring_ical_events
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from samtek.calendar.filter import filter_sections, prefilter
from samtek.calendar.ics import parse_events
from samtek.calendar.read import read_lines
from samtek.calendar.repair import Section, repair
from samtek.calendar.report import CpuBudget
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


def _sections(data: bytes) -> list[Section]:
    return repair(read_lines(data, CpuBudget(None)), None, CpuBudget(None))


def test_series_that_provably_miss_the_window_never_reach_the_parser() -> None:
    """A year-long feed is mostly series that ended months ago or start months ahead."""
    past, ahead = NOW - timedelta(days=200), NOW + timedelta(days=40)
    hour = timedelta(hours=1)
    data = feed(
        vevent(
            "ended-count",
            f"DTSTART:{stamp(past)}",
            f"DTEND:{stamp(past + hour)}",
            "RRULE:FREQ=WEEKLY;COUNT=10",
        ),
        vevent(
            "ended-until",
            f"DTSTART:{stamp(past)}",
            f"DTEND:{stamp(past + hour)}",
            f"RRULE:FREQ=DAILY;UNTIL={stamp(past + timedelta(days=30))}",
        ),
        vevent("starts-later", f"DTSTART:{stamp(ahead)}", "RRULE:FREQ=DAILY"),
        vevent("endless", f"DTSTART:{stamp(past)}", "RRULE:FREQ=WEEKLY"),
        vevent("reaches-window", f"DTSTART:{stamp(past)}", "RRULE:FREQ=WEEKLY;COUNT=40"),
        vevent("by-day", f"DTSTART:{stamp(past)}", "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;COUNT=10"),
        vevent("moved", f"DTSTART:{stamp(past)}", "RRULE:FREQ=WEEKLY;COUNT=10"),
        vevent(
            "moved", f"RECURRENCE-ID:{stamp(past + timedelta(days=7))}", f"DTSTART:{stamp(NOW)}"
        ),
    )
    sections = _sections(data)
    assert filter_sections(sections, WINDOW) == 3
    kept = [b.uid for s in sections for b in s.blocks]
    assert kept == ["endless", "reaches-window", "by-day", "moved", "moved"]


_RULES = (
    None,
    "FREQ=WEEKLY;COUNT={n}",
    "FREQ=DAILY;INTERVAL=3;COUNT={n}",
    "FREQ=WEEKLY;UNTIL={until}",
    "FREQ=DAILY;INTERVAL=2;UNTIL={until}",
    "FREQ=MONTHLY;COUNT={n}",
    "FREQ=WEEKLY;BYDAY=MO,TH;COUNT={n}",
    "FREQ=WEEKLY;UNTIL={before}",
    "FREQ=WEEKLY",
)
_PERIOD = {1: timedelta(weeks=1), 2: timedelta(days=3)}
near = st.integers(min_value=-30 * 24, max_value=20 * 24)  # around the window
series = st.tuples(
    st.one_of(offsets, near),  # DTSTART, hours from now
    st.integers(1, 72 * 60),  # minutes
    st.integers(0, len(_RULES) - 1),
    st.integers(1, 60),  # COUNT, or UNTIL in days after DTSTART
    st.booleans(),  # local time (TZID) rather than UTC
    st.one_of(st.none(), st.tuples(st.integers(0, 59), near)),  # an override: (n, moved to)
)


@settings(max_examples=150, deadline=None)
@given(st.lists(series, max_size=20))
def test_same_events_as_the_plain_libraries_with_series_and_overrides(events: list) -> None:
    blocks = []
    for n, (hours, minutes, kind, count, local, override) in enumerate(events):
        start = (NOW + timedelta(hours=hours)).replace(tzinfo=None)
        end = start + timedelta(minutes=minutes)

        def value(name: str, t: datetime, local: bool = local) -> str:
            return f"{name};TZID=Europe/Oslo:{stamp(t)[:-1]}" if local else f"{name}:{stamp(t)}"

        lines = ["DTSTAMP:20261101T000000Z", value("DTSTART", start), value("DTEND", end)]
        rule = _RULES[kind]
        if rule is not None:
            until = stamp(start + timedelta(days=count))
            lines.append(
                "RRULE:" + rule.format(n=count, until=until, before=stamp(start - timedelta(10)))
            )
        blocks.append(vevent(f"e{n}", *lines))
        if override is not None and kind in _PERIOD and override[0] < count:
            moved = (NOW + timedelta(hours=override[1])).replace(tzinfo=None)
            blocks.append(
                vevent(
                    f"e{n}",
                    "DTSTAMP:20261101T000000Z",
                    value("RECURRENCE-ID", start + override[0] * _PERIOD[kind]),
                    value("DTSTART", moved),
                    value("DTEND", moved + timedelta(minutes=minutes)),
                )
            )
    data = feed(*blocks)
    ours = {(e.uid, e.start) for e in parse_events(data, WINDOW, "Europe/Oslo")}
    plain = {
        (str(c["UID"]), c["DTSTART"].dt)
        for c in recurring_ical_events.of(Calendar.from_ical(data)).between(
            WINDOW.start, WINDOW.end
        )
    }
    assert ours == plain
