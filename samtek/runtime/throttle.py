"""A shared pause gate for server-requested throttling.

When the server says "back off for N ms" (EWS ErrorServerBusy, Graph Retry-After), that
applies to the whole service account, so every worker waits, not only the one that was told.
"""

from __future__ import annotations

import asyncio
import time


class PauseGate:
    """Callers `await wait()` before each request; `pause(seconds)` holds all of them."""

    def __init__(self) -> None:
        self._until = 0.0
        self.pauses = 0  # how often the server asked us to slow down (for health/metrics)

    def pause(self, seconds: float) -> None:
        self.pauses += 1
        self._until = max(self._until, time.monotonic() + seconds)

    async def wait(self) -> None:
        # A loop, not an Event: another worker may extend the pause while we sleep.
        while (remaining := self._until - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)
