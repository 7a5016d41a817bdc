"""Fault tests of tests/faults/ on ejabberd, unchanged: SAMTEK killed with SIGKILL
mid-meeting (cancelled meeting cleared, running meeting ends on time), and ejabberd itself
restarting mid-meeting (SAMTEK reconnects and re-asserts the overlay)."""

from __future__ import annotations

from tests.faults.test_kill9 import (
    test_sigkill_mid_meeting_restart_keeps_the_meeting_and_ends_it_on_time,
    test_sigkill_mid_meeting_then_cancelled_meeting_leaves_no_stale_presence,
)
from tests.faults.test_xmpp_restart import test_prosody_restart_mid_meeting

__all__ = [
    "test_prosody_restart_mid_meeting",
    "test_sigkill_mid_meeting_restart_keeps_the_meeting_and_ends_it_on_time",
    "test_sigkill_mid_meeting_then_cancelled_meeting_leaves_no_stale_presence",
]
