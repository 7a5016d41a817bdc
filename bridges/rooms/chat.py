"""The rooms feature as the chat assistant sees it (bridges/assistant/room.py protocols):
room requests from chat, and the managed rooms whose members address SAMTEK in the room."""

from __future__ import annotations

import re
from collections.abc import Sequence

import structlog

from bridges.assistant.room import RoomRequestOutcome
from bridges.rooms.bridge import RoomsBridge
from bridges.rooms.plan import Phase, phase_of
from bridges.rooms.spec import Room
from samtek.admin.context import RoomSpecConflict, RoomSpecRejected
from samtek.model import CalendarEvent, Person

log = structlog.get_logger("samtek.rooms")

# The spec validator's words for a group the directory does not know (bridges/rooms/spec.py).
_UNKNOWN_GROUP = re.compile(r"unknown group (['\"])(?P<name>.*)\1$")


class ChatRoom:
    """One active project room: its meetings, and SAMTEK's voice in it."""

    def __init__(self, bridge: RoomsBridge, room: Room) -> None:
        self._bridge = bridge
        self._room = room

    @property
    def room_jid(self) -> str:
        return self._room.jid

    @property
    def language(self) -> str:
        return self._room.spec.language

    @property
    def timezone(self) -> str:
        return self._bridge.settings.default_timezone

    async def next_meetings(self, limit: int = 5) -> list[CalendarEvent]:
        """From the linked calendar as last read by the daemon (every pass), not yet over."""
        now = self._bridge.clock.now()
        events = self._bridge.meetings.meetings.get(self._room.id, [])
        return [e for e in events if e.end > now][:limit]

    def say(self, text: str) -> None:
        self._bridge.muc.say(self._room.jid, text)


class RoomsForChat:
    def __init__(self, bridge: RoomsBridge) -> None:
        self._bridge = bridge

    async def request_room(
        self, requester: Person, name: str, members: Sequence[str], groups: Sequence[str]
    ) -> RoomRequestOutcome:
        try:
            request = await self._bridge.requests.submit(
                requester, name, list(members), list(groups)
            )
        except RoomSpecConflict:  # the only conflict of a new request: too many pending
            return RoomRequestOutcome("too_many_pending")
        except RoomSpecRejected as exc:
            unknown = tuple(
                m["name"] for e in exc.errors if (m := _UNKNOWN_GROUP.search(e)) is not None
            )
            log.info("room request refused", by=requester.id, errors=exc.errors)
            return (
                RoomRequestOutcome("unknown_groups", unknown)
                if unknown
                else (RoomRequestOutcome("invalid"))
            )
        return RoomRequestOutcome("approved" if request.state == "approved" else "pending")

    def room(self, room_jid: str) -> ChatRoom | None:
        wanted = room_jid.lower()
        today = self._bridge.today().date()
        for room in self._bridge.rooms:
            if room.jid.lower() == wanted:
                phase = phase_of(room, today, self._bridge.settings.retention_days)
                return ChatRoom(self._bridge, room) if phase is Phase.ACTIVE else None
        return None
