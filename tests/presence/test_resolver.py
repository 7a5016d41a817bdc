"""The resolver is a pure function: checked with examples and with hypothesis properties."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from samtek.model import ClaimKind, ClaimSource, PresenceClaim, Show
from samtek.presence.resolver import next_boundary, resolve, transition_id

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SHOWS = {
    ClaimKind.IN_MEETING: Show.DND,
    ClaimKind.TENTATIVE: Show.AWAY,
    ClaimKind.OUT_OF_OFFICE: Show.XA,
    ClaimKind.WORKING_ELSEWHERE: Show.AVAILABLE,
    ClaimKind.ON_PHONE: Show.DND,
    ClaimKind.PHONE_RINGING: Show.DND,
    ClaimKind.PHONE_DND: Show.DND,
    ClaimKind.PRESENTING: Show.DND,
}


def claim(kind: ClaimKind, start_min: int, end_min: int, cid: str = "") -> PresenceClaim:
    return PresenceClaim(
        person_id="alice",
        source=ClaimSource.PHONE if kind >= ClaimKind.PHONE_RINGING else ClaimSource.CALENDAR,
        kind=kind,
        show=SHOWS[kind],
        valid_from=T0 + timedelta(minutes=start_min),
        valid_until=T0 + timedelta(minutes=end_min),
        claim_id=cid or f"{kind.name}-{start_min}-{end_min}",
    )


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_no_claim_means_own_presence() -> None:
    assert resolve([], at(0)) is None
    assert resolve([claim(ClaimKind.IN_MEETING, 10, 20)], at(20)) is None  # end is exclusive


def test_call_inside_meeting_wins_and_meeting_returns() -> None:
    claims = [claim(ClaimKind.IN_MEETING, 0, 60), claim(ClaimKind.ON_PHONE, 20, 30)]
    during_call = resolve(claims, at(25))
    after_call = resolve(claims, at(30))
    before_call = resolve(claims, at(10))
    assert during_call and during_call.kind is ClaimKind.ON_PHONE
    assert after_call and after_call.kind is ClaimKind.IN_MEETING
    assert before_call and before_call.display_until == at(60)  # the call does not cut "until"
    # The meeting after the call is a new transition: a manual dismissal before it is void.
    assert transition_id("alice", before_call) != transition_id("alice", after_call)


def test_back_to_back_meetings_merge_into_one_until() -> None:
    claims = [claim(ClaimKind.IN_MEETING, 0, 30), claim(ClaimKind.IN_MEETING, 30, 90)]
    result = resolve(claims, at(5))
    assert result and result.display_until == at(90)
    assert transition_id("alice", result) == transition_id("alice", resolve(claims, at(45)))


def test_next_boundary_is_the_earliest_start_or_end_after() -> None:
    claims = [claim(ClaimKind.IN_MEETING, 10, 30), claim(ClaimKind.TENTATIVE, 20, 40)]
    assert next_boundary(claims, at(0)) == at(10)
    assert next_boundary(claims, at(10)) == at(20)
    assert next_boundary(claims, at(35)) == at(40)
    assert next_boundary(claims, at(40)) is None


kinds = st.sampled_from(list(ClaimKind))
claim_strategy = st.builds(
    lambda kind, start, length: claim(kind, start, start + length),
    kinds,
    st.integers(0, 300),
    st.integers(1, 120),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(claim_strategy, max_size=12), st.integers(0, 420))
def test_properties(claims: list[PresenceClaim], minute: int) -> None:
    when = at(minute)
    active = [c for c in claims if c.active_at(when)]
    result = resolve(claims, when)
    if not active:
        assert result is None  # the person's own presence
        return
    assert result is not None
    # The result is one of the active claims, and none active outranks it.
    assert result.winner in active
    assert all(c.kind <= result.kind for c in active)
    # "until" is the end of the continuous period covered by claims of the winning kind.
    same = [c for c in claims if c.kind == result.kind]
    assert result.display_until > when
    assert not any(c.active_at(result.display_until) for c in same)
    t = when
    while t < result.display_until:
        assert any(c.active_at(t) for c in same)
        t += timedelta(minutes=1)
    # The transition began at a boundary at or before now, while this kind won throughout.
    assert result.period_start <= when
    assert resolve(claims, result.period_start).kind == result.kind
