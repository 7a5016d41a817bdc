"""Fixtures for the presence-overlay module tests: a fresh Prosody per test (in-memory
overlay state must not leak between tests; a start costs well under a second)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from samtek.devserver.prosody import ProsodyServer
from tests.overlay.helpers import PASSWORD, Client, Component


@pytest.fixture
async def prosody() -> AsyncIterator[ProsodyServer]:
    server = ProsodyServer()
    for user in ("alice", "bob", "carol"):
        server.add_user(user, PASSWORD)
    server.add_contact("alice", server.jid("bob"), name="Bob")
    server.add_contact("bob", server.jid("alice"), name="Alice")
    async with server:
        yield server


@pytest.fixture
async def component(prosody: ProsodyServer) -> AsyncIterator[Component]:
    comp = Component(prosody)
    await comp.connect()
    yield comp
    await comp.close()


@pytest.fixture
async def client(prosody: ProsodyServer) -> AsyncIterator[Callable[..., Awaitable[Client]]]:
    """Factory: `await client("alice", "laptop", show=..., status=...)` -> connected Client."""
    opened: list[Client] = []

    async def make(user: str, resource: str, **presence: object) -> Client:
        c = Client(prosody, user, resource)
        opened.append(c)
        await c.connect(**presence)  # type: ignore[arg-type]
        return c

    yield make
    for c in opened:
        await c.close()
