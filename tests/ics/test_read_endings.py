"""Feeds with one line ending throughout are unfolded and split by cheaper patterns: they must
give exactly what the general ones give, and the component count what a regex count gives."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samtek.calendar import CalendarError, read

_PIECES = (b"\r", b"\n", b"\r\n", b" ", b"\t", b"a", b"BEGIN:", b"begin:x", b"\r\n ", b"\n\t")
_BEGIN = re.compile(rb"(?:^|[\r\n])begin:", re.IGNORECASE)

pieces = st.lists(st.sampled_from(_PIECES), max_size=30).map(b"".join)


def _one_ending(data: bytes, ending: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"").replace(b"\n", ending)


@settings(max_examples=500, deadline=None)
@given(pieces, st.sampled_from((None, b"\n", b"\r\n")))
def test_the_cheap_patterns_match_the_general_ones(data: bytes, ending: bytes | None) -> None:
    if ending is not None:
        data = _one_ending(data, ending)
    found = read._endings(data)
    if ending is not None and b"\n" in data:
        assert found == ending.decode()
    fold = {None: read._FOLD, "\n": read._FOLD_LF, "\r\n": read._FOLD_CRLF}[found]
    unfolded = fold.sub(b"", data)
    assert unfolded == read._FOLD.sub(b"", data)
    text = unfolded.decode()
    assert (text.split(found) if found else read._LINE_END.split(text)) == read._LINE_END.split(
        text
    )


@settings(max_examples=300, deadline=None)
@given(pieces)
def test_components_are_counted_as_the_pattern_counts_them(data: bytes) -> None:
    count, limit = len(_BEGIN.findall(data)), read.MAX_COMPONENTS
    try:
        read.MAX_COMPONENTS = count
        read.measure(data)  # exactly at the limit: accepted
        read.MAX_COMPONENTS = count - 1
        with pytest.raises(CalendarError, match=f"refused: {count:,} components"):
            read.measure(data)
    finally:
        read.MAX_COMPONENTS = limit
