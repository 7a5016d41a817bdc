"""The last hour of a few figures, one sample a minute, for the status page's small charts.

Prometheus keeps the long history (deploy/grafana/); this is what an admin sees at a glance
without it: presence transitions per minute, people overlaid now per municipality, and each
connector's last sync duration.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter

from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.health import HealthReporter
from samtek.model import Person

MINUTES = 60


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    transitions: float  # in the minute before `at`
    overlaid: Mapping[str, int] = field(default_factory=dict)  # municipality -> people
    sync_seconds: Mapping[str, float] = field(default_factory=dict)  # connector -> duration


class StatusHistory:
    def __init__(
        self,
        transitions: Counter,
        people: Callable[[], Mapping[str, Person]],
        overlaid: Callable[[], list[str]],
        connectors: Mapping[str, object],
        health: HealthReporter,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.health = health
        self._transitions = transitions
        self._people = people
        self._overlaid = overlaid
        self._connectors = connectors
        self._clock = clock
        self.samples: deque[Sample] = deque(maxlen=MINUTES)  # bounded: one hour
        self._last_total: float | None = None

    async def run(self) -> None:
        """A sample at every whole minute."""
        self.sample()
        while True:
            now = self._clock.now()
            next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            await asyncio.sleep((next_minute - now).total_seconds())
            self.sample()

    def sample(self) -> Sample:
        total = _counter_total(self._transitions)
        delta = 0.0 if self._last_total is None else max(total - self._last_total, 0.0)
        self._last_total = total
        people = self._people()
        overlaid: dict[str, int] = {}
        for person_id in self._overlaid():
            person = people.get(person_id)
            if person is not None:
                overlaid[person.municipality] = overlaid.get(person.municipality, 0) + 1
        sync = {
            name: seconds
            for name, connector in sorted(self._connectors.items())
            if isinstance(seconds := getattr(connector, "last_sync_seconds", None), float)
        }
        sample = Sample(self._clock.now(), delta, overlaid, sync)
        self.samples.append(sample)
        self.health.success()
        return sample


def _counter_total(counter: Counter) -> float:
    return sum(
        s.value for metric in counter.collect() for s in metric.samples if s.name.endswith("_total")
    )
