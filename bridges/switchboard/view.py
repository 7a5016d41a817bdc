"""One person as the console shows them: a JSON-ready row, computed from the presence
bridge's read side at one instant.

Privacy: the status text carries a meeting subject only where the person opted in
(`Person.show_subject`); private and confidential events never carry one at all (they are
dropped when the event is built, see `samtek.model.CalendarEvent`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bridges.assistant.slots import WorkingHours, subtract
from samtek.model import ClaimKind, ClaimSource, OutOfOffice, Person, PresenceClaim
from samtek.presence.resolver import Resolution
from samtek.presence.texts import status_text

LANGUAGE = "nb"  # the console's language
MAX_NOTE = 600  # characters of the out-of-office note shown

Row = dict[str, Any]

STATES: dict[ClaimKind, str] = {
    ClaimKind.WORKING_ELSEWHERE: "elsewhere",
    ClaimKind.OUT_OF_OFFICE: "oof",
    ClaimKind.TENTATIVE: "tentative",
    ClaimKind.IN_MEETING: "meeting",
    ClaimKind.PRESENTING: "presenting",
    ClaimKind.PHONE_RINGING: "ringing",
    ClaimKind.ON_PHONE: "phone",
    ClaimKind.PHONE_DND: "dnd",
}
PHONE_STATES = {
    ClaimKind.PHONE_RINGING: "ringing",
    ClaimKind.ON_PHONE: "in_call",
    ClaimKind.PHONE_DND: "dnd",
}
# What blocks a slot in the calendar; a phone call ends long before its safety horizon.
_BLOCKING = {ClaimKind.OUT_OF_OFFICE, ClaimKind.TENTATIVE, ClaimKind.IN_MEETING,
             ClaimKind.PRESENTING}  # fmt: skip
_TAGS = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")


class PresenceView(Protocol):
    """The presence bridge's read side (as in samtek.admin.context.PresenceView)."""

    def explain(self, person_id: str, at: datetime | None = None) -> Resolution | None: ...
    def claims(self, person_id: str) -> list[PresenceClaim]: ...
    def out_of_office(self, person_id: str) -> OutOfOffice | None: ...


def person_row(
    person: Person,
    presence: PresenceView,
    now: datetime,
    municipality_names: Mapping[str, str],
    hours: WorkingHours,
) -> Row:
    claims = presence.claims(person.id)
    resolution = presence.explain(person.id, now)
    row: Row = {
        "id": person.id,
        "name": person.name,
        "municipality": municipality_names.get(person.municipality, person.municipality),
        "department": person.department,
        "title": person.title,
        "email": person.email,
        "phones": list(person.phones),
        "state": "free",
        "text": "Ledig",
        "until": None,
        "phone": _phone_state(claims, now),
        "free": _next_free(claims, now, hours, ZoneInfo(person.timezone)),
        "oof": _oof(presence.out_of_office(person.id), now),
    }
    if resolution is not None:
        subject = resolution.winner.subject if person.show_subject else None
        row["state"] = STATES[resolution.kind]
        row["text"] = status_text(
            resolution.kind, resolution.display_until, now, LANGUAGE, person.timezone, subject
        )
        row["until"] = resolution.display_until.isoformat()
    return row


def _phone_state(claims: list[PresenceClaim], now: datetime) -> str | None:
    active = [c for c in claims if c.source is ClaimSource.PHONE and c.active_at(now)]
    if not active:
        return None
    return PHONE_STATES.get(max(active, key=lambda c: c.kind).kind)


def _next_free(
    claims: list[PresenceClaim], now: datetime, hours: WorkingHours, tz: ZoneInfo
) -> dict[str, str | None] | None:
    """The first free stretch of today's working hours from now, or None (not today)."""
    today = now.astimezone(tz).date()
    windows = [(max(s, now), e) for s, e in hours.windows(today, today, tz) if e > now]
    busy = [(c.valid_from, c.valid_until) for c in claims if c.kind in _BLOCKING]
    for start, end in subtract(windows, busy):
        if end - start >= timedelta(minutes=5):  # a gap too short to call back in is no slot
            # "from": None when free now, so an unchanged row stays equal as time passes.
            return {"from": None if start <= now else start.isoformat(), "to": end.isoformat()}
    return None


def _oof(oof: OutOfOffice | None, now: datetime) -> dict[str, str | None] | None:
    if oof is None or not oof.enabled or (oof.end is not None and oof.end <= now):
        return None
    return {
        "from": oof.start.isoformat() if oof.start else None,
        "back": oof.end.isoformat() if oof.end else None,
        "note": _plain(oof.message) if oof.message else None,
    }


def _plain(message: str) -> str:
    """The internal out-of-office reply as plain text (Exchange sends HTML)."""
    text = html.unescape(_TAGS.sub(" ", message[: MAX_NOTE * 20]))
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= MAX_NOTE else text[: MAX_NOTE - 1] + "…"
