"""Benchmark: N people whose meetings all start (and end) in the same second.

Measures, at subscribed contacts' connections (minimal clients that timestamp stanzas as
they come off the socket, so a slow client library does not hide the server path), the
delay from the boundary until the presence arrived, against a real Prosody with the overlay
module. One observer has everybody on its roster; with --fanout F each person is also on
the roster of F online colleagues (the next F people), so N transitions are N x (F + 1)
presence stanzas. Three phases in the same run, so that ratios do not depend on how loaded
the machine is:

- samtek: SAMTEK runs as its own process (`samtek run`) with ICS meetings; also its CPU per
  transition around the boundary (above its idle rate);
- (a) server alone: SAMTEK stopped; the same overlays were scheduled ahead on the server
  (one batch IQ), which fires them by itself;
- (b) own presence: every person's client changes its own presence at the same instant.

Each phase also prints Prosody's CPU (utime + stime from /proc) for each boundary's pass:
unlike the delays, that figure does not depend on what else loads the machine.

    .venv/bin/python bench/presence_boundary.py --people 2000
    .venv/bin/python bench/presence_boundary.py --people 500 --fanout 20
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
from xml.etree import ElementTree as ET

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from samtek.devserver.ejabberd import EjabberdServer
from samtek.devserver.prosody import ProsodyServer
from tests.e2e.regions import ics_meeting, write_ics
from tests.overlay.helpers import NS, Component

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

    async def observe(self, sink: list[Seen]) -> None:
        """Instead of discarding: timestamp every presence off the socket (sender, show)."""
        self._drain_task.cancel()
        self._drain_task = asyncio.create_task(
            _observe(self._reader, sink, f"{self.user}@{self.domain}")
        )

    def send(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

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


AHEAD_HOURS = 4.0  # SAMTEK's [presence] schedule_ahead_hours (--ahead)
Seen = tuple[float, str, str, str]  # (time, receiver, sender, show)


async def _observe(reader: asyncio.StreamReader, sink: list[Seen], receiver: str) -> None:
    buffer = b""
    while chunk := await reader.read(262144):
        now = time.time()
        buffer += chunk
        end = 0
        for match in _PRESENCE.finditer(buffer):
            show = _SHOW.search(match.group(2))
            sender = match.group(1).decode()
            sink.append((now, receiver, sender, show.group(1).decode() if show else ""))
            end = match.end()
        buffer = buffer[end:]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Figures = dict[str, tuple[float, float]]  # "start"/"end" -> (p50, p99) seconds

# Prosody's CPU for one boundary is read from 0.5 s before it to this long after it (the
# whole pass, also on a loaded machine; the SAMTEK phase stops at +1 s, where SAMTEK's own
# checks begin). Unlike the wall-clock delays this does not depend on the machine's load.
SERVER_CPU_AFTER = 2.0


def _pid(prosody: ProsodyServer) -> int:
    assert prosody.pid is not None, "prosody is not running"
    return prosody.pid


def _print_server_cpu(phase: str, label: str, cpu0: float, cpu1: float, people: int) -> None:
    spent = cpu1 - cpu0
    print(
        f"  {phase} {label}: Prosody CPU {spent * 1000:.0f} ms, "
        f"{spent / people * 1e6:.0f} µs per transition"
    )


async def main(
    people: int,
    fanout: int,
    lead: float,
    length: float,
    workdir: Path,
    blocklist_cache: int,
    server_first: bool = False,
    warmup: bool = True,
) -> None:
    # As deploy/prosody/prosody.cfg.lua recommends; 0: Prosody's default (64 blocklists).
    cache = f"blocklist_cache_size = {blocklist_cache}\n" if blocklist_cache else ""
    prosody = ProsodyServer(extra_host_config=cache)
    names = [f"p{i:05d}" for i in range(people)]
    for name in names:
        prosody.add_user(name, "pw")
    for i, name in enumerate(names):
        prosody.add_contact(name, prosody.jid("observer"), subscription="both")
        for k in range(1, fanout + 1):  # seen by the next `fanout` colleagues
            prosody.add_contact(name, prosody.jid(names[(i + k) % people]), subscription="from")
            prosody.add_contact(names[(i + k) % people], prosody.jid(name), subscription="to")
    prosody.add_user("observer", "pw")
    for name in names:
        prosody.add_contact("observer", prosody.jid(name), subscription="both")
    t = time.perf_counter()
    await prosody.start()
    print(
        f"prosody with {people} users (fan-out {fanout}, blocklist_cache_size "
        f"{blocklist_cache or 'default'}) started in {time.perf_counter() - t:.2f} s"
    )

    clients = [RawClient(prosody.jid(n), "pw", prosody.c2s_port) for n in names]
    t = time.perf_counter()
    for i in range(0, len(clients), 100):
        await asyncio.gather(*(c.login() for c in clients[i : i + 100]))
    print(f"{people} people online in {time.perf_counter() - t:.2f} s")
    observer = RawClient(prosody.jid("observer"), "pw", prosody.c2s_port)
    await observer.login()
    seen: list[Seen] = []
    await observer.observe(seen)
    if fanout:
        for c in clients:
            await c.observe(seen)
    expected = people * (fanout + 1)
    results: dict[str, Figures] = {}
    phases = {
        "samtek": lambda: _samtek_phase(prosody, names, seen, expected, lead, length, workdir),
        "(a) server alone": lambda: _server_phase(prosody, names, seen, expected, lead, length),
        "(b) own presence": lambda: _own_phase(prosody, clients, seen, expected, lead, length),
    }
    # The first boundary in a fresh Prosody pays one-off costs (measured: +10-15 % for the
    # phase that runs first), so an unmeasured (a) pass warms it up; --server-first swaps
    # the measured order to show what is left of the order effect.
    order = ["(a) server alone", "samtek"] if server_first else ["samtek", "(a) server alone"]
    try:
        if warmup:
            print("warm-up boundary (server alone, not counted):")
            await phases["(a) server alone"]()
        for label in [*order, "(b) own presence"]:
            results[label] = await phases[label]()
    finally:
        await observer.close()
        await asyncio.gather(*(c.close() for c in clients))
        await prosody.stop()
        prosody.cleanup()
    base_a, base_b = results["(a) server alone"], results["(b) own presence"]
    for label in ("start", "end"):
        p99 = results["samtek"][label][1]
        print(
            f"samtek {label} p99 / (a) {p99 / base_a[label][1]:.2f}, "
            f"/ (b) {p99 / base_b[label][1]:.2f}"
        )


async def _samtek_phase(
    prosody: ProsodyServer,
    names: list[str],
    seen: list[Seen],
    expected: int,
    lead: float,
    length: float,
    workdir: Path,
) -> Figures:
    feeds = workdir / "feeds"
    feeds.mkdir(parents=True, exist_ok=True)
    start = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    end = start + timedelta(seconds=length)
    for name in names:
        write_ics(feeds / f"{name}.ics", ics_meeting(f"{name}-m", start, end))
    (workdir / "state.db").unlink(missing_ok=True)
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
    figures: Figures = {}
    try:
        # SAMTEK's idle CPU rate, measured before the boundary once it has settled.
        window = 2.0
        await _sleep_until(start.timestamp() - 2 * window - 1)
        idle0 = cpu_seconds(samtek.pid)
        await asyncio.sleep(window)
        idle = (cpu_seconds(samtek.pid) - idle0) / window
        for label, boundary, want in (("start", start, "dnd"), ("end", end, "")):
            # At the boundary: [-0.5 s, +1 s); SAMTEK's checks of what the server did come
            # 1-6 s after it, spread out: measured apart, [+1 s, +7 s).
            await _sleep_until(boundary.timestamp() - 0.5)
            mark, cpu0 = len(seen), cpu_seconds(samtek.pid)
            server0 = cpu_seconds(_pid(prosody))
            collecting = asyncio.create_task(
                _collect("samtek", label, seen, mark, expected, boundary, want)
            )
            await _sleep_until(boundary.timestamp() + 1)
            cpu1 = cpu_seconds(samtek.pid)
            _print_server_cpu("samtek", label, server0, cpu_seconds(_pid(prosody)), len(names))
            await _sleep_until(boundary.timestamp() + 7)
            cpu2 = cpu_seconds(samtek.pid)
            figures[label] = await collecting
            at = max(cpu1 - cpu0 - idle * 1.5, 0)
            after = max(cpu2 - cpu1 - idle * 6, 0)
            print(
                f"  SAMTEK CPU above idle ({idle * 1000:.0f} ms/s) at the {label} boundary "
                f"[-0.5 s, +1 s): {at * 1000:.0f} ms, {at / len(names) * 1e6:.0f} µs per "
                f"transition; checks after it [+1 s, +7 s): {after * 1000:.0f} ms, "
                f"{after / len(names) * 1e6:.0f} µs per transition"
            )
    finally:
        samtek.terminate()
        await samtek.wait()
    return figures


async def _server_phase(
    prosody: ProsodyServer,
    names: list[str],
    seen: list[Seen],
    expected: int,
    lead: float,
    length: float,
) -> Figures:
    """SAMTEK stopped: the bench schedules the same overlays ahead, then disconnects."""
    start = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    end = start + timedelta(seconds=length)
    component = Component(prosody)
    await component.connect()
    stamp = {
        "from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "until": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for first in range(0, len(names), 250):
        batch = ET.Element(f"{{{NS}}}batch")
        for name in names[first : first + 250]:
            schedule = ET.SubElement(batch, f"{{{NS}}}schedule", jid=prosody.jid(name))
            entry = ET.SubElement(
                schedule, f"{{{NS}}}entry", stamp, show="dnd", transition=f"{name}-a"
            )
            ET.SubElement(entry, f"{{{NS}}}status").text = f"I møte til {end:%H:%M}"
        await component.iq("set", batch)
    await component.close()  # nothing from a component at the boundary
    figures: Figures = {}
    for label, boundary, want in (("start", start, "dnd"), ("end", end, "")):
        await _sleep_until(boundary.timestamp() - 0.5)
        server0 = cpu_seconds(_pid(prosody))
        collecting = asyncio.create_task(
            _collect("(a) server alone", label, seen, len(seen), expected, boundary, want)
        )
        await _sleep_until(boundary.timestamp() + SERVER_CPU_AFTER)
        _print_server_cpu(
            "(a) server alone", label, server0, cpu_seconds(_pid(prosody)), len(names)
        )
        figures[label] = await collecting
    return figures


async def _own_phase(
    prosody: ProsodyServer,
    clients: list[RawClient],
    seen: list[Seen],
    expected: int,
    lead: float,
    length: float,
) -> Figures:
    """Every client changes its own presence at the boundary (no overlay involved)."""
    start = (datetime.now(UTC) + timedelta(seconds=min(lead, 5))).replace(microsecond=0)
    end = start + timedelta(seconds=length)
    figures: Figures = {}
    for label, boundary, want, stanza in (
        (
            "start",
            start,
            "dnd",
            b"<presence><show>dnd</show><status>I m\xc3\xb8te</status></presence>",
        ),
        ("end", end, "", b"<presence><status>Ledig</status></presence>"),
    ):
        await _sleep_until(boundary.timestamp() - 0.5)
        server0 = cpu_seconds(_pid(prosody))
        await _sleep_until(boundary.timestamp())
        mark = len(seen)
        for c in clients:
            c.send(stanza)
        collecting = asyncio.create_task(
            _collect("(b) own presence", label, seen, mark, expected, boundary, want)
        )
        await _sleep_until(boundary.timestamp() + SERVER_CPU_AFTER)
        _print_server_cpu(
            "(b) own presence", label, server0, cpu_seconds(_pid(prosody)), len(clients)
        )
        figures[label] = await collecting
    return figures


async def _sleep_until(instant: float) -> None:
    await asyncio.sleep(max(0.0, instant - time.time()))


async def _collect(
    phase: str,
    label: str,
    seen: list[Seen],
    mark: int,
    expected: int,
    boundary: datetime,
    show: str,
    timeout: float = 30.0,
) -> tuple[float, float]:
    """Delays of the first presence with `show` per (receiver, sender) after `boundary`."""
    delays: dict[tuple[str, str], float] = {}
    deadline = time.monotonic() + timeout
    index = mark
    while len(delays) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        for at, receiver, sender, got in seen[index:]:
            if got == show and receiver != sender and at >= boundary.timestamp() - 0.1:
                delays.setdefault((receiver, sender), at - boundary.timestamp())
        index = len(seen)
    values = list(delays.values()) or [float("nan")]
    p50, p99 = statistics.median(values), percentile(values, 99)
    print(
        f"{phase} {label}: {len(delays)}/{expected} presences at the contacts: "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
    )
    return p50, p99


def _write_config(
    workdir: Path,
    prosody: ProsodyServer | EjabberdServer,
    names: list[str],
    feeds: Path,
    log_level: str = "warning",
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
        f'[service]\nlog_level = "{log_level}"\n[xmpp]\ndomain = "{prosody.domain}"\n'
        f'component_jid = "{prosody.component_jid}"\ncomponent_secret = "file:{secret}"\n'
        f'port = {prosody.component_port}\n[store]\nurl = "sqlite:///{workdir}/state.db"\n'
        "[http]\nport = 0\n"
        f"[presence]\nschedule_ahead_hours = {AHEAD_HOURS}\n"
        f'[[municipalities]]\nid = "m"\nname = "M"\ncalendar = "feeds"\n'
        f'[connectors.feeds]\ntype = "ical"\n{people}'
    )
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument(
        "--fanout", type=int, default=0, help="online colleagues with each person on their roster"
    )
    parser.add_argument(
        "--ahead", type=float, default=4.0, help="SAMTEK's schedule_ahead_hours (0: sent late)"
    )
    parser.add_argument("--lead", type=float, default=25.0, help="seconds until the meetings start")
    parser.add_argument("--length", type=float, default=15.0, help="meeting length in seconds")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/samtek-bench-presence"))
    parser.add_argument(
        "--blocklist-cache-size",
        type=int,
        default=10000,
        help="Prosody's blocklist_cache_size, as deploy/prosody/prosody.cfg.lua sets it "
        "(0: Prosody's default, 64)",
    )
    parser.add_argument(
        "--server-first", action="store_true", help="run phase (a) before the SAMTEK phase"
    )
    parser.add_argument(
        "--no-warmup", action="store_true", help="measure from the first boundary on"
    )
    args = parser.parse_args()
    AHEAD_HOURS = args.ahead
    asyncio.run(
        main(
            args.people,
            args.fanout,
            args.lead,
            args.length,
            args.workdir,
            args.blocklist_cache_size,
            args.server_first,
            not args.no_warmup,
        )
    )
