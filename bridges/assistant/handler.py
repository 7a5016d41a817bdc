"""Runs one command for one asker: the entry point for direct chats and project rooms.

A room calls `handle(asker, text, reply, room=its RoomContext)`; `reply` sends into the room.
In a room, 'møte'/'meeting' without arguments means the room's meetings (nynorsk plural).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from bridges.assistant.commands import (
    call,
    find_time,
    free,
    meeting,
    meetings,
    room_request,
    status,
    unknown,
)
from bridges.assistant.commands import help as help_
from bridges.assistant.context import Ask, Deps, Reply
from bridges.assistant.parsing import Command, Parsed, parse
from bridges.assistant.room import RoomContext, SpokenRoom
from bridges.assistant.texts import Texts
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.model import Person

log = structlog.get_logger("samtek.assistant")

Run = Callable[[Deps, Ask], Awaitable[None]]
_COMMANDS: dict[Command, Run] = {
    Command.HELP: help_.run,
    Command.STATUS: status.run,
    Command.FREE: free.run,
    Command.FIND_TIME: find_time.run,
    Command.MEETING: meeting.run,
    Command.MEETINGS: meetings.run,
    Command.CALL: call.run,
    Command.ROOM_REQUEST: room_request.run,
}
MAX_ECHO = 60  # characters of an unknown command quoted back
# A command is a line or two; longer text is refused before it is parsed, which bounds the
# work one message can cause (together with people.MAX_NAMES).
MAX_TEXT = 500


class CommandHandler:
    def __init__(self, deps: Deps, clock: Clock = SYSTEM_CLOCK) -> None:
        self.deps = deps
        self._clock = clock

    def texts_for(self, person: Person) -> Texts:
        return Texts(person.language, person.timezone)

    async def handle(
        self, asker: Person, text: str, reply: Reply, room: RoomContext | None = None
    ) -> Command | None:
        """Answer `text` from `asker` through `reply`; returns the command recognised.
        In a room with its own language, everyone there reads the answer in that language."""
        texts = self.texts_for(asker)
        if isinstance(room, SpokenRoom):
            texts = Texts(room.language, room.timezone)
        if len(text) > MAX_TEXT:
            await reply(texts("too_long", limit=MAX_TEXT))
            return None
        parsed = parse(text)
        if room is not None and parsed.command is Command.MEETING and not parsed.words:
            parsed = Parsed(Command.MEETINGS, (), None)
        ask = Ask(asker, parsed, self._clock.now(), texts, reply, room)
        if parsed.command is None:
            echo = text.strip()
            if len(echo) > MAX_ECHO:
                echo = echo[:MAX_ECHO] + "…"
            await unknown.run(self.deps, ask, echo)
            return None
        try:
            await _COMMANDS[parsed.command](self.deps, ask)
        except Exception:  # the boundary: a failing command answers, and is logged
            log.exception("command failed", command=parsed.command.value, asker=asker.id)
            await reply(texts("error"))
        return parsed.command
