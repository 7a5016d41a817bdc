"""Do-not-disturb both ways through ejabberd with mod_samtek_dnd.erl: the tests of
tests/telephony/test_dnd_e2e.py, unchanged, with an ejabberd under the fixture name they use
(the harness loads mod_samtek_overlay and mod_samtek_dnd with the component trusted)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from samtek.devserver.ejabberd import EjabberdServer
from tests.telephony.test_dnd_e2e import (
    ari,
    test_a_dnd_switched_from_chat_stays_ours_across_a_restart,
    test_a_municipality_with_dnd_sync_off_is_left_alone,
    test_dnd_on_the_phone_shows_in_chat_and_chat_never_switches_it_off,
    test_dnd_set_in_chat_switches_the_phone_and_does_not_come_back,
    test_dnd_switched_off_at_the_phone_is_no_longer_chats,
)

__all__ = [
    "ari",
    "test_a_dnd_switched_from_chat_stays_ours_across_a_restart",
    "test_a_municipality_with_dnd_sync_off_is_left_alone",
    "test_dnd_on_the_phone_shows_in_chat_and_chat_never_switches_it_off",
    "test_dnd_set_in_chat_switches_the_phone_and_does_not_come_back",
    "test_dnd_switched_off_at_the_phone_is_no_longer_chats",
]


@pytest.fixture
async def dnd_prosody() -> AsyncIterator[EjabberdServer]:
    server = EjabberdServer(dnd=True)
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()
