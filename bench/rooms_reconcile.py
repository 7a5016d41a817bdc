"""Benchmark: reconciling N declared rooms against a real Prosody (mod_muc + mod_muc_mam).

Prints the time of the first apply (create + configure + affiliations + invitations and
bookmarks), then of a no-op plan (observe all rooms, plan nothing) and the IQ sets it made
(must be 0), and the Prosody CPU used by each phase.

    /work/main/.venv/bin/python bench/rooms_reconcile.py --rooms 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridges.rooms.invites import Inviter
from bridges.rooms.reconciler import Reconciler
from bridges.rooms.spec import read_specs, resolve
from samtek.model import Person
from samtek.xmpp.muc import MucClient
from tests.rooms.helpers import PASSWORD, connected_link, rooms_prosody, xmpp_section


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_specs(directory: Path, rooms: int, users: int, members: int) -> None:
    lines = []
    for i in range(rooms):
        owner = f"u{i % users}"
        people = [f'"u{(i + k + 1) % users}"' for k in range(members)]
        lines.append(
            f'[[rooms]]\nid = "room-{i:04d}"\nname = "Prosjekt {i}"\n'
            f'description = "Benchmark room {i}"\nowners = ["{owner}"]\n'
            f"members = [{', '.join(people)}]\n"
        )
    (directory / "portfolio.toml").write_text("\n".join(lines))


async def run(rooms: int, users: int, members: int, muc_sql: bool) -> None:
    server = rooms_prosody(muc_sql)
    print(f"MUC storage: {'sql (SQLite)' if muc_sql else 'internal (files)'}")
    for u in range(users):
        server.add_user(f"u{u}", PASSWORD)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_specs(work, rooms, users, members)
        people = {f"u{u}": Person(f"u{u}", server.jid(f"u{u}"), f"U{u}", "m") for u in range(users)}
        t0 = time.perf_counter()
        specs = resolve(read_specs(work), people, server.muc_domain)
        print(f"specs: {len(specs)} rooms parsed+resolved in {time.perf_counter() - t0:.3f} s")
        async with server:
            link, task = await connected_link(xmpp_section(server, work))
            muc = MucClient(link, server.muc_domain)
            reconciler = Reconciler(muc, Inviter(muc, server.domain), retention_days=90)
            try:
                pid = server.pid
                assert pid is not None
                today = date.today()
                cpu0, t0, py0 = cpu_seconds(pid), time.perf_counter(), time.process_time()
                plan = await reconciler.plan(specs, today)
                result = await reconciler.apply(plan)
                first = time.perf_counter() - t0
                cpu1 = cpu_seconds(pid)
                print(
                    f"first apply: {first:.2f} s for {len(plan.actions)} changes"
                    f" ({muc.iq_sets} IQ sets, {len(result.failed)} rooms failed), Python CPU"
                    f" {time.process_time() - py0:.2f} s,"
                    f" Prosody CPU {cpu1 - cpu0:.2f} s"
                )
                for attempt in range(5):
                    sets_before = muc.iq_sets
                    t0, py0 = time.perf_counter(), time.process_time()
                    noop = await reconciler.plan(specs, today)
                    elapsed = time.perf_counter() - t0
                    cpu2 = cpu_seconds(pid)
                    print(
                        f"no-op plan #{attempt + 1}: {elapsed:.2f} s, {len(noop.actions)} changes,"
                        f" {muc.iq_sets - sets_before} IQ sets, Prosody CPU {cpu2 - cpu1:.2f} s,"
                        f" Python CPU {time.process_time() - py0:.2f} s"
                    )
                    cpu1 = cpu2
            finally:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--members", type=int, default=3, help="members per room (+1 owner)")
    parser.add_argument(
        "--muc-sql", action="store_true", help="rooms in SQLite (needs apt lua-dbi-sqlite3)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.rooms, args.users, args.members, args.muc_sql))


if __name__ == "__main__":
    main()
