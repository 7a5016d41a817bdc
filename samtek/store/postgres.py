"""PostgreSQL backend (asyncpg, a connection pool) for several SAMTEK instances sharing state.

SQL is written once with `?` placeholders (SQLite style); they are translated to `$1…` here,
outside string literals. asyncpg reports affected rows only in its status string
("INSERT 0 1", "UPDATE 3"), so `execute` parses the count from it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import asyncpg
import structlog

from samtek.store.database import Database, Row

log = structlog.get_logger("samtek.store")

MIGRATION_LOCK_KEY = 0x5A4D7E4B  # any constant; pg_advisory_lock is per database

# A quoted literal (kept as is) or a bare `?` (numbered).
_TOKEN = re.compile(r"'(?:[^']|'')*'|\?")


@lru_cache(maxsize=512)
def translate_placeholders(sql: str) -> str:
    """`?` -> `$1, $2, …` in order, leaving `?` inside '...' literals alone."""
    counter = 0

    def number(match: re.Match[str]) -> str:
        nonlocal counter
        if match.group(0) != "?":
            return match.group(0)
        counter += 1
        return f"${counter}"

    return _TOKEN.sub(number, sql)


def affected_rows(status: str) -> int:
    """asyncpg status -> row count: 'INSERT 0 1' -> 1, 'UPDATE 3' -> 3, 'CREATE TABLE' -> 0."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresDatabase(Database):
    errors = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, url: str, min_size: int = 1, max_size: int = 10) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(
                url, min_size=min_size, max_size=max_size, command_timeout=30
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise ConnectionError(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}") from exc
        return cls(pool)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        status = await self._pool.execute(translate_placeholders(sql), *params)
        return affected_rows(status)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(translate_placeholders(sql), [tuple(r) for r in rows])

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        records = await self._pool.fetch(translate_placeholders(sql), *params)
        return [tuple(r) for r in records]

    async def script(self, sql: str) -> None:
        # No parameters: asyncpg's simple query protocol runs several statements at once,
        # and explicit BEGIN/COMMIT in the text work as in SQLite's executescript.
        async with self._pool.acquire() as conn:
            await conn.execute(sql)

    async def close(self) -> None:
        await self._pool.close()

    @property
    def shared(self) -> bool:
        return True

    @asynccontextmanager
    async def migration_lock(self) -> AsyncIterator[None]:
        # A session advisory lock on a connection of its own: the migration statements run on
        # other pool connections while this one holds the lock.
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


def _redact(url: str) -> str:
    """The URL without its password, for error messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
