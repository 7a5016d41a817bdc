"""One pure function decides a person's effective presence from all active claims.

Precedence is `ClaimKind` order (docs/presence.md has the table and the reasons). The user's
manual status is not a claim here: it is applied by dismissing the current transition (see
`transition_id`), so it wins until the effective presence next changes, as in Lync.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from samtek.model import ClaimKind, PresenceClaim, Show

_EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Resolution:
    winner: PresenceClaim
    show: Show
    # End of the continuous period covered by claims of the winner's kind ("I møte til …"):
    # back-to-back and overlapping meetings merge; a higher claim inside it does not cut it.
    display_until: datetime
    # When the winning kind took over: identifies this transition for manual dismissal.
    period_start: datetime
    active: tuple[PresenceClaim, ...]

    @property
    def kind(self) -> ClaimKind:
        return self.winner.kind


def winner_at(claims: Iterable[PresenceClaim], at: datetime) -> PresenceClaim | None:
    """Highest kind among claims active at `at`; ties go to the one that ends last."""
    active = [c for c in claims if c.active_at(at)]
    if not active:
        return None
    return max(active, key=lambda c: (c.kind, c.valid_until, c.claim_id))


def resolve(claims: Sequence[PresenceClaim], at: datetime) -> Resolution | None:
    winner = winner_at(claims, at)
    if winner is None:
        return None
    same_kind = [c for c in claims if c.kind == winner.kind]
    return Resolution(
        winner=winner,
        show=winner.show,
        display_until=_covered_until(same_kind, at),
        period_start=_winning_since(claims, winner.kind, at),
        active=tuple(c for c in claims if c.active_at(at)),
    )


def boundaries(claims: Iterable[PresenceClaim]) -> list[datetime]:
    return sorted({t for c in claims for t in (c.valid_from, c.valid_until)})


def next_boundary(claims: Iterable[PresenceClaim], after: datetime) -> datetime | None:
    """The first instant after `after` at which any claim starts or ends."""
    return min(
        (t for c in claims for t in (c.valid_from, c.valid_until) if t > after), default=None
    )


def transition_id(person_id: str, resolution: Resolution) -> str:
    """Deterministic across restarts, new whenever the winning kind (re)starts."""
    raw = f"{person_id}|{resolution.kind.name}|{resolution.period_start.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def _covered_until(claims: Sequence[PresenceClaim], at: datetime) -> datetime:
    """End of the union of `claims`' intervals that contains `at`."""
    end = at
    for claim in sorted(claims, key=lambda c: c.valid_from):
        if claim.valid_from <= end and claim.valid_until > end:
            end = claim.valid_until
    return end


def _winning_since(claims: Sequence[PresenceClaim], kind: ClaimKind, at: datetime) -> datetime:
    """Walk back over boundaries while `kind` stays the winning kind."""
    since = at
    for t in reversed([b for b in boundaries(claims) if b <= at]):
        before = winner_at(claims, t - _EPSILON)
        if before is None or before.kind != kind:
            return t
        since = t
    return since
