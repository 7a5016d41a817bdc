"""`opprett prosjektrom «Ny skole» med kari, ola og gruppa plan-bygg`: ask for a project room.

People are found like in every command (ambiguous -> "Mente du"); groups are checked by the
rooms feature against the directory groups. The request then waits for an admin, or is
approved at once for municipalities with auto-approval; either way the rooms feature tells
the requester (and later the decision), so a successful request needs no answer here.
"""

from __future__ import annotations

from bridges.assistant.commands.common import many_people
from bridges.assistant.context import Ask, Deps
from bridges.assistant.people import people_and_groups


async def run(deps: Deps, ask: Ask) -> None:
    texts = ask.texts
    if deps.rooms is None:
        await ask.reply(texts("rooms_not_enabled"))
        return
    name = ask.parsed.subject
    if not name:
        await ask.reply(texts("usage_room_request"))
        return
    named, groups = people_and_groups(ask.parsed.words)
    members: list[str] = []
    if named:
        words = [word for group in named for word in (*group, ",")]
        people = await many_people(deps, ask, words, "usage_room_request")
        if people is None:
            return
        members = [p.id for p in people]
    group_names = [ask.parsed.as_written(" ".join(g)) for g in groups]
    outcome = await deps.rooms.request_room(ask.asker, name, members, group_names)
    if outcome.state == "unknown_groups":
        quoted = texts.all_of([f"«{g}»" for g in outcome.unknown_groups])
        await ask.reply(texts("room_request_unknown_groups", groups=quoted))
    elif outcome.state == "too_many_pending":
        await ask.reply(texts("room_request_too_many"))
    elif outcome.state == "invalid":
        await ask.reply(texts("room_request_invalid"))
