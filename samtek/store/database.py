"""A minimal async database interface with an SQLite backend (PostgreSQL: store/postgres.py).

SQL is written once, with `?` placeholders; a backend translates if its driver differs.

Every statement runs in a transaction of its own, or several in one `transaction()`. With
SQLite all tasks share one connection, so a transaction must exclude every other task from
that connection until it has committed or rolled back: otherwise one task's rollback (a
failed statement) silently takes back another task's acknowledged write.
"""

from __future__ import annotations

import asyncio
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiosqlite
import structlog

from samtek.store.files import InstanceLock, private_file, sqlite_companions

Row = tuple[Any, ...]
log = structlog.get_logger("samtek.store")


class Transaction(ABC):
    """Statements of one unit of work: all of them take effect, or none."""

    @abstractmethod
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Returns the affected row count."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Database(ABC):
    # What the driver raises when the database is unreachable or a statement fails.
    errors: tuple[type[Exception], ...] = (sqlite3.Error, OSError)

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Commits when the block ends normally, rolls back when it raises."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; returns the affected row count."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

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


class _SqliteTransaction(Transaction):
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self._conn.execute(sql, tuple(params))
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, [tuple(r) for r in rows])

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._conn.execute(sql, tuple(params)) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]


class SqliteDatabase(Database):
    def __init__(self, conn: aiosqlite.Connection, lock: InstanceLock | None = None) -> None:
        self._conn = conn
        self._instance_lock = lock
        # One task at a time on the shared connection, for a whole transaction.
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None

    @classmethod
    async def connect(cls, path: str, exclusive: bool = False) -> SqliteDatabase:
        """`exclusive`: hold an OS lock on the file for the life of this object, so a second
        service on the same file is refused (SQLite is the single-instance backend)."""
        lock: InstanceLock | None = None
        if path != ":memory:":
            file = Path(path)
            # 0700 for a directory we create, 0600 for the database: whatever the umask.
            # SQLite creates its -wal/-shm files with the database file's mode.
            file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if exclusive:
                lock = InstanceLock.acquire(file)
            private_file(file)
            for companion in sqlite_companions(file):
                if companion.exists():
                    private_file(companion)
        try:
            conn = await aiosqlite.connect(path)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        db = cls(conn, lock)
        try:
            # WAL: readers never block the writer; NORMAL sync is durable across process
            # crashes.
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA busy_timeout=5000")
        except BaseException:
            await db.close()
            raise
        return db

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            # The lock is not reentrant: waiting for it here would wait forever.
            raise RuntimeError("inside a transaction, use its own execute/fetch")
        async with self._lock:
            self._holder = task
            try:
                yield
            finally:
                self._holder = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._exclusive():
            if self._conn.in_transaction:  # left open by a rollback that itself failed
                await self._rollback()
            await self._conn.execute("BEGIN")
            try:
                yield _SqliteTransaction(self._conn)
            except BaseException:
                # A failed write (e.g. disk full, a constraint) must not leave a transaction
                # open that the next, unrelated statement would silently join.
                await self._rollback()
                raise
            await self._conn.commit()

    async def _rollback(self) -> None:
        try:
            await self._conn.rollback()
        except sqlite3.Error as exc:
            log.warning("rollback after a failed statement failed too", error=str(exc))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        # Under the lock too: never read in the middle of another task's transaction.
        async with self._exclusive(), self._conn.execute(sql, tuple(params)) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def script(self, sql: str) -> None:
        async with self._exclusive():
            await self._conn.executescript(sql)
            await self._conn.commit()

    async def close(self) -> None:
        try:
            async with self._exclusive():
                await self._conn.close()
        finally:
            if self._instance_lock is not None:
                self._instance_lock.release()


@asynccontextmanager
async def open_database(url: str, exclusive: bool = False) -> AsyncIterator[Database]:
    """`exclusive`: this process is the service and owns an SQLite file for its whole life
    (ignored for PostgreSQL, which several instances share by design)."""
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
    db = await SqliteDatabase.connect(path or ":memory:", exclusive=exclusive)
    try:
        yield db
    finally:
        await db.close()
