"""The LDAP/AD directory connector: people and groups, published as `DirectoryUpdate`s.

A full sync reads everything below the bases (paged); in between, incremental syncs ask only
for entries changed since the highest modifyTimestamp (OpenLDAP) or uSNChanged (AD) seen.
An entry read again under another DN (moved to another OU) replaces its old DN. Deletions and
entries that left the filter are only seen by a full sync, which runs periodically and on
`resync()`. An update is published only when the result changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import structlog

from connectors.ldap.client import Entry, LdapClient
from connectors.ldap.config import LdapConfig
from connectors.ldap.mapping import Group, MappingError, normalize_dn, to_group, to_person
from connectors.ldap.nesting import expand_groups, nested_members
from samtek.events import DirectoryPerson, DirectoryUpdate
from samtek.plugin import Connector, ConnectorConfig, ConnectorContext

log = structlog.get_logger("samtek.ldap")
T = TypeVar("T")


class LdapConnector(Connector):
    config_model = LdapConfig
    config: LdapConfig

    def __init__(self, config: ConnectorConfig, ctx: ConnectorContext) -> None:
        super().__init__(config, ctx)
        password = self.config.password.get_secret_value() if self.config.password else None
        self._client = LdapClient(
            self.config.servers,
            self.config.bind_dn,
            password,
            self.config.timeout,
            self.config.page_size,
            start_tls=self.config.start_tls,
            ca_file=self.config.ca_file,
        )
        self._people: dict[str, DirectoryPerson] = {}  # by normalized DN
        self._groups: dict[str, Group] = {}
        self._bad: set[str] = set()  # DNs currently reported as item errors
        self._watermarks: dict[str, str] = {}  # "people"/"groups" -> highest change value
        self._published: DirectoryUpdate | None = None
        self._full_requested = asyncio.Event()
        self._wake = asyncio.Event()
        self._full_done: asyncio.Condition | None = None
        self._full_count = 0
        # Read by tests, the admin API and metrics.
        self.syncs = 0
        self.last_sync_seconds: float | None = None
        self.last_sync_full: bool | None = None
        self.last_read: tuple[int, int] = (0, 0)  # (people, groups) entries read

    # -- Resyncable -----------------------------------------------------------------------
    async def resync(self) -> None:
        """Force a full sync now and wait for it to finish."""
        condition = self._condition()
        async with condition:
            target = self._full_count + 1
            self._full_requested.set()
            self._wake.set()
            await condition.wait_for(lambda: self._full_count >= target)

    # -- supervised run -------------------------------------------------------------------
    async def run(self) -> None:
        executor = ThreadPoolExecutor(1, thread_name_prefix=f"ldap-{self.name}")
        last_full: float | None = None
        try:
            while True:
                full = (
                    last_full is None
                    or self._full_requested.is_set()
                    or time.monotonic() - last_full >= self.config.full_resync_interval
                )
                self._full_requested.clear()
                started = time.monotonic()
                await self._sync(executor, full)
                self.last_sync_seconds = time.monotonic() - started
                self.last_sync_full = full
                self.syncs += 1
                self.ctx.health.success()
                if full:
                    last_full = started
                    await self._full_finished()
                delay = self.config.poll_interval * random.uniform(0.9, 1.1)
                # A timeout is the normal case: time for the next incremental sync.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                self._wake.clear()
        finally:
            executor.submit(self._client.close)
            executor.shutdown(wait=False)

    async def _sync(self, executor: ThreadPoolExecutor, full: bool) -> None:
        # When every server fails the raise says why; health items are for partial failure.
        people = await self._search(executor, "people", full)
        groups = await self._search(executor, "groups", full) if self.config.group_base else []
        self._report_servers()
        self.last_read = (len(people), len(groups))
        if full:
            self._people, self._groups = {}, {}
        bad: set[str] = set()
        for dn, attributes in people:
            key = normalize_dn(dn)
            try:
                person = to_person(self.config, dn, attributes)
                if not full:  # moved (modrdn: another OU, another municipality): drop old DN
                    for old in [k for k, p in self._people.items() if p.id == person.id]:
                        del self._people[old]
                self._people[key] = person
            except MappingError as exc:
                bad.add(dn)
                self._people.pop(key, None)
                self.ctx.health.item_error(dn, str(exc))
        for dn, attributes in groups:
            try:
                self._groups[normalize_dn(dn)] = to_group(self.config, dn, attributes)
            except MappingError as exc:
                bad.add(dn)
                self.ctx.health.item_error(dn, str(exc))
        fixed = {dn for dn, _ in (*people, *groups)} - bad
        if full:
            fixed = self._bad - bad
        for dn in fixed & self._bad:
            self.ctx.health.item_ok(dn)
        self._bad = bad if full else (self._bad - fixed) | bad
        log.info(
            "directory synced",
            connector=self.name,
            full=full,
            people_read=len(people),
            groups_read=len(groups),
            people=len(self._people),
        )
        await self._publish()

    async def _search(self, executor: ThreadPoolExecutor, what: str, full: bool) -> list[Entry]:
        config = self.config
        names = config.attributes
        if what == "people":
            base, search_filter = config.people_base, config.people_filter
            wanted = [names.id, names.name, names.mail, *names.phones, *names.aliases]
            wanted += [a for a in (names.jid, names.language, names.municipality) if a]
            wanted += [a for a in (names.department, names.title) if a]
            if config.jid_template is not None:
                wanted.append("*")  # the template may name any attribute
        else:
            assert config.group_base is not None
            base, search_filter = config.group_base, config.group_filter
            wanted = [config.group_name_attribute, config.group_member_attribute]
        change = config.change_attribute
        since = None if full else self._watermarks.get(what)
        if since is not None:
            search_filter = f"(&{search_filter}({change}>={since}))"
        entries = await self._call(
            executor, lambda: self._client.search(base, search_filter, [*wanted, change])
        )
        self._advance(what, entries)
        return entries

    def _advance(self, what: str, entries: list[Entry]) -> None:
        """Remember the highest change marker; the next incremental asks from there."""
        key = self.config.change_attribute.lower()
        values = [e[1][key][0] for e in entries if e[1].get(key)]
        if not values:
            return
        if self.config.flavor == "ad":
            top = max(int(v) for v in values) + 1  # uSNChanged>=n+1: strictly newer
            current = int(self._watermarks.get(what, "0"))
            self._watermarks[what] = str(max(top, current))
        else:
            # GeneralizedTime has whole seconds: >= re-reads that second's entries (harmless).
            self._watermarks[what] = max([*values, self._watermarks.get(what, "")])

    async def _publish(self) -> None:
        ids = {dn: p.id for dn, p in self._people.items()}
        if self.config.people_group is not None:
            # only the (nested) members of one group are served, e.g. "samtek-users"
            allowed = nested_members(normalize_dn(self.config.people_group), self._groups, ids)
            ids = {dn: pid for dn, pid in ids.items() if pid in allowed}
        served = set(ids.values())
        people = tuple(sorted((p for p in self._people.values() if p.id in served),
                              key=lambda p: p.id))  # fmt: skip
        groups = expand_groups(self._groups, ids)
        update = DirectoryUpdate(self.name, people, groups)
        if update == self._published:
            return
        self._published = update
        await self.ctx.bus.publish(update)

    def _report_servers(self) -> None:
        for url in self.config.servers:
            error = self._client.server_errors.get(url)
            item = f"server {url}"
            if error is None:
                self.ctx.health.item_ok(item)
            else:
                self.ctx.health.item_error(item, error)

    async def _call(self, executor: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, work)

    def _condition(self) -> asyncio.Condition:
        if self._full_done is None:
            self._full_done = asyncio.Condition()
        return self._full_done

    async def _full_finished(self) -> None:
        condition = self._condition()
        async with condition:
            self._full_count += 1
            condition.notify_all()
