"""Finding people by name, JID, e-mail or phone extension, forgivingly.

A query matches a name when each of its words is the start of a different word of the name
("kari", "kari nordm", "nordmann"). An exact full name, JID, e-mail or extension wins
over partial matches, so "Kari Nordmann" is never ambiguous with "Kari Nordmann-Berg".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bridges.assistant.normalize import fold
from samtek.model import Person

MAX_CANDIDATES = 5
SEPARATORS = {",", ";", "&", "+", "og", "and", "med", "with"}


@dataclass(frozen=True, slots=True)
class Found:
    person: Person


@dataclass(frozen=True, slots=True)
class Ambiguous:
    query: str
    candidates: tuple[Person, ...]


@dataclass(frozen=True, slots=True)
class NotFound:
    query: str


Lookup = Found | Ambiguous | NotFound


def _digits(text: str) -> str:
    return re.sub(r"[\s()/+.-]", "", text)


def _name_match(query_words: list[str], name_words: list[str]) -> bool:
    free = list(name_words)
    for word in query_words:
        hit = next((n for n in free if n.startswith(word)), None)
        if hit is None:
            return False
        free.remove(hit)
    return True


def lookup(query: str, people: Iterable[Person]) -> Lookup:
    folded = fold(query)
    if not folded:
        return NotFound(query)
    everyone = list(people)
    digits = _digits(folded)
    number = digits if digits.isdigit() else None
    exact = [
        p
        for p in everyone
        if folded in (p.jid, fold(p.email or ""), fold(p.name))
        or (number is not None and any(_digits(x) == number for x in p.phones))
    ]
    if len(exact) == 1:
        return Found(exact[0])
    if exact:
        return Ambiguous(query, tuple(exact[:MAX_CANDIDATES]))
    words = folded.split()
    partial = [p for p in everyone if _name_match(words, fold(p.name).split())]
    if len(partial) == 1:
        return Found(partial[0])
    if partial:
        return Ambiguous(query, tuple(sorted(partial, key=lambda p: p.name)[:MAX_CANDIDATES]))
    return NotFound(query)


def lookup_many(words: Sequence[str], people: Iterable[Person]) -> list[Lookup]:
    """People named in `words`, separated by commas/'og'/'and' (or, failing that, by spaces).

    "kari nordmann, per og ola" -> three lookups; "kari per ola" -> three, when the whole
    phrase names nobody but each word names exactly one person.
    """
    everyone = list(people)
    groups: list[list[str]] = [[]]
    for word in words:
        if word in SEPARATORS:
            groups.append([])
        else:
            groups[-1].append(word)
    results: list[Lookup] = []
    for group in (g for g in groups if g):
        whole = lookup(" ".join(group), everyone)
        if isinstance(whole, NotFound) and len(group) > 1:
            singles = [lookup(word, everyone) for word in group]
            if all(isinstance(s, Found) for s in singles):
                results += singles
                continue
        results.append(whole)
    return results
