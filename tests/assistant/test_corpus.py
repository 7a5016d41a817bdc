"""The conversation corpus: every message is understood as written down by hand.

The parse is pure and deterministic; "now" is the corpus's fixed instant, so these pass on
any date. test_corpus_through_the_server sends the same messages through real clients.
"""

from __future__ import annotations

import re

import pytest

from bridges.assistant.intent import understand
from bridges.assistant.texts import catalogue
from tests.assistant.conftest import Chat
from tests.assistant.corpus.load import NOW, Case, cases

CASES = cases()


def test_the_corpus_is_large_and_in_three_languages() -> None:
    assert len(CASES) >= 150
    assert {c.lang for c in CASES} == {"nb", "nn", "en"}
    assert all(sum(c.lang == lang for c in CASES) >= 40 for lang in ("nb", "nn", "en"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.lang}: {c.text}" for c in CASES])
def test_message_is_understood(case: Case) -> None:
    assert understand(case.text, NOW) == case.expected


# What kind of answer each intent may get (catalogue keys), through the real server. A
# message that names only people of the test region unambiguously is never "not found".
ANSWERS = {
    "help": {"help"},
    "status": {"status_line", "status_none", "ambiguous", "usage_status"},
    "free": {"free_header", "free_at_yes", "free_at_no", "ambiguous", "usage_free"},
    "find_time": {"findtime_header", "findtime_none", "ambiguous", "usage_findtime"},
    "meeting": {"meeting_read_only", "usage_meeting", "ambiguous"},
    "call": {"call_unavailable", "ambiguous"},
    "meetings": {"meetings_not_room"},
    "room_request": {"rooms_not_enabled"},  # the test region has no [rooms]
    "unknown": {"unknown_command", "unknown_understood"},
}
NOT_IN_REGION = {"ola hanssen"}
ASKER = {"nb": "anna", "nn": "nils", "en": "john"}


def answer_kind(answer: str, language: str) -> str | None:
    """The catalogue key whose text the answer is (its first line, or the whole text).

    Templates with more fixed text are tried first: "{name}, {day}:" matches almost anything.
    """
    texts = catalogue(language).items()
    for key, template in sorted(texts, key=lambda kv: -len(re.sub(r"\{\w+\}", "", kv[1]))):
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{[a-z_]+\\\}", ".*", pattern)
        multiline = "\n" in template
        if re.fullmatch(pattern, answer if multiline else answer.splitlines()[0], re.DOTALL):
            return key
    return None


def expected_kinds(case: Case) -> set[str]:
    expected = case.expected
    if expected.bad is not None:
        return {"bad_date"}
    if expected.suggestion is not None:
        return {"unknown_meant"}
    kinds = set(ANSWERS[expected.intent])
    if NOT_IN_REGION & set(expected.people):
        kinds |= {"not_found", "not_found_meant"}
    return kinds


@pytest.mark.parametrize("chat", [100], indirect=True)
async def test_corpus_through_the_server(chat: Chat) -> None:
    wrong = []
    for case in CASES:
        answer = await chat.clients[ASKER[case.lang]].ask(case.text)
        kind = answer_kind(answer, case.lang)
        if kind not in expected_kinds(case):
            wrong.append(f"{case.lang}: {case.text!r} -> {kind}: {answer[:100]!r}")
    assert not wrong, "\n".join(wrong)
