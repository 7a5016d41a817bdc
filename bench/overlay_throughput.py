"""Benchmark: overlay sets per second that one component pushes through mod_samtek_overlay.

A real Prosody (samtek/devserver/prosody.py); U users are online with one client each, and
have one observer on their roster (subscription both).  The component sends K overlay sets
(round-robin over the users, a new transition each, at most W IQs in flight), and we count:

- sets/s acknowledged by the server (IQ results at the component);
- overlaid presences/s received by the observer, until the last one arrived.

    /work/main/.venv/bin/python bench/overlay_throughput.py --users 20 --sets 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slixmpp.stanza import Presence

from samtek.devserver.prosody import ProsodyServer
from tests.overlay.helpers import NS, PASSWORD, Client, Component, until_in

SHOWS = ("dnd", "away", "xa", "chat")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(users: int, sets: int, window: int) -> None:
    server = ProsodyServer()
    server.add_user("observer", PASSWORD)
    names = [f"u{i}" for i in range(users)]
    for name in names:
        server.add_user(name, PASSWORD)
        server.add_contact(name, server.jid("observer"))
        server.add_contact("observer", server.jid(name))
    async with server:
        observer = Client(server, "observer", "bench", max_log=10 * sets + 1000)
        await observer.connect()
        clients = [Client(server, name, "bench") for name in names]
        for c in clients:
            await c.connect()
        component = Component(server)
        await component.connect()

        # Count only overlaid presences: their status carries the sequence number.
        received = 0
        done = asyncio.Event()

        def on_presence(p: Presence) -> None:
            nonlocal received
            if p["status"].startswith("bench "):
                received += 1
                if received == sets:
                    done.set()

        observer.xmpp.add_event_handler("presence", on_presence)
        until = until_in(3600)
        slots = asyncio.Semaphore(window)

        async def one(i: int) -> None:
            try:
                payload = ET.Element(
                    f"{{{NS}}}set",
                    jid=server.jid(names[i % users]),
                    show=SHOWS[i % len(SHOWS)],
                    transition=f"t{i}",
                    until=until,
                )
                ET.SubElement(payload, f"{{{NS}}}status").text = f"bench {i}"
                await component.iq("set", payload)
            finally:
                slots.release()

        assert server.pid is not None
        cpu_before = cpu_seconds(server.pid)
        started = time.perf_counter()
        tasks = []
        for i in range(sets):
            await slots.acquire()
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        acked = time.perf_counter() - started
        await asyncio.wait_for(done.wait(), 120)
        delivered = time.perf_counter() - started
        server_cpu = cpu_seconds(server.pid) - cpu_before

        print(f"users online: {users}, sets: {sets}, window: {window}")
        print(f"acknowledged: {sets / acked:8.0f} sets/s   ({acked:.2f} s)")
        print(
            f"delivered:    {sets / delivered:8.0f} overlaid presences/s at the observer "
            f"({delivered:.2f} s, {received} received)"
        )
        print(
            f"prosody CPU:  {server_cpu * 1e6 / sets:8.0f} µs per set "
            f"({server_cpu:.2f} s; the rest is the Python clients)"
        )
        await component.close()
        for c in [*clients, observer]:
            await c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--sets", type=int, default=5000)
    parser.add_argument("--window", type=int, default=200, help="IQs in flight")
    args = parser.parse_args()
    asyncio.run(run(args.users, args.sets, args.window))


if __name__ == "__main__":
    main()
