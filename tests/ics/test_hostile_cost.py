"""Hostile feeds are refused by counting before parsing, and every feed has a CPU budget
(issue 13, item 13). bench/ics_hostile.py prints what each case costs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from samtek.calendar import CalendarError
from samtek.calendar.ics import Problem, parse_events
from samtek.model import TimeWindow

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
WINDOW = TimeWindow(NOW - timedelta(hours=24), NOW + timedelta(days=14))


def stamp(t: datetime) -> str:
    return t.strftime("%Y%m%dT%H%M%SZ")


def event(uid: str, start: datetime, *extra: str) -> str:
    lines = [f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"DTSTART:{stamp(start)}", *extra]
    return "BEGIN:VEVENT\r\n" + "".join(f"{x}\r\n" for x in lines) + "END:VEVENT\r\n"


def calendar(*events: str) -> bytes:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
    return (head + "".join(events) + "END:VCALENDAR\r\n").encode()


def series(uid: str, overrides: int) -> list[str]:
    first = NOW - timedelta(days=overrides)
    moved = [
        event(
            uid,
            first + timedelta(days=i, hours=1),
            f"RECURRENCE-ID:{stamp(first + timedelta(days=i))}",
            "DURATION:PT30M",
        )
        for i in range(overrides)
    ]
    return [event(uid, first, "DURATION:PT30M", "RRULE:FREQ=DAILY"), *moved]


MEETING = event("meeting", NOW, "DURATION:PT1H")


def test_too_many_components_or_lines_refuse_the_feed_before_parsing() -> None:
    with pytest.raises(CalendarError, match=r"refused: 20,004 components, more than 20,000"):
        parse_events(calendar(*series("s", 20_001), MEETING), WINDOW, "Europe/Oslo", problems=[])
    many_lines = event("long", NOW, *(f"X-FILLER:{i}" for i in range(500_001)))
    with pytest.raises(CalendarError, match=r"refused: 500,\d+ lines, more than 500,000"):
        parse_events(calendar(many_lines), WINDOW, "Europe/Oslo", problems=[])


def test_a_series_with_too_many_overrides_or_exdates_costs_only_itself() -> None:
    first = NOW - timedelta(days=200_000)
    dates = ",".join(stamp(first + timedelta(days=i)) for i in range(200_000))
    exdates = event("exdates", first, "DURATION:PT30M", "RRULE:FREQ=DAILY", f"EXDATE:{dates}")
    problems: list[Problem] = []
    data = calendar(*series("crowded", 2_001), exdates, MEETING)
    events = parse_events(data, WINDOW, "Europe/Oslo", problems=problems)
    assert [e.uid for e in events] == ["meeting"]
    assert [(p.uid, p.refused) for p in problems] == [("exdates", True), ("crowded", True)]
    assert "more than 5,000 properties or EXDATE/RDATE values" in problems[0].reason
    assert "2,002 components share this UID" in problems[1].reason


def test_a_feed_past_its_cpu_budget_is_refused() -> None:
    # 10 x 1,990 overrides: under every count limit, ~3 s of parsing; the budget is 60x less.
    data = calendar(*(e for n in range(10) for e in series(f"s{n}", 1_990)), MEETING)
    with pytest.raises(CalendarError, match=r"refused: more than 0.05 s of CPU"):
        parse_events(data, WINDOW, "Europe/Oslo", problems=[], cpu_seconds=0.05)


def test_more_zone_definitions_than_any_real_file_are_dropped() -> None:
    zones = [
        f"BEGIN:VTIMEZONE\r\nTZID:Zone {n}\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\n"
        f"TZOFFSETFROM:+0{n % 10}00\r\nTZOFFSETTO:+0{n % 10}00\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\n"
        for n in range(150)
    ]
    problems: list[Problem] = []
    events = parse_events(calendar(*zones, MEETING), WINDOW, "Europe/Oslo", problems=problems)
    assert [e.uid for e in events] == ["meeting"]
    assert [(p.uid, p.reason) for p in problems] == [
        (None, "50 VTIMEZONE(s) beyond the first 100 dropped")
    ]


@pytest.mark.timeout(60)  # the old code never returned: dateutil does not end on INTERVAL=0
def test_a_rule_with_interval_zero_and_no_count_is_refused_not_run() -> None:
    problems: list[Problem] = []
    data = calendar(
        event("stuck", NOW - timedelta(days=3), "RRULE:FREQ=WEEKLY;INTERVAL=0"),
        event("counted", NOW, "RRULE:FREQ=DAILY;INTERVAL=0;COUNT=3"),  # ends: read as before
        event("normal", NOW + timedelta(hours=2), "DTEND:" + stamp(NOW + timedelta(hours=3))),
    )
    events = parse_events(data, WINDOW, "Europe/Oslo", problems=problems)
    assert [e.uid for e in events] == ["counted", "normal"]
    assert [(p.uid, p.reason) for p in problems] == [
        ("stuck", "recurrence refused: INTERVAL=0 without COUNT never ends")
    ]
