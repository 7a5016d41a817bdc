"""The end-to-end tests of tests/e2e/ against ejabberd: an unstarted server under the fixture
name those tests use (they add users, then start it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from samtek.devserver.ejabberd import EjabberdServer


@pytest.fixture
async def prosody() -> AsyncIterator[EjabberdServer]:
    """The XMPP server under test: ejabberd, under the name the reused tests expect."""
    server = EjabberdServer()
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()
