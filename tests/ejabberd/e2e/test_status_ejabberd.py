"""The assistant's `status` through ejabberd with mod_samtek_presence_info.erl: the tests of
tests/assistant/test_natural.py, unchanged, with an ejabberd under the fixture name they use
(e2e/conftest.py): online since when, offline since when, and only the component may ask."""

from __future__ import annotations

from tests.assistant.conftest import chat
from tests.assistant.test_natural import (
    test_only_the_component_may_ask_who_is_online,
    test_status_tells_online_or_offline_and_since_when,
)

__all__ = [
    "chat",
    "test_only_the_component_may_ask_who_is_online",
    "test_status_tells_online_or_offline_and_since_when",
]
