"""The spine on ejabberd: an ICS meeting -> the real SAMTEK Service -> ejabberd 23.01 with
mod_samtek_overlay.erl -> a contact's ordinary client.  The tests of tests/e2e/, unchanged:
SAMTEK's configuration and code are the same for both servers."""

from __future__ import annotations

from tests.e2e.test_calendar_presence import (
    test_meeting_sets_and_clears_presence_on_the_boundaries,
    test_restart_of_samtek_mid_meeting,
    test_restart_of_the_xmpp_server_mid_meeting,
)
from tests.e2e.test_manual_and_privacy import (
    test_manual_status_wins_until_the_next_transition,
    test_private_meeting_never_shows_its_subject,
)

__all__ = [
    "test_manual_status_wins_until_the_next_transition",
    "test_meeting_sets_and_clears_presence_on_the_boundaries",
    "test_private_meeting_never_shows_its_subject",
    "test_restart_of_samtek_mid_meeting",
    "test_restart_of_the_xmpp_server_mid_meeting",
]
