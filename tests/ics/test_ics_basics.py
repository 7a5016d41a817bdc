"""samtek.calendar.ics on hand-written feeds: recurrence across DST, exclusions, privacy, bombs."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from samtek.calendar import CalendarError
from samtek.calendar.ics import parse_events
from samtek.model import BusyStatus, Sensitivity, TimeWindow

OSLO = ZoneInfo("Europe/Oslo")


def ics(*events: str) -> bytes:
    body = "\r\n".join(events)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}\r\nEND:VCALENDAR\r\n"
    ).encode()


def vevent(uid: str, *lines: str) -> str:
    return "\r\n".join(
        ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20261101T000000Z", *lines, "END:VEVENT"]
    )


WINDOW = TimeWindow(datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 10, tzinfo=UTC))


def test_weekly_meeting_keeps_local_time_across_dst() -> None:
    data = ics(
        vevent(
            "weekly",
            "DTSTART;TZID=Europe/Oslo:20261020T100000",
            "DTEND;TZID=Europe/Oslo:20261020T110000",
            "RRULE:FREQ=WEEKLY;COUNT=3",
            "SUMMARY:Stand-up",
        )
    )
    events = parse_events(data, WINDOW, "Europe/Oslo")
    assert [e.start.astimezone(OSLO).hour for e in events] == [10, 10, 10]
    assert [e.start.astimezone(UTC).hour for e in events] == [8, 9, 9]  # CEST, then CET


def test_exdate_override_cancelled_declined_and_transparent() -> None:
    data = ics(
        vevent(
            "series",
            "DTSTART;TZID=Europe/Oslo:20261026T090000",
            "DTEND;TZID=Europe/Oslo:20261026T093000",
            "RRULE:FREQ=DAILY;COUNT=4",
            "EXDATE;TZID=Europe/Oslo:20261027T090000",
        ),
        vevent(
            "series",
            "RECURRENCE-ID;TZID=Europe/Oslo:20261028T090000",
            "DTSTART;TZID=Europe/Oslo:20261028T140000",
            "DTEND;TZID=Europe/Oslo:20261028T150000",
        ),
        vevent(
            "series",
            "RECURRENCE-ID;TZID=Europe/Oslo:20261029T090000",
            "DTSTART;TZID=Europe/Oslo:20261029T090000",
            "DTEND;TZID=Europe/Oslo:20261029T093000",
            "STATUS:CANCELLED",
        ),
        vevent(
            "declined",
            "DTSTART:20261030T080000Z",
            "DTEND:20261030T090000Z",
            "ATTENDEE;PARTSTAT=DECLINED:mailto:alice@kommune.no",
        ),
        vevent("free", "DTSTART:20261030T100000Z", "DTEND:20261030T110000Z", "TRANSP:TRANSPARENT"),
        vevent(
            "secret",
            "DTSTART:20261030T120000Z",
            "DTEND:20261030T130000Z",
            "CLASS:PRIVATE",
            "SUMMARY:Lege",
        ),
    )
    events = parse_events(data, WINDOW, "Europe/Oslo", attendee_email="Alice@kommune.no")
    starts = {(e.uid, e.start.astimezone(OSLO).strftime("%d %H:%M")) for e in events}
    assert starts == {
        ("series", "26 09:00"),
        ("series", "28 14:00"),
        ("free", "30 11:00"),
        ("secret", "30 13:00"),
    }
    by_uid = {e.uid: e for e in events}
    assert by_uid["free"].busy is BusyStatus.FREE
    assert by_uid["secret"].sensitivity is Sensitivity.PRIVATE


def test_date_only_and_floating_times_use_the_persons_zone() -> None:
    data = ics(
        vevent(
            "day",
            "DTSTART;VALUE=DATE:20261102",
            "DTEND;VALUE=DATE:20261103",
            "X-MICROSOFT-CDO-BUSYSTATUS:OOF",
        ),
        vevent("float", "DTSTART:20261104T100000", "DTEND:20261104T110000"),
    )
    events = {e.uid: e for e in parse_events(data, WINDOW, "Europe/Oslo")}
    assert events["day"].all_day and events["day"].busy is BusyStatus.OOF
    assert events["day"].start == datetime(2026, 11, 2, tzinfo=OSLO)
    assert events["float"].start == datetime(2026, 11, 4, 10, tzinfo=OSLO)


def test_recurrence_bomb_is_bounded() -> None:
    data = ics(
        vevent("bomb", "DTSTART:20261020T000000Z", "DTEND:20261020T000001Z", "RRULE:FREQ=SECONDLY")
    )
    # Refused before expansion (samtek/calendar/expand.py estimates a rule's cost); strict without a
    # problems list, so the caller sees it.
    with pytest.raises(CalendarError, match="recurrence refused: FREQ=SECONDLY"):
        parse_events(data, WINDOW, "Europe/Oslo", max_instances=1000)


def test_endless_daily_rule_only_expands_the_window() -> None:
    data = ics(
        vevent("daily", "DTSTART:20200101T080000Z", "DTEND:20200101T083000Z", "RRULE:FREQ=DAILY")
    )
    events = parse_events(data, WINDOW, "Europe/Oslo")
    assert len(events) == (WINDOW.end - WINDOW.start) // timedelta(days=1)


@pytest.mark.parametrize("data", [b"not a calendar", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n"])
def test_malformed_feed_is_a_calendar_error(data: bytes) -> None:
    with pytest.raises(CalendarError, match="malformed"):
        parse_events(data, WINDOW, "Europe/Oslo")
