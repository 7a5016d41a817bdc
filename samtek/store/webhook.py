"""Replay protection for signed webhooks: event ids seen within the acceptance window.

Requests older than the window are refused as stale anyway, so ids only need remembering
for about that long: memory is bounded by age, and survives restarts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from samtek.store.database import Database


class WebhookEvents:
    def __init__(self, db: Database, keep: timedelta) -> None:
        self._db = db
        self._keep = keep

    async def first_seen(self, source: str, event_id: str, now: datetime) -> bool:
        """Record `event_id`; True if it was not seen within the window before."""
        await self._db.execute(
            "DELETE FROM webhook_events WHERE source = ? AND seen_at < ?",
            (source, (now - self._keep).isoformat()),
        )
        count = await self._db.execute(
            "INSERT INTO webhook_events (source, event_id, seen_at) VALUES (?, ?, ?)"
            " ON CONFLICT (source, event_id) DO NOTHING",
            (source, event_id, now.isoformat()),
        )
        return count == 1

    async def count(self, source: str) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM webhook_events WHERE source = ?", (source,)
        )
        return int(row[0]) if row else 0
