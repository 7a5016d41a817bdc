"""Plain events and series expanded directly give exactly what recurring-ical-events gives:
every field of every event, and every problem (also when the calendar's total is exceeded)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samtek.calendar import CalendarError
from samtek.calendar.ics import parse_events
from samtek.calendar.report import Problem
from samtek.model import TimeWindow

# Windows across both DST changes of Europe/Oslo, and one without.
NOWS = (
    datetime(2026, 3, 27, 12, tzinfo=UTC),
    datetime(2026, 10, 24, 1, 30, tzinfo=UTC),
    datetime(2026, 11, 25, 12, tzinfo=UTC),
)

_RULES = (
    None,
    None,
    "FREQ=WEEKLY;COUNT={n}",
    "FREQ=DAILY;COUNT={n}",
    "FREQ=DAILY;INTERVAL=3;COUNT={n}",
    "FREQ=WEEKLY;INTERVAL=2;UNTIL={until}",
    "FREQ=DAILY;UNTIL={until}",
    "FREQ=WEEKLY;UNTIL={before}",
    "FREQ=WEEKLY",
    "FREQ=DAILY;INTERVAL=1",
    "FREQ=WEEKLY;COUNT={n};UNTIL={until}",
    "FREQ=WEEKLY;BYDAY=MO,TH;COUNT={n}",
    "FREQ=MONTHLY;COUNT={n}",
    "FREQ=WEEKLY;WKST=SU;COUNT={n}",
)
# How DTSTART/DTEND are written: UTC, a zone, floating, all-day dates, or mixed.
_KINDS = ("utc", "oslo", "floating", "date", "mixed")
_EXTRAS = (
    None,
    "EXDATE:{first}",
    "DURATION:PT1H",
    "STATUS:CANCELLED",
    "TRANSP:TRANSPARENT",
    "CLASS:PRIVATE",
    "RDATE:{first}",
    "no-dtend",
    "duplicate-uid",
    "override",
)

events = st.tuples(
    st.integers(min_value=-60 * 24, max_value=30 * 24),  # DTSTART, hours from now
    st.integers(-60, 3 * 24 * 60),  # minutes (negative: DTEND before DTSTART)
    st.integers(0, len(_RULES) - 1),
    st.integers(1, 40),  # COUNT, or UNTIL in days after DTSTART
    st.integers(0, len(_KINDS) - 1),
    st.integers(0, len(_EXTRAS) - 1),
)


def _value(name: str, t: datetime, kind: str, end: bool) -> str:
    if kind == "mixed":
        kind = "utc" if end else "oslo"
    if kind == "utc":
        return f"{name}:{t:%Y%m%dT%H%M%SZ}"
    if kind == "oslo":
        return f"{name};TZID=Europe/Oslo:{t:%Y%m%dT%H%M%S}"
    if kind == "floating":
        return f"{name}:{t:%Y%m%dT%H%M%S}"
    return f"{name};VALUE=DATE:{t:%Y%m%d}"


def _feed(now: datetime, items: list[tuple[int, int, int, int, int, int]]) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN"]
    for n, (hours, minutes, rule, count, kind_index, extra_index) in enumerate(items):
        kind, extra = _KINDS[kind_index], _EXTRAS[extra_index]
        start = (now + timedelta(hours=hours)).replace(tzinfo=None, minute=0)
        end = start + timedelta(minutes=minutes)
        if kind == "date":
            end = start + timedelta(days=minutes // 1440)
        uid = "e0" if extra == "duplicate-uid" else f"e{n}"
        event = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"SUMMARY:Møte {n}"]
        event.append(_value("DTSTART", start, kind, end=False))
        if extra not in ("no-dtend", "DURATION:PT1H"):
            event.append(_value("DTEND", end, kind, end=True))
        if _RULES[rule] is not None:
            until = f"{start + timedelta(days=count):%Y%m%dT%H%M%SZ}"
            before = f"{start - timedelta(days=3):%Y%m%dT%H%M%SZ}"
            event.append("RRULE:" + _RULES[rule].format(n=count, until=until, before=before))
        if extra is not None and ":" in extra:
            event.append(extra.format(first=_value("", start, kind, False).split(":", 1)[1]))
        event.append("END:VEVENT")
        lines += event
        if extra == "override" and _RULES[rule] is not None:
            moved = now.replace(tzinfo=None) + timedelta(hours=hours % 48)
            lines += [
                "BEGIN:VEVENT",
                f"UID:{uid}",
                "DTSTAMP:20260101T000000Z",
                _value("RECURRENCE-ID", start, kind, end=False),
                _value("DTSTART", moved, kind, end=False),
                _value("DTEND", moved + timedelta(hours=1), kind, end=True),
                "END:VEVENT",
            ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def _both(data: bytes, window: TimeWindow, max_instances: int) -> tuple[object, object]:
    results = []
    for direct in (True, False):
        problems: list[Problem] = []
        found = parse_events(
            data, window, "Europe/Oslo", None, max_instances, problems, direct=direct
        )
        results.append((found, problems))
    return results[0], results[1]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(NOWS), st.lists(events, max_size=20), st.sampled_from((5_000, 12)))
def test_direct_expansion_equals_the_library(
    now: datetime, items: list[tuple[int, int, int, int, int, int]], max_instances: int
) -> None:
    window = TimeWindow(now - timedelta(hours=24), now + timedelta(days=14))
    direct, library = _both(_feed(now, items), window, max_instances)
    assert direct == library


def test_plain_series_across_the_dst_change_keep_their_wall_clock_time() -> None:
    now = NOWS[0]  # Oslo moves its clocks forward on 2026-03-29
    data = _feed(now, [(-72, 60, 3, 10, 1, 0), (-24 * 14, 30, 2, 10, 1, 0)])
    window = TimeWindow(now - timedelta(hours=24), now + timedelta(days=14))
    direct, library = _both(data, window, 5_000)
    assert direct == library
    found = parse_events(data, window, "Europe/Oslo")
    daily = [e for e in found if e.uid == "e0"]
    assert {e.start.hour for e in daily} == {12}  # 12:00 in Oslo, before and after
    assert {e.start.utcoffset() for e in daily} == {timedelta(hours=1), timedelta(hours=2)}


CORPUS = sorted((Path(__file__).parents[1] / "ics_corpus").glob("*.ics"))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
@pytest.mark.parametrize("person", ["ola@example.test", None])
def test_the_corpus_reads_the_same_both_ways(path: Path, person: str | None) -> None:
    """Real exporters' files: Outlook's own VTIMEZONEs, Google, DST, damage, bombs."""
    window = TimeWindow(datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC))
    results = []
    for direct in (True, False):
        problems: list[Problem] = []
        try:
            found: object = parse_events(
                path.read_bytes(), window, "Europe/Oslo", person, problems=problems, direct=direct
            )
        except CalendarError as exc:
            found = str(exc)
        results.append((found, problems))
    assert results[0] == results[1]


@pytest.mark.parametrize(
    "line",
    [
        "DTEND:garbage",  # the library says "cannot expand"; direct expansion must not crash
        "DTEND;VALUE=DATE:2026",
        "DTEND:99991231T235959Z",  # the library's widened span overflows
        "RRULE:FREQ=WEEKLY;COUNT=x",
        "RRULE:FREQ=DAILY;UNTIL=garbage",
        "RRULE:FREQ=WEEKLY;INTERVAL=-1",
        "RRULE:FREQ=DAILY;INTERVAL=0;COUNT=3",
        "RRULE:FREQ=WEEKLY;INTERVAL=999999999",
        "RRULE:FREQ=DAILY;COUNT=999999999",
    ],
)
def test_broken_and_extreme_values_read_the_same_both_ways(line: str) -> None:
    now = NOWS[2]
    data = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n"
        f"DTSTART:{now:%Y%m%dT100000Z}\r\n{line}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    window = TimeWindow(now - timedelta(hours=24), now + timedelta(days=14))
    direct, library = _both(data, window, 5_000)
    assert direct == library
