"""SAMTEK killed with SIGKILL mid-meeting, then started again.

- The meeting is cancelled while SAMTEK is dead: after the restart the stale overlay goes
  (reconciliation against the server), and bob sees alice's own presence again.
- The meeting goes on: the restart shows no flicker, and the end still comes on the boundary.
- A notification claimed just before the kill is not claimed (sent) again after it.
- SAMTEK dies before a meeting starts: the server applies it (and ends it) on time by itself,
  from the schedule SAMTEK sent ahead.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from samtek.devserver.prosody import ProsodyServer
from samtek.store import open_store
from tests.e2e.regions import ics_meeting, next_whole_second, write_ics
from tests.faults.helpers import online_pair, report, setup_users, until_seen, write_config
from tests.ha.cluster import SamtekProcess


async def test_sigkill_mid_meeting_then_cancelled_meeting_leaves_no_stale_presence(
    prosody: ProsodyServer, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    feed = tmp_path / "alice.ics"
    write_ics(feed, ics_meeting("m1", start, start + timedelta(hours=1)))
    samtek = SamtekProcess(write_config(tmp_path, prosody, {"alice": feed}))
    try:
        await samtek.start()
        await until_seen(bob, prosody, "dnd")
        samtek.kill()
        assert samtek.proc is not None
        await samtek.proc.wait()
        write_ics(feed)  # cancelled while SAMTEK was dead
        restarted = time.time()
        await samtek.start()
        cleared = await until_seen(bob, prosody, "", timeout=30)
        report("SIGKILL + cancelled meeting: restart -> stale overlay cleared", cleared - restarted)
    finally:
        await samtek.stop()
        await alice.disconnect()
        await bob.disconnect()


async def test_sigkill_mid_meeting_restart_keeps_the_meeting_and_ends_it_on_time(
    prosody: ProsodyServer, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    start = next_whole_second(2.5)
    end = start + timedelta(seconds=12)
    feed = tmp_path / "alice.ics"
    write_ics(feed, ics_meeting("m1", start, end))
    samtek = SamtekProcess(write_config(tmp_path, prosody, {"alice": feed}))
    try:
        await samtek.start()
        await until_seen(bob, prosody, "dnd")
        samtek.kill()
        assert samtek.proc is not None
        await samtek.proc.wait()
        bob.drain()
        await samtek.start()
        back = await bob.next_from(prosody.jid("alice"), timeout=20)
        # No flicker across the kill: the next thing bob sees is the meeting's end.
        assert back.show == "" and back.at >= end.timestamp() - 0.05
        report("SIGKILL mid-meeting: end boundary -> contact", back.at - end.timestamp())
        assert back.at - end.timestamp() <= 0.5
    finally:
        await samtek.stop()
        await alice.disconnect()
        await bob.disconnect()


async def test_sigkill_before_a_meeting_the_server_still_starts_and_ends_it_on_time(
    prosody: ProsodyServer, tmp_path: Path
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    first = next_whole_second(2.5)
    second = first + timedelta(seconds=4)
    feed = tmp_path / "alice.ics"
    write_ics(
        feed,
        ics_meeting("m1", first, first + timedelta(seconds=2)),
        ics_meeting("m2", second, second + timedelta(seconds=2)),
    )
    samtek = SamtekProcess(write_config(tmp_path, prosody, {"alice": feed}))
    try:
        await samtek.start()
        # Once the first meeting shows, the second is scheduled on the server: SAMTEK sends
        # the schedule before (or in the same IQ as) anything that makes the first show.
        await until_seen(bob, prosody, "dnd")
        samtek.kill()
        assert samtek.proc is not None
        await samtek.proc.wait()
        ended = await until_seen(bob, prosody, "")
        assert ended >= (first + timedelta(seconds=2)).timestamp() - 0.05
        started = await until_seen(bob, prosody, "dnd")
        assert started >= second.timestamp() - 0.05
        report("SIGKILL before a meeting: start boundary -> contact", started - second.timestamp())
        ended = await until_seen(bob, prosody, "")
        assert ended >= (second + timedelta(seconds=2)).timestamp() - 0.05
    finally:
        await samtek.stop()
        await alice.disconnect()
        await bob.disconnect()


CLAIM_AND_DIE = """
import asyncio, os, signal, sys
from samtek.store import open_store

async def main() -> None:
    async with open_store(sys.argv[1]) as store:
        assert await store.claim_notification("reminder:m1@2026-11-25T10:00")
        os.kill(os.getpid(), signal.SIGKILL)  # before any orderly close

asyncio.run(main())
"""


async def test_notification_claimed_before_sigkill_is_not_sent_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    root = Path(__file__).resolve().parents[2]
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", CLAIM_AND_DIE, url],
        cwd=root,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    async with open_store(url) as store:
        assert await store.claim_notification("reminder:m1@2026-11-25T10:00") is False
