"""The Store: typed operations over the database. All SQL of the service lives here."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.events import CalendarUpdate
from samtek.model import BusyStatus, CalendarEvent, Sensitivity, TimeWindow
from samtek.store.database import Database, open_database
from samtek.store.migrations import migrate

log = structlog.get_logger("samtek.store")


@dataclass(frozen=True, slots=True)
class Dismissal:
    person_id: str
    transition: str
    until: datetime


class Store:
    """Writes of caches (calendar snapshots, dismissals) are best effort: when the database
    cannot be written (disk full, PostgreSQL down) the error is logged once per outage and the
    service goes on from memory. Exactly-once claims and connector state still raise."""

    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = db
        self.clock = clock
        self._write_failing = False

    async def _best_effort(self, what: str, sql: str, params: tuple[Any, ...]) -> bool:
        try:
            await self.db.execute(sql, params)
        except self.db.errors as exc:
            if not self._write_failing:
                log.error(
                    "store write failed; continuing from memory (state is lost on restart"
                    " until the store is writable again)",
                    what=what,
                    error=f"{type(exc).__name__}: {exc}",
                )
            self._write_failing = True
            return False
        if self._write_failing:
            log.info("store writable again", what=what)
            self._write_failing = False
        return True

    # -- connector state (sync tokens, ETags, watermarks) --------------------------------
    async def get_state(self, namespace: str, key: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT value FROM connector_state WHERE namespace = ? AND key = ?", (namespace, key)
        )
        return str(row[0]) if row else None

    async def put_state(self, namespace: str, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO connector_state (namespace, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (namespace, key, value, _now(self.clock)),
        )

    async def delete_state(self, namespace: str, key: str) -> None:
        await self.db.execute(
            "DELETE FROM connector_state WHERE namespace = ? AND key = ?", (namespace, key)
        )

    # -- last known calendars: presence is right at once after a restart ----------------
    async def save_calendar(self, update: CalendarUpdate) -> None:
        await self._best_effort(
            f"calendar snapshot {update.source}/{update.person_id}",
            "INSERT INTO calendar_snapshots"
            " (source, person_id, window_start, window_end, events, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, person_id) DO UPDATE SET"
            " window_start = excluded.window_start, window_end = excluded.window_end,"
            " events = excluded.events, updated_at = excluded.updated_at",
            (
                update.source,
                update.person_id,
                update.window.start.isoformat(),
                update.window.end.isoformat(),
                json.dumps([_event_to_json(e) for e in update.events]),
                _now(self.clock),
            ),
        )

    async def load_calendars(self) -> list[CalendarUpdate]:
        rows = await self.db.fetch(
            "SELECT source, person_id, window_start, window_end, events FROM calendar_snapshots"
        )
        return [
            CalendarUpdate(
                source=source,
                person_id=person_id,
                window=TimeWindow(datetime.fromisoformat(ws), datetime.fromisoformat(we)),
                events=tuple(_event_from_json(e) for e in json.loads(events)),
            )
            for source, person_id, ws, we, events in rows
        ]

    # -- manual presence dismissals --------------------------------------------------------
    async def put_dismissal(self, dismissal: Dismissal) -> None:
        await self._best_effort(
            f"dismissal of {dismissal.person_id}",
            "INSERT INTO presence_dismissals (person_id, transition, until) VALUES (?, ?, ?)"
            " ON CONFLICT (person_id) DO UPDATE SET transition = excluded.transition,"
            " until = excluded.until",
            (dismissal.person_id, dismissal.transition, dismissal.until.isoformat()),
        )

    async def load_dismissals(self, now: datetime) -> dict[str, Dismissal]:
        await self._best_effort(  # housekeeping; expired rows are also filtered below
            "expired dismissals",
            "DELETE FROM presence_dismissals WHERE until <= ?",
            (now.isoformat(),),
        )
        rows = await self.db.fetch("SELECT person_id, transition, until FROM presence_dismissals")
        dismissals = (
            Dismissal(pid, transition, datetime.fromisoformat(until))
            for pid, transition, until in rows
        )
        return {d.person_id: d for d in dismissals if d.until > now}

    # -- exactly-once notifications (reminders, missed calls) -------------------------------
    async def claim_notification(self, key: str) -> bool:
        """True the first time `key` is claimed, False ever after (survives restarts)."""
        count = await self.db.execute(
            "INSERT INTO notifications_sent (key, sent_at) VALUES (?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            (key, _now(self.clock)),
        )
        return count == 1


@asynccontextmanager
async def open_store(url: str, clock: Clock = SYSTEM_CLOCK) -> AsyncIterator[Store]:
    async with open_database(url) as db:
        await migrate(db)
        yield Store(db, clock)


def _now(clock: Clock) -> str:
    return clock.now().isoformat()


def _event_to_json(event: CalendarEvent) -> dict[str, Any]:
    return {
        "uid": event.uid,
        "start": event.start.isoformat(),
        "end": event.end.isoformat(),
        "busy": event.busy.value,
        "sensitivity": event.sensitivity.value,
        "all_day": event.all_day,
        "subject": event.subject,
        "location": event.location,
        "online_meeting_url": event.online_meeting_url,
        "recurrence_id": event.recurrence_id.isoformat() if event.recurrence_id else None,
    }


def _event_from_json(data: dict[str, Any]) -> CalendarEvent:
    rid = data.get("recurrence_id")
    return CalendarEvent(
        uid=data["uid"],
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
        busy=BusyStatus(data["busy"]),
        sensitivity=Sensitivity(data["sensitivity"]),
        all_day=bool(data["all_day"]),
        subject=data.get("subject"),
        location=data.get("location"),
        online_meeting_url=data.get("online_meeting_url"),
        recurrence_id=datetime.fromisoformat(rid) if rid else None,
    )
