"""Rate-limited log lines for what strangers can trigger (one bad packet, one line, forever).

Per kind of line: at most `burst` lines per `window` seconds; the first line logged after
some were left out says how many (`suppressed=`), so the log still shows the volume.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Window:
    start: float
    logged: int = 0
    suppressed: int = 0


@dataclass
class LogLimiter:
    burst: int = 10
    window: float = 60.0
    monotonic: Callable[[], float] = time.monotonic
    _windows: dict[str, _Window] = field(default_factory=dict)

    def allow(self, kind: str) -> int | None:
        """None: leave this line out. Else log it, with the count left out before it.

        `kind` must come from a fixed set (never from the input): it keys the bookkeeping.
        """
        now = self.monotonic()
        current = self._windows.get(kind)
        if current is None or now - current.start >= self.window:
            left_out = current.suppressed if current is not None else 0
            self._windows[kind] = _Window(now, logged=1)
            return left_out
        if current.logged < self.burst:
            current.logged += 1
            left_out, current.suppressed = current.suppressed, 0
            return left_out
        current.suppressed += 1
        return None
