"""Runs long-lived parts and restarts a crashed one with backoff; the one place for lifecycle.

A part is an async callable that works until cancelled. If it raises, its health turns
`failing` with the reason and the next retry time, and it is started again after a capped,
jittered delay. A part that ran stably for a while starts over at the shortest delay.
`AuthFailed` is not retried quickly: credentials need a human, so it waits the maximum delay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.health import HealthReporter
from samtek.plugin import AuthFailed
from samtek.runtime.backoff import Backoff

log = structlog.get_logger("samtek.supervisor")

STABLE_AFTER_SECONDS = 60.0


@dataclass
class Part:
    name: str
    run: Callable[[], Awaitable[None]]
    health: HealthReporter
    backoff: Backoff


STOP_TIMEOUT = 15.0  # seconds for every part to end after cancellation


class Supervisor:
    def __init__(
        self, backoff_initial: float = 1.0, backoff_max: float = 300.0, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._clock = clock
        self._parts: dict[str, Part] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._backoff = (backoff_initial, backoff_max)

    def add(
        self, name: str, run: Callable[[], Awaitable[None]], health: HealthReporter | None = None
    ) -> HealthReporter:
        if name in self._parts:
            raise ValueError(f"a part named {name!r} is already supervised")
        health = health or HealthReporter(name, self._clock)
        initial, maximum = self._backoff
        self._parts[name] = Part(name, run, health, Backoff(initial, maximum))
        return health

    def health(self) -> dict[str, HealthReporter]:
        return {name: part.health for name, part in self._parts.items()}

    async def start(self) -> None:
        for part in self._parts.values():
            self._tasks[part.name] = asyncio.create_task(self._keep_running(part), name=part.name)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        tasks = list(self._tasks.values())
        if tasks:
            # A part stuck in its cleanup must not hold the whole service (and its store)
            # forever: it is named in the log and left behind.
            _done, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
            for task in stuck:
                log.error("part did not stop; abandoned", part=task.get_name(),
                          seconds=STOP_TIMEOUT)  # fmt: skip
        self._tasks.clear()
        for part in self._parts.values():
            part.health.stopped()

    async def _keep_running(self, part: Part) -> None:
        while True:
            started = time.monotonic()
            try:
                await part.run()
                reason = "returned unexpectedly"
            except asyncio.CancelledError:
                raise
            except AuthFailed as exc:
                delay = part.backoff.maximum
                part.health.auth_failed(f"authentication failed: {exc}")
                log.error("part stopped: authentication failed", part=part.name, error=str(exc))
                await asyncio.sleep(delay)
                continue
            except Exception as exc:  # the boundary: any failure becomes a restart
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("part crashed", part=part.name, error=reason, exc_info=True)
            if time.monotonic() - started > STABLE_AFTER_SECONDS:
                part.backoff.reset()
            delay = part.backoff.next_delay()
            part.health.failing(reason, self._clock.now() + timedelta(seconds=delay))
            await asyncio.sleep(delay)
