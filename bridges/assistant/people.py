"""Finding people by name, JID, e-mail or phone extension, forgivingly, at bounded cost.

A query matches a name when each of its words is the start of a different word of the name
("kari", "kari nordm", "nordmann"). An exact full name, JID, e-mail or extension wins
over partial matches, so "Kari Nordmann" is never ambiguous with "Kari Nordmann-Berg".

Every chat message may name people, and the directory may hold tens of thousands, so a
lookup never scans the directory: `PeopleIndex` is built once per directory change and a
query costs a few dictionary probes (at most `MAX_QUERY_WORDS + 2`) plus one set
intersection. A command names at most `MAX_NAMES` people; more is refused (`TooManyNames`)
before any lookup.
"""

from __future__ import annotations

import asyncio
import heapq
import re
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bridges.assistant.normalize import fold
from bridges.assistant.parsing import distance
from samtek.model import Person
from samtek.plugin import Directory

MAX_CANDIDATES = 5
MAX_NAMES = 12  # people per command: a meeting of more is booked in the calendar program
MAX_QUERY_WORDS = 8  # words of one name; a longer query matches only as an exact full name
# Index probes one command may cause: each name group is looked up whole (an exact probe, a
# number probe, one probe per distinct word), and at most MAX_NAMES single words besides.
# A "Mente du …?" for a name not found: per word one probe for itself and one per deletion.
MAX_TYPO_WORD = 30
MAX_PROBES = MAX_NAMES * (2 + MAX_QUERY_WORDS) + MAX_NAMES * 3
MAX_PROBES += MAX_QUERY_WORDS * (MAX_TYPO_WORD + 2) + 2 + MAX_QUERY_WORDS
SEPARATORS = {",", ";", "&", "+", "og", "and", "med", "with", "for", "til", "m", "m.", "w/"}


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


class TooManyNames(ValueError):
    """A command named more than `MAX_NAMES` people (or words that would each be one)."""

    def __init__(self, limit: int = MAX_NAMES) -> None:
        super().__init__(f"more than {limit} names")
        self.limit = limit


def _digits(text: str) -> str:
    return re.sub(r"[\s()/+.-]", "", text)


class PeopleIndex:
    """Folded names, addresses and numbers of one directory snapshot -> people.

    People are numbered in name order, so the first candidates of an ambiguous query are
    the smallest numbers. Partial names are indexed by (word prefix, count): a person is
    under ("ka", 2) when at least two words of their name start with "ka". A query whose
    distinct words each demand as many name words as query words they begin (Hall's
    condition, exact here because prefixes nest or are disjoint) then needs no check per
    candidate: "kari kari" asks ("kari", 2), "ka kar" asks ("ka", 2) and ("kar", 1).
    """

    def __init__(self, people: Iterable[Person]) -> None:
        self._people = sorted(people, key=lambda p: (fold(p.name), p.id))
        exact: dict[str, list[int]] = {}
        phones: dict[str, list[int]] = {}
        prefixes: dict[tuple[str, int], list[int]] = {}
        for rank, person in enumerate(self._people):
            keys = {
                person.jid.lower(),
                fold(person.jid),
                fold(person.email or ""),
                fold(person.name),
            }
            for key in keys - {""}:
                exact.setdefault(key, []).append(rank)
            for number in {_digits(x) for x in person.phones} - {""}:
                phones.setdefault(number, []).append(rank)
            counts = Counter(
                word[:end] for word in fold(person.name).split() for end in range(1, len(word) + 1)
            )
            for prefix, count in counts.items():
                for times in range(1, count + 1):
                    prefixes.setdefault((prefix, times), []).append(rank)
        self._exact = {k: tuple(v) for k, v in exact.items()}
        self._phones = {k: tuple(v) for k, v in phones.items()}
        # Ranks were appended in order: each list is sorted, its head is the first few.
        self._prefixes = {
            k: (frozenset(v), tuple(v[: MAX_CANDIDATES + 1])) for k, v in prefixes.items()
        }
        # Name words under themselves and every one-letter deletion, for typo suggestions.
        deletes: dict[str, set[str]] = {}
        for word in {w for p in self._people for w in fold(p.name).split()}:
            for variant in _deletions(word) | {word}:
                deletes.setdefault(variant, set()).add(word)
        self._deletes = {k: tuple(sorted(v)) for k, v in deletes.items()}
        self.probes = 0  # dictionary probes made by lookups (the tests bound this per message)

    def __len__(self) -> int:
        return len(self._people)

    def lookup(self, query: str) -> Lookup:
        folded = fold(query)
        if not folded:
            return NotFound(query)
        digits = _digits(folded)
        self.probes += 1
        exact = list(self._exact.get(folded, ()))
        if digits.isdigit():
            self.probes += 1
            exact += [r for r in self._phones.get(digits, ()) if r not in exact]
        if exact:
            return self._result(query, sorted(exact))
        words = folded.split()
        if len(words) > MAX_QUERY_WORDS:
            return NotFound(query)
        return self._result(query, self._partial(words))

    def _partial(self, words: list[str]) -> list[int]:
        demand = {w: sum(1 for other in words if other.startswith(w)) for w in set(words)}
        postings = []
        for word, times in demand.items():
            self.probes += 1
            posting = self._prefixes.get((word, times))
            if posting is None:
                return []
            postings.append(posting)
        postings.sort(key=lambda p: len(p[0]))
        if len(postings) == 1:
            members, head = postings[0]
            return list(head) if len(members) > len(head) else list(members)
        common = postings[0][0].intersection(*(p[0] for p in postings[1:]))
        return heapq.nsmallest(MAX_CANDIDATES + 1, common)

    def suggest(self, query: str) -> tuple[Person, ...]:
        """People a mistyped name probably meant ("ola hanssen" -> Ola Hansen), or ()."""
        words = fold(query).split()
        if not words or len(words) > MAX_QUERY_WORDS:
            return ()
        fixed = []
        for word in words:
            self.probes += 1
            if (word, 1) in self._prefixes:
                fixed.append(word)
                continue
            best = self._nearest(word)
            if best is None:
                return ()
            fixed.append(best)
        if fixed == words:
            return ()
        result = self.lookup(" ".join(fixed))
        if isinstance(result, Found):
            return (result.person,)
        return result.candidates if isinstance(result, Ambiguous) else ()

    def _nearest(self, word: str) -> str | None:
        if len(word) > MAX_TYPO_WORD or len(word) < 3:
            return None
        candidates: set[str] = set()
        for variant in _deletions(word) | {word}:
            self.probes += 1
            candidates.update(self._deletes.get(variant, ()))
        limit = 1 if len(word) < 6 else 2
        ranked = sorted((distance(word, c), c) for c in candidates)
        return ranked[0][1] if ranked and ranked[0][0] <= limit else None

    def _result(self, query: str, ranks: Sequence[int]) -> Lookup:
        if len(ranks) == 1:
            return Found(self._people[ranks[0]])
        if ranks:
            ordered = sorted(ranks)[:MAX_CANDIDATES]
            return Ambiguous(query, tuple(self._people[r] for r in ordered))
        return NotFound(query)

    def lookup_many(self, words: Sequence[str]) -> list[Lookup]:
        """People named in `words`, separated by commas/'og'/'and' (or, failing that, by spaces).

        "kari nordmann, per og ola" -> three lookups; "kari per ola" -> three, when the whole
        phrase names nobody but each word names exactly one person. Raises TooManyNames
        before looking anyone up when that would be more than MAX_NAMES people.
        """
        named = name_groups(words)
        if len(named) > MAX_NAMES:
            raise TooManyNames()
        results: list[Lookup] = []
        for group in named:
            whole = self.lookup(" ".join(group))
            if isinstance(whole, NotFound) and len(group) > 1:
                if len(results) + len(group) > MAX_NAMES:
                    raise TooManyNames()
                singles = []
                for word in group:
                    single = self.lookup(word)
                    if not isinstance(single, Found):
                        break
                    singles.append(single)
                else:
                    results += singles
                    continue
            results.append(whole)
        return results


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def name_groups(words: Sequence[str]) -> list[list[str]]:
    """The words of each name: 'kari nordmann , per og ola' -> three groups."""
    groups: list[list[str]] = [[]]
    for word in words:
        if word in SEPARATORS:
            groups.append([])
        else:
            groups[-1].append(word)
    return [g for g in groups if g]


