"""What every command gets: the asker and their message, and the service's parts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bridges.assistant.calendars import Calendars
from bridges.assistant.config import AssistantSection
from bridges.assistant.parsing import Parsed
from bridges.assistant.room import RoomContext
from bridges.assistant.slots import WorkingHours
from bridges.assistant.texts import Texts
from samtek.model import OutOfOffice, Person
from samtek.plugin import Directory
from samtek.presence.resolver import Resolution

Reply = Callable[[str], Awaitable[None]]


class PresenceView(Protocol):
    """The read side of the presence bridge."""

    def explain(self, person_id: str, at: datetime | None = None) -> Resolution | None: ...

    def out_of_office(self, person_id: str) -> OutOfOffice | None: ...


@dataclass(frozen=True)
class Deps:
    directory: Directory
    presence: PresenceView | None
    calendars: Calendars
    connectors: Mapping[str, object]
    municipalities: Mapping[str, str]  # id -> display name
    settings: AssistantSection

    @property
    def working_hours(self) -> WorkingHours:
        s = self.settings
        return WorkingHours(s.work_start, s.work_end, frozenset(s.work_days))


@dataclass(frozen=True)
class Ask:
    asker: Person
    parsed: Parsed
    now: datetime
    texts: Texts
    reply: Reply
    room: RoomContext | None = None
