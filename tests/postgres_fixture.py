"""A session-wide real PostgreSQL (samtek/devserver/postgres.py) and per-test databases.

Import these fixtures into a conftest.py that needs them. Each test gets a fresh database
(dropped and created again) on the one server, so the server starts once per session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from samtek.devserver.postgres import PostgresServer


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_server() -> AsyncIterator[PostgresServer]:
    server = PostgresServer()
    try:
        await server.start()
        yield server
    finally:
        await server.stop()
        server.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def postgres_url(postgres_server: PostgresServer) -> str:
    """URL of an empty database for this test."""
    await postgres_server.reset()
    return postgres_server.url
