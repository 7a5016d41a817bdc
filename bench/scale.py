"""Benchmark: SAMTEK at region scale on one machine (1k -> 10k people with calendars).

For each size N: N people with an ICS calendar each (meetings spread over the coming hours, so
SAMTEK holds N timers), of whom B = min(2000, N) are online and have a meeting that starts in
the same second. Printed per size:

- boundary -> contact delay p50/p99/max for the B presences (start and end boundary), measured
  off the socket of one observer subscribed to the B people (bench/presence_boundary.RawClient);
- presence stanzas/s reaching the observer from SAMTEK's overlays, and Prosody's raw ingest rate
  measured in the same run: the B clients change their own presence at once;
- SAMTEK's RSS and CPU (calendar load, idle, the boundary), and Prosody's CPU.

    .venv/bin/python bench/scale.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from presence_boundary import RawClient, _collect, _write_config, percentile

from samtek.devserver.prosody import ProsodyServer
from tests.e2e.regions import ics_meeting, write_ics

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def settle(pid: int, quiet: float = 2.0, limit: float = 600.0) -> float:
    """Wait until the process uses < 5% CPU for `quiet` s; returns the seconds waited."""
    t0 = time.monotonic()
    last, since = cpu_seconds(pid), time.monotonic()
    while time.monotonic() - t0 < limit:
        await asyncio.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last > 0.05 * 0.5:
            since = time.monotonic()
        last = now
        if time.monotonic() - since >= quiet:
            return time.monotonic() - t0 - quiet
    raise TimeoutError(f"process {pid} did not settle within {limit} s")


def calendar(name: str, index: int, boundary: datetime | None, length: float) -> list[str]:
    """A person's ICS: one meeting later today (everyone has a timer), plus the boundary one."""
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1, seconds=index % 3600)
    events = [ics_meeting(f"{name}-later", later, later + timedelta(minutes=30))]
    if boundary is not None:
        events.append(ics_meeting(f"{name}-m", boundary, boundary + timedelta(seconds=length)))
    return events


async def raw_ingest(
    clients: list[RawClient], seen: asyncio.Queue[tuple[float, str, str]]
) -> tuple[float, float]:
    """All clients change their own presence at once; returns (stanzas/s, seconds)."""
    while not seen.empty():
        seen.get_nowait()
    t0 = time.time()
    for c in clients:
        assert c.writer is not None
        c.writer.write(b"<presence><show>away</show><status>raw</status></presence>")
    got: set[str] = set()
    last = t0
    deadline = time.monotonic() + 60
    while len(got) < len(clients) and time.monotonic() < deadline:
        at, sender, show = await asyncio.wait_for(seen.get(), 60)
        if show == "away":
            got.add(sender)
            last = at
    for c in clients:  # back to their own status for the SAMTEK part
        assert c.writer is not None
        c.writer.write(b"<presence><status>Ledig</status></presence>")
    await asyncio.sleep(2)
    while not seen.empty():
        seen.get_nowait()
    return len(got) / max(last - t0, 1e-6), last - t0


async def run_size(people: int, online: int, lead: float, length: float, workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    print(f"\n=== {people} people with calendars, {online} meetings start in the same second ===")
    prosody = ProsodyServer()
    names = [f"p{i:05d}" for i in range(people)]
    boundary_names = names[:online]
    for name in names:
        prosody.add_user(name, "pw")
    prosody.add_user("observer", "pw")
    for name in boundary_names:
        prosody.add_contact(name, prosody.jid("observer"), subscription="both")
        prosody.add_contact("observer", prosody.jid(name), subscription="both")
    await prosody.start()
    feeds = workdir / "feeds"
    feeds.mkdir()
    far = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    for i, name in enumerate(names):
        events = calendar(name, i, far if i < online else None, length)
        write_ics(feeds / f"{name}.ics", *events)

    clients = [RawClient(prosody.jid(n), "pw", prosody.c2s_port) for n in boundary_names]
    for i in range(0, len(clients), 100):
        await asyncio.gather(*(c.login() for c in clients[i : i + 100]))
    observer = RawClient(prosody.jid("observer"), "pw", prosody.c2s_port)
    await observer.login()
    seen: asyncio.Queue[tuple[float, str, str]] = asyncio.Queue()
    await observer.observe(seen)

    config = _write_config(workdir, prosody, names, feeds)
    log = open(workdir / "samtek.log", "wb")  # closed in finally
    samtek = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "samtek.cli",
        "run",
        "--config",
        str(config),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    pid = samtek.pid
    assert prosody.pid is not None
    try:
        load_s = await settle(pid)
        cpu_loaded = cpu_seconds(pid)
        print(
            f"SAMTEK loaded {people} calendars in ~{load_s:.1f} s: CPU {cpu_loaded:.1f} s, "
            f"RSS {rss_mb(pid):.0f} MB"
        )
        idle0 = cpu_seconds(pid)
        await asyncio.sleep(5)
        print(f"SAMTEK idle: {(cpu_seconds(pid) - idle0) / 5 * 100:.1f}% of a core")

        rate, span = await raw_ingest(clients, seen)
        print(
            f"Prosody raw ingest: {online} own-presence changes reached the observer in "
            f"{span:.2f} s = {rate:.0f} stanzas/s"
        )

        # The boundary people's calendars change: their meeting now starts in `lead` s.
        start = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
        end = start + timedelta(seconds=length)
        for i, name in enumerate(boundary_names):
            events = calendar(name, i, start, length)
            write_ics(feeds / f"{name}.ics", *events)
        await asyncio.sleep(max(0.0, start.timestamp() - time.time() - 1.0))
        cpu0, pcpu0 = cpu_seconds(pid), cpu_seconds(prosody.pid)
        for label, boundary, want in (("start", start, "dnd"), ("end", end, "")):
            delays = await _collect(seen, online, boundary, want, timeout=length + 30)
            span = max(delays) - min(delays) if len(delays) > 1 else 0.0
            per_s = len(delays) / (max(delays)) if delays and max(delays) > 0 else float("inf")
            print(
                f"{label} boundary: {len(delays)}/{online} at the contact, "
                f"p50 {statistics.median(delays) * 1000:.0f} ms, "
                f"p99 {percentile(delays, 99) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms; "
                f"{per_s:.0f} presence stanzas/s from SAMTEK (boundary to last), "
                f"spread {span * 1000:.0f} ms"
            )
        cpu_b, pcpu_b = cpu_seconds(pid) - cpu0, cpu_seconds(prosody.pid) - pcpu0
        print(
            f"during both boundaries ({length:.0f} s apart): SAMTEK CPU {cpu_b:.2f} s "
            f"({cpu_b / (2 * online) * 1e6:.0f} µs per overlay change), Prosody CPU "
            f"{pcpu_b:.2f} s; SAMTEK RSS {rss_mb(pid):.0f} MB, Prosody RSS "
            f"{rss_mb(prosody.pid):.0f} MB"
        )
    finally:
        samtek.terminate()
        await samtek.wait()
        log.close()
        await observer.close()
        await asyncio.gather(*(c.close() for c in clients))
        await prosody.stop()
        prosody.cleanup()


async def main(sizes: list[int], online: int, lead: float, length: float, workdir: Path) -> None:
    for size in sizes:
        await run_size(size, min(online, size), lead, length, workdir / str(size))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--online", type=int, default=2000, help="meetings in the same second")
    parser.add_argument("--lead", type=float, default=12.0, help="seconds from change to start")
    parser.add_argument("--length", type=float, default=10.0, help="meeting length in seconds")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/samtek-bench-scale"))
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.online, args.lead, args.length, args.workdir))
