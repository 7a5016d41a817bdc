"""Benchmark: the LDAP connector against a real slapd with N people in G groups.

Prints the full sync time (paged search, mapping, publish, directory merge), the idle
incremental sync time, the delay from an ldapmodify until the directory shows the change,
and the admin-side cost of `members(group)`.

    /work/main/.venv/bin/python bench/ldap_sync.py --people 5000 --groups 50
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.ldap import LdapConnector
from connectors.ldap.config import LdapConfig
from samtek.bus import Bus
from samtek.config import MunicipalitySection
from samtek.directory import DirectoryService
from samtek.health import HealthReporter
from samtek.plugin import ConnectorContext
from samtek.store import open_store
from tests.directory.seed import GROUPS, PEOPLE, group_dn, person_dn
from tests.servers.ldap import ADMIN_DN, ADMIN_PASSWORD, SUFFIX, SlapdServer


def seed(people: int, groups: int) -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: region\no: R\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=kongsberg,{PEOPLE}\nobjectClass: organizationalUnit\nou: kongsberg\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
    ]
    for i in range(people):
        uid = f"p{i:05d}"
        entries.append(
            f"dn: {person_dn(uid, 'kongsberg')}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: Person {i}\nsn: {i}\nmail: {uid}@kongsberg.test\n"
            f"telephoneNumber: +47320{i:05d}\npreferredLanguage: nb\n"
        )
    for g in range(groups):
        members = "".join(
            f"member: {person_dn(f'p{i:05d}', 'kongsberg')}\n" for i in range(g, people, groups)
        )
        entries.append(f"dn: {group_dn(f'g{g}')}\nobjectClass: groupOfNames\ncn: g{g}\n{members}")
    return "\n".join(entries)


async def main(people: int, groups: int, tmp: Path) -> None:
    server = SlapdServer()
    try:
        await server.start()
        started = time.perf_counter()
        await server.add(seed(people, groups))
        print(f"seeded {people} people, {groups} groups in {time.perf_counter() - started:.1f} s")
        (tmp / "pw").write_text(ADMIN_PASSWORD)
        config = LdapConfig.model_validate({
            "type": "ldap", "servers": [server.url], "bind_dn": ADMIN_DN,
            "password": f"file:{tmp / 'pw'}", "people_base": PEOPLE, "group_base": GROUPS,
            "jid_template": "{uid}@region.test", "default_municipality": "kongsberg",
            "poll_interval": 0.5, "allow_plaintext_bind": True,  # loopback slapd
        })  # fmt: skip
        async with open_store(f"sqlite:///{tmp}/state.db") as store:
            bus = Bus()
            municipalities = [MunicipalitySection(id="kongsberg", name="Kongsberg")]
            directory = DirectoryService({}, municipalities, bus)
            await directory.restore(store)
            health = HealthReporter("connector:ldap")
            connector = LdapConnector(
                config, ConnectorContext("ldap", directory, bus, health, store)
            )
            started = time.perf_counter()
            tasks = [asyncio.create_task(directory.run()), asyncio.create_task(connector.run())]
            while len(directory.people()) < people:
                await asyncio.sleep(0.01)
            print(f"full sync until all {people} people are in the directory: "
                  f"{time.perf_counter() - started:.2f} s "
                  f"(connector part {connector.last_sync_seconds:.2f} s)")  # fmt: skip
            await asyncio.sleep(1.1)  # the next incremental runs in a later second
            seen = connector.syncs
            while connector.syncs < seen + 2:
                await asyncio.sleep(0.01)
            print(f"idle incremental sync: {connector.last_sync_seconds * 1000:.1f} ms "
                  f"(entries read {connector.last_read})")  # fmt: skip
            changed = time.perf_counter()
            await server.modify(
                f"dn: {person_dn('p00007', 'kongsberg')}\nchangetype: modify\n"
                "replace: preferredLanguage\npreferredLanguage: nn\n"
            )
            while (p := directory.person("p00007")) is None or p.language != "nn":
                await asyncio.sleep(0.005)
            print(f"ldapmodify -> directory shows it: {time.perf_counter() - changed:.2f} s "
                  f"(poll interval {config.poll_interval} s)")  # fmt: skip
            started = time.perf_counter()
            for g in range(groups):
                directory.members(f"g{g}")
            per_call = (time.perf_counter() - started) / groups * 1e6
            print(f"members(group) of {people // groups} members: {per_call:.0f} µs")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await server.stop()
        server.cleanup()


if __name__ == "__main__":
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--groups", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(main(args.people, args.groups, Path(tmp)))
