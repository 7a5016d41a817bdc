"""People who leave the directory leave the store: their calendar snapshots, dismissals and
per-mailbox connector state are deleted (on the sync that removes them, and at start for
anyone removed while the service was stopped). A real OpenLDAP feeds the directory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from samtek.bus import Bus
from samtek.directory import DirectoryService
from samtek.events import CalendarUpdate, DirectoryPerson, DirectoryUpdate
from samtek.model import BusyStatus, CalendarEvent, TimeWindow
from samtek.store import Store, open_store
from samtek.store.store import Dismissal
from tests.directory.conftest import MUNICIPALITIES, Region, eventually
from tests.directory.seed import person_dn
from tests.servers.ldap import SlapdServer

RegionFactory = Callable[..., Awaitable[Region]]
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


async def keep_rows_for(store: Store, person_id: str, mailbox: str) -> None:
    event = CalendarEvent("m1", NOW, NOW + timedelta(hours=1), BusyStatus.BUSY, subject="x")
    window = TimeWindow(NOW, NOW + timedelta(days=1))
    await store.save_calendar(CalendarUpdate("ews", person_id, window, (event,)))
    await store.put_dismissal(Dismissal(person_id, "t", NOW + timedelta(days=365 * 100)))
    await store.put_state("ews:ews", mailbox, '{"id": "sub", "watermark": "w"}')


async def rows_of(store: Store, person_id: str, mailbox: str) -> int:
    count = 0
    for sql, key in (
        ("SELECT COUNT(*) FROM calendar_snapshots WHERE person_id = ?", person_id),
        ("SELECT COUNT(*) FROM presence_dismissals WHERE person_id = ?", person_id),
        ("SELECT COUNT(*) FROM connector_state WHERE key = ?", mailbox),
    ):
        row = await store.db.fetchone(sql, (key,))
        count += int(row[0]) if row else 0
    return count


async def test_rows_of_a_person_removed_from_ldap_are_deleted(
    slapd: SlapdServer, region_factory: RegionFactory
) -> None:
    region = await region_factory(slapd)
    directory, store = region.directory, region.store
    await eventually(lambda: len(directory.people()) == 3)
    per, kari = directory.person("per"), directory.person("kari")
    assert per is not None and kari is not None
    assert [c.address for c in per.calendars] == ["per@kongsberg.kommune.test"]
    await keep_rows_for(store, "per", "per@kongsberg.kommune.test")
    await keep_rows_for(store, "kari", "kari@kongsberg.kommune.test")
    assert await rows_of(store, "per", "per@kongsberg.kommune.test") == 3

    await slapd.modify(f"dn: {person_dn('per', 'kongsberg')}\nchangetype: delete\n")
    await asyncio.wait_for(region.connector.resync(), 10)
    await eventually(lambda: directory.person("per") is None)
    for _ in range(200):
        if await rows_of(store, "per", "per@kongsberg.kommune.test") == 0:
            break
        await asyncio.sleep(0.05)
    assert await rows_of(store, "per", "per@kongsberg.kommune.test") == 0
    assert await rows_of(store, "kari", "kari@kongsberg.kommune.test") == 3  # others stay
    assert await store.load_dismissals(NOW) == {
        "kari": Dismissal("kari", "t", NOW + timedelta(days=365 * 100))
    }


async def test_rows_of_someone_removed_while_stopped_are_deleted_at_start(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    async with open_store(url) as store:
        await keep_rows_for(store, "gone", "gone@kongsberg.kommune.test")
    async with open_store(url) as store:
        await DirectoryService({}, MUNICIPALITIES, Bus()).restore(store)
        assert await store.load_calendars() == []
        assert await store.load_dismissals(NOW) == {}


async def test_people_of_a_directory_source_removed_from_the_config_are_deleted(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    async with open_store(url) as store:
        old = DirectoryService({}, MUNICIPALITIES, Bus())
        await old.restore(store, sources={"old-ldap"})
        gone = DirectoryPerson("gone", "gone@region.test", "Gone", "notodden")
        await old.apply(DirectoryUpdate("old-ldap", (gone,), {}))
        await keep_rows_for(store, "gone", "gone@notodden.kommune.test")
    async with open_store(url) as store:  # restarted without the [connectors.old-ldap] section
        directory = DirectoryService({}, MUNICIPALITIES, Bus())
        await directory.restore(store, sources={"ldap"})
        assert directory.person("gone") is None
        assert await store.get_state("directory", "old-ldap") is None
        assert await store.load_calendars() == []
