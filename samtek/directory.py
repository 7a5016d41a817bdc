"""The people served: the config file's people merged with what directory sources publish.

`StaticDirectory` is the config file alone. `DirectoryService` adds the people and groups
that directory connectors (LDAP, a CSV/TOML file) publish as `DirectoryUpdate`s, fills in what
a source does not know from the person's municipality (language, timezone, default calendar),
and tells listeners what changed. The last update of every source is kept in the store, so
after a restart the people are known before the directory server answers.
"""

from __future__ import annotations

import json
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import asdict
from types import MappingProxyType
from typing import TYPE_CHECKING

import structlog

from samtek.bus import Bus
from samtek.events import DirectoryPerson, DirectoryUpdate, PeopleChanged
from samtek.groups import UnknownGroup
from samtek.health import HealthReporter
from samtek.model import CalendarRef, Person, calendar_address
from samtek.plugin import Directory
from samtek.store.directory import DirectorySnapshots

if TYPE_CHECKING:
    from samtek.config import MunicipalitySection
    from samtek.store import Store

log = structlog.get_logger("samtek.directory")

LANGUAGES = ("nb", "nn", "en")
ChangeListener = Callable[[PeopleChanged], Awaitable[None] | None]


class LivePeople(Mapping[str, Person]):
    """A directory's people as they are now: for parts that take a people mapping once (the
    rooms bridge) yet must see people added, removed or changed later."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def __getitem__(self, person_id: str) -> Person:
        return self._directory.people()[person_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._directory.people())

    def __len__(self) -> int:
        return len(self._directory.people())


class StaticDirectory(Directory):
    def __init__(self, people: Mapping[str, Person]) -> None:
        self._people = MappingProxyType(dict(people))
        self._by_jid = {p.jid.lower(): p for p in people.values()}

    def people(self) -> Mapping[str, Person]:
        return self._people

    def by_jid(self, jid: str) -> Person | None:
        return self._by_jid.get(jid.split("/", 1)[0].lower())


class DirectoryService(Directory):
    """Implements `samtek.plugin.Directory` and `samtek.groups.GroupDirectory`."""

    def __init__(
        self,
        static: Mapping[str, Person],
        municipalities: Sequence[MunicipalitySection],
        bus: Bus,
        health: HealthReporter | None = None,
    ) -> None:
        self._static = dict(static)
        self._municipalities = {m.id: m for m in municipalities}
        self._bus = bus
        self.health = health or HealthReporter("directory")
        self._sources: dict[str, DirectoryUpdate] = {}
        self._listeners: list[ChangeListener] = []
        self._snapshots: DirectorySnapshots | None = None
        self._store: Store | None = None
        # Subscribe now, before connectors start, so no early update is missed.
        self._updates = bus.subscribe(DirectoryUpdate, maxsize=64)
        self._people: Mapping[str, Person] = MappingProxyType(dict(self._static))
        self._failing: set[str] = set()  # "source/person id" reported as item errors
        self._by_jid: dict[str, Person] = {}
        self._groups: dict[str, frozenset[str]] = {}
        self._rebuild()

    # -- read side ------------------------------------------------------------------------
    def people(self) -> Mapping[str, Person]:
        return self._people

    def by_jid(self, jid: str) -> Person | None:
        return self._by_jid.get(jid.split("/", 1)[0].lower())

    def members(self, group: str) -> set[str]:
        """Bare JIDs of the group's members that are known people (`GroupDirectory`)."""
        if group not in self._groups:
            raise UnknownGroup(group)
        return {self._people[pid].jid for pid in self._groups[group] if pid in self._people}

    def groups(self) -> dict[str, set[str]]:
        return {name: self.members(name) for name in self._groups}

    def sources(self) -> dict[str, int]:
        """People count per directory source (the config file is "config")."""
        counts = {"config": len(self._static)}
        counts.update({name: len(u.people) for name, u in self._sources.items()})
        return counts

    def on_change(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    # -- lifecycle ------------------------------------------------------------------------
    async def restore(self, store: Store, sources: Collection[str] | None = None) -> None:
        """Load every source's last update (before connectors and bridges start).

        `sources`: the connectors configured now; the saved update of a source no longer
        among them is deleted, and its people with it (None: keep every saved source)."""
        self._store = store
        self._snapshots = DirectorySnapshots(store.db, store.clock)
        for source, text in (await self._snapshots.load_all()).items():
            if sources is not None and source not in sources:
                log.info("deleting the saved people of a removed directory source", source=source)
                await self._snapshots.delete(source)
                continue
            try:
                self._sources[source] = _update_from_json(source, json.loads(text))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring unreadable saved directory", source=source, error=str(exc))
        self._rebuild()
        log.info("directory restored", people=len(self._people), sources=list(self._sources))
        # People removed while the service was stopped (from the config file, say).
        await self._forget(await store.people_with_rows() - self._people.keys(), {})

    async def run(self) -> None:
        self.health.success()
        async for update in self._updates:
            await self.apply(update)

    async def apply(self, update: DirectoryUpdate) -> PeopleChanged | None:
        """Take one source's complete update; returns what changed (None: nothing)."""
        self._sources[update.source] = update
        if self._snapshots is not None:
            await self._snapshots.save(update.source, json.dumps(_update_to_json(update)))
        before_people, before_groups = self._people, self.groups()
        self._rebuild()
        after_groups = self.groups()
        change = PeopleChanged(
            added=frozenset(self._people.keys() - before_people.keys()),
            removed=frozenset(before_people.keys() - self._people.keys()),
            changed=frozenset(
                pid
                for pid in self._people.keys() & before_people.keys()
                if self._people[pid] != before_people[pid]
            ),
            groups=frozenset(
                name
                for name in after_groups.keys() | before_groups.keys()
                if after_groups.get(name) != before_groups.get(name)
            ),
        )
        self.health.success()
        if change.removed:
            await self._forget(change.removed, before_people)
        if not (change.added or change.removed or change.changed or change.groups):
            return None
        log.info(
            "directory changed",
            source=update.source,
            added=len(change.added),
            removed=len(change.removed),
            changed=len(change.changed),
            groups=len(change.groups),
        )
        await self._bus.publish(change)
        for listener in tuple(self._listeners):
            result = listener(change)
            if result is not None:
                await result
        return change

    async def _forget(self, removed: Iterable[str], before: Mapping[str, Person]) -> None:
        """Delete the stored rows of people who left: they are no longer served, and the
        store keeps personal data only for the people it serves."""
        removed = set(removed)
        if self._store is None or not removed:
            return
        in_use = {ref for p in self._people.values() for ref in p.calendars}
        calendars = {
            ref
            for pid in removed
            if pid in before
            for ref in before[pid].calendars
            if ref not in in_use  # a shared mailbox stays while someone still uses it
        }
        try:
            deleted = await self._store.forget_people(removed, calendars)
        except self._store.db.errors as exc:  # retried at the next start (see restore)
            log.error("could not delete the rows of people who left", error=repr(exc))
            return
        log.info("forgot people who left the directory", people=len(removed), rows=deleted)

    # -- merging --------------------------------------------------------------------------
    def _rebuild(self) -> None:
        people = dict(self._static)
        groups: dict[str, set[str]] = {}
        failing: set[str] = set()
        for source in sorted(self._sources):
            update = self._sources[source]
            for entry in update.people:
                item = f"{source}/{entry.id}"
                if entry.id in people:
                    if entry.id not in self._static:
                        failing.add(item)
                        self.health.item_error(item, "person id also published by another source")
                    continue  # the config file and earlier sources win
                person = self._build(entry)
                if person is None:
                    failing.add(item)
                    self.health.item_error(item, f"unknown municipality {entry.municipality!r}")
                    continue
                people[person.id] = person
            for name, member_ids in update.groups.items():
                groups.setdefault(name, set()).update(member_ids)
        for item in self._failing - failing:  # fixed, or gone from its source
            self.health.item_ok(item)
        self._failing = failing
        self._people = MappingProxyType(people)
        self._by_jid = {p.jid.lower(): p for p in people.values()}
        self._groups = {name: frozenset(ids) for name, ids in groups.items()}

    def _build(self, entry: DirectoryPerson) -> Person | None:
        municipality = self._municipalities.get(entry.municipality)
        if municipality is None:
            return None
        calendars: tuple[CalendarRef, ...] = ()
        if municipality.calendar is not None:
            address = _render(
                municipality.calendar_address, id=entry.id, email=entry.email, jid=entry.jid
            )
            if address:
                calendars = (CalendarRef(municipality.calendar, calendar_address(address)),)
        return Person(
            id=entry.id,
            jid=entry.jid.lower(),
            name=entry.name,
            municipality=entry.municipality,
            language=entry.language if entry.language in LANGUAGES else municipality.language,
            timezone=municipality.timezone,
            email=entry.email,
            aliases=entry.aliases,
            calendars=calendars,
            phones=entry.phones,
            department=entry.department,
            title=entry.title,
        )


def _render(template: str, **values: str | None) -> str | None:
    """Fill a "{email}"-style template; None when a field it needs is missing."""
    try:
        return template.format_map({k: v for k, v in values.items() if v})
    except KeyError:
        return None


def _update_to_json(update: DirectoryUpdate) -> dict[str, object]:
    return {
        "people": [asdict(p) for p in update.people],
        "groups": {name: sorted(ids) for name, ids in update.groups.items()},
    }


def _update_from_json(source: str, data: Mapping[str, object]) -> DirectoryUpdate:
    people = data["people"]
    groups = data["groups"]
    if not isinstance(people, list) or not isinstance(groups, dict):
        raise ValueError("expected people list and groups table")
    return DirectoryUpdate(
        source=source,
        people=tuple(
            DirectoryPerson(**{**p, "phones": tuple(p.get("phones", ()))}) for p in people
        ),
        groups={str(name): frozenset(_strings(ids)) for name, ids in groups.items()},
    )


def _strings(values: Iterable[object]) -> list[str]:
    return [str(v) for v in values]
