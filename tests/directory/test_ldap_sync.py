"""People and groups from a real OpenLDAP through the LDAP connector into the directory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from connectors.ldap import LdapConnector
from samtek.bus import Bus
from samtek.directory import DirectoryService
from samtek.events import PeopleChanged
from samtek.groups import GroupDirectory, UnknownGroup
from samtek.health import HealthReporter, HealthState
from samtek.model import CalendarRef
from samtek.plugin import AuthFailed, ConnectorContext
from samtek.secrets import resolve_secret
from samtek.store import open_store
from tests.directory.conftest import MUNICIPALITIES, Region, eventually, ldap_config
from tests.directory.seed import group_dn, person_dn
from tests.servers.ldap import SlapdServer

RegionFactory = Callable[..., Awaitable[Region]]


async def test_people_and_groups_sync(slapd: SlapdServer, region_factory: RegionFactory) -> None:
    region = await region_factory(slapd, page_size=2)  # three people: two pages
    directory = region.directory
    await eventually(lambda: len(directory.people()) == 3)

    kari = directory.person("kari")
    assert kari is not None
    assert kari.jid == "kari@region.test"
    assert kari.name == "Kari Nordmann"
    assert kari.municipality == "kongsberg"
    assert kari.language == "nn"  # preferredLanguage nn-NO
    assert kari.phones == ("+4732000001",)
    assert kari.email == "kari@kongsberg.kommune.test"
    # The municipality's default calendar connector, addressed by mail.
    assert kari.calendars == (CalendarRef("ews", "kari@kongsberg.kommune.test"),)
    ola = directory.by_jid("ola@region.test/phone")
    assert ola is not None and ola.municipality == "notodden" and ola.language == "en"
    assert ola.calendars == ()  # notodden has no default calendar connector

    assert directory.members("planning") == {"kari@region.test", "ola@region.test"}
    assert directory.members("drift") == {"per@region.test"}
    with pytest.raises(UnknownGroup):
        directory.members("nobody")
    assert isinstance(directory, GroupDirectory)
    assert region.health.state is HealthState.OK


async def test_moving_a_person_between_groups(
    slapd: SlapdServer, region_factory: RegionFactory
) -> None:
    region = await region_factory(slapd)
    directory = region.directory
    await eventually(lambda: directory.groups().get("drift") == {"per@region.test"})
    changes: list[PeopleChanged] = []
    directory.on_change(changes.append)

    await slapd.modify(
        f"""dn: {group_dn("planning")}
changetype: modify
delete: member
member: {person_dn("ola", "notodden")}

dn: {group_dn("drift")}
changetype: modify
add: member
member: {person_dn("ola", "notodden")}
"""
    )
    await eventually(lambda: "ola@region.test" in directory.groups().get("drift", set()))
    assert directory.members("planning") == {"kari@region.test"}
    assert directory.members("drift") == {"per@region.test", "ola@region.test"}
    assert {"planning", "drift"} <= set().union(*(c.groups for c in changes))
    assert region.connector.last_sync_full is False  # seen by an incremental sync


async def test_incremental_sync_reads_only_changed_entries(
    slapd: SlapdServer, region_factory: RegionFactory
) -> None:
    region = await region_factory(slapd)
    directory, connector = region.directory, region.connector
    await eventually(lambda: len(directory.people()) == 3)
    assert connector.last_read[0] == 3 and connector.last_sync_full is True
    # modifyTimestamp has whole seconds: change in a later second than the seed.
    await asyncio.sleep(1.1)
    await slapd.modify(
        f"""dn: {person_dn("per", "kongsberg")}
changetype: modify
replace: telephoneNumber
telephoneNumber: +4732009999
-
replace: preferredLanguage
preferredLanguage: nn
"""
    )
    await eventually(lambda: (p := directory.person("per")) is not None and p.language == "nn")
    person = directory.person("per")
    assert person is not None and person.phones == ("+4732009999",)
    seen = connector.syncs
    await eventually(lambda: connector.syncs > seen)
    # From now on the incremental filter (modifyTimestamp>=watermark) matches only `per`.
    assert connector.last_sync_full is False
    assert connector.last_read[0] == 1


async def test_resync_removes_deleted_people(
    slapd: SlapdServer, region_factory: RegionFactory
) -> None:
    region = await region_factory(slapd)
    directory = region.directory
    await eventually(lambda: len(directory.people()) == 3)
    await slapd.modify(f"dn: {person_dn('ola', 'notodden')}\nchangetype: delete\n")
    await asyncio.wait_for(region.connector.resync(), 10)
    await eventually(lambda: directory.person("ola") is None)
    assert directory.members("planning") == {"kari@region.test"}


async def test_unreachable_server_is_reported_per_server(
    slapd: SlapdServer, region_factory: RegionFactory
) -> None:
    dead = "ldap://127.0.0.1:9/"  # discard port: nothing listens
    region = await region_factory(slapd, servers=[dead, slapd.url], timeout=2)
    await eventually(lambda: len(region.directory.people()) == 3)
    snapshot = region.health.snapshot()
    assert snapshot.state is HealthState.DEGRADED
    assert f"server {dead}" in snapshot.item_errors


async def test_refused_bind_is_auth_failed(slapd: SlapdServer, tmp_path: Path) -> None:
    config = ldap_config(slapd, tmp_path / "pw")
    (tmp_path / "wrong").write_text("not-the-password")
    config = config.model_copy(update={"password": resolve_secret(f"file:{tmp_path / 'wrong'}")})
    async with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        bus = Bus()
        ctx = ConnectorContext(
            "ldap", DirectoryService({}, MUNICIPALITIES, bus), bus, HealthReporter("x"), store
        )
        with pytest.raises(AuthFailed, match="refused"):
            await asyncio.wait_for(LdapConnector(config, ctx).run(), 10)
