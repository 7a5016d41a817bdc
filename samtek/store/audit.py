"""The audit log: who did what, when, with which details (admin API and CLI)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.store.database import Database


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    outcome: str
    details: dict[str, Any]


class AuditLog:
    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        self._clock = clock

    async def record(
        self, actor: str, action: str, outcome: str, details: dict[str, Any] | None = None
    ) -> None:
        await self._db.execute(
            "INSERT INTO audit_log (at, actor, action, outcome, details) VALUES (?, ?, ?, ?, ?)",
            (_utc(self._clock.now()), actor, action, outcome, json.dumps(details or {})),
        )

    async def query(
        self, since: datetime | None = None, actor: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Newest first."""
        clauses, params = [], []
        if since is not None:
            clauses.append("at >= ?")
            params.append(_utc(since))
        if actor is not None:
            clauses.append("actor = ?")
            params.append(actor)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._db.fetch(
            "SELECT id, at, actor, action, outcome, details FROM audit_log"
            f"{where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            AuditEntry(int(i), datetime.fromisoformat(at), actor_, action, outcome, json.loads(d))
            for i, at, actor_, action, outcome, d in rows
        ]

    async def prune(self, keep_days: int) -> int:
        cutoff = self._clock.now() - timedelta(days=keep_days)
        return await self._db.execute("DELETE FROM audit_log WHERE at < ?", (_utc(cutoff),))


def _utc(value: datetime) -> str:
    """Fixed-width UTC text, so string comparison in SQL is time order."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
