"""Benchmark, Prosody against ejabberd: N people whose meetings start (and end) in one second.

(bench/presence_boundary.py is the deeper Prosody benchmark: fan-out, scheduled overlays and
same-run baselines; this one compares the two servers on the same machine in one run.)

Measures, at a subscribed contact's connection (a minimal client that timestamps stanzas as
they come off the socket, so a slow client library does not hide the server path), the
delay from the boundary until the presence arrived, and the presence stanzas per second,
against a real Prosody and a real ejabberd, each with the overlay module, one after the
other in the same run (`--server` picks one). SAMTEK runs as its own process (`samtek run`).

    .venv/bin/python bench/presence_boundary_servers.py --people 1000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samtek.devserver.ejabberd import EjabberdServer
from samtek.devserver.prosody import ProsodyServer
from tests.e2e.regions import ics_meeting, write_ics

NS_STREAM = "http://etherx.jabber.org/streams"


class RawClient:
    """A minimal c2s client (PLAIN over loopback, bind, initial presence): cheap enough for
    thousands of people online at once, which slixmpp objects are not."""

    def __init__(self, jid: str, password: str, port: int) -> None:
        self.user, self.domain = jid.split("@")
        self.password, self.port = password, port
        self.writer: asyncio.StreamWriter | None = None

    async def login(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer = writer
        header = (
            f"<?xml version='1.0'?><stream:stream to='{self.domain}' version='1.0' "
            f"xmlns='jabber:client' xmlns:stream='{NS_STREAM}'>"
        )
        writer.write(header.encode())
        await _read_until(reader, b"</stream:features>")
        token = base64.b64encode(f"\0{self.user}\0{self.password}".encode()).decode()
        sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
        writer.write(f"<auth xmlns='{sasl}' mechanism='PLAIN'>{token}</auth>".encode())
        await _read_until(reader, b"<success")
        writer.write(header.encode())
        await _read_until(reader, b"</stream:features>")
        writer.write(
            b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            b"<resource>bench</resource></bind></iq>"
        )
        await _read_until(reader, b"</iq>")
        writer.write(b"<presence><status>Ledig</status></presence>")
        await writer.drain()
        self._reader = reader
        self._drain_task = asyncio.create_task(_discard(reader))

    async def observe(self, sink: asyncio.Queue[tuple[float, str, str]]) -> None:
        """Instead of discarding: timestamp every presence off the socket (sender, show)."""
        self._drain_task.cancel()
        self._drain_task = asyncio.create_task(_observe(self._reader, sink))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.write(b"</stream:stream>")
            self.writer.close()
            self._drain_task.cancel()


async def _read_until(reader: asyncio.StreamReader, marker: bytes) -> None:
    buffer = b""
    while marker not in buffer:
        chunk = await asyncio.wait_for(reader.read(65536), 30)
        if not chunk:
            raise ConnectionError(f"stream closed before {marker!r}: {buffer[-300:]!r}")
        buffer += chunk


async def _discard(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


_PRESENCE = re.compile(rb"<presence\b[^>]*?from=['\"]([^/'\"]+)[^>]*>(.*?)</presence>", re.S)
_SHOW = re.compile(rb"<show>([a-z]+)</show>")


async def _observe(
    reader: asyncio.StreamReader, sink: asyncio.Queue[tuple[float, str, str]]
) -> None:
    buffer = b""
    while chunk := await reader.read(262144):
        now = time.time()
        buffer += chunk
        end = 0
        for match in _PRESENCE.finditer(buffer):
            show = _SHOW.search(match.group(2))
            sink.put_nowait((now, match.group(1).decode(), show.group(1).decode() if show else ""))
            end = match.end()
        buffer = buffer[end:]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(people: int, lead: float, length: float, workdir: Path, servers: list[str]) -> None:
    for kind in servers:
        print(f"--- {kind}")
        await run(kind, people, lead, length, workdir / kind)


async def run(kind: str, people: int, lead: float, length: float, workdir: Path) -> None:
    prosody = ProsodyServer() if kind == "prosody" else EjabberdServer()
    names = [f"p{i:05d}" for i in range(people)]
    for name in names:
        prosody.add_user(name, "pw")
        prosody.add_contact(name, prosody.jid("observer"), subscription="both")
    prosody.add_user("observer", "pw")
    for name in names:
        prosody.add_contact("observer", prosody.jid(name), subscription="both")
    t = time.perf_counter()
    await prosody.start()
    print(f"{kind} with {people} users started in {time.perf_counter() - t:.2f} s")

    clients = [RawClient(prosody.jid(n), "pw", prosody.c2s_port) for n in names]
    t = time.perf_counter()
    for i in range(0, len(clients), 100):
        await asyncio.gather(*(c.login() for c in clients[i : i + 100]))
    print(f"{people} people online in {time.perf_counter() - t:.2f} s")
    observer = RawClient(prosody.jid("observer"), "pw", prosody.c2s_port)
    await observer.login()
    seen: asyncio.Queue[tuple[float, str, str]] = asyncio.Queue()
    await observer.observe(seen)

    feeds = workdir / "feeds"
    feeds.mkdir(parents=True, exist_ok=True)
    start = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    end = start + timedelta(seconds=length)
    for name in names:
        write_ics(feeds / f"{name}.ics", ics_meeting(f"{name}-m", start, end))
    config = _write_config(workdir, prosody, names, feeds)
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
    while not seen.empty():
        seen.get_nowait()
    try:
        for label, boundary, want in (("start", start, "dnd"), ("end", end, "")):
            delays = await _collect(seen, people, boundary, want, timeout=lead + length + 30)
            span = max(delays) - min(delays) if len(delays) > 1 else 0.0
            rate = len(delays) / span if span > 0 else float("inf")
            print(
                f"{label} boundary, {len(delays)}/{people} contacts' presences: "
                f"p50 {statistics.median(delays) * 1000:.0f} ms, "
                f"p99 {percentile(delays, 99) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms; "
                f"{rate:.0f} presence stanzas/s at the contact"
            )
    finally:
        samtek.terminate()
        await samtek.wait()
        await observer.close()
        await asyncio.gather(*(c.close() for c in clients))
        await prosody.stop()
        prosody.cleanup()


async def _collect(
    seen: asyncio.Queue[tuple[float, str, str]],
    people: int,
    boundary: datetime,
    show: str,
    timeout: float,
) -> list[float]:
    delays: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(delays) < people and time.monotonic() < deadline:
        try:
            at, sender, got = await asyncio.wait_for(
                seen.get(), max(0.1, deadline - time.monotonic())
            )
        except TimeoutError:
            break
        if got == show and at >= boundary.timestamp() - 0.1:
            delays.setdefault(sender, at - boundary.timestamp())
    return list(delays.values())


def _write_config(
    workdir: Path, prosody: ProsodyServer | EjabberdServer, names: list[str], feeds: Path
) -> Path:
    secret = workdir / "component.secret"
    secret.write_text(prosody.component_secret)
    people = "".join(
        f'[[people]]\nid = "{n}"\njid = "{prosody.jid(n)}"\nname = "{n}"\n'
        f'municipality = "m"\ncalendars = [{{ address = "{feeds / (n + ".ics")}" }}]\n'
        for n in names
    )
    path = workdir / "samtek.toml"
    path.write_text(
        f'[service]\nlog_level = "warning"\n[xmpp]\ndomain = "{prosody.domain}"\n'
        f'component_jid = "{prosody.component_jid}"\ncomponent_secret = "file:{secret}"\n'
        f'port = {prosody.component_port}\n[store]\nurl = "sqlite:///{workdir}/state.db"\n'
        "[http]\nport = 0\n"
        f'[[municipalities]]\nid = "m"\nname = "M"\ncalendar = "feeds"\n'
        f'[connectors.feeds]\ntype = "ical"\n{people}'
    )
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--lead", type=float, default=25.0, help="seconds until the meetings start")
    parser.add_argument("--length", type=float, default=15.0, help="meeting length in seconds")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/samtek-bench-presence"))
    parser.add_argument("--server", choices=["both", "prosody", "ejabberd"], default="both")
    args = parser.parse_args()
    servers = ["prosody", "ejabberd"] if args.server == "both" else [args.server]
    asyncio.run(main(args.people, args.lead, args.length, args.workdir, servers))
