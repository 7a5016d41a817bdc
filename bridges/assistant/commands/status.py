"""`status <person>`: effective presence and why, respecting privacy.

The subject of a meeting is shown only if the person opted in (`show_subject`); claims from
private or confidential events never carry a subject in the first place (presence/claims.py).
"""

from __future__ import annotations

from bridges.assistant.commands.common import many_people, when_or_explain
from bridges.assistant.context import Ask, Deps
from samtek.model import ClaimSource, OutOfOffice, Person
from samtek.presence.resolver import Resolution, transition_id
from samtek.presence.texts import status_text

_WHY = {
    ClaimSource.CALENDAR: "why_calendar",
    ClaimSource.PHONE: "why_phone",
    ClaimSource.OOF: "why_oof",
    ClaimSource.MANUAL: "why_manual",
}


async def run(deps: Deps, ask: Ask) -> None:
    when = await when_or_explain(ask, ask.parsed.words)  # "hvor er ola nå": now anyway
    if when is None:
        return
    people = await many_people(deps, ask, when.rest, "usage_status")
    if people is None:
        return
    lines = []
    for person in people:
        lines += await _status(deps, ask, person)
    await ask.reply("\n".join(lines))


async def _status(deps: Deps, ask: Ask, person: Person) -> list[str]:
    texts = ask.texts
    resolution = deps.presence.explain(person.id, ask.now) if deps.presence else None
    lines: list[str] = []
    if resolution is None:
        lines.append(texts("status_none", name=person.name))
    else:
        subject = resolution.winner.subject if person.show_subject else None
        status = status_text(
            resolution.kind,
            resolution.display_until,
            ask.now,
            texts.language,
            ask.asker.timezone,
            subject=subject,
        )
        why = texts(_WHY[resolution.winner.source])
        lines.append(texts("status_line", name=person.name, status=status, why=why))
        if await _dismissed_by_hand(deps, person, resolution, ask):
            lines.append(texts("manual_note", name=person.name))
    oof = deps.presence.out_of_office(person.id) if deps.presence else None
    if oof is not None and oof.enabled and oof.message and _oof_active(oof, ask):
        lines.append(texts("oof_message", message=oof.message.strip()))
    return lines


def _oof_active(oof: OutOfOffice, ask: Ask) -> bool:
    return (oof.start is None or oof.start <= ask.now) and (oof.end is None or ask.now < oof.end)


async def _dismissed_by_hand(deps: Deps, person: Person, resolution: Resolution, ask: Ask) -> bool:
    """The person changed their status by hand during this transition: theirs is shown."""
    if deps.store is None:
        return False
    dismissal = (await deps.store.load_dismissals(ask.now)).get(person.id)
    return (
        dismissal is not None
        and dismissal.until > ask.now
        and dismissal.transition == transition_id(person.id, resolution)
    )
