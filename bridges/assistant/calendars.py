"""Free/busy across calendar sources: each person is asked from their own connector(s).

People are grouped by source so each connector gets one batched `free_busy` call; sources
are asked concurrently with a timeout, and a failing source names the people it serves.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence

import structlog

from samtek.calendar import CalendarError, CalendarSource, MeetingWriter
from samtek.model import BusyBlock, Person, TimeWindow

log = structlog.get_logger("samtek.assistant")


class NoCalendar(Exception):
    def __init__(self, person: Person) -> None:
        super().__init__(f"{person.id} has no calendar")
        self.person = person


class CalendarUnavailable(Exception):
    def __init__(self, person: Person, reason: str) -> None:
        super().__init__(f"calendar of {person.id}: {reason}")
        self.person = person
        self.reason = reason


class Calendars:
    def __init__(self, connectors: Mapping[str, object], timeout: float = 20.0) -> None:
        self._connectors = connectors  # the service's live mapping: name -> connector
        self._timeout = timeout

    def source(self, name: str) -> CalendarSource | None:
        connector = self._connectors.get(name)
        return connector if isinstance(connector, CalendarSource) else None

    def writer(self, name: str) -> MeetingWriter | None:
        connector = self._connectors.get(name)
        return connector if isinstance(connector, MeetingWriter) else None

    async def busy(
        self, people: Sequence[Person], window: TimeWindow
    ) -> dict[str, list[BusyBlock]]:
        """Busy blocks per person id over all their calendars.

        Raises NoCalendar for a person without any usable calendar and CalendarUnavailable
        when a source fails or times out (the first such person is named).
        """
        by_source: dict[str, list[Person]] = defaultdict(list)
        for person in people:
            usable = [ref.source for ref in person.calendars if self.source(ref.source)]
            if not usable:
                raise NoCalendar(person)
            for source in dict.fromkeys(usable):
                by_source[source].append(person)
        results = await asyncio.gather(
            *(self._ask(name, members, window) for name, members in by_source.items())
        )
        merged: dict[str, list[BusyBlock]] = {p.id: [] for p in people}
        for blocks in results:
            for person_id, items in blocks.items():
                merged.setdefault(person_id, []).extend(items)
        return merged

    async def _ask(
        self, name: str, people: list[Person], window: TimeWindow
    ) -> dict[str, list[BusyBlock]]:
        source = self.source(name)
        assert source is not None
        try:
            async with asyncio.timeout(self._timeout):
                return await source.free_busy(people, window)
        except TimeoutError:
            log.warning("free/busy timed out", source=name, seconds=self._timeout)
            raise CalendarUnavailable(people[0], f"{name} timed out") from None
        except CalendarError as exc:
            log.warning("free/busy failed", source=name, error=str(exc))
            raise CalendarUnavailable(people[0], f"{name}: {exc}") from exc
