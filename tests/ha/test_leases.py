"""Two LeaseManagers in one process against one real PostgreSQL, stepped by hand.

The managers stand for two SAMTEK instances: their ticks are called explicitly so each step
of the protocol (take all, share, rebalance, expire, hand back) can be asserted in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from samtek.health import HealthReporter
from samtek.runtime.leases import ClusterSection, LeaseManager, Partitions, partition_of
from samtek.store import open_store

PEOPLE = [f"person{i}" for i in range(500)]


class Recorder:
    def __init__(self) -> None:
        self.gained: list[Partitions] = []
        self.lost: list[Partitions] = []

    def attach(self, manager: LeaseManager) -> None:
        manager.on_gained(self.gained.append)
        manager.on_lost(self.lost.append)


@contextlib.asynccontextmanager
async def manager(
    url: str, instance: str, lease: float = 10.0, renew: float = 3.0
) -> AsyncIterator[LeaseManager]:
    settings = ClusterSection(
        partitions=32, instance_id=instance, lease_seconds=lease, renew_seconds=renew
    )
    async with open_store(url) as store:
        yield LeaseManager(store.db, settings, HealthReporter(f"leases:{instance}"))


def owners(managers: list[LeaseManager], person: str) -> list[str]:
    return [m.instance_id for m in managers if m.owns(person)]


async def test_two_instances_share_partitions_and_one_holds_rooms(postgres_url: str) -> None:
    async with manager(postgres_url, "a") as a, manager(postgres_url, "b") as b:
        seen_a, seen_b = Recorder(), Recorder()
        seen_a.attach(a)
        seen_b.attach(b)

        await a.tick()  # alone: a takes everything
        assert a.owned() == frozenset(range(32)) and a.holds("rooms")
        assert seen_a.gained == [frozenset(range(32))]

        await b.tick()  # b joins: fair share is 16, but nothing is free yet
        assert b.owned() == frozenset() and not b.holds("rooms")
        await a.tick()  # a gives back its surplus ...
        assert len(a.owned()) == 16
        assert len(seen_a.lost) == 1 and len(seen_a.lost[0]) == 16
        await b.tick()  # ... and b takes it
        assert len(b.owned()) == 16
        assert seen_b.gained == [seen_a.lost[0]]

        # Every person is served by exactly one instance; the singleton by exactly one.
        assert all(len(owners([a, b], p)) == 1 for p in PEOPLE)
        assert [m.holds("rooms") for m in (a, b)] == [True, False]

        for _ in range(3):  # stable: further rounds change nothing
            await a.tick()
            await b.tick()
        assert len(a.owned()) == len(b.owned()) == 16
        assert len(seen_a.gained) == 1 and len(seen_b.gained) == 1


async def test_a_dead_instance_loses_its_leases_after_expiry(postgres_url: str) -> None:
    lease = 1.0
    async with (
        manager(postgres_url, "a", lease, 0.3) as a,
        manager(postgres_url, "b", lease, 0.3) as b,
    ):
        await a.tick()
        await b.tick()
        await a.tick()
        await b.tick()
        assert len(a.owned()) == len(b.owned()) == 16
        before = b.owned()

        # a stops ticking (it "died"). Until its leases expire, b cannot take them ...
        await b.tick()
        assert b.owned() == before and not b.holds("rooms")
        # ... and a itself stops claiming them once its local lease time has run out.
        await asyncio.sleep(lease + 0.2)
        assert a.owned() == frozenset() and not a.holds("rooms")
        await b.tick()
        assert b.owned() == frozenset(range(32)) and b.holds("rooms")
        assert all(owners([a, b], p) == ["b"] for p in PEOPLE)


async def test_clean_stop_hands_leases_back_at_once(postgres_url: str) -> None:
    async with manager(postgres_url, "a") as a, manager(postgres_url, "b") as b:
        task = asyncio.create_task(a.run())
        for _ in range(100):
            await asyncio.sleep(0.05)
            if a.owned() == frozenset(range(32)):
                break
        assert a.holds("rooms")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await b.tick()  # no waiting for expiry: a released everything when it stopped
        assert b.owned() == frozenset(range(32)) and b.holds("rooms")


async def test_sqlite_single_instance_owns_everything(tmp_path: Path) -> None:
    async with manager(f"sqlite:///{tmp_path}/s.db", "solo") as solo:
        assert not solo.clustered
        assert all(solo.owns(p) for p in PEOPLE) and solo.holds("rooms")


def test_partition_hash_is_stable() -> None:
    # crc32, not hash(): the same person maps to the same partition in every process.
    assert partition_of("kari.nordmann", 32) == zlib.crc32(b"kari.nordmann") % 32


def test_renew_must_be_well_within_the_lease() -> None:
    with pytest.raises(ValueError, match="at most half of lease_seconds"):
        ClusterSection(partitions=32, lease_seconds=4, renew_seconds=3)
