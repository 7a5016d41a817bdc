"""Forgiving text form: case, accents, Norwegian letters and spacing do not matter.

"Måndag", "MANDAG" and "mandag" all fold to "mandag"; "møte" to "mote". Folding is only used
for matching; answers quote people's names as the directory spells them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters that NFKD does not decompose into a base letter plus a combining mark.
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "đ": "d", "ð": "d", "þ": "th", "ß": "ss"})
_SPACE = re.compile(r"\s+")
# Commas separate people, except inside a number ("1,5 t").
_SEPARATOR = re.compile(r"([;&+]|,(?!\d)|(?<!\d),)")


@lru_cache(maxsize=65_536)  # people's names are folded again on every lookup
def fold(text: str) -> str:
    """Lower case, without accents, with single spaces and no leading/trailing space."""
    lowered = text.casefold().translate(_LETTERS)
    decomposed = unicodedata.normalize("NFKD", lowered)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", plain).strip()


def tokens(text: str) -> list[str]:
    """Folded words; commas and '&' become tokens of their own (they separate people)."""
    spaced = _SEPARATOR.sub(r" \1 ", fold(text))
    return spaced.split()


def spellings(text: str) -> dict[str, str]:
    """Folded word -> the word as written, to quote people's words back unchanged."""
    written = _SEPARATOR.sub(r" \1 ", text).split()
    return {fold(word): word for word in reversed(written) if fold(word)}
