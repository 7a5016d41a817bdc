"""Acknowledged writes survive other tasks' failures; one service per SQLite file.

All tasks of the service share the store. A statement that fails (a constraint, a full disk)
is rolled back; that rollback must take back nothing but its own transaction. Run against
real SQLite and the suite's real PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from samtek.store import open_store
from samtek.store.database import Database
from samtek.store.files import StoreInUse
from samtek.store.store import Dismissal

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CLAIMS = 50


async def _failing_write(db: Database) -> None:
    """A statement that really fails in the database: a duplicate primary key."""
    with pytest.raises(db.errors):
        await db.execute(
            "INSERT INTO connector_state (namespace, key, value, updated_at)"
            " VALUES ('test', 'taken', 'x', 'now')"
        )


async def test_failing_statement_does_not_take_back_other_tasks_claims(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.put_state("test", "taken", "first")
        # The failing write first, then the claims: all in flight on the store together.
        results = await asyncio.gather(
            _failing_write(store.db),
            *(store.claim_notification(f"reminder:{i}") for i in range(CLAIMS)),
        )
        claimed = results[1:]
        assert claimed == [True] * CLAIMS
    async with open_store(store_url) as store:  # what is on disk, not in a connection
        rows = await store.db.fetch("SELECT key FROM notifications_sent")
        assert len(rows) == CLAIMS
        # each claim is still exactly-once after the failure
        assert await store.claim_notification("reminder:7") is False


async def test_failing_statement_does_not_lose_a_dismissal(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.put_state("test", "taken", "first")
        dismissal = Dismissal("alice", "meeting-ends", NOW + timedelta(hours=1))
        await asyncio.gather(_failing_write(store.db), store.put_dismissal(dismissal))
    async with open_store(store_url) as store:
        assert await store.load_dismissals(NOW) == {"alice": dismissal}


async def test_transaction_is_all_or_nothing_and_private_to_its_task(store_url: str) -> None:
    async with open_store(store_url) as store:

        async def unit_of_work_that_fails() -> None:
            async with store.db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO notifications_sent (key, sent_at) VALUES ('half', 'now')"
                )
                await asyncio.sleep(0)  # let the other task run in the middle
                await tx.execute(
                    "INSERT INTO notifications_sent (key, sent_at) VALUES ('half', 'now')"
                )

        async def fails() -> None:
            with pytest.raises(store.db.errors):
                await unit_of_work_that_fails()

        _, others = await asyncio.gather(
            fails(), asyncio.gather(*(store.claim_notification(f"k{i}") for i in range(10)))
        )
        assert others == [True] * 10
        rows = await store.db.fetch("SELECT key FROM notifications_sent ORDER BY key")
        assert [r[0] for r in rows] == sorted(f"k{i}" for i in range(10))


async def test_second_service_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    async with open_store(url, exclusive=True):
        with pytest.raises(StoreInUse, match=r"in use by another SAMTEK service \(pid \d+\)"):
            async with open_store(url, exclusive=True):
                pass  # pragma: no cover - must not get here
        # tools that only read (samtek audit, presence explain) may still open it
        async with open_store(url) as reader:
            assert await reader.get_state("x", "y") is None
    async with open_store(url, exclusive=True):  # released with the first service
        pass


async def test_statement_outside_the_open_transaction_of_the_same_task_is_an_error(
    tmp_path: Path,
) -> None:
    """SQLite: the connection is held for the whole transaction, so the same task using the
    database beside its transaction would wait for itself forever; it is told instead."""
    async with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        with pytest.raises(RuntimeError, match="use its own execute/fetch"):
            async with store.db.transaction():
                await store.db.fetch("SELECT 1")
        assert await store.db.fetch("SELECT 1") == [(1,)]  # released after the error
