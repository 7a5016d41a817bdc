"""What a project room offers the commands (implemented by the rooms feature)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from samtek.model import CalendarEvent


@runtime_checkable
class RoomContext(Protocol):
    """The room a command was written in. `møter`/`meetings` lists `next_meetings()`."""

    @property
    def room_jid(self) -> str: ...

    async def next_meetings(self, limit: int = 5) -> list[CalendarEvent]:
        """The project's next meetings, soonest first."""
        ...
