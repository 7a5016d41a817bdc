"""PostgreSQL goes away under a clustered instance, then comes back.

While the database is unreachable the instance cannot renew its leases, so once they may have
lapsed it stops serving its partitions and duties (another instance could now take them); the
health says why. When PostgreSQL is back it takes its leases again. Printed: both times.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from samtek.devserver.postgres import PostgresServer
from samtek.health import HealthReporter, HealthState
from samtek.runtime.leases import ClusterSection, LeaseManager
from samtek.store import open_store
from tests.faults.helpers import poll, report

LEASE, RENEW = 2.0, 0.5


async def test_lost_database_stops_serving_and_recovers() -> None:
    async with PostgresServer() as server, open_store(server.url) as store:
        settings = ClusterSection(
            partitions=32, instance_id="a", lease_seconds=LEASE, renew_seconds=RENEW
        )
        health = HealthReporter("leases")
        manager = LeaseManager(store.db, settings, health)
        lost: list[float] = []
        manager.on_lost(lambda _: lost.append(time.monotonic()))
        task = asyncio.create_task(manager.run())
        try:
            await poll(lambda: len(manager.owned()) == 32, 10, "all partitions owned")
            assert manager.holds("rooms")

            await server.stop()
            down = time.monotonic()
            await poll(lambda: not manager.owned() and not manager.holds("rooms"), 10, "lapse")
            report("PostgreSQL down -> partitions no longer served", time.monotonic() - down)
            assert time.monotonic() - down <= LEASE + RENEW + 0.5
            assert health.state == HealthState.DEGRADED
            assert "lease renewal failed" in (health.snapshot().last_error or "")

            await server.restart()
            up = time.monotonic()
            await poll(lambda: len(manager.owned()) == 32, 30, "partitions owned again")
            report("PostgreSQL back -> partitions served again", time.monotonic() - up)
            await poll(lambda: health.state == HealthState.OK, 10, "health ok")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
