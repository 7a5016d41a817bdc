"""`status <person>`: effective presence and why, respecting privacy.

The subject of a meeting is shown only if the person opted in (`show_subject`); claims from
private or confidential events never carry a subject in the first place (presence/claims.py).
"""

from __future__ import annotations

from bridges.assistant.commands.common import many_people, when_or_explain
from bridges.assistant.context import Ask, Deps
from bridges.assistant.online import Online
from samtek.model import ClaimSource, OutOfOffice, Person
from samtek.presence.resolver import Resolution, transition_id
from samtek.presence.texts import status_text

_WHY = {
    ClaimSource.CALENDAR: "why_calendar",
    ClaimSource.PHONE: "why_phone",
    ClaimSource.OOF: "why_oof",
    ClaimSource.MANUAL: "why_manual",
    ClaimSource.TEAMS: "why_teams",
}


async def run(deps: Deps, ask: Ask) -> None:
    when = await when_or_explain(ask, ask.parsed.words)  # "hvor er ola nå": now anyway
    if when is None:
        return
    people = await many_people(deps, ask, when.rest, "usage_status")
    if people is None:
        return
    online = await deps.online.of([p.jid for p in people]) if deps.online else {}
    lines = []
    for person in people:
        lines += await _status(deps, ask, person)
        state = online.get(person.jid.lower())
        if state is not None:
            lines.append(_online_line(ask, person, state))
    await ask.reply("\n".join(lines))


def _online_line(ask: Ask, person: Person, state: Online) -> str:
    """'Per Ås er pålogget i chatten: borte - «Lunsj» siden kl 11:02 (fra chatserveren).'"""
    texts = ask.texts
    since = ""
    if state.since is not None:
        local = state.since.astimezone(texts.tz)
        when = (
            texts("at_clock", time=texts.clock(local))
            if local.date() == ask.now.astimezone(texts.tz).date()
            else texts("at_day", day=texts.local_day(local), time=texts.clock(local))
        )
        since = texts("since", when=when)
    if not state.online:
        return texts("offline_line", name=person.name, since=since)
    show = texts(f"show_{state.show or 'available'}")
    status = texts("status_quote", status=state.status) if state.status else ""
    return texts("online_line", name=person.name, show=show, status=status, since=since)


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
            open_ended=resolution.winner.source is ClaimSource.TEAMS,
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
