"""Retention of audit entries and notification claims: deleted when due, by a timer set to
the oldest row's due time (no polling), with validated settings. Real SQLite/PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from samtek.cli import main
from samtek.clock import FixedClock, ShiftedClock
from samtek.store import open_store
from samtek.store.audit import AuditLog
from samtek.store.retention import Retention
from tests.config.test_check_config import VALID

T0 = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a DST change day in Oslo


async def test_old_rows_are_deleted_and_the_next_due_time_is_exact(store_url: str) -> None:
    clock = FixedClock(T0)
    async with open_store(store_url, clock=clock) as store:
        audit = AuditLog(store.db, clock)
        await audit.record("ops", "presence.clear", "ok", {"person": "alice"})
        assert await store.claim_notification("oof-autoreply:bob@x:alice@y:2026-03-29")
        clock.set(T0 + timedelta(days=10))
        await audit.record("ops", "rooms.sync", "ok")
        assert await store.claim_notification("missed:pbx:c1:alice")
        retention = Retention(store, audit_days=365, notification_days=30)

        assert await retention.prune() == T0 + timedelta(days=30)  # nothing due yet
        clock.set(T0 + timedelta(days=30, microseconds=1))
        assert await retention.prune() == T0 + timedelta(days=40)
        rows = await store.db.fetch("SELECT key FROM notifications_sent")
        assert [r[0] for r in rows] == ["missed:pbx:c1:alice"]
        assert len(await audit.query()) == 2  # the audit log is kept longer

        clock.set(T0 + timedelta(days=365, microseconds=1))
        await retention.prune()
        assert [e.action for e in await audit.query()] == ["rooms.sync"]
        # The claim is forgotten with its row: claimable again (its event is long past).
        assert await store.claim_notification("oof-autoreply:bob@x:alice@y:2026-03-29")


async def test_the_task_wakes_when_a_row_is_due_and_not_before(tmp_path: Path) -> None:
    clock = ShiftedClock(T0)
    async with open_store(f"sqlite:///{tmp_path}/state.db", clock=clock) as store:
        keep = timedelta(days=30)
        due_soon = clock.now() - keep + timedelta(seconds=0.3)
        await store.db.execute(
            "INSERT INTO notifications_sent (key, sent_at) VALUES (?, ?)",
            ("rooms:reminder:r1:m1", due_soon.isoformat()),
        )
        retention = Retention(store, audit_days=365, notification_days=30)
        task = asyncio.create_task(retention.run())
        try:
            for _ in range(200):  # an upper bound for the wait, not a latency assertion
                if retention.passes >= 2:
                    break
                await asyncio.sleep(0.05)
            assert await store.oldest_notification() is None
            # One pass at start, one at the row's due time: no polling in between.
            assert retention.passes == 2
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("[store]\nnotification_retention_days", "1", "store.notification_retention_days"),
        ("[store]\nnotification_retention_days", "4000", "store.notification_retention_days"),
        ("[admin]\naudit_retention_days", "0", "admin.audit_retention_days"),
    ],
)
def test_retention_settings_are_validated(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    section: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv("SAMTEK_TEST_SECRET", "x")
    path = tmp_path / "samtek.toml"
    path.write_text(f"{section} = {value}\n{VALID}")
    assert main(["check-config", str(path)]) == 2
    assert f"{path}: {message}: " in capsys.readouterr().err
