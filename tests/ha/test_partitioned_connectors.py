"""Two `samtek run` instances on PostgreSQL split the mailboxes by the presence leases: each
EWS and Graph mailbox is read by exactly one live instance, and a killed instance's mailboxes
are taken over by the survivor.

Each instance talks to its own EWS and Graph fake (both fakes share one scripted mailbox
state), so the fakes' request logs say which instance read which mailbox.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from samtek.devserver.prosody import ProsodyServer
from samtek.runtime.leases import partition_of
from tests.fakes.ews.server import FakeEws, PullSubscription
from tests.fakes.ews.server import LoggedRequest as EwsRequest
from tests.fakes.graph.server import FakeGraph
from tests.fakes.graph.server import LoggedRequest as GraphRequest
from tests.fakes.mailboxes import Mailboxes
from tests.ha.cluster import SamtekProcess, cluster_prosody, lease_holders, partitions_of

PEOPLE = 12
DOMAIN = "kommune.test"
Log = list[EwsRequest] | list[GraphRequest]


def write_config(
    directory: Path,
    prosody: ProsodyServer,
    component_jid: str,
    store_url: str,
    instance: str,
    ews: FakeEws,
    graph: FakeGraph,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in (
        ("component", prosody.component_secret),
        ("ews", ews.password),
        ("graph", graph.client_secret),
    ):
        (directory / f"{name}.secret").write_text(value)
    people = "".join(
        f'\n[[people]]\nid = "p{i}"\njid = "p{i}@{prosody.domain}"\nname = "P{i}"\n'
        f'municipality = "{"onprem" if i % 2 else "cloud"}"\n'
        f'calendars = [{{ address = "p{i}@{DOMAIN}" }}]\n'
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
{people}
"""
    )
    return path


def per_mailbox(log: Log, since: int = 0) -> Counter[str]:
    """Requests per mailbox in `log[since:]` (the token endpoint names none)."""
    return Counter(mailbox for request in log[since:] for mailbox in request.mailboxes)


async def eventually(predicate: Callable[[], bool], limit: float = 60.0) -> None:
    """Wait until `predicate()` holds (an upper bound against a hang, not a latency check)."""
    async with asyncio.timeout(limit):
        while not predicate():
            await asyncio.sleep(0.1)


async def test_each_mailbox_is_read_by_one_instance_and_taken_over(
    postgres_url: str, tmp_path: Path
) -> None:
    mailboxes = [f"p{i}@{DOMAIN}" for i in range(PEOPLE)]
    state = Mailboxes()  # one Exchange organisation, seen through one fake per instance
    subscriptions: dict[str, PullSubscription] = {}  # a taken-over subscription stays valid
    ews = {name: FakeEws(state=state, subscriptions=subscriptions) for name in "ab"}
    graph = {name: FakeGraph(state=state) for name in "ab"}
    prosody, (first_jid, second_jid) = cluster_prosody(2)
    await prosody.start()
    for name in "ab":
        await ews[name].start()
        (tmp_path / f"graph-{name}").mkdir()
        await graph[name].start(tmp_path / f"graph-{name}")
    processes = {
        name: SamtekProcess(
            write_config(tmp_path / name, prosody, jid, postgres_url, name, ews[name], graph[name])
        )
        for name, jid in (("a", first_jid), ("b", second_jid))
    }

    def requests(name: str) -> Counter[str]:
        return per_mailbox(ews[name].log) + per_mailbox(graph[name].log)

    try:
        for process in processes.values():
            await process.start()
        await eventually(lambda: len(requests("a")) + len(requests("b")) > 0)
        async with asyncio.timeout(60):
            while True:
                holders = await lease_holders(postgres_url)
                if len(partitions_of(holders, "a")) == 16 == len(partitions_of(holders, "b")):
                    break
                await asyncio.sleep(0.2)

        def owner(mailbox: str) -> str:
            partition = f"partition:{partition_of(mailbox.split('@')[0], 32):04d}"
            return holders[partition]

        # Two poll rounds after the split, so no round begun before it is still running.
        for _ in range(2):
            marks = {n: (len(ews[n].log), len(graph[n].log)) for n in "ab"}

            def since_mark(n: str, marks: dict[str, tuple[int, int]] = marks) -> Counter[str]:
                return per_mailbox(ews[n].log, marks[n][0]) + per_mailbox(graph[n].log, marks[n][1])

            await eventually(
                lambda: all(since_mark("a")[m] + since_mark("b")[m] for m in mailboxes)
            )
        marks = {n: (len(ews[n].log), len(graph[n].log)) for n in "ab"}

        def measured(n: str) -> Counter[str]:
            return per_mailbox(ews[n].log, marks[n][0]) + per_mailbox(graph[n].log, marks[n][1])

        await eventually(lambda: all(measured("a")[m] + measured("b")[m] >= 3 for m in mailboxes))
        counts = {n: measured(n) for n in "ab"}
        print("requests per mailbox while both run:", {n: dict(c) for n, c in counts.items()})
        for mailbox in mailboxes:
            readers = {n for n in "ab" if counts[n][mailbox]}
            assert readers == {owner(mailbox)}, (mailbox, readers, owner(mailbox))
        assert {owner(m) for m in mailboxes} == {"a", "b"}, "both instances must read some"

        # a dies: b takes over its mailboxes once the leases expire.
        victims = [m for m in mailboxes if owner(m) == "a"]
        marks = {n: (len(ews[n].log), len(graph[n].log)) for n in "ab"}
        processes["a"].kill()
        killed = time.monotonic()
        first_seen: dict[str, float] = {}

        def taken_over() -> bool:
            seen = measured("b")
            for mailbox in victims:
                if seen[mailbox] and mailbox not in first_seen:
                    first_seen[mailbox] = time.monotonic() - killed
            return len(first_seen) == len(victims)

        await eventually(taken_over)
        print(
            "takeover after kill (s), lease_seconds=4:",
            {m: round(t, 2) for m, t in sorted(first_seen.items())},
        )
        holders = await lease_holders(postgres_url)
        assert len(partitions_of(holders, "b")) == 32
    finally:
        for process in processes.values():
            await process.stop()
        for name in "ab":
            await ews[name].stop()
            await graph[name].stop()
        await prosody.stop()
        prosody.cleanup()
