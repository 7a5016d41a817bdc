"""Leases and cluster membership in a shared PostgreSQL (SQL for samtek/runtime/leases.py).

Every expiry is computed from the database's clock (now()), never an instance's, so
instances with skewed clocks still agree on who holds what. PostgreSQL only: with SQLite
there is one instance and no lease is ever needed.
"""

from __future__ import annotations

from samtek.store.database import Database


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def heartbeat(self, instance_id: str, seconds: float) -> None:
        """Announce this instance as live for `seconds`; forget long-dead members."""
        await self.db.execute(
            "INSERT INTO cluster_members (instance_id, expires_at)"
            " VALUES (?, now() + make_interval(secs => ?))"
            " ON CONFLICT (instance_id) DO UPDATE SET expires_at = excluded.expires_at",
            (instance_id, float(seconds)),
        )
        await self.db.execute(
            "DELETE FROM cluster_members WHERE expires_at < now() - interval '1 hour'"
        )

    async def leave(self, instance_id: str) -> None:
        await self.db.execute("DELETE FROM cluster_members WHERE instance_id = ?", (instance_id,))

    async def live_members(self) -> list[str]:
        rows = await self.db.fetch(
            "SELECT instance_id FROM cluster_members WHERE expires_at > now() ORDER BY instance_id"
        )
        return [str(r[0]) for r in rows]

    async def acquire(self, name: str, holder: str, seconds: float) -> bool:
        """Take or extend `name` if it is free, expired, or already ours. One statement, so
        two instances racing for the same lease cannot both win."""
        count = await self.db.execute(
            "INSERT INTO leases (name, holder, expires_at)"
            " VALUES (?, ?, now() + make_interval(secs => ?))"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            " expires_at = excluded.expires_at"
            " WHERE leases.expires_at < now() OR leases.holder = excluded.holder",
            (name, holder, float(seconds)),
        )
        return count == 1

    async def renew_all(self, holder: str, seconds: float) -> set[str]:
        """Extend every unexpired lease of `holder`; returns the names still held. A lease
        that already expired is not revived here: someone else may be taking it."""
        rows = await self.db.fetch(
            "UPDATE leases SET expires_at = now() + make_interval(secs => ?)"
            " WHERE holder = ? AND expires_at > now() RETURNING name",
            (float(seconds), holder),
        )
        return {str(r[0]) for r in rows}

    async def release(self, names: list[str], holder: str) -> None:
        for name in names:
            await self.db.execute(
                "DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder)
            )

    async def holders(self, prefix: str = "") -> dict[str, str]:
        """Unexpired leases (name -> holder) whose name starts with `prefix`."""
        rows = await self.db.fetch(
            "SELECT name, holder FROM leases WHERE expires_at > now() AND name LIKE ?",
            (prefix.replace("%", r"\%").replace("_", r"\_") + "%",),
        )
        return {str(name): str(holder) for name, holder in rows}
