"""samtek.calendar.ics against the nasty-ICS corpus: the right events, or a clear CalendarError."""

from __future__ import annotations

import multiprocessing
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from samtek.calendar import CalendarError
from samtek.calendar.ics import Problem, parse_events
from samtek.model import BusyStatus, CalendarEvent, Sensitivity, TimeWindow

CORPUS = Path(__file__).parent.parent / "ics_corpus"
OSLO = ZoneInfo("Europe/Oslo")
WINDOW = TimeWindow(datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 4, 30, tzinfo=UTC))
HANG_GUARD = 60.0  # seconds; a guard against hangs, not a performance assertion


def load(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def spans(events: list[CalendarEvent]) -> list[tuple[str, datetime, datetime]]:
    return [(e.uid, e.start.astimezone(UTC), e.end.astimezone(UTC)) for e in events]


def test_outlook_windows_zone_names_map_to_iana_zones() -> None:
    events = {
        e.uid: e
        for e in parse_events(
            load("outlook_windows_zones.ics"), WINDOW, "Europe/Oslo", "ola@example.test"
        )
    }
    budget = next(e for uid, e in events.items() if uid.startswith("040000008200E000"))
    assert (budget.start, budget.end) == (utc(2026, 3, 17, 9), utc(2026, 3, 17, 10))
    assert budget.start.tzinfo == ZoneInfo("Europe/Berlin")  # CLDR: W. Europe -> Berlin
    assert budget.subject == "Budsjettmøte" and budget.location == "Møterom Fjellet"
    private = events["outlook-private-1"]
    assert private.start.tzinfo == ZoneInfo("Europe/Paris")  # Romance Standard Time
    assert (private.start, private.busy, private.sensitivity) == (
        utc(2026, 4, 1, 13),
        BusyStatus.OOF,
        Sensitivity.PRIVATE,
    )
    # an Outlook display-name TZID is no Windows id: its VTIMEZONE in the file is used
    assert events["outlook-tentative-1"].start == utc(2026, 3, 18, 7, 30)
    assert events["outlook-tentative-1"].busy is BusyStatus.TENTATIVE
    allday = events["outlook-allday-1"]
    assert allday.all_day and allday.busy is BusyStatus.FREE
    assert (allday.start, allday.end) == (
        datetime(2026, 3, 20, tzinfo=OSLO),
        datetime(2026, 3, 21, tzinfo=OSLO),
    )


def test_windows_zone_without_vtimezone_and_with_a_wrong_one() -> None:
    data = load("outlook_windows_zones.ics")
    without = re.sub(rb"BEGIN:VTIMEZONE.*?END:VTIMEZONE\r\n", b"", data, flags=re.S)
    events = parse_events(without, WINDOW, "Europe/Oslo")
    assert utc(2026, 3, 17, 9) in [e.start for e in events]
    # A VTIMEZONE claiming +05:00 for "W. Europe Standard Time": the tz database wins.
    wrong = data.replace(
        b"TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100", b"TZOFFSETFROM:+0500\r\nTZOFFSETTO:+0500", 1
    ).replace(
        b"TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200", b"TZOFFSETFROM:+0500\r\nTZOFFSETTO:+0500", 1
    )
    assert b"+0500" in wrong
    assert utc(2026, 3, 17, 9) in [e.start for e in parse_events(wrong, WINDOW, "Europe/Oslo")]


def test_google_export_declined_cancelled_dst_and_all_day() -> None:
    events = parse_events(load("google_export.ics"), WINDOW, "Europe/Oslo", "ola@example.test")
    uids = [e.uid for e in events]
    assert "g-declined@google.com" not in uids  # PARTSTAT=DECLINED for this person = free
    assert "g-cancelled@google.com" not in uids  # STATUS:CANCELLED
    standups = [e.start for e in events if e.uid == "g-standup@google.com"]
    assert len(standups) == 8 and standups[-1] == utc(2026, 3, 30, 6)  # UNTIL respected
    assert utc(2026, 3, 27, 7) in standups  # 08:00 CET before the DST change, CEST after
    trip = next(e for e in events if e.uid == "g-trip@google.com")
    assert trip.all_day and trip.end - trip.start == timedelta(days=2)
    lunch = next(e for e in events if e.uid == "g-lunch@google.com")
    assert lunch.start == utc(2026, 3, 17, 12)
    # someone else's view: Kari accepted the meeting Ola declined
    for_kari = parse_events(load("google_export.ics"), WINDOW, "Europe/Oslo", "kari@example.test")
    assert "g-declined@google.com" in [e.uid for e in for_kari]


def test_recurring_meeting_with_moved_and_cancelled_instances_across_oslo_dst() -> None:
    events = parse_events(load("oslo_dst_recurring.ics"), WINDOW, "Europe/Oslo")
    uid = "weekly-sync@samtek.test"
    assert spans(events) == [
        (uid, utc(2026, 3, 16, 8), utc(2026, 3, 16, 9)),  # 09:00 CET
        (uid, utc(2026, 3, 24, 12), utc(2026, 3, 24, 13)),  # 23 Mar moved to Tue 13:00
        (uid, utc(2026, 3, 30, 7), utc(2026, 3, 30, 8)),  # 09:00 CEST after 29 Mar
        (uid, utc(2026, 4, 2, 7), utc(2026, 4, 2, 8)),  # RDATE
        (uid, utc(2026, 4, 20, 7), utc(2026, 4, 20, 8)),  # 6 Apr EXDATE, 13 Apr cancelled
    ]
    moved = events[1]
    assert moved.recurrence_id == datetime(2026, 3, 23, 9, tzinfo=OSLO)
    assert moved.subject == "Weekly sync (moved to Tuesday)"
    assert len({e.key for e in events}) == 5


def test_floating_times_use_x_wr_timezone_then_the_persons_zone() -> None:
    data = load("floating_and_xwr.ics")
    events = parse_events(data, WINDOW, "America/New_York")
    assert spans(events)[0] == ("floating-1", utc(2026, 3, 17, 8), utc(2026, 3, 17, 9))
    no_xwr = data.replace(b"X-WR-TIMEZONE:Europe/Oslo\r\n", b"")
    events = parse_events(no_xwr, WINDOW, "America/New_York")  # EDT (UTC-4) from 8 March
    assert spans(events) == [
        ("floating-1", utc(2026, 3, 17, 13), utc(2026, 3, 17, 14)),
        ("floating-nodtend", utc(2026, 3, 17, 18), utc(2026, 3, 17, 18, 45)),  # DURATION
    ]


def test_date_only_events_are_whole_days_in_the_persons_zone() -> None:
    tokyo = parse_events(load("google_export.ics"), WINDOW, "Asia/Tokyo")
    trip = next(e for e in tokyo if e.uid == "g-trip@google.com")
    assert trip.start == datetime(2026, 3, 25, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert trip.start.date() == date(2026, 3, 25)


def test_invalid_lines_and_broken_events_cost_only_themselves() -> None:
    problems: list[Problem] = []
    events = parse_events(load("invalid_lines.ics"), WINDOW, "Europe/Oslo", problems=problems)
    assert [e.uid for e in events] == ["good-one", "ends-before-start"]
    assert events[0].start == utc(2026, 3, 17, 10)
    lines = [p for p in problems if "line(s) dropped (not content lines" in str(p)]
    assert [(p.uid, p.refused) for p in lines] == [(None, False), ("good-one", False)]
    with pytest.raises(CalendarError, match="malformed iCalendar data: 1 line"):
        parse_events(load("invalid_lines.ics"), WINDOW, "Europe/Oslo")  # strict: no list
    assert any(p.uid == "bad-date" and "DTSTART" in p.reason for p in problems)
    assert any(p.uid == "no-start" and p.refused for p in problems)


def test_not_icalendar_is_a_clear_error() -> None:
    with pytest.raises(CalendarError, match=r"no BEGIN:VCALENDAR.*502 Bad Gateway"):
        parse_events(load("not_icalendar.ics"), WINDOW, "Europe/Oslo")
    with pytest.raises(CalendarError, match="malformed iCalendar data: no BEGIN:VCALENDAR"):
        parse_events(b"", WINDOW, "Europe/Oslo")
    with pytest.raises(CalendarError, match="unknown person timezone"):
        parse_events(load("google_export.ics"), WINDOW, "Europe/Atlantis")


def test_unknown_tzid_falls_back_to_the_persons_zone() -> None:
    events = parse_events(load("unknown_tzid.ics"), WINDOW, "Europe/Oslo")
    assert spans(events) == [("unknown-tz", utc(2026, 3, 17, 9), utc(2026, 3, 17, 10))]


def test_too_many_occurrences_in_total_refuse_the_series_that_overflows() -> None:
    daily = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        + "".join(
            f"BEGIN:VEVENT\r\nUID:d{i}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:20260316T{i:02d}0000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY;COUNT=40\r\n"
            "END:VEVENT\r\n"
            for i in range(3)
        )
        + "END:VCALENDAR\r\n"
    ).encode()
    assert len(parse_events(daily, WINDOW, "Europe/Oslo")) == 120
    problems: list[Problem] = []
    events = parse_events(daily, WINDOW, "Europe/Oslo", max_instances=100, problems=problems)
    assert {e.uid for e in events} == {"d0", "d1"} and len(events) == 80
    assert [(p.uid, p.refused) for p in problems] == [("d2", True)]
    assert "40 occurrences in the window would take the calendar past 100" in problems[0].reason
    with pytest.raises(CalendarError, match=r"event d2: refused: its 40 occurrences"):
        parse_events(daily, WINDOW, "Europe/Oslo", max_instances=100)


def _parse_in_child(name: str, strict: bool, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    problems: list[Problem] | None = None if strict else []
    try:
        events = parse_events(load(name), WINDOW, "Europe/Oslo", problems=problems)
    except CalendarError as exc:
        queue.put(([], [f"CalendarError: {exc}"]))
        return
    queue.put(([e.uid for e in events], [str(p) for p in problems or []]))


def parse_guarded(name: str, strict: bool = False) -> tuple[list[str], list[str]]:
    """Parse in a child process that is killed if it hangs, so a bomb cannot wedge pytest."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_parse_in_child, args=(name, strict, queue), daemon=True)
    child.start()
    try:
        result: tuple[list[str], list[str]] = queue.get(timeout=HANG_GUARD)
        return result
    finally:
        child.kill()
        child.join()


@pytest.mark.parametrize(
    ("name", "kept", "reason"),
    [
        ("secondly_bomb.ics", ["normal-next-to-bomb"], "FREQ=SECONDLY from 2000-01-01"),
        ("minutely_long_bomb.ics", [], "FREQ=MINUTELY"),
    ],
)
def test_recurrence_bombs_are_refused_without_hanging(
    name: str, kept: list[str], reason: str
) -> None:
    uids, problems = parse_guarded(name)
    assert uids == kept
    assert any("recurrence refused" in p and reason in p for p in problems)
    # strict (no problems list): a clear CalendarError instead
    uids, problems = parse_guarded(name, strict=True)
    assert uids == [] and problems[0].startswith("CalendarError: event bomb-")
    assert "recurrence refused" in problems[0]


def test_frequent_but_short_series_are_fine() -> None:
    hourly = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:h\r\n"
        b"DTSTAMP:20260101T000000Z\r\nDTSTART:20260317T080000Z\r\nDURATION:PT10M\r\n"
        b"RRULE:FREQ=MINUTELY;INTERVAL=30;COUNT=6\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    events = parse_events(hourly, WINDOW, "Europe/Oslo")
    assert [e.start for e in events] == [
        utc(2026, 3, 17, 8) + timedelta(minutes=30 * i) for i in range(6)
    ]


def calendar(*events: str) -> bytes:
    body = "".join(
        "BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\n"
        + e.strip().replace("\n", "\r\n")
        + "\r\nEND:VEVENT\r\n"
        for e in events
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{body}END:VCALENDAR\r\n".encode()


def test_overrides_move_instances_into_and_out_of_the_window() -> None:
    moved_in = calendar(
        "UID:m\nDTSTART:20260301T090000Z\nDTEND:20260301T100000Z\nRRULE:FREQ=DAILY;COUNT=5",
        "UID:m\nRECURRENCE-ID:20260303T090000Z\nDTSTART:20260317T090000Z\nDTEND:20260317T100000Z",
    )
    assert spans(parse_events(moved_in, WINDOW, "Europe/Oslo")) == [
        ("m", utc(2026, 3, 17, 9), utc(2026, 3, 17, 10))
    ]
    moved_out = calendar(
        "UID:o\nDTSTART:20260316T090000Z\nDTEND:20260316T100000Z\nRRULE:FREQ=DAILY;COUNT=3",
        "UID:o\nRECURRENCE-ID:20260317T090000Z\nDTSTART:20260601T090000Z\nDTEND:20260601T100000Z",
    )
    starts = [e.start for e in parse_events(moved_out, WINDOW, "Europe/Oslo")]
    assert starts == [utc(2026, 3, 16, 9), utc(2026, 3, 18, 9)]


def test_one_declined_instance_of_an_accepted_series_is_free() -> None:
    data = calendar(
        "UID:d\nDTSTART:20260316T090000Z\nDTEND:20260316T100000Z\nRRULE:FREQ=DAILY;COUNT=3\n"
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ola@example.test",
        "UID:d\nRECURRENCE-ID:20260317T090000Z\nDTSTART:20260317T090000Z\n"
        "DTEND:20260317T100000Z\nATTENDEE;PARTSTAT=DECLINED:mailto:ola@example.test",
    )
    starts = [e.start for e in parse_events(data, WINDOW, "Europe/Oslo", "ola@example.test")]
    assert starts == [utc(2026, 3, 16, 9), utc(2026, 3, 18, 9)]


def test_windows_1252_text_truncation_and_unreadable_rules() -> None:
    problems: list[Problem] = []
    latin = calendar("UID:l\nDTSTART:20260316T090000Z\nSUMMARY:Møte på rommet")
    events = parse_events(latin.decode().encode("cp1252"), WINDOW, "Europe/Oslo", problems=problems)
    assert [e.subject for e in events] == ["Møte på rommet"]
    # decoding costs no event, but is reported (one line was read as Windows-1252)
    assert [(str(p), p.refused) for p in problems] == [
        ("event l: 1 line(s) not UTF-8, read as Windows-1252", False)
    ]
    with pytest.raises(CalendarError, match="truncated"):
        parse_events(latin[: len(latin) // 2], WINDOW, "Europe/Oslo")
    problems = []
    broken = calendar(
        "UID:r\nDTSTART:20260316T090000Z\nRRULE:FREQ=FOO;COUNT=x",
        "UID:fine\nDTSTART:20260317T090000Z\nDTEND:20260317T093000Z",
    )
    assert [e.uid for e in parse_events(broken, WINDOW, "Europe/Oslo", problems=problems)] == [
        "fine"
    ]
    assert problems and "unreadable RRULE" in str(problems[0])


def test_long_running_daily_series_expands_only_the_window() -> None:
    since_1970 = calendar(
        "UID:d70\nDTSTART:19700101T080000Z\nDTEND:19700101T083000Z\nRRULE:FREQ=DAILY"
    )
    events = parse_events(since_1970, WINDOW, "Europe/Oslo")
    assert len(events) == 46 and events[0].start == utc(2026, 3, 15, 8)
    assert events[0].recurrence_id == utc(2026, 3, 15, 8)


def test_exchange_utc_alias_quoted_or_not() -> None:
    data = calendar(
        "UID:u\nDTSTART;TZID=tzone://Microsoft/Utc:20260316T090000\n"
        'DTEND;TZID="tzone://Microsoft/Utc":20260316T100000',
    )
    assert spans(parse_events(data, WINDOW, "Europe/Oslo")) == [
        ("u", utc(2026, 3, 16, 9), utc(2026, 3, 16, 10))
    ]


def test_an_occurrence_in_the_spring_forward_gap_keeps_its_length() -> None:
    data = calendar(
        "UID:n\nDTSTART;TZID=Europe/Oslo:20260322T023000\nDURATION:PT1H\nRRULE:FREQ=WEEKLY;COUNT=2"
    )
    assert spans(parse_events(data, WINDOW, "Europe/Oslo")) == [
        ("n", utc(2026, 3, 22, 1, 30), utc(2026, 3, 22, 2, 30)),
        # 02:30 does not exist on 29 March: read with the offset before the gap (RFC 5545)
        ("n", utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30)),
    ]


def test_a_fold_inside_a_character_is_no_damage_and_a_stray_byte_costs_one_line() -> None:
    problems: list[Problem] = []
    events = parse_events(load("fold_splits_utf8.ics"), WINDOW, "Europe/Oslo", problems=problems)
    assert [e.subject for e in events] == ["Budsjettmøte", "Årsmøte i velforeningen"]
    assert events[0].location == "Rådhuset, møterom Lågen"  # folded inside the "å"
    assert [(p.uid, p.reason, p.refused) for p in problems] == [
        (
            "A3E0F9D2-77C4-4B0C-8F3B-5E2D9A61C742",
            "1 line(s) not UTF-8, read as Windows-1252",
            False,
        )
    ]


def test_merged_objects_and_raw_line_breaks_are_repaired_and_reported() -> None:
    problems: list[Problem] = []
    data = load("merged_and_damaged.ics")
    events = parse_events(data, WINDOW, "Europe/Oslo", problems=problems)
    assert [e.uid for e in events] == [
        "tek-2026-0317-avd@teknisk.example",
        "7kq0d3n1s2o4m5p6r7t8u9v0w1@google.com",
        "tek-2026-0319-befaring@teknisk.example",
    ]
    assert events[0].location == "Kantina\n2. etasje"
    assert [(p.uid, p.reason, p.refused) for p in problems] == [
        (
            "tek-2026-0317-avd@teknisk.example",
            "4 raw line break(s) inside a text value joined",
            False,
        )
    ]


def test_duration_is_exact_time_but_an_rdate_period_keeps_its_own_length() -> None:
    data = calendar(
        "UID:p\nDTSTART;TZID=Europe/Oslo:20260328T230000\nDURATION:PT4H\n"
        "RDATE;VALUE=PERIOD:20260320T090000Z/PT3H"
    )
    assert spans(parse_events(data, WINDOW, "Europe/Oslo")) == [
        ("p", utc(2026, 3, 20, 9), utc(2026, 3, 20, 12)),
        ("p", utc(2026, 3, 28, 22), utc(2026, 3, 29, 2)),  # 04:00 CEST: 4 h of real time
    ]
