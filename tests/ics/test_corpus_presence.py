"""The corpus end to end, from the bytes to what a contact's client shows, at given instants.

Each `tests/ics_corpus/expected/<name>.toml` was written by hand from RFC 5545 and from what
Outlook, Google and Apple produce: the person, the window, the UIDs that must be reported as
refused, and at each instant the <show/> and status a contact sees ("" and no status: the
person's own presence, no overlay). The path is the service's: parse_events ->
calendar_claims -> desired_overlay (the planner that feeds the XMPP overlay).
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridges.presence.planner import desired_overlay
from samtek.calendar.ics import Problem, parse_events
from samtek.model import CalendarEvent, Person, TimeWindow
from samtek.presence.claims import calendar_claims

CORPUS = Path(__file__).parent.parent / "ics_corpus"
EXPECTED = sorted((CORPUS / "expected").glob("*.toml"))
ZERO = timedelta(0)
Seen = tuple[str, str, str]


def corpus_person(spec: dict[str, Any]) -> Person:
    who = spec["person"]
    return Person(
        id="ola",
        jid="ola@example.test",
        name="Ola",
        municipality="m",
        language=who.get("language", "nb"),
        timezone=who.get("timezone", "Europe/Oslo"),
        email=who.get("email"),
        aliases=tuple(who.get("aliases", ())),
        show_subject=who.get("show_subject", False),
    )


def shown(person: Person, events: list[CalendarEvent], spec: dict[str, Any]) -> list[Seen]:
    """[(instant, show, status)] as the person's contacts see them at the spec's instants."""
    claims = calendar_claims(person.id, events)
    result = []
    for point in spec["at"]:
        overlay = desired_overlay(person, claims, datetime.fromisoformat(point["instant"]), ZERO)
        show = "" if overlay is None else overlay.show.value
        result.append((point["instant"], show, "" if overlay is None else overlay.status))
    return result


def wanted(spec: dict[str, Any]) -> list[Seen]:
    return [(p["instant"], p["show"], p.get("status", "")) for p in spec["at"]]


def seen(data: bytes, spec: dict[str, Any]) -> tuple[list[Seen], set[str]]:
    """What contacts see, and the UIDs reported refused."""
    person = corpus_person(spec)
    start, end = (datetime.fromisoformat(t) for t in spec["window"])
    problems: list[Problem] = []
    events = parse_events(
        data,
        TimeWindow(start, end),
        person.timezone,
        person.email,
        problems=problems,
        aliases=person.aliases,
    )
    return shown(person, events, spec), {p.uid for p in problems if p.refused and p.uid}


@pytest.mark.parametrize("expected", EXPECTED, ids=[p.stem for p in EXPECTED])
def test_what_a_contact_sees(expected: Path) -> None:
    spec = tomllib.loads(expected.read_text("utf-8"))
    data = (CORPUS / f"{expected.stem}.ics").read_bytes()
    contacts_see, refused = seen(data, spec)
    assert contacts_see == wanted(spec)
    assert refused == set(spec.get("refused", []))
