"""The people served, from the config file (the embedded default; LDAP plugs in later)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from samtek.model import Person
from samtek.plugin import Directory


class StaticDirectory(Directory):
    def __init__(self, people: Mapping[str, Person]) -> None:
        self._people = MappingProxyType(dict(people))
        self._by_jid = {p.jid.lower(): p for p in people.values()}

    def people(self) -> Mapping[str, Person]:
        return self._people

    def by_jid(self, jid: str) -> Person | None:
        return self._by_jid.get(jid.split("/", 1)[0].lower())
