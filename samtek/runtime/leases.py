"""Several SAMTEK instances share the work through leases held in PostgreSQL.

People are hashed into `partitions` partitions (crc32 of the person id); each instance holds
the leases of about ceil(P / live instances) of them and serves only their people. Singleton
duties (the room reconciler, reminders) are leases too: exactly one holder at a time.

Each tick (every renew_seconds) an instance heartbeats, renews what it holds, gives back what
exceeds its fair share (so a newly started instance gets work) and takes free or expired
leases up to its share. A killed instance's leases expire after lease_seconds and are taken
within one more tick: failover <= lease_seconds + renew_seconds.

Safety without trusting clocks across machines: expiries use the database's clock; locally,
a lease counts as held only until (monotonic time the renewal was *sent*) + lease_seconds, so
an instance cut off from the database stops serving before anyone else can take over.

With SQLite (one instance) the manager owns every partition and duty and touches no table.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import socket
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable

import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator

from samtek.health import HealthReporter
from samtek.store.database import Database
from samtek.store.leases import LeaseStore

log = structlog.get_logger("samtek.leases")

PARTITION_PREFIX = "partition:"
DUTY_PREFIX = "duty:"
DUTIES = ("rooms",)  # singleton duties known to the service; more can be passed in

Partitions = frozenset[int]
ChangeCallback = Callable[[Partitions], Awaitable[None] | None]


class ClusterSection(BaseModel):
    """`[cluster]`: only meaningful with a postgresql:// store."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    partitions: int = Field(32, ge=1, le=4096)
    instance_id: str | None = None  # default: hostname-pid
    lease_seconds: float = Field(10.0, gt=0, le=600)
    renew_seconds: float = Field(3.0, gt=0, le=300)

    @model_validator(mode="after")
    def _renew_before_expiry(self) -> ClusterSection:
        if self.renew_seconds * 2 > self.lease_seconds:
            raise ValueError(
                f"renew_seconds ({self.renew_seconds}) must be at most half of lease_seconds "
                f"({self.lease_seconds}), or one slow renewal loses every lease"
            )
        return self


def partition_of(person_id: str, partitions: int) -> int:
    """Stable across processes and versions (unlike hash()): crc32 of the UTF-8 id."""
    return zlib.crc32(person_id.encode()) % partitions


