"""Directory groups: who belongs to a named group (rooms declare members by group).

A protocol so the LDAP helper can implement it later; `StaticGroups` is the embedded default
built from the config and room spec files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable


class UnknownGroup(KeyError):
    """The group is not known to the directory."""


@runtime_checkable
class GroupDirectory(Protocol):
    def members(self, group: str) -> set[str]:
        """Bare JIDs of the group's members; raises UnknownGroup for an unknown group."""
        ...


class StaticGroups:
    def __init__(self, groups: Mapping[str, set[str]]) -> None:
        self._groups = {name: {jid.lower() for jid in jids} for name, jids in groups.items()}

    def members(self, group: str) -> set[str]:
        try:
            return set(self._groups[group])
        except KeyError:
            raise UnknownGroup(group) from None

    def names(self) -> list[str]:
        return sorted(self._groups)
