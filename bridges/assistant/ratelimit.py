"""Per-sender token buckets with bounded memory.

Each sender may send `burst` commands at once and then `rate` per second. The first command
over the limit gets one "slow down" answer (`Verdict.WARN`), the rest silence (`DROP`) until
a token is back. At most `max_senders` buckets are kept; the least recently seen is forgotten
(it would have refilled anyway unless it is flooding, and then it is seen recently).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    ALLOW = "allow"
    WARN = "warn"
    DROP = "drop"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class RateLimiter:
    def __init__(self, burst: int = 5, per_seconds: float = 10.0, max_senders: int = 10_000):
        if burst < 1 or per_seconds <= 0 or max_senders < 1:
            raise ValueError("burst and max_senders must be >= 1 and per_seconds > 0")
        self.burst = burst
        self.rate = burst / per_seconds  # tokens per second
        self.max_senders = max_senders
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, sender: str, now: float) -> Verdict:
        """Take one token for `sender` at monotonic time `now`."""
        bucket = self._buckets.pop(sender, None)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        self._buckets[sender] = bucket  # most recently seen last
        while len(self._buckets) > self.max_senders:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return Verdict.ALLOW
        if not bucket.warned:
            bucket.warned = True
            return Verdict.WARN
        return Verdict.DROP
