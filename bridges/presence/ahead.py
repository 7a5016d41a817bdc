"""Presence ahead of time: what the server is asked to do by itself at the boundaries.

The bridge plans each person's next transitions within a horizon and sends them as a
schedule (mod_samtek_overlay fires each entry with its own timer), so at the boundary only
the server works. These pure functions decide what to schedule and whether what the server
shows (or will show) is already what we want.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from bridges.presence.planner import desired_overlay
from samtek.model import ClaimSource, Person, PresenceClaim
from samtek.presence.resolver import boundaries
from samtek.store.store import Dismissal
from samtek.xmpp.overlay import Overlay, Scheduled

MAX_SCHEDULED = 8  # entries per person scheduled ahead (the module's default limit is 16)
EXACT = timedelta(0)  # scheduled entries end exactly at the boundary: no grace needed
TOLERANCE = timedelta(milliseconds=2)  # instants travel with millisecond precision


def plan_ahead(
    person: Person,
    claims: list[PresenceClaim],
    now: datetime,
    dismissal: Dismissal | None,
    ahead: timedelta,
) -> tuple[tuple[Scheduled, ...], datetime | None]:
    """The upcoming transitions within `ahead`, and when to plan again for the first one
    beyond it."""
    if ahead <= EXACT or any(c.source is ClaimSource.PHONE for c in claims):
        return (), None  # a live call or ringing is not known ahead
    horizon = now + ahead
    entries: list[Scheduled] = []
    shown = desired_overlay(person, claims, now, EXACT)
    for boundary in boundaries(claims):
        if boundary <= now:
            continue
        if boundary > horizon:
            return tuple(entries), boundary - ahead
        if len(entries) >= MAX_SCHEDULED:
            break  # planned again at the boundaries to come
        overlay = desired_overlay(person, claims, boundary, EXACT)
        if overlay == shown:
            continue
        shown = overlay
        if overlay is not None and not dismissed(overlay, dismissal, boundary):
            entries.append(Scheduled(boundary, overlay))
    return tuple(entries), None


def server_acts_at(
    boundary: datetime, planned: tuple[Scheduled, ...], shown: Overlay | None
) -> bool:
    """A scheduled entry starts at `boundary`, or what the server shows expires exactly then."""
    return any(abs(e.start - boundary) <= TOLERANCE for e in planned) or (
        shown is not None and abs(shown.until - boundary) <= TOLERANCE
    )


def check_later(person_id: str) -> float:
    """1-6 s, the same for a person each time (spreads SAMTEK's checks after a boundary)."""
    return 1.0 + (zlib.crc32(person_id.encode()) % 5000) / 1000


def shows_same(wanted: Overlay | None, current: Overlay | None, grace: timedelta) -> bool:
    """Contacts see what we want; a scheduled entry ends exactly where a late set would end
    `grace` later, and either is right."""
    if wanted is None or current is None:
        return wanted is current
    return (wanted.show, wanted.status, wanted.transition) == (
        current.show,
        current.status,
        current.transition,
    ) and (
        current.until == wanted.until or abs(current.until - (wanted.until - grace)) <= TOLERANCE
    )


def same_plan(plan: tuple[Scheduled, ...], pending: tuple[Scheduled, ...]) -> bool:
    return len(plan) == len(pending) and all(
        abs(a.start - b.start) <= TOLERANCE and shows_same(a.overlay, b.overlay, EXACT)
        for a, b in zip(plan, pending, strict=True)
    )


def dismissed(wanted: Overlay | None, dismissal: Dismissal | None, now: datetime) -> bool:
    """She dismissed this very transition by hand, and her choice still holds."""
    return (
        wanted is not None
        and dismissal is not None
        and dismissal.transition == wanted.transition
        and dismissal.until > now
    )
