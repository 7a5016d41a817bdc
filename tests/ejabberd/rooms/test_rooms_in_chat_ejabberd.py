"""Room commands on ejabberd: the tests of tests/assistant/test_rooms_in_chat.py in which
members address SAMTEK in a project room ("SAMTEK: møte", "@samtek neste møte", "SAMTEK,
møter") run unchanged, with the real SAMTEK service, against ejabberd with
mod_samtek_mention.erl (loaded by the harness with rooms) through the `mention_server`
fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from samtek.devserver.ejabberd import EjabberdServer
from tests.assistant.test_rooms_in_chat import (  # noqa: F401 (run here against ejabberd)
    USERS,
    test_auto_approved_room_answers_in_the_room,
    test_members_address_samtek_in_the_room,
)
from tests.rooms.helpers import PASSWORD


@pytest.fixture
async def mention_server() -> AsyncIterator[EjabberdServer]:
    """ejabberd with the harness's rooms setup, not started (the tests start it)."""
    server = EjabberdServer(rooms=True)
    for user in USERS:
        server.add_user(user, PASSWORD)
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()
