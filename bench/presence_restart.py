"""Benchmark: a restart of SAMTEK with N people online, until all overlays are verified.

N people are online (minimal c2s clients) on a real Prosody with the overlay module; one
observer has everybody on its roster. Each person has an ICS feed: 40 % in a meeting now and
one more later today, 30 % one meeting later today only, 10 % out of office now, 20 %
nothing. SAMTEK runs as its own process (`samtek run`):

1. first start: it reads the feeds, sets the overlays and schedules them ahead on the server
   and stores the calendars; the bench waits until the store holds every calendar and the
   observer sees every overlay, then stops SAMTEK (SIGTERM) and lists what the server holds;
2. restart (the figure): while SAMTEK is down, 1 % of the people lose their overlay and
   1 % their schedule on the server (drift its reconcile must repair); SAMTEK starts again
   and reconciles from its stored calendars. "All overlays verified" is its log line
   `reconcile done`: after connecting it listed the server's overlays and schedules,
   compared every person's plan with them, sent what differed and had the server's
   answers. The bench reads SAMTEK's log lines from its stderr as they come (no polling of
   the process) and prints the split: process start → `samtek running` (config, store,
   directory loaded) → `presence state loaded` (stored calendars) → `xmpp connected` →
   `overlays listed` → `reconcile done`; also SAMTEK's CPU and peak RSS at that moment, and
   the presence stanzas the observer received from the restart until 10 s after it (only
   the repaired overlays: a restart must not flap anyone's presence);
3. the same after SIGKILL.

    .venv/bin/python bench/presence_restart.py --people 2000
    .venv/bin/python bench/presence_restart.py            # 10,000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from presence_boundary import RawClient, Seen, _write_config, cpu_seconds

from samtek.devserver.prosody import ProsodyServer
from samtek.xmpp.overlay import LIST_PAGE
from tests.e2e.regions import ics_meeting, write_ics
from tests.overlay.helpers import NS, Component

MARKS = ("samtek running", "presence state loaded", "xmpp connected", "overlays listed")
DONE = "reconcile done"
SETTLE = 10.0  # seconds after `reconcile done` still counted for flaps


def write_feeds(feeds: Path, names: list[str], now: datetime) -> dict[str, int]:
    """The mix of calendars; returns how many people have each kind."""
    feeds.mkdir(parents=True, exist_ok=True)
    kinds = {"meeting now + later": 0, "later only": 0, "out of office": 0, "nothing": 0}
    base = now.replace(microsecond=0)
    for i, name in enumerate(names):
        slot = i % 10
        later = base + timedelta(minutes=60 + i % 120)  # within the 4 h schedule horizon
        events: list[str] = []
        if slot < 4:
            kinds["meeting now + later"] += 1
            ends = base + timedelta(minutes=20 + i % 30)  # not back to back with `later`
            events.append(ics_meeting(f"{name}-now", base - timedelta(minutes=10), ends))
            events.append(ics_meeting(f"{name}-later", later, later + timedelta(minutes=30)))
        elif slot < 7:
            kinds["later only"] += 1
            events.append(ics_meeting(f"{name}-later", later, later + timedelta(minutes=30)))
        elif slot < 8:
            kinds["out of office"] += 1
            oof = "X-MICROSOFT-CDO-BUSYSTATUS:OOF"
            events.append(
                ics_meeting(
                    f"{name}-oof", base - timedelta(hours=1), base + timedelta(hours=6), oof
                )
            )
        else:
            kinds["nothing"] += 1
        write_ics(feeds / f"{name}.ics", *events)
    return kinds


def stored_calendars(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM calendar_snapshots").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


class Samtek:
    """One `samtek run` process whose log lines are read from its stderr as they come."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.marks: dict[str, tuple[float, dict[str, object]]] = {}
        self.done = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self._reader: asyncio.Task[None] | None = None

    async def start(self, profile: Path | None = None) -> None:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        args = ["-m", "cProfile", "-o", str(profile)] if profile else []
        self.started = time.perf_counter()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            "-m",
            "samtek.cli",
            "run",
            "--config",
            str(self.config),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 20,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        with self.log.open("ab") as out:
            while line := await self.process.stderr.readline():
                at = time.perf_counter() - self.started
                out.write(line)
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                event = record.get("event") if isinstance(record, dict) else None
                if event in (*MARKS, DONE) and event not in self.marks:
                    self.marks[event] = (at, record)
                    if event == DONE:
                        self.done.set()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> float:
        """Send `sig`, wait for the exit; seconds it took."""
        assert self.process is not None
        t = time.perf_counter()
        self.process.send_signal(sig)
        await self.process.wait()
        if self._reader is not None:
            await self._reader
        return time.perf_counter() - t