# "gruppa plan-bygg", "the group plan-build": a directory group, not a person.
GROUP_WORDS = {"gruppa", "gruppe", "gruppen", "gruppene", "group", "groups"}


def people_and_groups(words: Sequence[str]) -> tuple[list[list[str]], list[list[str]]]:
    """'kari , ola og gruppa plan-bygg' -> ([[kari], [ola]], [[plan-bygg]])."""
    people: list[list[str]] = []
    groups: list[list[str]] = []
    for group in name_groups(words):
        start = 1 if group[0] in {"the", "a"} and len(group) > 1 else 0
        if group[start] in GROUP_WORDS:
            if group[start + 1 :]:
                groups.append(group[start + 1 :])
        else:
            people.append(group)
    return people, groups


class PeopleFinder:
    """The index of a directory, rebuilt only when the directory hands out new people.

    The rebuild (about 0.15 s for 10,000 people) runs in a thread, so the event loop keeps
    answering everything else meanwhile; lookups wait for it, and share one rebuild.
    """

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._source: Mapping[str, Person] | None = None
        self._index = PeopleIndex(())
        self._lock = asyncio.Lock()
        self.builds = 0  # indexes built (the tests check: once per directory change)

    async def index(self) -> PeopleIndex:
        if self._directory.people() is self._source:
            return self._index
        async with self._lock:
            people = self._directory.people()
            if people is not self._source:
                self._index = await asyncio.to_thread(PeopleIndex, tuple(people.values()))
                self._source = people
                self.builds += 1
        return self._index


_FINDERS: weakref.WeakKeyDictionary[Directory, PeopleFinder] = weakref.WeakKeyDictionary()


def finder_for(directory: Directory) -> PeopleFinder:
    """One finder (and so one index) per directory, shared by chats and project rooms."""
    finder = _FINDERS.get(directory)
    if finder is None:
        finder = _FINDERS[directory] = PeopleFinder(directory)
    return finder


def lookup(query: str, people: Iterable[Person]) -> Lookup:
    """One query against a list of people (builds an index: for small lists and tests)."""
    return PeopleIndex(people).lookup(query)


def lookup_many(words: Sequence[str], people: Iterable[Person]) -> list[Lookup]:
    return PeopleIndex(people).lookup_many(words)
