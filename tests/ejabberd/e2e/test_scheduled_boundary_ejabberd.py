"""At the boundary only the server works, on ejabberd too: SAMTEK schedules the meeting ahead
(mod_samtek_overlay.erl now takes schedules), the contact sees it start and end on time, and
SAMTEK sends nothing at either boundary.  The test of tests/e2e/, unchanged."""

from __future__ import annotations

from tests.e2e.test_scheduled_boundary import (
    test_scheduled_meeting_starts_and_ends_with_nothing_sent_at_the_boundaries,
)

__all__ = ["test_scheduled_meeting_starts_and_ends_with_nothing_sent_at_the_boundaries"]
