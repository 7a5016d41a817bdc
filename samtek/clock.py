"""The one source of "now" for the service, injectable so tests run at any instant.

Production code asks a `Clock` for the current wall-clock time instead of calling
`datetime.now()`. Tests pass a `ShiftedClock` that starts at a chosen instant (just before
midnight, a DST change day, 29 February) and then runs at real speed, so code that also
waits on the event loop's timers behaves as it would at that instant.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """Real time moved to start at `start`: it ticks at real speed from there."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ShiftedClock needs a timezone-aware start")
        self._offset = start.astimezone(UTC).timestamp() - time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._offset, UTC)


class FixedClock:
    """A clock that only moves when told to (pure unit tests)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware instant")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)


SYSTEM_CLOCK: Clock = SystemClock()
