"""Out-of-office auto-replies through ejabberd with mod_samtek_oof.erl: the test of
tests/assistant/, unchanged, with an ejabberd under the fixture name it uses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from samtek.devserver.ejabberd import EjabberdServer
from tests.assistant.test_oof_autoreply import (
    test_one_autoreply_per_sender_and_day_in_the_senders_language,
)

__all__ = ["test_one_autoreply_per_sender_and_day_in_the_senders_language"]


@pytest.fixture
async def oof_prosody() -> AsyncIterator[EjabberdServer]:
    server = EjabberdServer(oof=True)
    try:
        yield server
    finally:
        await server.stop()
        server.cleanup()
