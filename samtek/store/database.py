"""A minimal async database interface with an SQLite backend (PostgreSQL: store/postgres.py).

SQL is written once, with `?` placeholders; a backend translates if its driver differs.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiosqlite
import structlog

Row = tuple[Any, ...]
log = structlog.get_logger("samtek.store")


class Database(ABC):
    # What the driver raises when the database is unreachable or a statement fails.
    errors: tuple[type[Exception], ...] = (sqlite3.Error, OSError)

    @abstractmethod
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; returns the affected row count."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    @abstractmethod
    async def script(self, sql: str) -> None:
        """Run several statements at once (migrations)."""

    @abstractmethod
    async def close(self) -> None: ...

    @property
    def shared(self) -> bool:
        """True when several SAMTEK instances may use this database at once."""
        return False

    @asynccontextmanager
    async def migration_lock(self) -> AsyncIterator[None]:
        """Held while migrating, so instances starting together migrate one at a time."""
        yield


class SqliteDatabase(Database):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    @classmethod
    async def connect(cls, path: str) -> SqliteDatabase:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path)
        # WAL: readers never block the writer; NORMAL sync is durable across process crashes.
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            cursor = await self._conn.execute(sql, tuple(params))
            await self._conn.commit()
        except sqlite3.Error:
            await self._rollback()
            raise
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(sql, [tuple(r) for r in rows])
            await self._conn.commit()
        except sqlite3.Error:
            await self._rollback()
            raise

    async def _rollback(self) -> None:
        """A failed write (e.g. disk full) must not leave a transaction open that the next,
        unrelated statement would silently join."""
        try:
            await self._conn.rollback()
        except sqlite3.Error as exc:
            log.warning("rollback after a failed statement failed too", error=str(exc))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._conn.execute(sql, tuple(params)) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def script(self, sql: str) -> None:
        await self._conn.executescript(sql)
        await self._conn.commit()

    async def close(self) -> None:
        await self._conn.close()


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    parsed = urlparse(url)
    if parsed.scheme in ("postgresql", "postgres"):
        from samtek.store.postgres import PostgresDatabase  # asyncpg only when used

        pg = await PostgresDatabase.connect(url)
        try:
            yield pg
        finally:
            await pg.close()
        return
    if parsed.scheme != "sqlite":
        raise ValueError(
            f"unsupported store URL scheme {parsed.scheme!r} (expected sqlite:// or postgresql://)"
        )
    # sqlite:///relative/or/absolute -> path after the third slash; sqlite:///:memory: too.
    path = url.removeprefix("sqlite://").removeprefix("/") if parsed.path != "/:memory:" else ""
    db = await SqliteDatabase.connect(path or ":memory:")
    try:
        yield db
    finally:
        await db.close()
