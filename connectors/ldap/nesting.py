"""Nested groups (a group member that is itself a group, as AD and groupOfNames allow).

Expanded here rather than with AD's LDAP_MATCHING_RULE_IN_CHAIN, which OpenLDAP lacks, so
both flavours behave the same. Each group is walked breadth-first with a visited set: a cycle
(A contains B contains A) ends the walk instead of looping, and every group is visited at most
once per expansion, so the cost is bounded by the size of the directory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from connectors.ldap.mapping import Group


def nested_members(start: str, groups: Mapping[str, Group], people: Mapping[str, str]) -> set[str]:
    """Person ids in the group with normalised DN `start`, through any depth of nesting.
    `groups` and `people` are keyed by normalised DN; `people` maps to person ids."""
    found: set[str] = set()
    seen = {start}
    queue = deque([start])
    while queue:
        group = groups.get(queue.popleft())
        if group is None:
            continue
        for member in group.member_dns:
            if member in people:
                found.add(people[member])
            elif member in groups and member not in seen:
                seen.add(member)
                queue.append(member)
    return found


def expand_groups(
    groups: Mapping[str, Group], people: Mapping[str, str]
) -> dict[str, frozenset[str]]:
    """Group name -> person ids of all its direct and nested members. Groups of the same name
    (in different branches of the tree) are merged, as before nesting was supported."""
    expanded: dict[str, frozenset[str]] = {}
    for dn, group in groups.items():
        members = frozenset(nested_members(dn, groups, people))
        expanded[group.name] = expanded.get(group.name, frozenset()) | members
    return expanded
