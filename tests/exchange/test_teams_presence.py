"""Teams presence into SAMTEK's presence claims: the real connector polls the Graph fake's
getPresencesByUserId; the mapping, its place in the precedence table and the texts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridges.presence.planner import desired_overlay
from connectors.graph import GraphConnector
from connectors.graph.teams import ACTIVITY, horizon_end, teams_kind
from samtek.events import PresenceClaimsUpdate
from samtek.model import (
    CalendarEvent,
    ClaimKind,
    ClaimSource,
    Person,
    PresenceClaim,
    Show,
)
from samtek.presence.claims import calendar_claims
from samtek.presence.resolver import resolve
from samtek.store import Store
from tests.exchange.conftest import context, person, running, wait_for
from tests.exchange.test_graph import ALICE, NAME, config
from tests.fakes.graph.server import FakeGraph, GraphFault

T0 = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
TEAMS = {"teams_presence": True, "presence_poll_seconds": 0.05, "poll_interval_seconds": 3600}


def connector(
    graph: FakeGraph, store: Store, names: tuple[str, ...], **extra: Any
) -> GraphConnector:
    people = [person(n, NAME) for n in names]
    return GraphConnector(config(graph, **TEAMS, **extra), context(NAME, people, store))


def kinds(update: PresenceClaimsUpdate) -> list[ClaimKind]:
    return [c.kind for c in update.claims]


def of(
    name: str, test: Callable[[PresenceClaimsUpdate], bool]
) -> Callable[[PresenceClaimsUpdate], bool]:
    return lambda u: u.person_id == name and test(u)


@pytest.mark.parametrize(
    ("availability", "activity", "kind"),
    [
        ("DoNotDisturb", "Presenting", ClaimKind.PRESENTING),
        ("Busy", "InACall", ClaimKind.ON_PHONE),
        ("Busy", "InAConferenceCall", ClaimKind.ON_PHONE),
        ("Busy", "InAMeeting", ClaimKind.IN_MEETING),
        ("DoNotDisturb", "DoNotDisturb", ClaimKind.PHONE_DND),
        ("DoNotDisturb", "UrgentInterruptionsOnly", ClaimKind.PHONE_DND),
        ("Busy", "Busy", None),  # plain busy: the calendar already says why, or nothing does
        ("Available", "Available", None),
        ("Away", "Away", None),
        ("Offline", "OffWork", None),
        ("PresenceUnknown", "PresenceUnknown", None),
    ],
)
def test_teams_activity_to_claim(availability: str, activity: str, kind: ClaimKind | None) -> None:
    assert teams_kind({"availability": availability, "activity": activity}) is kind
    assert teams_kind({"activity": 7}) is None and teams_kind(None) is None


def test_claims_last_a_few_rounds_on_a_five_minute_grid() -> None:
    assert horizon_end(T0, 30) == T0 + timedelta(minutes=5)  # 09:35 exactly
    assert horizon_end(T0 + timedelta(seconds=1), 30) == T0 + timedelta(minutes=10)
    assert horizon_end(T0, 600) == T0 + timedelta(minutes=30)  # 3 rounds of 10 min


def _teams(kind: ClaimKind, until: datetime) -> PresenceClaim:
    return PresenceClaim(
        "alice", ClaimSource.TEAMS, kind, Show.DND, T0, until, f"teams:{kind.name}"
    )


def test_precedence_of_teams_claims() -> None:
    meeting = calendar_claims("alice", [CalendarEvent("m", T0, T0 + timedelta(hours=1))])
    phone = PresenceClaim(
        "alice", ClaimSource.PHONE, ClaimKind.ON_PHONE, Show.DND, T0, T0 + timedelta(hours=12), "p"
    )
    soon = T0 + timedelta(minutes=5)
    presenting = _teams(ClaimKind.PRESENTING, soon)
    winner = resolve([*meeting, presenting], T0)
    assert winner is not None and winner.winner is presenting  # presenting in the meeting
    winner = resolve([*meeting, presenting, phone], T0)
    assert winner is not None and winner.winner is phone  # the PBX call is more immediate
    dnd = _teams(ClaimKind.PHONE_DND, soon)
    winner = resolve([*meeting, presenting, phone, dnd], T0)
    assert winner is not None and winner.winner is dnd  # asked not to be disturbed
    assert set(ACTIVITY.values()) <= set(ClaimKind)


def test_teams_texts_have_no_made_up_end() -> None:
    alice = Person("alice", "alice@kommune.no", "Alice", "testvik")
    soon = T0 + timedelta(minutes=5)
    alone = desired_overlay(alice, [_teams(ClaimKind.IN_MEETING, soon)], T0, timedelta(seconds=2))
    assert alone is not None and (alone.show, alone.status) == (Show.DND, "I møte")
    presenting = desired_overlay(alice, [_teams(ClaimKind.PRESENTING, soon)], T0, timedelta(0))
    assert presenting is not None and presenting.status == "Presenterer"
    # The same meeting in the calendar knows its end: "until" comes from there.
    meeting = calendar_claims("alice", [CalendarEvent("m", T0, T0 + timedelta(hours=1))])
    both = desired_overlay(alice, [*meeting, _teams(ClaimKind.IN_MEETING, soon)], T0, timedelta(0))
    assert both is not None and both.status == "I møte til 11:30"


async def test_teams_states_become_claims_and_clear(graph: FakeGraph, store: Store) -> None:
    graph.presence.set_client(ALICE, "Busy", "InACall")
    graph.presence.set_client("bob@kommune.no", "Available", "Available")
    conn = connector(graph, store, ("alice", "bob"))
    updates = conn.ctx.bus.subscribe(PresenceClaimsUpdate)
    async with running(conn):
        call = await wait_for(updates, of("alice", lambda u: bool(u.claims)))
        [claim] = call.claims
        assert (claim.kind, claim.source, claim.show) == (
            ClaimKind.ON_PHONE,
            ClaimSource.TEAMS,
            Show.DND,
        )
        assert claim.valid_until - claim.valid_from <= timedelta(minutes=10)
        graph.presence.set_client(ALICE, "DoNotDisturb", "Presenting")
        presenting = await wait_for(
            updates, of("alice", lambda u: kinds(u) == [ClaimKind.PRESENTING])
        )
        assert presenting.claims[0].valid_from >= claim.valid_from
        graph.presence.set_client(ALICE, "Available", "Available")
        await wait_for(updates, of("alice", lambda u: u.claims == ()))
        assert conn.teams is not None and conn.teams.rounds >= 3
    assert conn.ctx.health.snapshot().item_errors == {}


async def test_presence_is_asked_for_650_people_at_a_time(graph: FakeGraph, store: Store) -> None:
    names = tuple(f"user{i:03d}" for i in range(700))
    for name in names:
        graph.presence.set_client(f"{name}@kommune.no", "Available", "Available")
    graph.presence.set_client("user699@kommune.no", "Busy", "InAMeeting")
    conn = connector(graph, store, names)
    updates = conn.ctx.bus.subscribe(PresenceClaimsUpdate)
    async with running(conn):
        update = await wait_for(updates, lambda u: bool(u.claims))
    assert update.person_id == "user699" and kinds(update) == [ClaimKind.IN_MEETING]
    assert graph.presence.asked[:2] == [650, 50]
    assert graph.count("user") == 700 and all(
        r.in_batch for r in graph.log if r.operation == "user"
    )


def test_every_claim_source_has_a_reason_in_the_assistant() -> None:
    from bridges.assistant.commands.status import _WHY
    from bridges.assistant.texts import LANGUAGES, catalogue

    assert set(_WHY) == set(ClaimSource)
    assert all(_WHY[ClaimSource.TEAMS] in catalogue(lang) for lang in LANGUAGES)


async def test_throttled_presence_waits_and_carries_on(graph: FakeGraph, store: Store) -> None:
    graph.presence.set_client(ALICE, "DoNotDisturb", "Presenting")
    graph.inject(GraphFault("throttle", "getPresences", retry_after=1))
    conn = connector(graph, store, ("alice",))
    updates = conn.ctx.bus.subscribe(PresenceClaimsUpdate)
    async with running(conn):
        update = await wait_for(updates, of("alice", lambda u: bool(u.claims)))
    assert kinds(update) == [ClaimKind.PRESENTING]
    throttled = next(r for r in graph.log if r.status == 429)
    after = [r for r in graph.log if r.at > throttled.at and r.operation == "getPresences"]
    assert after and after[0].at - throttled.at >= 0.95  # Retry-After was honoured
