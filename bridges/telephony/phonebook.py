"""Extension/number -> person, from the people's `phones` (the directory may change)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from samtek.model import Person
from samtek.plugin import Directory

_FORMATTING = re.compile(r"[\s().\-/]")


def normalize(number: str) -> str:
    """'+47 22 33 44 55', '0047 22334455' -> '+4722334455'; '1002' stays '1002'."""
    cleaned = _FORMATTING.sub("", number.strip())
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    return cleaned


class PhoneBook:
    """Cached index over the directory, rebuilt whenever the directory hands out new people."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._source: Mapping[str, Person] | None = None
        self._index: dict[str, Person] = {}

    def person_for(self, number: str) -> Person | None:
        if not number:
            return None
        people = self._directory.people()
        if people is not self._source:
            self._index = {
                normalize(phone): person
                for person in people.values()
                for phone in person.phones
                if normalize(phone)
            }
            self._source = people
        return self._index.get(normalize(number))
