"""Graph connector against the loopback Graph/Entra fake (TLS), through real MSAL and aiohttp."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from connectors.graph import GraphConfig, GraphConnector
from samtek.calendar import CalendarSource, MeetingRequest, MeetingWriter
from samtek.events import CalendarUpdate, OutOfOfficeUpdate
from samtek.health import HealthState
from samtek.model import BusyStatus, Sensitivity, TimeWindow
from samtek.plugin import AuthFailed
from samtek.store import Store
from tests.exchange.conftest import context, person, running, wait_for
from tests.fakes.graph.server import FakeGraph, GraphFault
from tests.fakes.mailboxes import FakeOof

NAME = "m365"
ALICE = "alice@kommune.no"


def config(fake: FakeGraph, **overrides: Any) -> GraphConfig:
    values: dict[str, Any] = {
        "tenant_id": fake.tenant,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "authority_host": fake.base,
        "graph_url": f"{fake.base}/v1.0",
        "ca_file": str(fake.ca_file),
        "poll_interval_seconds": 0.05,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.5,
        "page_size": 2,  # small pages: nextLink paging is exercised
    }
    values.update(overrides)
    values["client_secret"] = SecretStr(values["client_secret"])  # as samtek.secrets resolves it
    return GraphConfig(**values)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def connector(
    fake: FakeGraph, store: Store, names: tuple[str, ...] = ("alice", "bob"), **overrides: Any
) -> GraphConnector:
    people = [person(n, NAME) for n in names]
    return GraphConnector(config(fake, **overrides), context(NAME, people, store))


def subjects(update: CalendarUpdate) -> list[str | None]:
    return [e.subject for e in update.events]


def has_subject(subject: str) -> Callable[[CalendarUpdate], bool]:
    return lambda update: subject in subjects(update)


async def test_meeting_appears_moves_and_is_cancelled(graph: FakeGraph, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    for i in range(3):
        graph.state.add_event(
            ALICE, f"Fast {i}", t0 + timedelta(days=i), t0 + timedelta(days=i, minutes=15)
        )
    conn = connector(graph, store)
    assert isinstance(conn, CalendarSource) and isinstance(conn, MeetingWriter)
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    oofs = conn.ctx.bus.subscribe(OutOfOfficeUpdate)
    async with running(conn):
        first = await wait_for(updates, lambda u: u.person_id == "alice")
        assert subjects(first) == ["Fast 0", "Fast 1", "Fast 2"]  # across two delta pages
        assert (await wait_for(oofs, lambda u: u.person_id == "alice")).oof.enabled is False

        meeting = graph.state.add_event(
            ALICE, "Budsjett", t0 + timedelta(hours=2), t0 + timedelta(hours=3)
        )
        added = await wait_for(updates, lambda u: u.person_id == "alice" and len(u.events) == 4)
        assert subjects(added) == ["Fast 0", "Budsjett", "Fast 1", "Fast 2"]

        graph.state.move_event(
            ALICE, meeting.item_id, t0 + timedelta(days=1, hours=3), t0 + timedelta(days=1, hours=4)
        )
        moved = await wait_for(
            updates, lambda u: u.person_id == "alice" and subjects(u)[1] == "Fast 1"
        )
        assert subjects(moved) == ["Fast 0", "Fast 1", "Budsjett", "Fast 2"]

        graph.state.cancel_event(ALICE, meeting.item_id)
        cancelled = await wait_for(updates, lambda u: u.person_id == "alice" and len(u.events) == 3)
        assert "Budsjett" not in subjects(cancelled)
    assert conn.ctx.health.state is HealthState.OK
    assert "deltatoken" in (await store.get_state(f"graph:{NAME}", ALICE) or "")
    assert graph.count("token") == 1  # the token is cached


async def test_mapping_privacy_all_day_location_and_online_url(
    graph: FakeGraph, store: Store
) -> None:
    t0 = now() + timedelta(hours=1)
    oslo = ZoneInfo("Europe/Oslo")
    day = (t0 + timedelta(days=2)).astimezone(oslo).date()
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=oslo)
    graph.state.add_event(
        ALICE,
        "Teams",
        t0,
        t0 + timedelta(hours=1),
        location="Rådhuset 2",
        online_meeting_url="https://teams.example/l/meetup-join/1",
        busy="Tentative",
    )
    graph.state.add_event(
        ALICE, "No sensitivity", t0 + timedelta(hours=2), t0 + timedelta(hours=3), sensitivity=None
    )
    graph.state.add_event(
        ALICE,
        "Lege",
        t0 + timedelta(hours=4),
        t0 + timedelta(hours=5),
        sensitivity="Confidential",
        busy="OOF",
    )
    graph.state.add_event(
        ALICE,
        "Seminar",
        day_start,
        day_start + timedelta(days=1),
        all_day=True,
        busy="WorkingElsewhere",
    )
    conn = connector(graph, store)
    try:
        window = TimeWindow(t0 - timedelta(hours=1), t0 + timedelta(days=5))
        teams, missing, private, seminar = await conn.events(person("alice", NAME), window)
    finally:
        await conn.close()
    assert (teams.location, teams.online_meeting_url) == (
        "Rådhuset 2",
        "https://teams.example/l/meetup-join/1",
    )
    assert teams.busy is BusyStatus.TENTATIVE and teams.sensitivity is Sensitivity.NORMAL
    assert teams.start == t0 and teams.end == t0 + timedelta(hours=1)
    assert missing.sensitivity is Sensitivity.PRIVATE
    assert private.sensitivity is Sensitivity.CONFIDENTIAL and private.busy is BusyStatus.OOF
    assert seminar.all_day and seminar.busy is BusyStatus.ELSEWHERE
    assert seminar.start == day_start and seminar.end == day_start + timedelta(days=1)


async def test_occurrences_of_a_series_are_distinct_events(graph: FakeGraph, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    for day in range(2):
        start = t0 + timedelta(days=day)
        graph.state.add_event(
            ALICE,
            "Daglig",
            start,
            start + timedelta(minutes=15),
            uid="series-1",
            recurrence_id=start,
        )
    conn = connector(graph, store)
    window = TimeWindow(t0 - timedelta(hours=1), t0 + timedelta(days=3))
    try:
        first, second = await conn.events(person("alice", NAME), window)
    finally:
        await conn.close()
    assert (first.recurrence_id, second.recurrence_id) == (t0, t0 + timedelta(days=1))
    assert first.key != second.key


async def test_free_busy_of_1000_mailboxes_in_batches_of_20(graph: FakeGraph, store: Store) -> None:
    t0 = now()
    names = tuple(f"user{i:04d}" for i in range(1000))
    for name in names:
        graph.state.box(f"{name}@kommune.no")
    for i, name in enumerate(names[::7]):
        start = t0 + timedelta(hours=i % 48)
        graph.state.add_event(f"{name}@kommune.no", "x", start, start + timedelta(minutes=30))
    conn = connector(graph, store, names)
    try:
        result = await conn.free_busy(
            [person(n, NAME) for n in names], TimeWindow(t0, t0 + timedelta(days=3))
        )
    finally:
        await conn.close()
    schedules = [r for r in graph.log if r.operation == "getSchedule"]
    assert len(schedules) == 50 and all(r.in_batch for r in schedules)
    assert all(len(r.mailboxes) <= 20 for r in schedules)
    assert graph.count("batch") == 3  # 20 + 20 + 10 getSchedule requests
    assert len({m for r in schedules for m in r.mailboxes}) == 1000
    assert sum(len(b) for b in result.values()) == len(names[::7]) and len(result) == 1000


async def test_throttling_slows_down_and_loses_no_change(graph: FakeGraph, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    conn = connector(graph, store, ("alice",))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        await wait_for(updates, lambda u: u.person_id == "alice")
        graph.inject(GraphFault("throttle", "delta", count=2, retry_after=1))
        graph.inject(GraphFault("unavailable", "delta", count=1, retry_after=1))
        graph.state.add_event(ALICE, "Under press", t0, t0 + timedelta(hours=1))
        update = await wait_for(updates, lambda u: len(u.events) == 1)
        assert subjects(update) == ["Under press"]
    refused = [r for r in graph.log if r.status in (429, 503)]
    assert len(refused) == 3
    for r in refused:  # no request for the mailbox inside the Retry-After period
        after = [x for x in graph.log if x.at > r.at and x.operation != "token"]
        assert after and after[0].at - r.at >= 0.95


async def test_throttled_batch_items_are_retried(graph: FakeGraph, store: Store) -> None:
    names = tuple(f"user{i:02d}" for i in range(60))
    for name in names:
        graph.state.box(f"{name}@kommune.no")
    graph.inject(GraphFault("throttle", "getSchedule", count=2, retry_after=1))
    conn = connector(graph, store, names)
    try:
        result = await conn.free_busy(
            [person(n, NAME) for n in names], TimeWindow(now(), now() + timedelta(days=1))
        )
    finally:
        await conn.close()
    assert len(result) == 60
    assert graph.count("getSchedule", 429) == 2 and graph.count("getSchedule") == 3
    assert graph.count("batch") == 2


async def test_invalid_delta_token_resyncs_without_gap(graph: FakeGraph, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    conn = connector(graph, store, ("alice",))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        await wait_for(updates, lambda u: u.person_id == "alice")
        graph.invalidate_delta_tokens(ALICE)
        graph.state.add_event(ALICE, "Mens token var ugyldig", t0, t0 + timedelta(hours=1))
        update = await wait_for(updates, lambda u: len(u.events) == 1)
        assert subjects(update) == ["Mens token var ugyldig"]
        graph.state.add_event(ALICE, "Etterpå", t0 + timedelta(hours=2), t0 + timedelta(hours=3))
        await wait_for(updates, lambda u: len(u.events) == 2)
    assert graph.count("delta", 410) == 1


async def test_slow_reply_is_awaited(graph: FakeGraph, store: Store) -> None:
    graph.inject(GraphFault("slow", "calendarView", delay=0.5))
    graph.state.add_event(ALICE, "Treg", now(), now() + timedelta(hours=1))
    conn = connector(graph, store)
    try:
        events = await conn.events(person("alice", NAME), conn.window())
    finally:
        await conn.close()
    assert [e.subject for e in events] == ["Treg"]


async def test_mailbox_error_is_an_item_error_and_recovers(graph: FakeGraph, store: Store) -> None:
    bob = "bob@kommune.no"
    graph.inject(GraphFault("missing", "delta", mailbox=bob))
    conn = connector(graph, store)
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        await wait_for(updates, lambda u: u.person_id == "alice")
        await wait_for(updates, lambda u: u.person_id == "bob")  # full round on the next poll
    health = conn.ctx.health.snapshot()
    assert health.last_error is not None and health.last_error.startswith(bob)
    assert "404 ErrorItemNotFound" in health.last_error
    assert health.state is HealthState.OK and health.item_errors == {}


async def test_run_can_be_restarted(graph: FakeGraph, store: Store) -> None:
    conn = connector(graph, store, ("alice",))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    for subject in ("Første", "Andre"):
        async with running(conn):  # the supervisor restarts run() on the same instance
            await wait_for(updates, lambda u: u.person_id == "alice")
            graph.state.add_event(ALICE, subject, now(), now() + timedelta(hours=1))
            await wait_for(updates, has_subject(subject))


async def test_bad_secret_raises_auth_failed(graph: FakeGraph, store: Store) -> None:
    conn = connector(graph, store, client_secret="wrong")
    with pytest.raises(AuthFailed, match="invalid_client"):
        await conn.run()
    assert conn.ctx.health.state is HealthState.AUTH_FAILED
    assert [r.status for r in graph.log] == [401]


async def test_revoked_token_is_refreshed_then_401_is_auth_failed(
    graph: FakeGraph, store: Store
) -> None:
    conn = connector(graph, store, ("alice",))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn) as task:
        await wait_for(updates, lambda u: u.person_id == "alice")
        graph.revoke_tokens()  # an expired token: refreshed silently
        graph.state.add_event(ALICE, "Etter ny token", now(), now() + timedelta(hours=1))
        await wait_for(updates, lambda u: len(u.events) == 1)
        assert graph.count("token") == 2
        graph.inject(GraphFault("unauthorized", "delta", count=5))  # rights withdrawn
        with pytest.raises(AuthFailed):
            await task
    assert conn.ctx.health.state is HealthState.AUTH_FAILED


async def test_create_meeting_invites_attendees(graph: FakeGraph, store: Store) -> None:
    conn = connector(graph, store, ("alice", "bob", "carol"))
    people = conn.ctx.directory.people()
    start = now() + timedelta(days=1)
    try:
        uid = await conn.create_meeting(
            MeetingRequest(
                organiser=people["alice"],
                attendees=(people["bob"], people["carol"]),
                subject="Prosjektmøte",
                start=start,
                end=start + timedelta(hours=1),
                body="Agenda",
                location="Rom 3",
                online_meeting_url="https://meet.example/abc",
            )
        )
        [event] = await conn.events(people["alice"], conn.window())
    finally:
        await conn.close()
    assert (event.uid, event.online_meeting_url) == (uid, "https://meet.example/abc")
    [created] = graph.state.created
    assert created.organiser == ALICE and created.subject == "Prosjektmøte"
    assert created.attendees == ("bob@kommune.no", "carol@kommune.no")
    assert (created.start, created.end, created.location) == (
        start,
        start + timedelta(hours=1),
        "Rom 3",
    )
    assert [e.uid for e in graph.state.box(ALICE).events.values()] == [uid]


async def test_out_of_office(graph: FakeGraph, store: Store) -> None:
    start, end = now(), now() + timedelta(days=3)
    graph.state.set_oof(ALICE, FakeOof("Scheduled", start, end, "På ferie"))
    conn = connector(graph, store)
    try:
        oof = await conn.out_of_office(person("alice", NAME))
        bob = await conn.out_of_office(person("bob", NAME))
    finally:
        await conn.close()
    assert (oof.enabled, oof.start, oof.end, oof.message) == (True, start, end, "På ferie")
    assert bob.enabled is False
