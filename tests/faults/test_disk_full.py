"""The disk under the SQLite store fills up (a tiny tmpfs mounted for the test, as root).

Expected: a clear error in the log naming the store and the full disk, presence keeps being
served from memory (a meeting added to the calendar while the disk is full still reaches
contacts), and once space is freed the store is written again.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from samtek.devserver.prosody import ProsodyServer
from samtek.health import HealthState
from tests.conftest import RunningService
from tests.e2e.regions import ics_meeting, next_whole_second, write_ics
from tests.faults.helpers import online_pair, poll, report, setup_users, until_seen, write_config

SIZE = "768k"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            f"cannot mount a {SIZE} tmpfs at {mount_point} (needs root with CAP_SYS_ADMIN; "
            f"mount(8) from the Debian package 'mount'): {result.stderr.strip()}"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write a filler file until the file system is full."""
    filler = directory / "filler"
    chunk = b"\0" * 4096
    with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):
        while True:
            fh.write(chunk)
    assert os.statvfs(directory).f_bavail == 0
    return filler


async def test_disk_full_logs_clearly_and_presence_continues(
    prosody: ProsodyServer,
    samtek_service: type[RunningService],
    tmp_path: Path,
    small_disk: Path,
) -> None:
    setup_users(prosody)
    await prosody.start()
    alice, bob = await online_pair(prosody)
    feed = tmp_path / "alice.ics"
    write_ics(feed)
    config = write_config(
        tmp_path, prosody, {"alice": feed}, store_url=f"sqlite:///{small_disk}/state.db"
    )
    service = await samtek_service(config).start()
    presence = service.supervisor.health()["presence"]
    try:
        await poll(lambda: presence.state == HealthState.OK, 10, "presence ready")
        filler = fill(small_disk)

        start = next_whole_second(2.0)
        with capture_logs() as logged:
            write_ics(feed, ics_meeting("m1", start, start + timedelta(hours=1)))
            seen = await until_seen(bob, prosody, "dnd", timeout=20)
        report("disk full: meeting start -> contact (from memory)", seen - start.timestamp())
        assert seen - start.timestamp() <= 0.5
        errors = [e for e in logged if e["event"].startswith("store write failed")]
        assert errors and "database or disk is full" in errors[0]["error"], logged
        print("logged:", errors[0])
        assert not [e for e in logged if e["event"] == "part crashed"], logged
        assert presence.state in (HealthState.OK, HealthState.DEGRADED)

        filler.unlink()
        freed = time.time()
        write_ics(feed, ics_meeting("m1", start, start + timedelta(hours=2)))

        async def stored() -> bool:
            from samtek.store import open_store

            async with open_store(f"sqlite:///{small_disk}/state.db") as store:
                calendars = await store.load_calendars()
            return any(e.end == start + timedelta(hours=2) for c in calendars for e in c.events)

        await poll(stored, 20, "the store written again after space was freed")
        report("disk freed -> store written again", time.time() - freed)
    finally:
        await alice.disconnect()
        await bob.disconnect()
