"""`møter` / `meetings` inside a project room: the room's next meetings."""

from __future__ import annotations

from bridges.assistant.context import Ask, Deps


async def run(deps: Deps, ask: Ask) -> None:
    texts = ask.texts
    if ask.room is None:
        await ask.reply(texts("meetings_not_room"))
        return
    meetings = await ask.room.next_meetings()
    if not meetings:
        await ask.reply(texts("meetings_none"))
        return
    lines = [texts("meetings_header")]
    for event in meetings:
        lines.append(
            texts(
                "meetings_line",
                day=texts.local_day(event.start),
                start=texts.clock(event.start),
                end=texts.clock(event.end),
                subject="" if event.sensitivity.hides_details else (event.subject or ""),
            ).rstrip()
        )
    await ask.reply("\n".join(lines))
