"""The store against real SQLite and PostgreSQL: migrations, round trips, exactly-once claims."""

from datetime import UTC, datetime, timedelta

from samtek.events import CalendarUpdate
from samtek.model import BusyStatus, CalendarEvent, Sensitivity, TimeWindow
from samtek.store import open_store
from samtek.store.migrations import MIGRATIONS
from samtek.store.store import Dismissal

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def test_migrations_run_once_and_survive_reopen(store_url: str) -> None:
    url = store_url
    async with open_store(url) as store:
        await store.put_state("ical", "alice", "etag-1")
    async with open_store(url) as store:
        assert await store.get_state("ical", "alice") == "etag-1"
        rows = await store.db.fetch("SELECT version FROM schema_version")
        assert [r[0] for r in rows] == list(range(1, len(MIGRATIONS) + 1))


async def test_calendar_snapshot_round_trip(store_url: str) -> None:
    event = CalendarEvent(
        uid="m1",
        start=NOW,
        end=NOW + timedelta(hours=1),
        busy=BusyStatus.TENTATIVE,
        sensitivity=Sensitivity.PRIVATE,
        subject="Budsjett",
        recurrence_id=NOW,
    )
    update = CalendarUpdate("ical", "alice", TimeWindow(NOW, NOW + timedelta(days=7)), (event,))
    async with open_store(store_url) as store:
        await store.save_calendar(update)
        await store.save_calendar(update)  # upsert, not a duplicate
        assert await store.load_calendars() == [update]


async def test_notification_claimed_exactly_once(store_url: str) -> None:
    async with open_store(store_url) as store:
        assert await store.claim_notification("missed:call-1") is True
        assert await store.claim_notification("missed:call-1") is False
        assert await store.claim_notification("missed:call-2") is True


async def test_expired_dismissals_are_dropped(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.put_dismissal(Dismissal("alice", "t1", NOW + timedelta(minutes=5)))
        await store.put_dismissal(Dismissal("bob", "t2", NOW - timedelta(minutes=5)))
        assert set(await store.load_dismissals(NOW)) == {"alice"}


async def test_execute_returns_affected_rows(store_url: str) -> None:
    async with open_store(store_url) as store:
        for key in ("a", "b", "c"):
            await store.put_state("ns", key, "v")
        assert (
            await store.db.execute(
                "UPDATE connector_state SET value = ? WHERE namespace = ?", ("w", "ns")
            )
            == 3
        )
        assert await store.db.execute("DELETE FROM connector_state WHERE key = ?", ("zz",)) == 0
        # a literal '?' is not a placeholder
        row = await store.db.fetchone(
            "SELECT '?', value FROM connector_state WHERE key = ?", ("a",)
        )
        assert row == ("?", "w")


async def test_concurrent_openers_migrate_once(postgres_url: str) -> None:
    """Instances starting together on a shared PostgreSQL: the migrations run once, nobody
    fails (an advisory lock). SQLite is single-instance by design, so it is not tested here."""
    store_url = postgres_url
    import asyncio

    async def open_and_read() -> int:
        async with open_store(store_url) as store:
            row = await store.db.fetchone("SELECT COUNT(*) FROM schema_version")
            assert row is not None
            return int(row[0])

    counts = await asyncio.gather(*(open_and_read() for _ in range(3)))
    assert counts == [len(MIGRATIONS)] * 3


async def test_telephony_tables_on_both_backends(store_url: str) -> None:
    from samtek.store.phones import PhoneStates
    from samtek.store.webhook import WebhookEvents
    from samtek.telephony import DeviceState, DeviceStateUpdate

    async with open_store(store_url) as store:
        events = WebhookEvents(store.db, timedelta(minutes=5))
        assert await events.first_seen("pbx", "e1", NOW) is True
        assert await events.first_seen("pbx", "e1", NOW) is False
        assert await events.first_seen("pbx", "e2", NOW + timedelta(minutes=10)) is True
        assert await events.count("pbx") == 1  # e1 pruned by age
        phones = PhoneStates(store.db)
        busy = DeviceStateUpdate("pbx", "1001", DeviceState.IN_USE, NOW)
        await phones.save(busy)
        await phones.save(busy)
        assert await phones.load() == [busy]
        await phones.save(DeviceStateUpdate("pbx", "1001", DeviceState.IDLE, NOW))
        assert await phones.load() == []


async def test_audit_log_ids_are_assigned_on_both_backends(store_url: str) -> None:
    from samtek.store.audit import AuditLog

    async with open_store(store_url) as store:
        audit = AuditLog(store.db)
        await audit.record("ops", "presence.clear", "ok", {"person": "alice"})
        await audit.record("ops", "rooms.sync", "ok")
        entries = await audit.query(limit=10)
        assert [e.action for e in entries] == ["rooms.sync", "presence.clear"]
        assert entries[0].id > entries[1].id
