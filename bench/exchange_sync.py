"""Full sync and free/busy of N mailboxes against the EWS and Graph loopback fakes.

    python bench/exchange_sync.py [--mailboxes 10000] [--events 3] [--only ews|graph]

Each fake runs in its own process (so the server does not share the connector's event
loop); the connector runs here until every mailbox has published its CalendarUpdate and
OutOfOfficeUpdate. Prints wall time and the fake's request counts per operation.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from connectors.ews import EwsConfig, EwsConnector
from connectors.graph import GraphConfig, GraphConnector
from samtek.bus import Bus
from samtek.events import CalendarUpdate, OutOfOfficeUpdate
from samtek.health import HealthReporter
from samtek.model import TimeWindow
from samtek.plugin import ConnectorContext
from samtek.store import open_store
from tests.exchange.conftest import StaticDirectory, person
from tests.fakes.mailboxes import Mailboxes


def populate(state: Mailboxes, n: int, events: int) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for i in range(n):
        box = f"user{i:05d}@kommune.no"
        for j in range(events):
            start = now + timedelta(hours=3 * j + i % 5)
            state.add_event(box, f"Møte {j}", start, start + timedelta(minutes=45))


def serve(kind: str, n: int, events: int, pipe: Connection) -> None:
    async def main() -> None:
        fake: Any
        if kind == "ews":
            from tests.fakes.ews.server import FakeEws

            fake = FakeEws()
            populate(fake.state, n, events)
            pipe.send({"url": await fake.start()})
        else:
            from tests.fakes.graph.server import FakeGraph

            fake = FakeGraph()
            populate(fake.state, n, events)
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
        while (command := await loop.run_in_executor(None, pipe.recv)) != "stop":
            if isinstance(command, tuple):  # ("count", operation): progress without clearing
                pipe.send(sum(1 for r in fake.log if r.operation == command[1]))
            elif command == "stats":
                pipe.send(
                    Counter(
                        r.operation + (" (in $batch)" if getattr(r, "in_batch", False) else "")
                        for r in fake.log
                    )
                )
                fake.log.clear()
        await fake.stop()

    asyncio.run(main())


def make_connector(
    kind: str, info: dict[str, Any], ctx: ConnectorContext
) -> EwsConnector | GraphConnector:
    if kind == "ews":
        return EwsConnector(
            EwsConfig.model_validate(
                {
                    "url": info["url"],
                    "username": "svc-samtek",
                    "password": SecretStr("secret"),
                    "auth_type": "basic",
                    "poll_interval_seconds": 0.01,
                }
            ),
            ctx,
        )
    return GraphConnector(
        GraphConfig.model_validate(
            {
                "tenant_id": info["tenant"],
                "client_id": info["client_id"],
                "client_secret": SecretStr(info["client_secret"]),
                "authority_host": info["base"],
                "graph_url": f"{info['base']}/v1.0",
                "ca_file": info["ca_file"],
                "poll_interval_seconds": 0.01,
            }
        ),
        ctx,
    )


async def bench(kind: str, n: int, events: int) -> None:
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(kind, n, events, child), daemon=True)
    server.start()
    try:
        info = parent.recv()
        with tempfile.TemporaryDirectory() as tmp:
            async with open_store(f"sqlite:///{tmp}/bench.db") as store:
                people = [person(f"user{i:05d}", kind) for i in range(n)]
                ctx = ConnectorContext(
                    kind,
                    StaticDirectory(people),
                    bus=Bus(),
                    health=HealthReporter(kind),
                    store=store,
                )
                conn = make_connector(kind, info, ctx)
                updates = ctx.bus.subscribe(CalendarUpdate, maxsize=n + 10)
                oofs = ctx.bus.subscribe(OutOfOfficeUpdate, maxsize=n + 10)
                started = time.perf_counter()
                task = asyncio.create_task(conn.run())
                seen: set[str] = set()
                total_events = 0
                while len(seen) < n:
                    update = await updates.__anext__()
                    seen.add(update.person_id)
                    total_events += len(update.events)
                for _ in range(n):
                    await oofs.__anext__()
                sync_time = time.perf_counter() - started
                parent.send("stats")
                sync_counts = parent.recv()
                # The first change-detection cycle (GetEvents / delta per mailbox) starts now.
                started = time.perf_counter()
                poll_op = "GetEvents" if kind == "ews" else "delta"
                while True:
                    parent.send(("count", poll_op))
                    if parent.recv() >= n:
                        break
                    await asyncio.sleep(0.2)
                poll_time = time.perf_counter() - started
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                parent.send("stats")
                parent.recv()

                conn = make_connector(kind, info, ctx)
                window = TimeWindow.around(datetime.now(UTC), timedelta(0), timedelta(days=1))
                started = time.perf_counter()
                blocks = await conn.free_busy(people, window)
                fb_time = time.perf_counter() - started
                if isinstance(conn, GraphConnector):
                    await conn.close()
                else:
                    conn.client.close()
                parent.send("stats")
                # (a poll request still in flight when the sync task was cancelled is not ours)
                fb_counts = Counter({k: v for k, v in parent.recv().items() if k != poll_op})
        print(
            f"{kind}: full sync of {n} mailboxes ({total_events} events): {sync_time:.1f} s, "
            f"{http_requests(sync_counts)} HTTP requests {dict(sync_counts)}, "
            f"health={ctx.health.state.value}"
        )
        print(
            f"{kind}: one change-detection cycle ({poll_op}) over {n} mailboxes: {poll_time:.1f} s"
        )
        print(
            f"{kind}: free/busy of {len(blocks)} mailboxes: {fb_time:.1f} s, "
            f"{http_requests(fb_counts)} HTTP requests {dict(fb_counts)}"
        )
    finally:
        parent.send("stop")
        server.join(10)


def http_requests(counts: Counter[str]) -> int:
    return sum(v for k, v in counts.items() if not k.endswith("(in $batch)"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--only", choices=("ews", "graph"))
    args = parser.parse_args()
    for kind in ("ews", "graph"):
        if args.only in (None, kind):
            asyncio.run(bench(kind, args.mailboxes, args.events))


if __name__ == "__main__":
    main()
