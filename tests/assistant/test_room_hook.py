"""The command handler called the way a project room will call it (with a RoomContext).

`ProjectRoom` below is the shape the rooms feature implements; no product code is replaced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridges.assistant.calendars import Calendars
from bridges.assistant.config import AssistantSection
from bridges.assistant.context import Deps
from bridges.assistant.handler import CommandHandler
from bridges.assistant.parsing import Command
from bridges.assistant.room import RoomContext
from samtek.clock import FixedClock
from samtek.directory import StaticDirectory
from samtek.model import CalendarEvent, Person, Sensitivity

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ASKER = Person(
    id="nils", jid="nils@region.test", name="Nils Vik", municipality="notodden", language="nn"
)


class ProjectRoom:
    def __init__(self, events: list[CalendarEvent]) -> None:
        self.events = events

    @property
    def room_jid(self) -> str:
        return "veg-e134@conference.region.test"

    async def next_meetings(self, limit: int = 5) -> list[CalendarEvent]:
        return self.events[:limit]


def handler() -> CommandHandler:
    deps = Deps(
        directory=StaticDirectory({ASKER.id: ASKER}),
        presence=None,
        calendars=Calendars({}),
        connectors={},
        municipalities={"notodden": "Notodden"},
        settings=AssistantSection(),
    )
    return CommandHandler(deps, clock=FixedClock(NOW))


async def test_meetings_in_a_room_in_the_askers_language() -> None:
    start = NOW + timedelta(days=1)
    room = ProjectRoom(
        [
            CalendarEvent("m1", start, start + timedelta(hours=1), subject="Byggemøte"),
            CalendarEvent(
                "m2",
                start + timedelta(hours=3),
                start + timedelta(hours=4),
                subject="Personal",
                sensitivity=Sensitivity.PRIVATE,
            ),
        ]
    )
    assert isinstance(room, RoomContext)
    said: list[str] = []

    async def reply(text: str) -> None:
        said.append(text)

    # Nynorsk "møte" without arguments in a room means the room's meetings.
    for text in ("møter", "Møte", "neste møte"):
        assert await handler().handle(ASKER, text, reply, room=room) is Command.MEETINGS
    assert said[0].splitlines() == [
        "Neste møte:",
        "• torsdag 26. november 10:00–11:00 Byggemøte",
        "• torsdag 26. november 13:00–14:00",  # private: no subject
    ]
    assert said[0] == said[1] == said[2]


async def test_outside_a_room_meetings_explains_itself() -> None:
    said: list[str] = []

    async def reply(text: str) -> None:
        said.append(text)

    await handler().handle(ASKER, "møter", reply)
    assert said == ["«møte» verkar berre i eit prosjektrom."]
    await handler().handle(ASKER, "møte", reply)
    assert said[-1].startswith("Skriv til dømes «møte Kari")
