"""Pure planning: which overlay a person should show at an instant, and until when.

No I/O and no clock: the bridge passes `at`, which makes this easy to test exhaustively.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bridges.presence.phone import cap_phone_until
from samtek.model import ClaimSource, Person, PresenceClaim
from samtek.presence.resolver import Resolution, boundaries, resolve, transition_id
from samtek.presence.texts import status_text
from samtek.xmpp.overlay import Overlay


def render(person: Person, resolution: Resolution, at: datetime) -> tuple[str, str]:
    """(show, status) as contacts would see them."""
    subject = resolution.winner.subject if person.show_subject else None
    text = status_text(
        resolution.kind,
        resolution.display_until,
        at,
        person.language,
        person.timezone,
        subject=subject,
        open_ended=resolution.winner.source is ClaimSource.TEAMS,
    )
    return resolution.show.value, text


def desired_overlay(
    person: Person,
    claims: Sequence[PresenceClaim],
    at: datetime,
    grace: timedelta,
) -> Overlay | None:
    resolution = resolve(claims, at)
    if resolution is None:
        return None
    shown = render(person, resolution, at)
    until = _shown_until(person, claims, at, shown)
    if resolution.winner.source is ClaimSource.PHONE:
        until = cap_phone_until(until, at)
    return Overlay(
        show=resolution.show,
        status=shown[1],
        transition=transition_id(person.id, resolution),
        # The server drops the overlay by itself at `until`, so a dead SAMTEK never leaves a
        # stale status; the grace avoids a flicker when we replace it right at the boundary.
        until=until + grace,
    )


def _shown_until(
    person: Person, claims: Sequence[PresenceClaim], at: datetime, shown: tuple[str, str]
) -> datetime:
    """The first boundary after `at` at which what contacts see would change."""
    for boundary in boundaries(claims):
        if boundary <= at:
            continue
        later = resolve(claims, boundary)
        if later is None or render(person, later, boundary) != shown:
            return boundary
    raise AssertionError("an active claim always ends at a boundary")
