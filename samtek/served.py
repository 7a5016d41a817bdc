"""What this instance serves now: the directory's calendar work, split between instances.

Every calendar connector reads its work items from `Served.calendars(source)` — one per
(person, calendar address) of the people whose partition this instance leases — and waits on
`Served.wait()` for the next change: the directory changed (a person added, removed, moved
between municipalities, an address changed) or this instance gained or lost partitions. The
connector then reconciles its running work (starts new items, stops gone ones, re-reads
changed ones) without a restart. So each mailbox, feed and collection is read by exactly one
live instance, and a dead instance's items are taken over when its leases are.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from samtek.model import Person
    from samtek.plugin import Directory


class Ownership(Protocol):
    """Which people this instance serves (samtek.runtime.leases.LeaseManager)."""

    def owns(self, person_id: str) -> bool: ...


class _OwnsEverything:
    def owns(self, person_id: str) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class CalendarWork:
    """One calendar a connector reads for one person. The whole Person is part of the
    identity: a move to another municipality (time zone, language) makes it a new item."""

    person: Person
    address: str


class Served:
    """The directory as seen by one instance's connectors, plus a change signal."""

    def __init__(self, directory: Directory, ownership: Ownership | None = None) -> None:
        self.directory = directory
        self._ownership: Ownership = ownership or _OwnsEverything()
        self._version = 0
        self._changed = asyncio.Event()

    def owns(self, person_id: str) -> bool:
        return self._ownership.owns(person_id)

    def calendars(self, source: str) -> frozenset[CalendarWork]:
        """The (person, address) items of `source` that this instance reads now."""
        return frozenset(
            CalendarWork(person, address)
            for person, address in self.directory.served_by(source)
            if self._ownership.owns(person.id)
        )

    @property
    def version(self) -> int:
        """Grows with every change; pass the last one seen to `wait`."""
        return self._version

    def notify(self) -> None:
        """The directory or this instance's partitions changed (wired in samtek.app)."""
        self._version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()  # wakes every waiter of the old version; later waiters use the new event

    async def wait(self, seen: int, at_most: float | None = None) -> int:
        """Return the version once it differs from `seen`, or after `at_most` seconds
        (then possibly still `seen`: the caller's periodic work is due)."""
        if self._version == seen:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), at_most)
        return self._version


T = TypeVar("T")
Round = Callable[[list[T]], Awaitable[None]]


def follow(
    current: Mapping[CalendarWork, T],
    wanted: frozenset[CalendarWork],
    make: Callable[[CalendarWork], T],
) -> tuple[dict[CalendarWork, T], set[CalendarWork]]:
    """Reconcile running work with `wanted`: keep what is still wanted (its state too), make
    the new items, drop the rest. Returns (every item's state, the new items)."""
    kept = {work: state for work, state in current.items() if work in wanted}
    added = {work: make(work) for work in wanted - kept.keys()}
    return {**kept, **added}, set(added)


@dataclass(frozen=True)
class Cadence:
    """How often a polling connector (EWS, Graph) polls, rereads everything, reads OOF."""

    poll_seconds: float
    resync_seconds: float
    oof_seconds: float


async def poll_served(
    served: Served,
    source: str,
    make: Callable[[CalendarWork], T],
    start: Round[T],
    poll: Round[T],
    read_oof: Round[T],
    cadence: Cadence,
    new_window: Callable[[list[T]], None],
    stopped: Callable[[list[T]], None],
) -> None:
    """The loop of a polling mailbox connector, following what this instance serves.

    New items are started at once (`start`: the full first read), dropped ones are no longer
    polled (`stopped` is told), and every `resync_seconds` a new window starts everything
    anew (`new_window` first, with every item). Between rounds it waits for the poll time or
    a change, whichever comes first."""
    items: dict[CalendarWork, T] = {}
    fresh: set[CalendarWork] = set()  # not started yet
    seen = served.version - 1  # read the served set at once
    resync_at = last_oof = time.monotonic()
    next_poll = resync_at + cadence.poll_seconds
    while True:
        if seen != served.version:
            seen = served.version
            before = items
            items, added = follow(items, served.calendars(source), make)
            if gone := [state for work, state in before.items() if work not in items]:
                stopped(gone)
            fresh = (fresh | added) & items.keys()
        if time.monotonic() >= resync_at:
            new_window(list(items.values()))
            resync_at = time.monotonic() + cadence.resync_seconds
            fresh = set(items)
        if fresh:
            await start([items[work] for work in fresh])
            fresh = set()
        now = time.monotonic()
        if now < next_poll:
            await served.wait(seen, next_poll - now)
            continue
        next_poll = now + cadence.poll_seconds
        await poll(list(items.values()))
        if now - last_oof >= cadence.oof_seconds:
            await read_oof(list(items.values()))
            last_oof = now
