"""Device state of a person's phone -> a presence claim.

A phone state has no known end: the claim lasts a long horizon (a safety net against a lost
"idle") and is replaced or removed by the next device state update of that extension. What
the XMPP server keeps is capped much shorter (see `cap_phone_until`), so a dead SAMTEK never
leaves "on the phone" for hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from samtek.model import ClaimKind, ClaimSource, PresenceClaim, Show
from samtek.telephony import DeviceState, DeviceStateUpdate

PHONE_HORIZON = timedelta(hours=12)  # no call rings or lasts longer
DND_HORIZON = timedelta(days=14)  # DND on the phone may stay on for a holiday
# Server-side lifetime of a phone overlay; the bridge re-asserts it before it lapses.
PHONE_OVERLAY_CAP = timedelta(hours=4)

_KINDS: dict[DeviceState, ClaimKind] = {
    DeviceState.RINGING: ClaimKind.PHONE_RINGING,
    DeviceState.IN_USE: ClaimKind.ON_PHONE,
    DeviceState.DND: ClaimKind.PHONE_DND,
}


def phone_claims(person_id: str, update: DeviceStateUpdate) -> list[PresenceClaim]:
    """Idle and unavailable phones claim nothing: the person's own presence shows."""
    kind = _KINDS.get(update.state)
    if kind is None:
        return []
    return [
        PresenceClaim(
            person_id=person_id,
            source=ClaimSource.PHONE,
            kind=kind,
            show=Show.DND,
            valid_from=update.at,
            valid_until=update.at + (DND_HORIZON if kind is ClaimKind.PHONE_DND else PHONE_HORIZON),
            claim_id=f"phone:{update.source}:{update.extension}@{update.at.isoformat()}",
        )
    ]


def cap_phone_until(until: datetime, at: datetime) -> datetime:
    """The overlay's end for a phone claim shown at `at`: at most ~4 h ahead.

    Quantized to the hour, so re-planning within the same hour yields the same overlay (no
    re-send); the bridge wakes at the cap and extends it while the call goes on.
    """
    hour = at.replace(minute=0, second=0, microsecond=0)
    return min(until, hour + PHONE_OVERLAY_CAP)
