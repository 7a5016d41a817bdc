"""Two instances on PostgreSQL share the people; one dies (SIGKILL) just before meetings
start. The contact still sees every person's start transition (late by at most the failover
bound for the dead instance's people) and every end transition on time: none is missed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from samtek.runtime.leases import partition_of
from tests.e2e.regions import ics_meeting, write_ics
from tests.ha.cluster import (
    SamtekProcess,
    cluster_prosody,
    lease_holders,
    partitions_of,
    write_instance_config,
)
from tests.xmpp_clients import TestClient

PEOPLE = 8
FAILOVER_BOUND = 15.0


async def test_no_transition_is_missed_when_an_instance_dies(
    postgres_url: str, tmp_path: Path
) -> None:
    prosody, (first_jid, second_jid) = cluster_prosody(2)
    names = [f"p{i}" for i in range(PEOPLE)]
    prosody.add_user("watcher", "pw")
    for name in names:
        prosody.add_user(name, "pw")
        prosody.add_contact(name, prosody.jid("watcher"))
        prosody.add_contact("watcher", prosody.jid(name))
    await prosody.start()
    people = [TestClient(prosody.jid(n), "pw", prosody.c2s_port, status="Ledig") for n in names]
    watcher = TestClient(prosody.jid("watcher"), "pw", prosody.c2s_port)
    for client in [*people, watcher]:
        await client.connect()
    dirs = {"a": tmp_path / "a", "b": tmp_path / "b"}
    for d in dirs.values():
        d.mkdir()
        for name in names:
            write_ics(d / f"{name}.ics")  # empty calendars at first
    a = SamtekProcess(
        write_instance_config(dirs["a"], prosody, first_jid, postgres_url, "a", people=PEOPLE)
    )
    b = SamtekProcess(
        write_instance_config(dirs["b"], prosody, second_jid, postgres_url, "b", people=PEOPLE)
    )
    try:
        await a.start()
        await b.start()
        async with asyncio.timeout(30):
            while True:
                holders = await lease_holders(postgres_url)
                if len(partitions_of(holders, "a")) == 16 == len(partitions_of(holders, "b")):
                    break
                await asyncio.sleep(0.2)
        victim, survivor, survivor_name = a, b, "b"
        victim_partitions = partitions_of(holders, "a")
        victims_people = [
            n for n in names if f"partition:{partition_of(n, 32):04d}" in victim_partitions
        ]
        assert victims_people, "the dead instance must have served someone"
        victim.kill()
        killed = time.time()
        start = datetime.fromtimestamp(killed, UTC).replace(microsecond=0) + timedelta(seconds=3)
        end = start + timedelta(seconds=20)
        for name in names:  # the survivor's feeds change: inotify picks them up at once
            write_ics(dirs[survivor_name] / f"{name}.ics", ics_meeting(f"{name}-m", start, end))

        seen_start: dict[str, float] = {}
        seen_end: dict[str, float] = {}
        async with asyncio.timeout(45):
            while len(seen_end) < PEOPLE:
                presence = await watcher.seen.get()
                who = presence.sender.split("@")[0]
                if presence.show == "dnd":
                    seen_start.setdefault(who, presence.at)
                elif who in seen_start and presence.status == "Ledig":
                    seen_end.setdefault(who, presence.at)
        late = {n: round(t - start.timestamp(), 2) for n, t in seen_start.items()}
        print(f"start delays (s): {late}; victim's people: {victims_people}")
        assert set(seen_start) == set(names)
        assert all(delay <= FAILOVER_BOUND for delay in late.values())
        survivors_people = [n for n in names if n not in victims_people]
        assert all(late[n] <= 0.5 for n in survivors_people)
        assert all(abs(t - end.timestamp()) <= 0.5 for t in seen_end.values()), seen_end
        assert "partitions gained" in survivor.log_path.read_text()
    finally:
        await a.stop()
        await b.stop()
        for client in [*people, watcher]:
            await client.disconnect()
        await prosody.stop()
        prosody.cleanup()
