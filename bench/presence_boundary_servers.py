"""Benchmark, Prosody against ejabberd: N people whose meetings start (and end) in one second.

(bench/presence_boundary.py is the deeper Prosody benchmark: fan-out, same-run baselines and
Prosody's CPU per pass; this one compares the two servers on the same machine in one run,
with its clients, collector and SAMTEK config.)

Measures, at a subscribed contact's connection (a minimal client that timestamps stanzas as
they come off the socket, so a slow client library does not hide the server path), the
delay from the boundary until the presence arrived, against a real Prosody and a real
ejabberd, each with the overlay module, one after the other in the same run (`--server`
picks one). SAMTEK runs as its own process (`samtek run`) and schedules the overlays ahead
on both servers (`--ahead 0`: sent at the boundary instead).

    .venv/bin/python bench/presence_boundary_servers.py --people 1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import presence_boundary
from presence_boundary import RawClient, Seen, _collect, _write_config

from samtek.devserver.ejabberd import EjabberdServer
from samtek.devserver.prosody import ProsodyServer
from tests.e2e.regions import ics_meeting, write_ics


async def main(people: int, lead: float, length: float, workdir: Path, servers: list[str]) -> None:
    for kind in servers:
        print(f"--- {kind}")
        await run(kind, people, lead, length, workdir / kind)


async def run(kind: str, people: int, lead: float, length: float, workdir: Path) -> None:
    server = ProsodyServer() if kind == "prosody" else EjabberdServer()
    names = [f"p{i:05d}" for i in range(people)]
    for name in names:
        server.add_user(name, "pw")
        server.add_contact(name, server.jid("observer"), subscription="both")
    server.add_user("observer", "pw")
    for name in names:
        server.add_contact("observer", server.jid(name), subscription="both")
    t = time.perf_counter()
    await server.start()
    print(f"{kind} with {people} users started in {time.perf_counter() - t:.2f} s")

    clients = [RawClient(server.jid(n), "pw", server.c2s_port) for n in names]
    t = time.perf_counter()
    for i in range(0, len(clients), 100):
        await asyncio.gather(*(c.login() for c in clients[i : i + 100]))
    print(f"{people} people online in {time.perf_counter() - t:.2f} s")
    observer = RawClient(server.jid("observer"), "pw", server.c2s_port)
    await observer.login()
    seen: list[Seen] = []
    await observer.observe(seen)

    feeds = workdir / "feeds"
    feeds.mkdir(parents=True, exist_ok=True)
    start = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    end = start + timedelta(seconds=length)
    for name in names:
        write_ics(feeds / f"{name}.ics", ics_meeting(f"{name}-m", start, end))
    config = _write_config(workdir, server, names, feeds)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    samtek = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "samtek.cli",
        "run",
        "--config",
        str(config),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=open(workdir / "samtek.log", "wb"),
    )
    await asyncio.sleep(0.5)
    try:
        for label, boundary, want in (("start", start, "dnd"), ("end", end, "")):
            await _collect(
                kind, label, seen, len(seen), people, boundary, want, timeout=lead + length + 30
            )
    finally:
        samtek.terminate()
        await samtek.wait()
        await observer.close()
        await asyncio.gather(*(c.close() for c in clients))
        await server.stop()
        server.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--lead", type=float, default=25.0, help="seconds until the meetings start")
    parser.add_argument("--length", type=float, default=15.0, help="meeting length in seconds")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/samtek-bench-presence"))
    parser.add_argument("--server", choices=["both", "prosody", "ejabberd"], default="both")
    parser.add_argument(
        "--ahead", type=float, default=4.0, help="SAMTEK's schedule_ahead_hours (0: sent late)"
    )
    args = parser.parse_args()
    presence_boundary.AHEAD_HOURS = args.ahead
    servers = ["prosody", "ejabberd"] if args.server == "both" else [args.server]
    asyncio.run(main(args.people, args.lead, args.length, args.workdir, servers))
