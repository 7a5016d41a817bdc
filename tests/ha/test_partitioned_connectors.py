"""Two `samtek run` instances on PostgreSQL split the calendar work by the presence leases:
each EWS and Graph mailbox, iCal feed and CalDAV collection is read by exactly one live
instance, and a killed instance's work is taken over by the survivor.

Each instance talks to its own EWS fake, Graph fake, feed server path and CalDAV proxy in
front of one Radicale (the fakes share one scripted mailbox state), so the request logs say
which instance read which calendar.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

import aiohttp
from aiohttp import web

from samtek.clock import Clock
from samtek.devserver.prosody import ProsodyServer
from samtek.runtime.leases import partition_of
from tests.fakes.ews.server import FakeEws, PullSubscription
from tests.fakes.graph.server import FakeGraph
from tests.fakes.mailboxes import Mailboxes
from tests.ha.cluster import SamtekProcess, cluster_prosody, lease_holders, partitions_of
from tests.servers.dav_proxy import DavProxy
from tests.servers.radicale import RadicaleServer, free_port

PEOPLE = 12
DOMAIN = "kommune.test"
KINDS = ("mailbox", "feed", "collection")
HOUR = timedelta(hours=1)
EMPTY_ICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//samtek tests//EN\r\nEND:VCALENDAR\r\n"
Reads = Counter[tuple[str, str]]  # (kind, person id) -> requests
ADMIN_TOKEN = "ha-admin-token-for-tests"


class FeedServer:
    """Serves an empty ICS at /<instance>/<person>.ics and counts the GETs."""

    def __init__(self) -> None:
        self.reads: Counter[tuple[str, str]] = Counter()  # (instance, person)
        self.url = ""

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[FeedServer]:
        async def feed(request: web.Request) -> web.Response:
            self.reads[(request.match_info["instance"], request.match_info["person"])] += 1
            return web.Response(text=EMPTY_ICS, content_type="text/calendar")

        app = web.Application()
        app.router.add_get("/{instance}/{person}.ics", feed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield self
        finally:
            await runner.cleanup()


def write_config(
    directory: Path,
    prosody: ProsodyServer,
    component_jid: str,
    store_url: str,
    instance: str,
    servers: tuple[FakeEws, FakeGraph, FeedServer, DavProxy],
    admin_port: int,
) -> Path:
    ews, graph, feeds, dav = servers
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in (
        ("component", prosody.component_secret),
        ("ews", ews.password),
        ("graph", graph.client_secret),
        ("dav", "service-secret-1"),
        ("admin", ADMIN_TOKEN),
    ):
        (directory / f"{name}.secret").write_text(value)
    people = "".join(
        f"""
[[people]]
id = "p{i}"
jid = "p{i}@{prosody.domain}"
name = "P{i}"
municipality = "{"onprem" if i % 2 else "cloud"}"
calendars = [
  {{ address = "p{i}@{DOMAIN}" }},
  {{ source = "feeds", address = "{feeds.url}/{instance}/p{i}.ics" }},
  {{ source = "dav", address = "{dav.url}/p{i}/calendar/" }},
]
"""
        for i in range(PEOPLE)
    )
    path = directory / "samtek.toml"
    path.write_text(
        f"""
[xmpp]
domain = "{prosody.domain}"
component_jid = "{component_jid}"
component_secret = "file:{directory / "component.secret"}"
port = {prosody.component_port}

[store]
url = "{store_url}"

[http]
port = 0
admin_port = {admin_port}

[admin]
tokens = [{{ name = "ops", token = "file:{directory / "admin.secret"}", role = "read" }}]

[cluster]
instance_id = "{instance}"
partitions = 32
lease_seconds = 4
renew_seconds = 1

[[municipalities]]
id = "onprem"
name = "Kongsberg kommune"
calendar = "exchange"

[[municipalities]]
id = "cloud"
name = "Notodden kommune"
calendar = "m365"

[connectors.exchange]
type = "ews"
url = "{ews.url}"
username = "{ews.username}"
password = "file:{directory / "ews.secret"}"
auth_type = "basic"
poll_interval_seconds = 0.5
max_retries = 1

[connectors.m365]
type = "graph"
tenant_id = "{graph.tenant}"
client_id = "{graph.client_id}"
client_secret = "file:{directory / "graph.secret"}"
authority_host = "{graph.base}"
graph_url = "{graph.base}/v1.0"
ca_file = "{graph.ca_file}"
poll_interval_seconds = 0.5
max_retries = 1

[connectors.feeds]
type = "ical"
refresh_interval = 1

