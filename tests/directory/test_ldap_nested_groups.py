"""Nested groups on a real OpenLDAP: members of member groups count, cycles end, and
`people_group` serves only a group's (nested) members."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.directory.conftest import Region, eventually
from tests.directory.seed import group_dn, person_dn
from tests.servers.ldap import SlapdServer

RegionFactory = Callable[..., Awaitable[Region]]

NESTED = f"""dn: {group_dn("alle")}
objectClass: groupOfNames
cn: alle
member: {group_dn("planning")}
member: {group_dn("drift")}

dn: {group_dn("loop-a")}
objectClass: groupOfNames
cn: loop-a
member: {group_dn("loop-b")}

dn: {group_dn("loop-b")}
objectClass: groupOfNames
cn: loop-b
member: {group_dn("loop-a")}
member: {person_dn("per", "kongsberg")}
"""


async def test_nested_groups_and_cycles(slapd: SlapdServer, region_factory: RegionFactory) -> None:
    await slapd.add(NESTED)
    region = await region_factory(slapd)
    directory = region.directory
    await eventually(lambda: "loop-a" in directory.groups())
    assert directory.members("alle") == {"kari@region.test", "ola@region.test", "per@region.test"}
    assert directory.members("loop-a") == {"per@region.test"}  # through loop-b, then stops
    assert directory.members("loop-b") == {"per@region.test"}
    assert directory.members("planning") == {"kari@region.test", "ola@region.test"}


async def test_people_group_serves_only_nested_members(
    slapd: SlapdServer, region_factory: RegionFactory
) -> None:
    await slapd.add(NESTED)
    region = await region_factory(slapd, people_group=group_dn("loop-a"))
    directory = region.directory
    await eventually(lambda: len(directory.people()) == 1)
    assert set(directory.people()) == {"per"}
    assert directory.members("planning") == set()  # kari and ola are not served
