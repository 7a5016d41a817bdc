"""Two real `samtek run` processes on one PostgreSQL: they split the partitions; one is killed
with SIGKILL and the other takes over its partitions and the rooms duty within the bound.

Bound from the issue: lease_seconds (10) + renew_seconds (3) <= 15 s with the default settings.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.ha.cluster import (
    SamtekProcess,
    cluster_prosody,
    lease_holders,
    partitions_of,
    write_instance_config,
)

FAILOVER_BOUND = 15.0


async def wait_for(condition, timeout: float, what: str, procs: list[SamtekProcess]):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.2)
    logs = "\n".join(f"--- {p.config.parent.name} ---\n{p.log_tail()}" for p in procs)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


async def test_sigkilled_instance_partitions_are_taken_over(
    postgres_url: str, tmp_path: Path
) -> None:
    prosody, (first_jid, second_jid) = cluster_prosody(2)
    await prosody.start()
    a = SamtekProcess(write_instance_config(tmp_path / "a", prosody, first_jid, postgres_url, "a"))
    b = SamtekProcess(write_instance_config(tmp_path / "b", prosody, second_jid, postgres_url, "b"))
    try:
        await a.start()
        await b.start()

        async def balanced() -> dict[str, str] | None:
            h = await lease_holders(postgres_url)
            ok = len(partitions_of(h, "a")) == 16 and len(partitions_of(h, "b")) == 16
            return h if ok else None

        holders = await wait_for(balanced, 30, "16 partitions each", [a, b])
        # Kill the instance that holds the rooms duty, so both kinds of lease move.
        victim, survivor, name = (a, b, "b") if holders.get("duty:rooms") == "a" else (b, a, "a")
        print(f"balanced 16/16; rooms held by {holders.get('duty:rooms')}; killing it")

        victim.kill()
        killed_at = time.monotonic()

        async def survivor_has_all() -> bool:
            h = await lease_holders(postgres_url)
            return len(partitions_of(h, name)) == 32 and h.get("duty:rooms") == name

        await wait_for(survivor_has_all, 30, f"{name} to hold all 32 and rooms", [a, b])
        failover = time.monotonic() - killed_at
        print(f"failover after SIGKILL: {failover:.1f} s (bound {FAILOVER_BOUND} s)")
        assert failover <= FAILOVER_BOUND
        assert "partitions gained" in survivor.log_path.read_text()
    finally:
        await a.stop()
        await b.stop()
        await prosody.stop()
        prosody.cleanup()