async def server_holds(
    prosody: ProsodyServer, cleared: list[str], cancelled: list[str]
) -> tuple[int, int, int, int]:
    """Drift while SAMTEK is down (the overlays of `cleared` removed, the schedules of
    `cancelled` cancelled: its reconcile must send them again); then (overlays, people with
    schedules, scheduled entries, bytes of the whole list in one answer)."""
    component = Component(prosody)
    await component.connect()
    try:
        batch = ET.Element(f"{{{NS}}}batch")
        for jid in cleared:
            ET.SubElement(batch, f"{{{NS}}}clear", jid=jid)
        for jid in cancelled:
            ET.SubElement(batch, f"{{{NS}}}schedule", jid=jid)
        if len(batch):
            await component.iq("set", batch)
        t, pages, after = time.perf_counter(), 0, ""
        while after is not None:
            request = ET.Element(f"{{{NS}}}list", max=str(LIST_PAGE))
            if after:
                request.set("after", after)
            page = (await component.iq("get", request)).xml.find(f"{{{NS}}}list")
            pages, after = pages + 1, page.get("last") if page is not None else None
        print(f"  the bench reads the list in {pages} page(s) in {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        reply = await component.iq("get", ET.Element(f"{{{NS}}}list"))
        print(f"  the bench reads it in one answer in {time.perf_counter() - t:.2f} s")
    finally:
        await component.close()
    size = len(ET.tostring(reply.xml))
    overlays = len(reply.xml.findall(f".//{{{NS}}}overlay"))
    entries = reply.xml.findall(f".//{{{NS}}}scheduled")
    return overlays, len({e.get("jid") for e in entries}), len(entries), size


async def main(people: int, workdir: Path, profile: bool) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    for old in ("state.db", "state.db-wal", "state.db-shm", "samtek.log"):
        (workdir / old).unlink(missing_ok=True)
    names = [f"p{i:05d}" for i in range(people)]
    kinds = write_feeds(workdir / "feeds", names, datetime.now(UTC))
    print(f"{people} people: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    overlaid = kinds["meeting now + later"] + kinds["out of office"]

    prosody = ProsodyServer()
    for name in names:
        prosody.add_user(name, "pw")
        prosody.add_contact(name, prosody.jid("observer"), subscription="both")
    prosody.add_user("observer", "pw")
    for name in names:
        prosody.add_contact("observer", prosody.jid(name), subscription="both")
    t = time.perf_counter()
    await prosody.start()
    print(f"prosody with {people} users started in {time.perf_counter() - t:.1f} s")
    clients = [RawClient(prosody.jid(n), "pw", prosody.c2s_port) for n in names]
    observer = RawClient(prosody.jid("observer"), "pw", prosody.c2s_port)
    try:
        t = time.perf_counter()
        for i in range(0, len(clients), 100):
            await asyncio.gather(*(c.login() for c in clients[i : i + 100]))
        await observer.login()
        seen: list[Seen] = []
        await observer.observe(seen)
        print(f"{people} people online in {time.perf_counter() - t:.1f} s")
        config = _write_config(workdir, prosody, names, workdir / "feeds", log_level="info")

        # 1. First start: wait until everything is stored and shown, then SIGTERM.
        first = Samtek(config, workdir / "samtek.log")
        await first.start()
        t = time.perf_counter()
        deadline = t + 60 + people * 0.05
        while time.perf_counter() < deadline:
            await asyncio.sleep(1.0)
            shown = {s for _, _, s, show in seen if show}
            if stored_calendars(workdir / "state.db") >= people and len(shown) >= overlaid:
                break
        stored = stored_calendars(workdir / "state.db")
        print(
            f"first start: {stored}/{people} calendars stored, "
            f"{len({s for _, _, s, show in seen if show})}/{overlaid} overlays seen by the "
            f"observer after {time.perf_counter() - t:.1f} s"
        )
        await asyncio.sleep(3.0)  # the last schedules' answers
        stopping = await first.stop(signal.SIGTERM)
        print(f"SIGTERM: exited in {stopping:.2f} s")

        # People in a meeting now (slot 0): 1 % lose their overlay, 1 % their schedule.
        cleared = [prosody.jid(n) for i, n in enumerate(names) if i % 100 == 0]
        cancelled = [prosody.jid(n) for i, n in enumerate(names) if i % 100 == 50]
        for label, sig in (("after SIGTERM", signal.SIGKILL), ("after SIGKILL", signal.SIGTERM)):
            await asyncio.sleep(1.0)  # the observer has what SAMTEK's exit left
            held = await server_holds(prosody, cleared, cancelled)
            print(
                f"drift while down: {len(cleared)} overlays cleared, {len(cancelled)} "
                f"schedules cancelled; server holds {held[0]} overlays, schedules for "
                f"{held[1]} people ({held[2]} entries); all in one list answer would be "
                f"{held[3] / 1e6:.2f} MB (SAMTEK reads it in pages of {LIST_PAGE:,} items)"
            )
            await asyncio.sleep(1.0)  # the clears' presences have reached the observer
            samtek = Samtek(config, workdir / "samtek.log")
            mark = len(seen)
            prof = workdir / f"restart-{sig.name.lower()}.prof" if profile else None
            await samtek.start(prof)
            try:
                await asyncio.wait_for(samtek.done.wait(), 120 + people * 0.02)
            except TimeoutError:
                print(f"restart {label}: no `{DONE}` within the time allowed")
            cpu = cpu_seconds(samtek.pid)
            rss = peak_rss_mb(samtek.pid)
            await asyncio.sleep(SETTLE)
            flaps = seen[mark:]
            _report(label, samtek, cpu, rss, flaps, len(cleared))
            await samtek.stop(sig)
    finally:
        await observer.close()
        await asyncio.gather(*(c.close() for c in clients))
        await prosody.stop()
        prosody.cleanup()


def _report(
    label: str, samtek: Samtek, cpu: float, rss: float, flaps: list[Seen], repaired: int
) -> None:
    done = samtek.marks.get(DONE)
    print(f"restart {label} (load average {load_average()}):")
    if done is not None:
        fields = done[1]
        print(
            f"  ALL OVERLAYS VERIFIED {done[0]:.2f} s after process start "
            f"(people {fields.get('people')}, verified {fields.get('verified')}, "
            f"sent {fields.get('sent')}; reconcile itself {fields.get('seconds')} s)"
        )
    previous = 0.0
    for event in (*MARKS, DONE):
        if event not in samtek.marks:
            print(f"      -    {event}: not logged")
    for event, (at, fields) in sorted(samtek.marks.items(), key=lambda item: item[1][0]):
        extra = {k: v for k, v in fields.items() if k not in ("event", "timestamp", "level")}
        print(f"  {at:6.2f} s  (+{at - previous:5.2f})  {event}  {extra or ''}")
        previous = at
    print(
        f"  SAMTEK CPU {cpu:.2f} s until then, peak RSS {rss:.0f} MB; observer received "
        f"{len(flaps)} presence stanzas from the restart until {SETTLE:.0f} s after it "
        f"({repaired} expected: the cleared overlays shown again; any more is a flap)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--people", type=int, default=10000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/samtek-bench-restart"))
    parser.add_argument(
        "--profile", action="store_true", help="cProfile each restart into the workdir"
    )
    args = parser.parse_args()
    asyncio.run(main(args.people, args.workdir, args.profile))
