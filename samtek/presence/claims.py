"""Sources' facts -> presence claims (calendar events and out-of-office settings)."""

from __future__ import annotations

from collections.abc import Iterable

from samtek.model import (
    BusyStatus,
    CalendarEvent,
    ClaimKind,
    ClaimSource,
    OutOfOffice,
    PresenceClaim,
    Show,
)

_EVENT_CLAIM: dict[BusyStatus, tuple[ClaimKind, Show]] = {
    BusyStatus.BUSY: (ClaimKind.IN_MEETING, Show.DND),
    BusyStatus.TENTATIVE: (ClaimKind.TENTATIVE, Show.AWAY),
    BusyStatus.OOF: (ClaimKind.OUT_OF_OFFICE, Show.XA),
    BusyStatus.ELSEWHERE: (ClaimKind.WORKING_ELSEWHERE, Show.AVAILABLE),
}


def calendar_claims(person_id: str, events: Iterable[CalendarEvent]) -> list[PresenceClaim]:
    claims = []
    for event in events:
        mapped = _EVENT_CLAIM.get(event.busy)
        if mapped is None or event.end <= event.start:
            continue  # free time (all-day or not) never changes presence
        kind, show = mapped
        claims.append(
            PresenceClaim(
                person_id=person_id,
                source=ClaimSource.CALENDAR,
                kind=kind,
                show=show,
                valid_from=event.start,
                valid_until=event.end,
                claim_id=event.key,
                # The subject travels only for non-private events; texts decide on opt-in.
                subject=None if event.sensitivity.hides_details else event.subject,
            )
        )
    return claims


def oof_claims(person_id: str, oof: OutOfOffice) -> list[PresenceClaim]:
    if not oof.enabled or oof.start is None or oof.end is None or oof.end <= oof.start:
        return []
    return [
        PresenceClaim(
            person_id=person_id,
            source=ClaimSource.OOF,
            kind=ClaimKind.OUT_OF_OFFICE,
            show=Show.XA,
            valid_from=oof.start,
            valid_until=oof.end,
            claim_id=f"oof@{oof.start.isoformat()}",
        )
    ]
