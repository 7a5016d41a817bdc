"""The last update of every directory source (in connector_state, namespace "directory")."""

from __future__ import annotations

from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.store.database import Database

NAMESPACE = "directory"


class DirectorySnapshots:
    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        self._clock = clock

    async def load_all(self) -> dict[str, str]:
        rows = await self._db.fetch(
            "SELECT key, value FROM connector_state WHERE namespace = ?", (NAMESPACE,)
        )
        return {str(key): str(value) for key, value in rows}

    async def save(self, source: str, value: str) -> None:
        await self._db.execute(
            "INSERT INTO connector_state (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (NAMESPACE, source, value, self._clock.now().isoformat()),
        )

    async def delete(self, source: str) -> None:
        await self._db.execute(
            "DELETE FROM connector_state WHERE namespace = ? AND key = ?", (NAMESPACE, source)
        )
