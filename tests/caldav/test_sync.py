"""The connector against a real Radicale: every change shows up as a complete new set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.caldav import MemoryStateStore
from tests.caldav.conftest import SERVICE_USER, make_config, person, run_connector
from tests.servers.radicale import RadicaleServer, simple_event


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def tomorrow(hour: int) -> datetime:
    day = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    return day.replace(hour=hour)


def uids(update: object) -> set[str]:
    return {e.uid for e in update.events}  # type: ignore[attr-defined]


async def test_create_move_delete_each_published_within_one_cycle(
    radicale: RadicaleServer,
) -> None:
    cal = await radicale.make_calendar("alice")
    start = tomorrow(9)
    await radicale.put_event(
        "alice",
        cal,
        "standup",
        simple_event("standup", stamp(start), stamp(start + timedelta(minutes=15)), "Standup"),
    )
    async with run_connector(make_config(radicale), [person("alice", cal)]) as run:
        first = await run.next_update("alice")
        assert uids(first) == {"standup"}

        # create
        before = run.connector.sync_cycles("alice")
        await radicale.put_event(
            "alice",
            cal,
            "review",
            simple_event(
                "review",
                stamp(start + timedelta(hours=2)),
                stamp(start + timedelta(hours=3)),
                "Review",
            ),
        )
        created = await run.next_update("alice", lambda u: "review" in uids(u))
        assert uids(created) == {"standup", "review"}
        assert run.connector.published_in_cycle("alice") in (before, before + 1)

        # move: same UID, new time; the complete set carries only the new occurrence
        before = run.connector.sync_cycles("alice")
        new_start = start + timedelta(hours=5)
        await radicale.put_event(
            "alice",
            cal,
            "review",
            simple_event(
                "review", stamp(new_start), stamp(new_start + timedelta(hours=1)), "Review"
            ),
        )
        moved = await run.next_update(
            "alice", lambda u: any(e.uid == "review" and e.start == new_start for e in u.events)
        )
        assert [e.start for e in moved.events if e.uid == "review"] == [new_start]
        assert run.connector.published_in_cycle("alice") in (before, before + 1)

        # delete
        before = run.connector.sync_cycles("alice")
        await radicale.delete_event("alice", cal, "standup")
        deleted = await run.next_update("alice", lambda u: "standup" not in uids(u))
        assert uids(deleted) == {"review"}
        assert run.connector.published_in_cycle("alice") in (before, before + 1)

        stats = run.connector.collection(cal).stats
        # one listing at start (two if the hour turned meanwhile); changes came by sync-token
        assert stats.full_refreshes in (1, 2)
        assert stats.sync_reports >= 3
        assert run.ctx.health.snapshot().item_errors == {}

    # Radicale saw the sync-collection REPORTs on the calendar (its log flags them).
    reports = [
        line
        for line in radicale.log_lines()
        if "REPORT response status for '/alice/calendar/'" in line
        and "sync-collection" in line
        and "207 Multi-Status" in line
    ]
    assert len(reports) >= 3


async def test_discovery_from_principal_finds_every_calendar(radicale: RadicaleServer) -> None:
    home = await radicale.make_calendar("alice", "calendar")
    work = await radicale.make_calendar("alice", "work")
    start = tomorrow(10)
    await radicale.put_event(
        "alice",
        home,
        "dentist",
        simple_event("dentist", stamp(start), stamp(start + timedelta(hours=1))),
    )
    await radicale.put_event(
        "alice",
        work,
        "board",
        simple_event("board", stamp(start + timedelta(hours=3)), stamp(start + timedelta(hours=4))),
    )
    principal = radicale.principal_url("alice")
    async with run_connector(make_config(radicale), [person("alice", principal)]) as run:
        update = await run.next_update("alice")
        assert uids(update) == {"dentist", "board"}
        # a later change in the second calendar arrives by its own sync-token
        await radicale.put_event(
            "alice",
            work,
            "late",
            simple_event(
                "late", stamp(start + timedelta(hours=6)), stamp(start + timedelta(hours=7))
            ),
        )
        update = await run.next_update("alice", lambda u: "late" in uids(u))
        assert uids(update) == {"dentist", "board", "late"}


async def test_relative_address_and_restart_resumes_from_saved_sync_token(
    radicale: RadicaleServer,
) -> None:
    cal = await radicale.make_calendar("bob")
    start = tomorrow(8)
    await radicale.put_event(
        "bob", cal, "one", simple_event("one", stamp(start), stamp(start + timedelta(hours=1)))
    )
    store = MemoryStateStore()
    config = make_config(radicale)
    async with run_connector(config, [person("bob", "/bob/calendar/")], store) as run:
        assert uids(await run.next_update("bob")) == {"one"}
    await radicale.put_event(
        "bob",
        cal,
        "two",
        simple_event("two", stamp(start + timedelta(hours=2)), stamp(start + timedelta(hours=3))),
    )
    async with run_connector(config, [person("bob", "/bob/calendar/")], store) as run:
        assert uids(await run.next_update("bob")) == {"one", "two"}
        stats = run.connector.collection(cal).stats
        assert stats.full_refreshes in (0, 1)  # 1 only if the hour turned in between
        if stats.full_refreshes == 0:
            assert stats.fetched == 1  # only the changed event was downloaded


async def test_a_recurrence_bomb_costs_only_itself_and_shows_in_health(
    radicale: RadicaleServer,
) -> None:
    cal = await radicale.make_calendar("alice")
    start = tomorrow(9)
    await radicale.put_event(
        "alice", cal, "ok", simple_event("ok", stamp(start), stamp(start + timedelta(hours=1)))
    )
    # Every minute from yesterday on: cheap for the server to match (a FREQ=SECONDLY rule
    # from 2000 would make Radicale itself spin on the time-range query), refused by us.
    yesterday = start - timedelta(days=2)
    await radicale.put_event(
        "alice",
        cal,
        "bomb",
        simple_event(
            "bomb",
            stamp(yesterday),
            stamp(yesterday + timedelta(seconds=30)),
            "Bomb",
            extra="RRULE:FREQ=MINUTELY",
        ),
    )
    async with run_connector(make_config(radicale), [person("alice", cal)]) as run:
        assert uids(await run.next_update("alice")) == {"ok"}
        errors = run.ctx.health.snapshot().item_errors
        assert [k for k in errors if k.endswith("/alice/calendar/bomb.ics")]
        assert "recurrence refused" in "".join(errors.values())
        await radicale.delete_event("alice", cal, "bomb")
        await radicale.put_event(
            "alice",
            cal,
            "ok2",
            simple_event(
                "ok2", stamp(start + timedelta(hours=2)), stamp(start + timedelta(hours=3))
            ),
        )
        await run.next_update("alice", lambda u: "ok2" in uids(u))
        assert run.ctx.health.snapshot().item_errors == {}


async def test_server_spinning_on_a_bomb_is_listed_without_its_time_range_filter(
    radicale: RadicaleServer,
) -> None:
    """Radicale expands recurrences itself for a time-range query: a FREQ=SECONDLY rule from
    2000 keeps it busy for hours. After one timeout the connector lists without a filter."""
    cal = await radicale.make_calendar("alice")
    start = tomorrow(9)
    await radicale.put_event(
        "alice", cal, "ok", simple_event("ok", stamp(start), stamp(start + timedelta(hours=1)))
    )
    await radicale.put_event(
        "alice",
        cal,
        "bomb",
        simple_event(
            "bomb", "20000101T000000", "20000101T000001", "Bomb", extra="RRULE:FREQ=SECONDLY"
        ),
    )
    config = make_config(radicale, request_timeout=2)
    async with run_connector(config, [person("alice", cal)]) as run:
        assert uids(await run.next_update("alice")) == {"ok"}
        collection = run.connector.collection(cal)
        assert collection.server_filter is False
        errors = run.ctx.health.snapshot().item_errors
        assert any("bomb.ics" in k and "recurrence refused" in v for k, v in errors.items())
        # changes still arrive by sync-token
        await radicale.put_event(
            "alice",
            cal,
            "ok2",
            simple_event(
                "ok2", stamp(start + timedelta(hours=2)), stamp(start + timedelta(hours=3))
            ),
        )
        assert uids(await run.next_update("alice", lambda u: "ok2" in uids(u))) == {"ok", "ok2"}


async def test_discovery_from_the_server_root_follows_current_user_principal(
    radicale: RadicaleServer,
) -> None:
    cal = await radicale.make_calendar(SERVICE_USER, "rooms")
    start = tomorrow(11)
    await radicale.put_event(
        SERVICE_USER,
        cal,
        "room",
        simple_event("room", stamp(start), stamp(start + timedelta(hours=1))),
    )
    async with run_connector(make_config(radicale), [person("alice", "/")]) as run:
        assert uids(await run.next_update("alice")) == {"room"}
        assert run.connector.collection(cal).stats.full_refreshes >= 1
