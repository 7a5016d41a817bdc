"""The one source of "now" for the service, injectable so tests run at any instant.

Production code asks a `Clock` for the current wall-clock time instead of calling
`datetime.now()`. Tests pass a `ShiftedClock` that starts at a chosen instant (just before
midnight, a DST change day, 29 February) and then runs at real speed, so code that also
waits on the event loop's timers behaves as it would at that instant.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
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

    @property
    def offset(self) -> timedelta:
        """How far this clock is ahead of real time (negative: behind)."""
        return timedelta(seconds=self._offset)


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


# A real server (Prosody) acts on its own clock: it clears an overlay at `until` by itself and
# refuses an `until` in its past. Instants sent to it, and read back from it, are translated
# at that boundary, so a service on a ShiftedClock (a test at 23:59 on New Year's Eve) still
# gets overlays that last exactly as long as they should. Other clocks are real time, or
# (FixedClock) not meant to meet a real server.
def to_server_time(clock: Clock, instant: datetime) -> datetime:
    return instant - clock.offset if isinstance(clock, ShiftedClock) else instant


def from_server_time(clock: Clock, instant: datetime) -> datetime:
    return instant + clock.offset if isinstance(clock, ShiftedClock) else instant
