"""Texts in three languages (also on a DST change day) and the planner's privacy rules."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bridges.presence.planner import desired_overlay
from samtek.model import BusyStatus, CalendarEvent, ClaimKind, Person, Sensitivity, Show
from samtek.presence.claims import calendar_claims
from samtek.presence.texts import status_text

OSLO = ZoneInfo("Europe/Oslo")


@pytest.mark.parametrize(
    ("language", "meeting", "oof", "phone"),
    [
        ("nb", "I møte til 14:00", "Fraværende til mandag 30. november", "På telefonen"),
        ("nn", "I møte til 14:00", "Fråverande til måndag 30. november", "På telefonen"),
        (
            "en",
            "In a meeting until 14:00",
            "Out of office until Monday 30 November",
            "On the phone",
        ),
    ],
)
def test_three_languages(language: str, meeting: str, oof: str, phone: str) -> None:
    now = datetime(2026, 11, 25, 9, 30, tzinfo=OSLO)
    until = datetime(2026, 11, 25, 14, 0, tzinfo=OSLO)
    back = datetime(2026, 11, 30, 8, 0, tzinfo=OSLO)  # automatic replies end Monday 08:00
    assert status_text(ClaimKind.IN_MEETING, until, now, language, "Europe/Oslo") == meeting
    assert status_text(ClaimKind.OUT_OF_OFFICE, back, now, language, "Europe/Oslo") == oof
    assert status_text(ClaimKind.ON_PHONE, until, now, language, "Europe/Oslo") == phone


def test_dst_change_day_shows_local_wall_clock() -> None:
    # 2026-10-25: Oslo goes from CEST (UTC+2) to CET (UTC+1) at 03:00 local.
    now = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    until = datetime(2026, 10, 25, 9, 0, tzinfo=UTC)  # 10:00 CET, not 11:00
    assert status_text(ClaimKind.IN_MEETING, until, now, "nb", "Europe/Oslo") == "I møte til 10:00"
    spring = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # 14:00 CEST after the spring change
    assert (
        status_text(ClaimKind.IN_MEETING, spring, spring - timedelta(hours=3), "nn", "Europe/Oslo")
        == "I møte til 14:00"
    )
    assert status_text(ClaimKind.IN_MEETING, until, now, "en", "UTC") == "In a meeting until 09:00"


def _person(show_subject: bool) -> Person:
    return Person("alice", "alice@region.test", "Alice", "kongsberg", show_subject=show_subject)


def _event(uid: str, start: datetime, minutes: int, **kw: object) -> CalendarEvent:
    return CalendarEvent(uid=uid, start=start, end=start + timedelta(minutes=minutes), **kw)


def test_private_meeting_never_shows_subject_even_with_opt_in() -> None:
    start = datetime(2026, 11, 25, 10, 0, tzinfo=OSLO)
    events = [
        _event("a", start, 60, subject="Lønnsforhandling", sensitivity=Sensitivity.PRIVATE),
        _event("b", start + timedelta(hours=2), 60, subject="Budsjett"),
    ]
    claims = calendar_claims("alice", events)
    private = desired_overlay(_person(True), claims, start, timedelta(0))
    public = desired_overlay(_person(True), claims, start + timedelta(hours=2), timedelta(0))
    hidden = desired_overlay(_person(False), claims, start + timedelta(hours=2), timedelta(0))
    assert private and private.status == "I møte til 11:00"
    assert "Lønn" not in private.status
    assert public and public.status == "I møte: Budsjett (til 13:00)"
    assert hidden and hidden.status == "I møte til 13:00"


def test_all_day_free_is_ignored_all_day_oof_counts() -> None:
    day = datetime(2026, 11, 26, 0, 0, tzinfo=OSLO)
    events = [
        _event("free", day, 24 * 60, all_day=True, busy=BusyStatus.FREE),
        _event("oof", day + timedelta(days=1), 24 * 60, all_day=True, busy=BusyStatus.OOF),
    ]
    claims = calendar_claims("alice", events)
    assert desired_overlay(_person(False), claims, day + timedelta(hours=10), timedelta(0)) is None
    away = desired_overlay(_person(False), claims, day + timedelta(days=1, hours=10), timedelta(0))
    assert away and away.show is Show.XA
    assert away.status == "Fraværende i dag"  # the all-day event covers Friday only


def test_overlay_ttl_is_the_next_visible_change_plus_grace() -> None:
    start = datetime(2026, 11, 25, 10, 0, tzinfo=OSLO)
    events = [_event("a", start, 30), _event("b", start + timedelta(minutes=30), 30)]
    overlay = desired_overlay(
        _person(False), calendar_claims("alice", events), start, timedelta(seconds=2)
    )
    assert overlay and overlay.status == "I møte til 11:00"
    assert overlay.until == start + timedelta(hours=1, seconds=2)
