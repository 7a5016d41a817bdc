"""Small pure pieces: OOF activity, config validation and the documented example."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from bridges.assistant.config import AssistantSection
from bridges.assistant.normalize import fold
from bridges.assistant.oof import active
from bridges.assistant.people import Found, lookup
from samtek.model import OutOfOffice, Person

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_oof_is_active_only_when_enabled_and_inside_its_period() -> None:
    assert active(OutOfOffice(True, NOW - HOUR, NOW + HOUR, "x"), NOW)
    assert active(OutOfOffice(True, None, None, "x"), NOW)
    assert not active(OutOfOffice(False, NOW - HOUR, NOW + HOUR, "x"), NOW)
    assert not active(OutOfOffice(True, NOW + HOUR, NOW + 2 * HOUR, "x"), NOW)
    assert not active(OutOfOffice(True, NOW - 2 * HOUR, NOW, "x"), NOW)
    assert not active(None, NOW)


def test_config_refuses_inverted_hours_and_bad_days() -> None:
    with pytest.raises(ValidationError, match="work_end must be after work_start"):
        AssistantSection.model_validate({"work_start": "16:00", "work_end": "08:00"})
    with pytest.raises(ValidationError, match="work_days"):
        AssistantSection.model_validate({"work_days": [7]})
    with pytest.raises(ValidationError, match="Extra inputs"):
        AssistantSection.model_validate({"rate_bursts": 3})


def test_documented_config_example_is_valid() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "assistant.md").read_text()
    block = re.search(r"```toml\n(.*?)```", doc, re.DOTALL)
    assert block is not None
    AssistantSection.model_validate(tomllib.loads(block[1])["assistant"])


names = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøåé", min_size=2, max_size=8),
    min_size=2,
    max_size=3,
)


@given(st.lists(names, min_size=1, max_size=6, unique_by=lambda n: fold(" ".join(n))))
def test_everyone_is_found_by_full_name_jid_and_email(all_names: list[list[str]]) -> None:
    people = [
        Person(
            id=f"p{i}",
            jid=f"p{i}@region.test",
            name=" ".join(words).title(),
            municipality="m",
            email=f"p{i}@kommune.test",
        )
        for i, words in enumerate(all_names)
    ]
    for person in people:
        assert lookup(person.jid.upper(), people) == Found(person)
        assert lookup(person.email or "", people) == Found(person)
        assert lookup(person.name.upper(), people) == Found(person)
