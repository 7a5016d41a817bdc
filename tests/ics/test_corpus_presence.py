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
from samtek.model import Person, TimeWindow
from samtek.presence.claims import calendar_claims

CORPUS = Path(__file__).parent.parent / "ics_corpus"
EXPECTED = sorted((CORPUS / "expected").glob("*.toml"))


def seen(data: bytes, spec: dict[str, Any]) -> tuple[list[tuple[str, str, str]], set[str]]:
    """[(instant, show, status)] as a contact sees them, and the UIDs reported refused."""
    who = spec["person"]
    person = Person(
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
    claims = calendar_claims(person.id, events)
    shown = []
    for point in spec["at"]:
        at = datetime.fromisoformat(point["instant"])
        overlay = desired_overlay(person, claims, at, timedelta(0))
        show = "" if overlay is None else overlay.show.value
        shown.append((point["instant"], show, "" if overlay is None else overlay.status))
    return shown, {p.uid for p in problems if p.refused and p.uid is not None}


@pytest.mark.parametrize("expected", EXPECTED, ids=[p.stem for p in EXPECTED])
def test_what_a_contact_sees(expected: Path) -> None:
    spec = tomllib.loads(expected.read_text("utf-8"))
    data = (CORPUS / f"{expected.stem}.ics").read_bytes()
    shown, refused = seen(data, spec)
    wanted = [(p["instant"], p["show"], p.get("status", "")) for p in spec["at"]]
    assert shown == wanted
    assert refused == set(spec.get("refused", []))