def default_instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class LeaseManager:
    """A supervised part (`run`) plus the queries the rest of the service asks."""

    def __init__(
        self,
        db: Database,
        settings: ClusterSection,
        health: HealthReporter,
        duties: Iterable[str] = DUTIES,
    ) -> None:
        self.settings = settings
        self.health = health
        self.instance_id = settings.instance_id or default_instance_id()
        self.partitions = settings.partitions
        self.duties = tuple(duties)
        self._store = LeaseStore(db) if db.shared else None
        self._db_errors = db.errors
        self._all = frozenset(range(self.partitions))
        self._owned: Partitions = self._all if self._store is None else frozenset()
        self._duties: frozenset[str] = (
            frozenset(self.duties) if self._store is None else frozenset()
        )
        self._valid_until = math.inf if self._store is None else 0.0
        self._gained: list[ChangeCallback] = []
        self._lost: list[ChangeCallback] = []
        self._rng = random.Random()

    # -- what the rest of the service asks --------------------------------------------------

    @property
    def clustered(self) -> bool:
        return self._store is not None

    def owned(self) -> Partitions:
        return self._owned if time.monotonic() < self._valid_until else frozenset()

    def owns(self, person_id: str) -> bool:
        """True while this instance serves `person_id` (its partition's lease is ours)."""
        return partition_of(person_id, self.partitions) in self.owned()

    def holds(self, duty: str) -> bool:
        """True while this instance holds the singleton duty (e.g. "rooms")."""
        return duty in self._duties and time.monotonic() < self._valid_until

    def on_gained(self, callback: ChangeCallback) -> None:
        """Called with the partitions newly taken (e.g. load and assert their presence)."""
        self._gained.append(callback)

    def on_lost(self, callback: ChangeCallback) -> None:
        """Called with the partitions no longer ours (stop serving them; do not clear
        their overlays: the new holder reconciles them)."""
        self._lost.append(callback)

    # -- the part ---------------------------------------------------------------------------

    async def run(self) -> None:
        if self._store is None:
            self.health.success()
            log.info("single instance: all partitions and duties owned", store="sqlite")
            if self._owned:
                await self._notify(self._gained, self._owned)
            await asyncio.Event().wait()
            return
        log.info(
            "joining cluster",
            instance=self.instance_id,
            partitions=self.partitions,
            lease_seconds=self.settings.lease_seconds,
        )
        try:
            while True:
                started = time.monotonic()
                try:
                    await self.tick()
                    self.health.item_ok("database")
                except self._db_errors as exc:
                    self.health.item_error(
                        "database", f"lease renewal failed: {type(exc).__name__}: {exc}"
                    )
                    await self._expire_if_due()
                elapsed = time.monotonic() - started
                await asyncio.sleep(max(0.0, self.settings.renew_seconds - elapsed))
        finally:
            await self._leave()

    async def tick(self) -> None:
        """One round: heartbeat, renew, rebalance. Public for tests that step it by hand."""
        store = self._require_store()
        lease = self.settings.lease_seconds
        sent = time.monotonic()
        await store.heartbeat(self.instance_id, lease)
        held = await store.renew_all(self.instance_id, lease)
        self._valid_until = sent + lease
        owned = {_partition(n) for n in held if n.startswith(PARTITION_PREFIX)}
        duties = {n.removeprefix(DUTY_PREFIX) for n in held if n.startswith(DUTY_PREFIX)}
        await self._apply(frozenset(owned), frozenset(duties))  # what lapsed is lost now

        live = max(1, len(await store.live_members()))
        share = math.ceil(self.partitions / live)
        if len(owned) > share:  # give back the surplus so newcomers get work
            surplus = sorted(owned)[share:]
            owned -= set(surplus)
            # Stop serving first, then release: never two instances serving one partition.
            await self._apply(frozenset(owned), frozenset(duties))
            await store.release([_name(p) for p in surplus], self.instance_id)
            log.info("partitions released for rebalancing", count=len(surplus), live=live)
        elif len(owned) < share:
            taken = {_partition(n) for n in await store.holders(PARTITION_PREFIX)}
            free = sorted(self._all - taken - owned)
            self._rng.shuffle(free)  # instances starting together do not all race for the same
            for p in free:
                if len(owned) >= share:
                    break
                if await store.acquire(_name(p), self.instance_id, lease):
                    owned.add(p)
        for duty in self.duties:
            if duty not in duties and await store.acquire(
                DUTY_PREFIX + duty, self.instance_id, lease
            ):
                duties.add(duty)
        await self._apply(frozenset(owned), frozenset(duties))
        self.health.success()

    async def _apply(self, owned: Partitions, duties: frozenset[str]) -> None:
        gained, lost = owned - self._owned, self._owned - owned
        for duty in duties - self._duties:
            log.info("duty taken", duty=duty, instance=self.instance_id)
        for duty in self._duties - duties:
            log.warning("duty lost", duty=duty, instance=self.instance_id)
        self._owned, self._duties = owned, duties
        if lost:
            log.info("partitions lost", partitions=sorted(lost), now_owned=len(owned))
            await self._notify(self._lost, lost)
        if gained:
            log.info("partitions gained", partitions=sorted(gained), now_owned=len(owned))
            await self._notify(self._gained, gained)

    async def _expire_if_due(self) -> None:
        """Cut off from the database: once our leases may have lapsed, stop serving."""
        if time.monotonic() >= self._valid_until and (self._owned or self._duties):
            log.error(
                "leases lapsed: database unreachable for longer than lease_seconds",
                instance=self.instance_id,
            )
            await self._apply(frozenset(), frozenset())

    async def _leave(self) -> None:
        """Clean stop: hand everything back at once so the others need not wait for expiry."""
        store = self._require_store()
        names = [_name(p) for p in self._owned] + [DUTY_PREFIX + d for d in self._duties]
        self._owned, self._duties, self._valid_until = frozenset(), frozenset(), 0.0
        try:
            await asyncio.shield(self._release_all(store, names))
        except Exception as exc:  # noqa: BLE001 - shutdown goes on; the leases then expire
            log.warning("could not release leases on stop; they expire", error=str(exc))

    async def _release_all(self, store: LeaseStore, names: list[str]) -> None:
        await store.release(names, self.instance_id)
        await store.leave(self.instance_id)

    async def _notify(self, callbacks: list[ChangeCallback], partitions: Partitions) -> None:
        for callback in callbacks:
            try:
                result = callback(partitions)
                if result is not None:
                    await result
            except Exception:  # logged; one faulty listener must not stop renewals
                log.exception("lease change callback failed", callback=repr(callback))

    def _require_store(self) -> LeaseStore:
        if self._store is None:
            raise RuntimeError("lease operations need a shared (postgresql://) store")
        return self._store


def _name(partition: int) -> str:
    return f"{PARTITION_PREFIX}{partition:04d}"


def _partition(name: str) -> int:
    return int(name.removeprefix(PARTITION_PREFIX))
