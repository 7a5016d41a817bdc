"""The store against a real SQLite file: migrations, round trips, exactly-once claims."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from samtek.events import CalendarUpdate
from samtek.model import BusyStatus, CalendarEvent, Sensitivity, TimeWindow
from samtek.store import open_store
from samtek.store.migrations import MIGRATIONS
from samtek.store.store import Dismissal

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def test_migrations_run_once_and_survive_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    async with open_store(url) as store:
        await store.put_state("ical", "alice", "etag-1")
    async with open_store(url) as store:
        assert await store.get_state("ical", "alice") == "etag-1"
        rows = await store.db.fetch("SELECT version FROM schema_version")
        assert [r[0] for r in rows] == list(range(1, len(MIGRATIONS) + 1))


async def test_calendar_snapshot_round_trip(tmp_path: Path) -> None:
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
    async with open_store(f"sqlite:///{tmp_path}/s.db") as store:
        await store.save_calendar(update)
        await store.save_calendar(update)  # upsert, not a duplicate
        assert await store.load_calendars() == [update]


async def test_notification_claimed_exactly_once(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path}/s.db") as store:
        assert await store.claim_notification("missed:call-1") is True
        assert await store.claim_notification("missed:call-1") is False
        assert await store.claim_notification("missed:call-2") is True


async def test_expired_dismissals_are_dropped(tmp_path: Path) -> None:
    async with open_store(f"sqlite:///{tmp_path}/s.db") as store:
        await store.put_dismissal(Dismissal("alice", "t1", NOW + timedelta(minutes=5)))
        await store.put_dismissal(Dismissal("bob", "t2", NOW - timedelta(minutes=5)))
        assert set(await store.load_dismissals(NOW)) == {"alice"}
