"""All-day states end on a date, said as people say it (issue 14, item 7).

Expected texts are written by hand: a state ending at local midnight covers the days before
it ("til og med fredag"), never "til i morgen 00:00". Instants include the 2026 DST change
days, New Year's Eve and 29 February 2028; no real clock is read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridges.presence.planner import desired_overlay
from samtek.model import BusyStatus, CalendarEvent, ClaimKind, Person
from samtek.presence.claims import calendar_claims
from samtek.presence.texts import status_text

OSLO = ZoneInfo("Europe/Oslo")


def midnight(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=OSLO)


@pytest.mark.parametrize(
    ("language", "today", "two_days", "through_friday", "far"),
    [
        (
            "nb",
            "Jobber fra et annet sted i dag",
            "Jobber fra et annet sted i dag og i morgen",
            "Jobber fra et annet sted til og med fredag",
            "Jobber fra et annet sted til og med fredag 11. desember",
        ),
        (
            "nn",
            "Jobbar frå ein annan stad i dag",
            "Jobbar frå ein annan stad i dag og i morgon",
            "Jobbar frå ein annan stad til og med fredag",
            "Jobbar frå ein annan stad til og med fredag 11. desember",
        ),
        (
            "en",
            "Working elsewhere today",
            "Working elsewhere today and tomorrow",
            "Working elsewhere until Friday",
            "Working elsewhere until Friday 11 December",
        ),
    ],
)
def test_working_elsewhere_ends_on_a_date(
    language: str, today: str, two_days: str, through_friday: str, far: str
) -> None:
    now = datetime(2026, 11, 30, 8, 15, tzinfo=OSLO)  # Monday morning

    def text(until: datetime) -> str:
        return status_text(ClaimKind.WORKING_ELSEWHERE, until, now, language, "Europe/Oslo")

    assert text(midnight(2026, 12, 1)) == today
    assert text(midnight(2026, 12, 2)) == two_days
    assert text(midnight(2026, 12, 5)) == through_friday
    assert text(midnight(2026, 12, 12)) == far


@pytest.mark.parametrize(
    ("now", "until", "expected"),
    [
        # Just before midnight: the day that is ending is still "i dag".
        (datetime(2026, 12, 3, 23, 59, tzinfo=OSLO), midnight(2026, 12, 4), "Fraværende i dag"),
        # DST change days: midnight is midnight in the local zone.
        (datetime(2026, 3, 29, 10, 0, tzinfo=OSLO), midnight(2026, 3, 30), "Fraværende i dag"),
        (
            datetime(2026, 10, 24, 10, 0, tzinfo=OSLO),
            midnight(2026, 10, 26),
            "Fraværende i dag og i morgen",
        ),
        # New Year's Eve, through New Year's Day.
        (
            datetime(2026, 12, 31, 12, 0, tzinfo=OSLO),
            midnight(2027, 1, 2),
            "Fraværende i dag og i morgen",
        ),
        # 29 February 2028, through Friday 3 March.
        (
            datetime(2028, 2, 29, 9, 0, tzinfo=OSLO),
            midnight(2028, 3, 4),
            "Fraværende til og med fredag",
        ),
    ],
)
def test_out_of_office_all_day_at_awkward_instants(
    now: datetime, until: datetime, expected: str
) -> None:
    assert status_text(ClaimKind.OUT_OF_OFFICE, until, now, "nb", "Europe/Oslo") == expected


def test_clock_times_stay_for_states_that_do_not_end_at_midnight() -> None:
    now = datetime(2026, 12, 3, 23, 0, tzinfo=OSLO)
    tomorrow = datetime(2026, 12, 4, 9, 0, tzinfo=OSLO)
    assert (
        status_text(ClaimKind.IN_MEETING, tomorrow, now, "nb", "Europe/Oslo")
        == "I møte til i morgen 09:00"
    )
    # Midnight in another zone than the reader's is not a day boundary for the reader.
    utc_midnight = datetime(2026, 12, 4, 0, 0, tzinfo=ZoneInfo("UTC"))
    assert (
        status_text(ClaimKind.WORKING_ELSEWHERE, utc_midnight, now, "en", "Europe/Oslo")
        == "Working elsewhere until tomorrow 01:00"
    )


def test_all_day_events_through_the_planner() -> None:
    """From calendar events to what a contact sees: all-day states end on a date."""
    person = Person("kari", "kari@region.test", "Kari", "kongsberg", show_subject=True)
    thursday = midnight(2026, 12, 3)
    events = [
        CalendarEvent(
            "elsewhere",
            thursday,
            thursday + timedelta(days=1),
            busy=BusyStatus.ELSEWHERE,
            all_day=True,
        ),
        CalendarEvent(
            "course",
            thursday + timedelta(days=1),
            thursday + timedelta(days=4),
            busy=BusyStatus.BUSY,
            all_day=True,
            subject="Kurs",
        ),
    ]
    claims = calendar_claims("kari", events)
    elsewhere = desired_overlay(person, claims, thursday + timedelta(hours=9), timedelta(0))
    course = desired_overlay(person, claims, thursday + timedelta(days=1, hours=9), timedelta(0))
    assert elsewhere and elsewhere.status == "Jobber fra et annet sted i dag"
    assert course and course.status == "Opptatt: Kurs (til og med søndag)"
