"""`samtek presence explain`: the claims behind a person's presence, from the stored state.

Reads the last calendars the service persisted, so it works without a running service.
"""

from __future__ import annotations

from datetime import datetime

from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.config import Config
from samtek.model import ClaimSource, PresenceClaim
from samtek.presence.claims import calendar_claims
from samtek.presence.resolver import resolve
from samtek.presence.texts import status_text
from samtek.store import open_store


async def explain_offline(
    config: Config, who: str, at: datetime | None = None, clock: Clock = SYSTEM_CLOCK
) -> str:
    person = config.people.get(who) or next(
        (p for p in config.people.values() if p.jid == who.lower()), None
    )
    if person is None:
        return f"no person {who!r} in {config.path}"
    at = at or clock.now()
    claims: list[PresenceClaim] = []
    async with open_store(config.store.url, clock) as store:
        for update in await store.load_calendars():
            if update.person_id == person.id:
                claims += calendar_claims(person.id, update.events)
    lines = [f"{person.name} <{person.jid}> at {at.astimezone():%Y-%m-%d %H:%M:%S %Z}"]
    resolution = resolve(claims, at)
    for claim in sorted(claims, key=lambda c: c.valid_from):
        mark = (
            "*"
            if resolution and claim is resolution.winner
            else ("+" if claim.active_at(at) else " ")
        )
        lines.append(
            f" {mark} {claim.kind.name:<18} {claim.source.value:<8} "
            f"{claim.valid_from.astimezone():%d.%m %H:%M}–{claim.valid_until.astimezone():%H:%M}"
        )
    if resolution is None:
        lines.append("effective: the person's own presence (no active claim)")
    else:
        text = status_text(
            resolution.kind,
            resolution.display_until,
            at,
            person.language,
            person.timezone,
            open_ended=resolution.winner.source is ClaimSource.TEAMS,
        )
        lines.append(
            f'effective: {resolution.show.value} "{text}" — {resolution.kind.name} has the'
            f" highest precedence of {len(resolution.active)} active claim(s)"
        )
    lines.append("legend: * winning, + active; a manual status overrides until the next change")
    return "\n".join(lines)
