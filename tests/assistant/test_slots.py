"""Slot finding and the rate limiter (pure, with hypothesis)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bridges.assistant.ratelimit import RateLimiter, Verdict
from bridges.assistant.slots import WorkingHours, common_slots, merge, subtract

OSLO = ZoneInfo("Europe/Oslo")
MONDAY = date(2026, 11, 30)
T0 = datetime(2026, 11, 30, 0, 0, tzinfo=OSLO)


def at(hour: float, day: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour)


def test_working_hours_skip_the_weekend_and_keep_wall_clock_across_dst() -> None:
    windows = WorkingHours().windows(date(2026, 3, 27), date(2026, 3, 30), OSLO)
    assert [w[0].date() for w in windows] == [date(2026, 3, 27), date(2026, 3, 30)]
    assert all(w[0].hour == 8 and w[1].hour == 16 for w in windows)
    assert windows[0][0].utcoffset() != windows[1][0].utcoffset()  # DST began on the 29th


def test_first_common_slot_after_everyone_is_free() -> None:
    windows = WorkingHours().windows(MONDAY, MONDAY + timedelta(1), OSLO)
    busy = [(at(8), at(9.5)), (at(9), at(10)), (at(10.5), at(16)), (at(8, 1), at(12, 1))]
    slots = common_slots(windows, busy, timedelta(minutes=30), earliest=at(0))
    assert slots == [(at(10), at(10.5)), (at(12, 1), at(12.5, 1))]


def test_earliest_is_rounded_up_to_a_quarter() -> None:
    windows = WorkingHours().windows(MONDAY, MONDAY, OSLO)
    slots = common_slots(windows, [], timedelta(hours=1), earliest=at(9 + 7 / 60), limit=1)
    assert slots == [(at(9.25), at(10.25))]


intervals = st.lists(
    st.tuples(st.integers(0, 7 * 24 * 4), st.integers(1, 5 * 4)).map(
        lambda t: (T0 + timedelta(minutes=15 * t[0]), T0 + timedelta(minutes=15 * (t[0] + t[1])))
    ),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(busy=intervals, minutes=st.sampled_from([15, 30, 45, 60, 120]), start=st.integers(0, 96))
def test_slots_are_free_in_hours_and_none_earlier_is_missed(
    busy: list[tuple[datetime, datetime]], minutes: int, start: int
) -> None:
    duration = timedelta(minutes=minutes)
    earliest = T0 + timedelta(minutes=15 * start)
    windows = WorkingHours().windows(MONDAY, MONDAY + timedelta(6), OSLO)
    slots = common_slots(windows, busy, duration, earliest=earliest, limit=3)
    for s, e in slots:
        assert e - s == duration and s >= earliest
        assert any(ws <= s and e <= we for ws, we in windows)
        assert not any(bs < e and be > s for bs, be in busy)
    # Completeness: no quarter-hour start before the first slot would have fitted.
    first = slots[0][0] if slots else windows[-1][1]
    t = earliest
    while t < first:
        fits = any(ws <= t and t + duration <= we for ws, we in windows) and not any(
            bs < t + duration and be > t for bs, be in busy
        )
        assert not fits, f"missed a slot at {t}"
        t += timedelta(minutes=15)


@given(intervals)
def test_merge_and_subtract_partition_the_windows(busy: list[tuple[datetime, datetime]]) -> None:
    windows = [(at(8, d), at(16, d)) for d in range(7)]
    free = subtract(windows, busy)
    total = sum((e - s for s, e in windows), timedelta())
    covered = sum(
        (
            min(e, we) - max(s, ws)
            for s, e in merge(busy)
            for ws, we in windows
            if s < we and e > ws
        ),
        timedelta(),
    )
    assert sum((e - s for s, e in free), timedelta()) == total - covered


def test_rate_limit_burst_then_one_warning_then_silence() -> None:
    limiter = RateLimiter(burst=5, per_seconds=10)
    verdicts = [limiter.check("a", 0.0) for _ in range(100)]
    assert verdicts[:5] == [Verdict.ALLOW] * 5
    assert verdicts[5] == Verdict.WARN
    assert set(verdicts[6:]) == {Verdict.DROP}
    assert limiter.check("b", 0.0) == Verdict.ALLOW  # others unaffected
    assert limiter.check("a", 2.0) == Verdict.ALLOW  # one token back after 2 s
    assert limiter.check("a", 2.0) == Verdict.WARN  # and the next warning is allowed again


def test_rate_limit_memory_is_bounded() -> None:
    limiter = RateLimiter(max_senders=100)
    for i in range(10_000):
        limiter.check(f"user{i}", i * 0.001)  # monotonic seconds
    assert len(limiter) == 100
