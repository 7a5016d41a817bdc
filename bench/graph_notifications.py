"""Change notifications at scale: N mailboxes subscribed at the Graph fake, which POSTs
notifications to the connector's endpoint on a real public listener.

    python bench/graph_notifications.py [--mailboxes 10000] [--changes 500] [--rate 50]

The fake runs in its own process. Prints: time to read and subscribe every mailbox; for
`--changes` calendar changes (one mailbox each, `--rate` per second) the latency from the
change in the fake to the complete CalendarUpdate on SAMTEK's bus (p50/p99; time.monotonic is
system-wide, so both processes share it); and the requests per hour of the steady state
(renewals, safety-net delta, automatic replies, Teams presence) from the measured per-mailbox
cost and the configuration, against Graph's published limits; and the Teams round trips:
a Teams activity -> claim on the bus, a PBX call -> SAMTEK's app session in Teams.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from connectors.graph import GraphConfig, GraphConnector
from samtek.bus import Bus
from samtek.events import CalendarUpdate, PresenceClaimsUpdate
from samtek.health import HealthReporter
from samtek.plugin import ConnectorContext
from samtek.store import open_store
from samtek.telephony import DeviceState, DeviceStateUpdate
from samtek.web import HttpSection, WebServer
from tests.exchange.conftest import StaticDirectory, person

NAME = "bench"
STATE = "bench-client-state-0123456789abcdef"


def serve(n: int, pipe: Connection) -> None:
    async def main() -> None:
        from tests.fakes.graph.server import FakeGraph

        fake = FakeGraph()
        for i in range(n):
            fake.state.box(f"user{i:05d}@kommune.no")
        await fake.start(Path(tempfile.mkdtemp()))
        pipe.send(
            {
                "base": fake.base,
                "ca_file": str(fake.ca_file),
                "tenant": fake.tenant,
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
            }
        )
        loop = asyncio.get_running_loop()
        start = datetime.now(UTC) + timedelta(hours=1)
        while (command := await loop.run_in_executor(None, pipe.recv)) != "stop":
            if command[0] == "add":  # ("add", mailbox, subject): the change, timestamped
                fake.state.add_event(command[1], command[2], start, start + timedelta(hours=1))
                pipe.send(time.monotonic())
            elif command[0] == "teams":  # ("teams", mailbox, availability, activity)
                fake.presence.set_client(command[1], command[2], command[3])
                pipe.send(time.monotonic())
            elif command[0] == "session":  # ("session", mailbox): SAMTEK's app session?
                session = fake.presence.app_session(command[1])
                pipe.send(None if session is None else session.activity)
            elif command[0] == "subscribed":
                pipe.send(len(fake.notifier.subscriptions))
            elif command[0] == "stats":
                pipe.send(Counter(r.operation for r in fake.log))
                fake.log.clear()
        await fake.stop()

    asyncio.run(main())


async def teams_round_trips(
    pipe: Connection, bus: Bus, n: int, samples: int
) -> tuple[list[float], list[float]]:
    claims = bus.subscribe(PresenceClaimsUpdate, maxsize=n + 10)
    inbound: list[float] = []
    for k in range(samples):
        name = f"user{(k * 104729) % n:05d}"
        pipe.send(("teams", f"{name}@kommune.no", "DoNotDisturb", "Presenting"))
        at = pipe.recv()
        while not ((u := await claims.__anext__()).person_id == name and u.claims):
            pass
        inbound.append(time.monotonic() - at)
    outbound: list[float] = []
    for k in range(samples):
        i = (k * 7) % n
        at = time.monotonic()
        await bus.publish(
            DeviceStateUpdate("pbx", str(10000 + i), DeviceState.IN_USE, datetime.now(UTC))
        )
        while True:
            pipe.send(("session", f"user{i:05d}@kommune.no"))
            if pipe.recv() == "InACall":
                break
            await asyncio.sleep(0.005)
        outbound.append(time.monotonic() - at)
    return inbound, outbound


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def bench(n: int, changes: int, rate: float, presence_poll: float, samples: int) -> None:
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(n, child), daemon=True)
    server.start()
    try:
        info = parent.recv()
        port = free_port()
        web = WebServer(HttpSection(port=port, admin_port=0), HealthReporter("http"))
        cfg = GraphConfig.model_validate(
            {
                "tenant_id": info["tenant"],
                "client_id": info["client_id"],
                "client_secret": SecretStr(info["client_secret"]),
                "authority_host": info["base"],
                "graph_url": f"{info['base']}/v1.0",
                "ca_file": info["ca_file"],
                "notification_url": f"http://127.0.0.1:{port}/graph/{NAME}/notifications",
                "client_state": SecretStr(STATE),
                "poll_interval_seconds": 60,
                "teams_presence": True,
                "presence_poll_seconds": presence_poll,
                "teams_write": True,
                "teams_write_people": ["*"],
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            async with open_store(f"sqlite:///{tmp}/bench.db") as store:
                people = [
                    replace(person(f"user{i:05d}", NAME), phones=(str(10000 + i),))
                    for i in range(n)
                ]
                ctx = ConnectorContext(
                    NAME, StaticDirectory(people), Bus(), HealthReporter(NAME), store, web=web
                )
                conn = GraphConnector(cfg, ctx)
                updates = ctx.bus.subscribe(CalendarUpdate, maxsize=n + changes + 10)
                http = asyncio.create_task(web.run())
                await web.wait_started()
                started = time.perf_counter()
                task = asyncio.create_task(conn.run())
                seen: set[str] = set()
                while len(seen) < n:
                    seen.add((await updates.__anext__()).person_id)
                while True:
                    parent.send(("subscribed",))
                    if parent.recv() >= n:
                        break
                    await asyncio.sleep(0.2)
                setup_time = time.perf_counter() - started
                parent.send(("stats",))
                setup_counts = parent.recv()

                latencies: list[float] = []
                sent: dict[str, float] = {}

                async def receive() -> None:
                    while len(latencies) < changes:
                        update = await updates.__anext__()
                        arrived = time.monotonic()
                        for event in update.events:
                            at = sent.pop(event.subject or "", None)
                            if at is not None:
                                latencies.append(arrived - at)

                receiver = asyncio.create_task(receive())
                load_started = time.perf_counter()
                for k in range(changes):
                    subject = f"c{k}"
                    box = f"user{(k * 7919) % n:05d}@kommune.no"
                    parent.send(("add", box, subject))
                    sent[subject] = parent.recv()
                    await asyncio.sleep(1 / rate)
                await asyncio.wait_for(receiver, 120)
                load_time = time.perf_counter() - load_started
                parent.send(("stats",))
                load_counts = parent.recv()
                teams_in, teams_out = await teams_round_trips(parent, ctx.bus, n, samples)
                task.cancel()
                http.cancel()
                await asyncio.gather(task, http, return_exceptions=True)
                endpoint = conn.endpoint
                assert endpoint is not None

        print(
            f"setup: {n} mailboxes read and subscribed in {setup_time:.1f} s; "
            f"requests {dict(setup_counts)}; validations answered {endpoint.validations}"
        )
        print(
            f"change -> CalendarUpdate via notification ({changes} changes, {rate:g}/s): "
            f"p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms; "
            f"{load_time:.1f} s; requests {dict(load_counts)} "
            f"(delta per change {load_counts['delta'] / changes:.2f})"
        )
        print(
            f"Teams -> claim on SAMTEK's bus (poll every {presence_poll:g} s, {samples} samples):"
            f" p50 {percentile(teams_in, 50):.2f} s, max {max(teams_in):.2f} s"
        )
        print(
            f"PBX call (DeviceStateUpdate) -> app session in Teams: p50"
            f" {percentile(teams_out, 50) * 1000:.0f} ms, max {max(teams_out) * 1000:.0f} ms"
        )
        steady(n, cfg, load_counts["delta"] / changes)
    finally:
        parent.send("stop")
        server.join(10)


def steady(n: int, cfg: GraphConfig, delta_per_round: float) -> None:
    """Requests per hour in the steady state, against Graph's published limits."""
    renew_every_h = (cfg.subscription_minutes - cfg.renew_before_minutes) / 60
    rows = {
        "subscription renewals": n / renew_every_h,
        "safety-net delta rounds": n * delta_per_round * 60 / cfg.safety_poll_minutes,
        "automatic replies (mailboxSettings)": n * 60 / cfg.oof_poll_minutes,
        f"Teams presence (getPresencesByUserId, {cfg.presence_poll_seconds:g} s)": -(-n // 650)
        * 3600
        / cfg.presence_poll_seconds,
    }
    polling = n * delta_per_round * 3600 / cfg.poll_interval_seconds
    print(f"steady state, {n} mailboxes, requests per hour:")
    for what, per_hour in rows.items():
        print(f"  {what}: {per_hour:,.0f}")
    calendar = rows["subscription renewals"] + rows["safety-net delta rounds"]
    print(
        f"  + one delta round per calendar change; calendar total without changes {calendar:,.0f}"
    )
    print(f"  delta polling every {cfg.poll_interval_seconds:g} s instead: {polling:,.0f}")
    print(
        "  Graph limits: Outlook 10,000 requests / 10 min per app and mailbox (we use"
        f" {(calendar + rows['automatic replies (mailboxSettings)']) / n / 6:.2f} per mailbox"
        " per 10 min); presence 1,500 requests / 30 s per app and tenant (we use"
        f" {-(-n // 650) * 30 / cfg.presence_poll_seconds:.0f} per 30 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--presence-poll", type=float, default=2.0)
    parser.add_argument("--teams-samples", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(
        bench(args.mailboxes, args.changes, args.rate, args.presence_poll, args.teams_samples)
    )


if __name__ == "__main__":
    main()
