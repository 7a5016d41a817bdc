"""Fixtures for the ejabberd module tests: a fresh ejabberd per test (the overlay table is in
RAM and must not leak between tests; a start costs about a second).

The fixture is named ``prosody`` on purpose: the protocol tests of tests/overlay/ are imported
unchanged and run against ejabberd through it (see test_overlay_protocol.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from samtek.devserver.ejabberd import EjabberdServer
from tests.overlay.helpers import PASSWORD, Client, Component


def server_with_users(**options: object) -> EjabberdServer:
    server = EjabberdServer(**options)  # type: ignore[arg-type]
    for user in ("alice", "bob", "carol"):
        server.add_user(user, PASSWORD)
    server.add_contact("alice", server.jid("bob"), name="Bob")
    server.add_contact("bob", server.jid("alice"), name="Alice")
    return server


@pytest.fixture
async def prosody() -> AsyncIterator[EjabberdServer]:
    """The XMPP server under test: ejabberd, under the name the reused tests expect."""
    async with server_with_users() as server:
        yield server


@pytest.fixture
async def component(prosody: EjabberdServer) -> AsyncIterator[Component]:
    comp = Component(prosody)  # type: ignore[arg-type]
    await comp.connect()
    yield comp
    await comp.close()


@pytest.fixture
async def client(prosody: EjabberdServer) -> AsyncIterator[Callable[..., Awaitable[Client]]]:
    """Factory: `await client("alice", "laptop", show=..., status=...)` -> connected Client."""
    opened: list[Client] = []

    async def make(user: str, resource: str, **presence: object) -> Client:
        c = Client(prosody, user, resource)  # type: ignore[arg-type]
        opened.append(c)
        await c.connect(**presence)  # type: ignore[arg-type]
        return c

    yield make
    for c in opened:
        await c.close()
