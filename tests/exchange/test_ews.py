"""EWS connector against the loopback SOAP fake, through real exchangelib and real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from connectors.ews import EwsConfig, EwsConnector
from samtek.calendar import CalendarSource, MeetingRequest, MeetingWriter
from samtek.events import CalendarUpdate, OutOfOfficeUpdate
from samtek.health import HealthState
from samtek.model import BusyStatus, Sensitivity, TimeWindow
from samtek.plugin import AuthFailed
from samtek.store import Store
from tests.exchange.conftest import context, person, running, wait_for
from tests.fakes.ews.server import FakeEws, Fault
from tests.fakes.mailboxes import FakeOof

NAME = "ews1"
ALICE = "alice@kommune.no"


def config(fake: FakeEws, **overrides: Any) -> EwsConfig:
    values: dict[str, Any] = {
        "url": fake.url,
        "username": fake.username,
        "password": fake.password,
        "auth_type": "basic",
        "poll_interval_seconds": 0.05,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.5,
    }
    values.update(overrides)
    values["password"] = SecretStr(values["password"])  # as samtek.secrets resolves it
    return EwsConfig(**values)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def connector(
    fake: FakeEws, store: Store, names: tuple[str, ...] = ("alice", "bob"), **overrides: Any
) -> EwsConnector:
    people = [person(n, NAME) for n in names]
    return EwsConnector(config(fake, **overrides), context(NAME, people, store))


def subjects(update: CalendarUpdate) -> list[str | None]:
    return [e.subject for e in update.events]


async def test_meeting_appears_moves_and_is_cancelled(ews: FakeEws, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    ews.state.add_event(ALICE, "Standup", t0, t0 + timedelta(minutes=15))
    conn = connector(ews, store)
    assert isinstance(conn, CalendarSource) and isinstance(conn, MeetingWriter)
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    oofs = conn.ctx.bus.subscribe(OutOfOfficeUpdate)
    async with running(conn):
        first = await wait_for(updates, lambda u: u.person_id == "alice")
        assert subjects(first) == ["Standup"]
        assert (await wait_for(oofs, lambda u: u.person_id == "alice")).oof.enabled is False

        meeting = ews.state.add_event(
            ALICE, "Budsjett", t0 + timedelta(hours=2), t0 + timedelta(hours=3)
        )
        added = await wait_for(updates, lambda u: u.person_id == "alice" and len(u.events) == 2)
        assert subjects(added) == ["Standup", "Budsjett"]

        ews.state.move_event(
            ALICE, meeting.item_id, t0 + timedelta(days=1), t0 + timedelta(days=1, hours=1)
        )
        moved = await wait_for(
            updates,
            lambda u: (
                u.person_id == "alice" and any(e.start == t0 + timedelta(days=1) for e in u.events)
            ),
        )
        assert [e.start for e in moved.events] == [t0, t0 + timedelta(days=1)]

        ews.state.cancel_event(ALICE, meeting.item_id)
        cancelled = await wait_for(updates, lambda u: u.person_id == "alice" and len(u.events) == 1)
        assert subjects(cancelled) == ["Standup"]
    assert conn.ctx.health.state is HealthState.OK
    assert ews.count("Subscribe") == 2  # alice and bob, once each


async def test_mapping_privacy_all_day_location_and_online_url(ews: FakeEws, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    oslo = ZoneInfo("Europe/Oslo")
    day = (t0 + timedelta(days=2)).astimezone(oslo).date()
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=oslo)
    ews.state.add_event(
        ALICE,
        "Teams",
        t0,
        t0 + timedelta(hours=1),
        location="Rådhuset 2",
        online_meeting_url="https://teams.example/l/meetup-join/1",
        busy="Tentative",
    )
    ews.state.add_event(
        ALICE, "No sensitivity", t0 + timedelta(hours=2), t0 + timedelta(hours=3), sensitivity=None
    )
    ews.state.add_event(
        ALICE,
        "Lege",
        t0 + timedelta(hours=4),
        t0 + timedelta(hours=5),
        sensitivity="Private",
        busy="OOF",
    )
    # Stored in UTC by Exchange: Oslo midnight is 23:00 or 22:00 UTC the day before.
    ews.state.add_event(
        ALICE,
        "Seminar",
        day_start,
        day_start + timedelta(days=1),
        all_day=True,
        busy="WorkingElsewhere",
    )
    conn = connector(ews, store)
    window = TimeWindow(t0 - timedelta(hours=1), t0 + timedelta(days=5))
    teams, missing, private, seminar = await conn.events(person("alice", NAME), window)
    assert (teams.location, teams.online_meeting_url) == (
        "Rådhuset 2",
        "https://teams.example/l/meetup-join/1",
    )
    assert teams.busy is BusyStatus.TENTATIVE and teams.sensitivity is Sensitivity.NORMAL
    assert missing.sensitivity is Sensitivity.PRIVATE  # unknown is never shown as normal
    assert private.sensitivity is Sensitivity.PRIVATE and private.busy is BusyStatus.OOF
    assert seminar.all_day and seminar.busy is BusyStatus.ELSEWHERE
    assert seminar.start == day_start and seminar.end == day_start + timedelta(days=1)
    assert ews.count("FindItem") == 1 and ews.count("GetItem") == 0  # one round trip


async def test_occurrences_of_a_series_are_distinct_events(ews: FakeEws, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    for day in range(2):
        start = t0 + timedelta(days=day)
        ews.state.add_event(
            ALICE,
            "Daglig",
            start,
            start + timedelta(minutes=15),
            uid="series-1",
            recurrence_id=start,
        )
    conn = connector(ews, store)
    window = TimeWindow(t0 - timedelta(hours=1), t0 + timedelta(days=3))
    first, second = await conn.events(person("alice", NAME), window)
    assert (first.recurrence_id, second.recurrence_id) == (t0, t0 + timedelta(days=1))
    assert first.key != second.key


async def test_free_busy_of_1000_mailboxes_in_10_requests(ews: FakeEws, store: Store) -> None:
    t0 = now()
    names = tuple(f"user{i:04d}" for i in range(1000))
    for name in names:
        ews.state.box(f"{name}@kommune.no")
    for i, name in enumerate(names[::7]):
        start = t0 + timedelta(hours=i % 48)
        ews.state.add_event(f"{name}@kommune.no", "x", start, start + timedelta(minutes=30))
    conn = connector(ews, store, names)
    people = [person(n, NAME) for n in names]
    result = await conn.free_busy(people, TimeWindow(t0, t0 + timedelta(days=3)))
    assert ews.count("GetUserAvailability") == len(ews.log) <= 10
    assert all(len(r.mailboxes) <= 100 for r in ews.log)
    assert len({m for r in ews.log for m in r.mailboxes}) == 1000
    assert sum(len(blocks) for blocks in result.values()) == len(names[::7])
    assert len(result["user0000"]) == 1 and result["user0001"] == []


async def test_server_busy_slows_down_and_loses_no_change(ews: FakeEws, store: Store) -> None:
    t0 = now() + timedelta(hours=1)
    conn = connector(ews, store, ("alice",))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        await wait_for(updates, lambda u: u.person_id == "alice")
        ews.inject(Fault("busy", "GetEvents", count=2, back_off_ms=400))
        ews.inject(Fault("busy", "FindItem", count=1, back_off_ms=400))
        ews.state.add_event(ALICE, "Under press", t0, t0 + timedelta(hours=1))
        update = await wait_for(updates, lambda u: u.person_id == "alice" and len(u.events) == 1)
        assert subjects(update) == ["Under press"]
    busy = [r for r in ews.log if r.status == 500]
    assert len(busy) == 3 and conn.client.gate.pauses == 3
    for refused in busy:  # nothing was sent while the server had asked us to back off
        after = [r for r in ews.log if r.at > refused.at]
        assert after and after[0].at - refused.at >= 0.4 * 0.95


async def test_transient_soap_fault_is_retried(ews: FakeEws, store: Store) -> None:
    ews.inject(Fault("soap", "FindItem", count=2, code="ErrorInternalServerTransientError"))
    ews.state.add_event(ALICE, "A", now(), now() + timedelta(hours=1))
    conn = connector(ews, store)
    events = await conn.events(person("alice", NAME), conn.window())
    assert [e.subject for e in events] == ["A"]
    assert [r.status for r in ews.log] == [500, 500, 200]


@pytest.mark.parametrize("loss", ["ErrorExpiredSubscription", "ErrorSubscriptionNotFound"])
async def test_lost_subscription_resyncs_without_gap(ews: FakeEws, store: Store, loss: str) -> None:
    t0 = now() + timedelta(hours=1)
    conn = connector(ews, store, ("alice",))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        await wait_for(updates, lambda u: u.person_id == "alice")
        if loss == "ErrorExpiredSubscription":
            ews.expire_subscriptions(ALICE)
        else:  # e.g. the CAS server restarted and forgot it
            ews.subscriptions.clear()
        ews.state.add_event(ALICE, "Mens abonnementet var borte", t0, t0 + timedelta(hours=1))
        update = await wait_for(updates, lambda u: len(u.events) == 1)
        assert subjects(update) == ["Mens abonnementet var borte"]
        assert ews.count("Subscribe") == 2
        ews.state.add_event(ALICE, "Etterpå", t0 + timedelta(hours=2), t0 + timedelta(hours=3))
        await wait_for(updates, lambda u: len(u.events) == 2)
    assert "sub2" in (await store.get_state(f"ews:{NAME}", ALICE) or "")


async def test_slow_reply_is_awaited(ews: FakeEws, store: Store) -> None:
    ews.inject(Fault("slow", "FindItem", delay=0.5))
    ews.state.add_event(ALICE, "Treg", now(), now() + timedelta(hours=1))
    conn = connector(ews, store)
    events = await conn.events(person("alice", NAME), conn.window())
    assert [e.subject for e in events] == ["Treg"]


async def test_mailbox_error_is_an_item_error_and_recovers(ews: FakeEws, store: Store) -> None:
    bob = "bob@kommune.no"
    ews.inject(Fault("soap", "FindItem", code="ErrorNonExistentMailbox", mailbox=bob))
    conn = connector(ews, store)
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        await wait_for(updates, lambda u: u.person_id == "alice")
        await wait_for(updates, lambda u: u.person_id == "bob")  # read again on the next poll
    health = conn.ctx.health.snapshot()
    assert health.last_error is not None and health.last_error.startswith(bob)
    assert "ErrorNonExistentMailbox" in health.last_error
    assert health.state is HealthState.OK and health.item_errors == {}


async def test_restart_resumes_stored_subscription(ews: FakeEws, store: Store) -> None:
    conn = connector(ews, store, ("alice",))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        await wait_for(updates, lambda u: u.person_id == "alice")
    # The supervisor restarts run() on the same instance; state comes back from the store.
    async with running(conn):
        await wait_for(updates, lambda u: u.person_id == "alice")
        ews.state.add_event(ALICE, "Etter omstart", now(), now() + timedelta(hours=1))
        await wait_for(updates, lambda u: len(u.events) == 1)
    assert ews.count("Subscribe") == 1


async def test_unreadable_stored_subscription_is_replaced(ews: FakeEws, store: Store) -> None:
    await store.put_state(f"ews:{NAME}", ALICE, "{not json")
    conn = connector(ews, store, ("alice",))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn):
        await wait_for(updates, lambda u: u.person_id == "alice")
    assert ews.count("Subscribe") == 1
    assert '"id": "sub1"' in (await store.get_state(f"ews:{NAME}", ALICE) or "")


async def test_bad_credentials_raise_auth_failed(ews: FakeEws, store: Store) -> None:
    conn = connector(ews, store, password="wrong")
    with pytest.raises(AuthFailed, match="svc-samtek"):
        await conn.run()
    assert conn.ctx.health.state is HealthState.AUTH_FAILED
    assert [r.status for r in ews.log] == [401]  # checked once, not retried as "busy"


async def test_401_while_running_raises_auth_failed(ews: FakeEws, store: Store) -> None:
    conn = connector(ews, store, ("alice",))
    updates = conn.ctx.bus.subscribe(CalendarUpdate)
    async with running(conn) as task:
        await wait_for(updates, lambda u: u.person_id == "alice")
        ews.password = "rotated"
        with pytest.raises(AuthFailed):
            await task
    assert conn.ctx.health.snapshot().state is HealthState.AUTH_FAILED


async def test_create_meeting_invites_attendees(ews: FakeEws, store: Store) -> None:
    conn = connector(ews, store, ("alice", "bob", "carol"))
    people = conn.ctx.directory.people()
    start = now() + timedelta(days=1)
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
    [created] = ews.state.created
    assert created.organiser == ALICE and created.subject == "Prosjektmøte"
    assert created.attendees == ("bob@kommune.no", "carol@kommune.no")
    assert created.send_invitations == "SendToAllAndSaveCopy"
    assert (created.start, created.end, created.location) == (
        start,
        start + timedelta(hours=1),
        "Rom 3",
    )
    assert [e.uid for e in ews.state.box(ALICE).events.values()] == [uid]
    [event] = await conn.events(people["alice"], conn.window())
    assert (event.subject, event.online_meeting_url) == ("Prosjektmøte", "https://meet.example/abc")


async def test_out_of_office(ews: FakeEws, store: Store) -> None:
    start, end = now(), now() + timedelta(days=3)
    ews.state.set_oof(ALICE, FakeOof("Scheduled", start, end, "På ferie"))
    conn = connector(ews, store)
    oof = await conn.out_of_office(person("alice", NAME))
    assert (oof.enabled, oof.start, oof.end, oof.message) == (True, start, end, "På ferie")
    assert (await conn.out_of_office(person("bob", NAME))).enabled is False
