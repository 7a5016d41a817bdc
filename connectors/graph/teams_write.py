"""SAMTEK's knowledge into Teams: a call on the municipal phone shows as Busy/InACall.

Through an application presence session (`setPresence` with the app's id as sessionId and an
`expirationDuration` in Graph's PT5M..PT4H), refreshed before it expires while the call goes
on, `clearPresence` when it ends. Opt-in: the connector's `teams_write` and, per person,
`teams_write_people` (person ids, or "*").

Never overriding the user: only the app session is written, never the preferred presence;
Teams aggregates user-configured over app-configured states. Calendar meetings are not
written: InAMeeting is not among setPresence's documented combinations (Available/Available,
Busy/InACall, Busy/InAConferenceCall, Away/Away).

Never looping: only phone device states are written (never a Teams claim), and what SAMTEK
wrote is not read back as a Teams claim (`echo`): while the session is set, and after it is
cleared until Teams shows another activity (at most `ECHO_GRACE`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

import structlog

from connectors.graph.config import GraphConfig
from connectors.graph.http import GraphHttp
from connectors.graph.teams import TeamsPresence
from samtek.bus import Bus
from samtek.calendar import CalendarError
from samtek.health import HealthReporter
from samtek.model import Person
from samtek.telephony import DeviceState, DeviceStateUpdate

log = structlog.get_logger("samtek.connectors.graph")
IN_CALL = ("Busy", "InACall")
ECHO_GRACE = timedelta(minutes=2)
_FORMATTING = re.compile(r"[\s().\-/]")


def normalize(number: str) -> str:
    """The phone book's rule (bridges/telephony/phonebook.py): '0047 22 33' -> '+4722 33'."""
    cleaned = _FORMATTING.sub("", number.strip())
    return "+" + cleaned[2:] if cleaned.startswith("00") else cleaned


class TeamsWriter:
    def __init__(
        self,
        config: GraphConfig,
        http: GraphHttp,
        bus: Bus,
        reader: TeamsPresence,
        health: HealthReporter,
        now: Callable[[], datetime],
    ) -> None:
        self.cfg = config
        self.http = http
        self.reader = reader
        self.health = health
        self.now = now
        self.session = config.client_id  # Graph: the application's id is the session id
        self.lasting = timedelta(minutes=config.teams_session_minutes)
        # Subscribed at construction, before connectors start: no early call is missed.
        self._devices = bus.subscribe(DeviceStateUpdate)
        self._phones: dict[str, Person] = {}
        self._set_at: dict[str, datetime] = {}  # person id -> last setPresence
        self._cleared: dict[str, datetime] = {}  # person id -> clearPresence, echo not yet gone
        self._wake = asyncio.Event()
        self._wanted: dict[str, bool] = {}  # person id -> in a call

    def opted_in(self, person: Person) -> bool:
        chosen = self.cfg.teams_write_people
        return "*" in chosen or person.id in chosen

    def echo(self, person_id: str, activity: str | None, now: datetime) -> bool:
        """Is `activity` what SAMTEK itself wrote for the person (not to be read back)?"""
        if activity != IN_CALL[1]:
            self._cleared.pop(person_id, None)  # Teams shows something else: echo gone
            return False
        if person_id in self._set_at:
            return True
        cleared = self._cleared.get(person_id)
        return cleared is not None and now - cleared < ECHO_GRACE

    async def run(self, people: list[tuple[Person, str]]) -> None:
        self._phones = {
            normalize(phone): person
            for person, _ in people
            if self.opted_in(person)
            for phone in person.phones
            if normalize(phone)
        }
        async with asyncio.TaskGroup() as group:
            group.create_task(self._consume())
            group.create_task(self._apply_forever(people))

    async def _consume(self) -> None:
        async for update in self._devices:
            person = self._phones.get(normalize(update.extension))
            if person is None:
                continue
            self._wanted[person.id] = update.state is DeviceState.IN_USE
            self._wake.set()

    async def _apply_forever(self, people: list[tuple[Person, str]]) -> None:
        # Refresh well before the session expires (a third of its life left).
        keepalive = self.lasting * 2 / 3
        check = min(keepalive.total_seconds() / 4, self.cfg.presence_poll_seconds)
        while True:
            with contextlib.suppress(TimeoutError):  # woken by a call, or a keep-alive check
                await asyncio.wait_for(self._wake.wait(), check)
            self._wake.clear()
            if any(self._wanted.values()) and len(self.reader.people) < len(people):
                try:
                    await self.reader.resolve(people)
                except CalendarError as e:  # AuthFailed is not one: it stops the connector
                    self.health.item_error("teams presence (write)", str(e))
                    continue  # the next check tries again
            ids = {person.id: oid for oid, person in self.reader.people.items()}
            for person_id in list(self._wanted):
                oid = ids.get(person_id)
                if oid is not None:
                    await self._apply(person_id, oid, keepalive)

    async def _apply(self, person_id: str, oid: str, keepalive: timedelta) -> None:
        """One person's session. A failure is given up until the next device state: a
        session SAMTEK could not clear expires by itself within `teams_session_minutes`."""
        path = f"/users/{quote(oid)}/presence"
        now = self.now()
        calling = self._wanted[person_id]
        item = f"{person_id} (teams write)"
        try:
            if calling:
                last = self._set_at.get(person_id)
                if last is not None and now - last < keepalive:
                    return
                minutes = int(self.lasting.total_seconds() // 60)
                await self.http.request(
                    "POST",
                    f"{path}/setPresence",
                    json={
                        "sessionId": self.session,
                        "availability": IN_CALL[0],
                        "activity": IN_CALL[1],
                        "expirationDuration": f"PT{minutes}M",
                    },
                )
                self._set_at[person_id] = now
            else:
                self._wanted.pop(person_id, None)
                if self._set_at.pop(person_id, None) is not None:
                    self._cleared[person_id] = now
                    await self.http.request(
                        "POST", f"{path}/clearPresence", json={"sessionId": self.session}
                    )
        except CalendarError as e:  # GraphHttp already retried with backoff
            self._wanted.pop(person_id, None)
            self.health.item_error(item, str(e))
        else:
            self.health.item_ok(item)
