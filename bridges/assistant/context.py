"""What every command gets: the asker and their message, and the service's parts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from bridges.assistant.calendars import Calendars
from bridges.assistant.config import AssistantSection
from bridges.assistant.online import OnlineLookup
from bridges.assistant.parsing import Parsed
from bridges.assistant.room import ProjectRooms, RoomContext
from bridges.assistant.slots import WorkingHours
from bridges.assistant.texts import Texts
from samtek.model import OutOfOffice, Person
from samtek.plugin import Directory
from samtek.presence.resolver import Resolution
from samtek.store import Store

log = structlog.get_logger("samtek.assistant")

Reply = Callable[[str], Awaitable[None]]


class Background:
    """Long waits (a phone ringing for 30 s) run here, not in a command worker; bounded."""

    def __init__(self, limit: int = 100) -> None:
        self._limit = limit
        self._tasks: set[asyncio.Task[None]] = set()  # references keep tasks alive

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> bool:
        if len(self._tasks) >= self._limit:
            work.close()
            log.warning("background work refused: limit reached", name=name, limit=self._limit)
            return False
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return True

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", name=task.get_name(), exc_info=task.exception())


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
    background: Background = field(default_factory=Background)
    store: Store | None = None  # manual dismissals ("status" says when a person's own wins)
    online: OnlineLookup | None = None  # who is online in the chat (the XMPP server knows)
    rooms: ProjectRooms | None = None  # project rooms, when `[rooms]` is configured

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
