"""Search-as-you-type over everyone: names, department, title, municipality, e-mail, numbers.

Built once per directory change; a query then costs a few dictionary and bisect look-ups
per word, never a pass over every person's text (but a number query scans the numbers).

Forgiving in three ways, all applied the same to the index and to the query:
- folding: case, accents and Norwegian letters ("Bjørn Ødegård" ~ "bjorn odegard");
- bokmål/nynorsk: common municipal words are brought to one spelling ("sjukeheim" ~
  "sykehjem", "eining" ~ "enhet");
- one typo per word of four letters or more (a wrong, missing, extra or swapped letter),
  found through an index of every word with one letter deleted (the "symmetric delete"
  method), so no word-by-word distance is computed over the whole vocabulary.
A query matches a person when every word matches the start of one of their words, or a
whole word with one typo. Exact words rank above prefixes, prefixes above typos.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bridges.assistant.normalize import fold
from samtek.model import Person

# Nynorsk -> bokmål spellings of words municipal staff and departments are named with.
# Longer first: "heime" before "heim".
_NYNORSK = (
    ("sakshandsamar", "saksbehandler"),
    ("handsamar", "behandler"),
    ("radgjevar", "radgiver"),
    ("sjukepleiar", "sykepleier"),
    ("tenesta", "tjenesten"),
    ("tenest", "tjenest"),
    ("byggje", "bygge"),
    ("kyrkje", "kirke"),
    ("bustad", "bolig"),
    ("eining", "enhet"),
    ("tilsett", "ansatt"),
    ("sjuke", "syke"),
    ("heime", "hjemme"),
    ("heim", "hjem"),
    ("skule", "skole"),
    ("leiar", "leder"),
    ("larar", "larer"),
    ("pleiar", "pleier"),
    ("vatn", "vann"),
    ("ikkje", "ikke"),
)
_SPLIT = re.compile(r"[\s.,;:@_/()+\-]+")
_DIGITS = re.compile(r"\D")
_NUMBER = re.compile(r"^[\d\s+()./-]+$")
MIN_TYPO_LENGTH = 4
MIN_NUMBER_QUERY = 3


def canonical(word: str) -> str:
    """A folded word in its bokmål spelling."""
    for nynorsk, bokmal in _NYNORSK:
        if nynorsk in word:
            word = word.replace(nynorsk, bokmal)
    return word


def words(text: str) -> list[str]:
    return [canonical(w) for w in _SPLIT.split(fold(text)) if w]


def digits(text: str) -> str:
    return _DIGITS.sub("", text)


@dataclass(frozen=True, slots=True)
class Hit:
    person: Person
    score: int


class SearchIndex:
    def __init__(self, people: Iterable[Person], municipality_names: Mapping[str, str]) -> None:
        self._people: list[Person] = sorted(people, key=lambda p: (fold(p.name), p.id))
        postings: dict[str, set[int]] = {}
        self._numbers: list[tuple[str, int]] = []
        for index, person in enumerate(self._people):
            for word in self._person_words(person, municipality_names):
                postings.setdefault(word, set()).add(index)
            for phone in person.phones:
                number = digits(phone)
                if number:
                    self._numbers.append((number, index))
        self._postings = postings
        self._vocabulary = sorted(postings)
        self._deletes: dict[str, set[str]] = {}
        for word in self._vocabulary:
            if len(word) >= MIN_TYPO_LENGTH:
                for variant in _deletions(word):
                    self._deletes.setdefault(variant, set()).add(word)

    def __len__(self) -> int:
        return len(self._people)

    @staticmethod
    def _person_words(person: Person, municipality_names: Mapping[str, str]) -> set[str]:
        texts = [person.name, person.department or "", person.title or "", person.municipality]
        texts.append(municipality_names.get(person.municipality, ""))
        found: set[str] = set()
        for text in texts:
            found.update(words(text))
        for address in (person.email, person.jid):
            if address:
                found.add(fold(address))
                found.update(words(address.split("@", 1)[0]))
        return found

    def search(self, query: str, limit: int) -> list[Hit]:
        if _NUMBER.match(query) and len(digits(query)) >= MIN_NUMBER_QUERY:
            query_words = [digits(query)]  # "+47 926 12 345" is one number, not four words
        elif "@" in query:
            query_words = [fold(query)]  # an address: the start of a whole e-mail or JID
        else:
            query_words = words(query)[:8]  # bounded work for a pasted paragraph
        if not query_words or limit < 1:
            return []
        scores: dict[int, int] | None = None
        for word in query_words:
            matched = self._match(word)
            if scores is None:
                scores = matched
            else:
                scores = {i: s + matched[i] for i, s in scores.items() if i in matched}
            if not scores:
                return []
        assert scores is not None
        # The people list is sorted by name: equal scores keep alphabetical order.
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [Hit(self._people[i], score) for i, score in best]

    def _match(self, word: str) -> dict[int, int]:
        scores: dict[int, int] = {}

        def add(indices: Iterable[int], score: int) -> None:
            for i in indices:
                if scores.get(i, 0) < score:
                    scores[i] = score

        number = digits(word)
        if len(number) >= MIN_NUMBER_QUERY and len(number) == len(word):
            add((i for n, i in self._numbers if number in n), 3)
        start = bisect_left(self._vocabulary, word)
        for token in self._vocabulary[start:]:
            if not token.startswith(word):
                break
            add(self._postings[token], 3 if token == word else 2)
        if len(word) >= MIN_TYPO_LENGTH:
            for token in self._near(word):
                add(self._postings[token], 1)
        return scores

    def _near(self, word: str) -> set[str]:
        """Vocabulary words one typo away from `word`."""
        candidates = set(self._deletes.get(word, ()))  # a letter too few in the query
        for variant in _deletions(word):
            if variant in self._postings:
                candidates.add(variant)  # a letter too many
            candidates.update(self._deletes.get(variant, ()))  # wrong or swapped letter
        return {c for c in candidates if c != word and _one_edit(word, c)}


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """Optimal string alignment distance of at most 1 (a swap of neighbours counts as one)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) <= 1:
            return True
        i, j = diff[0], diff[-1]
        return len(diff) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1 :]
