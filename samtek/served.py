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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

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