[connectors.dav]
type = "caldav"
url = "{dav.url}/"
auth = {{ type = "basic", username = "samtek", password = "file:{directory / "dav.secret"}" }}
sync_interval = 0.5
sync_jitter = 0
{people}
"""
    )
    return path


async def eventually(predicate: Callable[[], bool], limit: float = 60.0) -> None:
    """Wait until `predicate()` holds (an upper bound against a hang, not a latency check)."""
    async with asyncio.timeout(limit):
        while not predicate():
            await asyncio.sleep(0.1)


async def calendar_claims(admin_port: int, person: str) -> int:
    """Calendar claims the instance behind `admin_port` knows for `person` (admin API)."""
    url = f"http://127.0.0.1:{admin_port}/admin/people/{person}/presence"
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        claims = (await response.json())["claims"]
    return sum(1 for claim in claims if claim["source"] == "calendar")


async def test_each_calendar_is_read_by_one_instance_and_taken_over(
    postgres_url: str, tmp_path: Path, clock: Clock
) -> None:
    names = [f"p{i}" for i in range(PEOPLE)]
    users = {name: f"{name}-secret-1" for name in names} | {"samtek": "service-secret-1"}
    state = Mailboxes()  # one Exchange organisation, seen through one fake per instance
    now = clock.now().replace(microsecond=0)
    for name in names:  # everyone is in a meeting: the status answers can be checked
        state.add_event(f"{name}@{DOMAIN}", "Budsjett", now - HOUR, now + HOUR)
    admin_ports = {n: free_port() for n in "ab"}
    subscriptions: dict[str, PullSubscription] = {}  # a taken-over subscription stays valid
    ews = {n: FakeEws(state=state, subscriptions=subscriptions) for n in "ab"}
    graph = {n: FakeGraph(state=state) for n in "ab"}
    prosody, (first_jid, second_jid) = cluster_prosody(2)
    async with contextlib.AsyncExitStack() as stack:
        await prosody.start()
        stack.callback(prosody.cleanup)
        stack.push_async_callback(prosody.stop)
        for n in "ab":
            await ews[n].start()
            stack.push_async_callback(ews[n].stop)
            (tmp_path / f"graph-{n}").mkdir()
            await graph[n].start(tmp_path / f"graph-{n}")
            stack.push_async_callback(graph[n].stop)
        feeds = await stack.enter_async_context(FeedServer().running())
        radicale = await stack.enter_async_context(RadicaleServer.running(users))
        for name in names:
            await radicale.make_calendar(name)
        dav = {n: await stack.enter_async_context(DavProxy.running(radicale.url)) for n in "ab"}
        processes = {
            n: SamtekProcess(
                write_config(
                    tmp_path / n,
                    prosody,
                    jid,
                    postgres_url,
                    n,
                    (ews[n], graph[n], feeds, dav[n]),
                    admin_ports[n],
                )
            )
            for n, jid in (("a", first_jid), ("b", second_jid))
        }
        for process in processes.values():
            stack.push_async_callback(process.stop)

        def reads(n: str) -> Reads:
            """Every request instance `n` made so far, by calendar kind and person."""
            counts: Reads = Counter()
            mailboxes = [r.mailboxes for r in ews[n].log] + [r.mailboxes for r in graph[n].log]
            for mailbox in (m for named in mailboxes for m in named):
                counts[("mailbox", mailbox.split("@")[0])] += 1
            for (instance, person), count in feeds.reads.items():
                if instance == n:
                    counts[("feed", person)] += count
            for (_method, path), count in dav[n].requests.items():
                if match := re.match(r"/(p\d+)/calendar/", path):
                    counts[("collection", match[1])] += count
            return counts

        def every_calendar_read(since: dict[str, Reads], times: int) -> bool:
            now = {n: reads(n) - since[n] for n in "ab"}
            return all(
                now["a"][(kind, name)] + now["b"][(kind, name)] >= times
                for kind in KINDS
                for name in names
            )

        for process in processes.values():
            await process.start()
        async with asyncio.timeout(60):
            while True:
                holders = await lease_holders(postgres_url)
                if len(partitions_of(holders, "a")) == 16 == len(partitions_of(holders, "b")):
                    break
                await asyncio.sleep(0.2)

        def owner(name: str) -> str:
            return holders[f"partition:{partition_of(name, 32):04d}"]

        # Twice every calendar read after the split: no round begun before it still runs.
        for _ in range(2):
            await eventually(partial(every_calendar_read, {n: reads(n) for n in "ab"}, 1))
        mark = {n: reads(n) for n in "ab"}
        await eventually(lambda: every_calendar_read(mark, 3))
        counts = {n: reads(n) - mark[n] for n in "ab"}
        for kind in KINDS:
            print(
                f"{kind} requests per person while both run:",
                {n: {p: counts[n][(kind, p)] for p in names if counts[n][(kind, p)]} for n in "ab"},
            )
        for kind in KINDS:
            for name in names:
                readers = {n for n in "ab" if counts[n][(kind, name)]}
                assert readers == {owner(name)}, (kind, name, readers, owner(name))
        assert {owner(name) for name in names} == {"a", "b"}, "both instances must read some"

        # Either instance answers "why is p busy" for everyone: a person served by the other
        # instance has the calendar its owner stored (the assistant may chat on either).
        async def everyone_explained() -> bool:
            for n in "ab":
                for name in names:
                    if not await calendar_claims(admin_ports[n], name):
                        return False
            return True

        async with asyncio.timeout(60):
            while not await everyone_explained():
                await asyncio.sleep(0.5)

        # a dies: b takes over its calendars once the leases expire.
        victims = [name for name in names if owner(name) == "a"]
        mark = {n: reads(n) for n in "ab"}
        processes["a"].kill()
        killed = time.monotonic()
        first_seen: dict[tuple[str, str], float] = {}

        def taken_over() -> bool:
            seen = reads("b") - mark["b"]
            for key in [(kind, name) for kind in KINDS for name in victims]:
                if seen[key] and key not in first_seen:
                    first_seen[key] = time.monotonic() - killed
            return len(first_seen) == len(KINDS) * len(victims)

        await eventually(taken_over)
        for kind in KINDS:
            delays = [t for (k, _), t in first_seen.items() if k == kind]
            print(f"{kind} takeover after SIGKILL (lease_seconds=4): max {max(delays):.2f} s")
        holders = await lease_holders(postgres_url)
        assert len(partitions_of(holders, "b")) == 32
