"""What the rooms feature offers the assistant (implemented by bridges/rooms/chat.py).

The assistant depends only on these protocols, never on bridges.rooms itself: the composition
root (samtek/app.py) hands it the rooms feature when `[rooms]` is configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from samtek.model import CalendarEvent, Person


@runtime_checkable
class RoomContext(Protocol):
    """The room a command was written in. `møter`/`meetings` lists `next_meetings()`."""

    @property
    def room_jid(self) -> str: ...

    async def next_meetings(self, limit: int = 5) -> list[CalendarEvent]:
        """The project's next meetings, soonest first."""
        ...


@runtime_checkable
class SpokenRoom(RoomContext, Protocol):
    """A room with its own language: answers in it use the room's language and timezone."""

    @property
    def language(self) -> str: ...

    @property
    def timezone(self) -> str: ...

    def say(self, text: str) -> None:
        """Post `text` in the room (queued; delivered at least once)."""
        ...


RequestState = Literal["pending", "approved", "too_many_pending", "unknown_groups", "invalid"]


@dataclass(frozen=True, slots=True)
class RoomRequestOutcome:
    state: RequestState
    unknown_groups: tuple[str, ...] = ()


class ProjectRooms(Protocol):
    async def request_room(
        self, requester: Person, name: str, members: Sequence[str], groups: Sequence[str]
    ) -> RoomRequestOutcome:
        """Ask for a room (members: person ids). For "pending" and "approved" the rooms
        feature has told the requester in chat already."""
        ...

    def room(self, room_jid: str) -> SpokenRoom | None:
        """The managed, active project room at `room_jid`, if there is one."""
        ...
