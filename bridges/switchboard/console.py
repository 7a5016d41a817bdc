"""The switchboard console as one supervised part: search index, live rows and operators.

Built in the composition root. It listens to the presence bridge (a person's claims changed,
or one of them started or ended) and to the directory (people or groups changed); one
applier turns the changed people into rows and sends each batch to every open page once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Protocol

import structlog
from slixmpp.stanza import Message

from bridges.assistant.slots import WorkingHours
from bridges.switchboard.actions import RECEIPTS_NS, Calls, MessageSender, Note, Notes
from bridges.switchboard.ldapauth import LdapVerifier
from bridges.switchboard.search import SearchIndex
from bridges.switchboard.sessions import Sessions
from bridges.switchboard.settings import SwitchboardSection
from bridges.switchboard.stream import Hub, sse
from bridges.switchboard.view import PresenceView, Row, person_row
from samtek.clock import Clock
from samtek.directory import DirectoryService
from samtek.events import PeopleChanged
from samtek.groups import UnknownGroup
from samtek.health import HealthReporter
from samtek.model import Person
from samtek.store.audit import AuditLog

log = structlog.get_logger("samtek.switchboard")

MAX_BATCH = 500  # rows per stream message; more changed people go in the next ones


class LivePresence(PresenceView, Protocol):
    def on_change(self, listener: Callable[[str], None]) -> None: ...


class Switchboard:
    def __init__(
        self,
        settings: SwitchboardSection,
        directory: DirectoryService,
        presence: LivePresence,
        sender: MessageSender,
        connectors: Mapping[str, object],
        audit: AuditLog,
        municipality_names: Mapping[str, str],
        clock: Clock,
        health: HealthReporter,
        verifier: LdapVerifier | None = None,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.presence = presence
        self.audit = audit
        self.clock = clock
        self.health = health
        self.municipality_names = dict(municipality_names)
        self.hours = WorkingHours(settings.working_day_start, settings.working_day_end)
        self.verifier = verifier or LdapVerifier(settings)
        self.sessions = Sessions(
            clock, timedelta(minutes=settings.session_minutes), settings.max_sessions
        )
        self.hub = Hub(settings.stream_queue, settings.max_streams)
        self.notes = Notes(sender)
        self.calls = Calls(connectors)
        self.index = SearchIndex(directory.people().values(), self.municipality_names)
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._reindex = asyncio.Event()
        presence.on_change(self._mark)
        directory.on_change(self._on_people_changed)
        sender.on_message(f"{{{RECEIPTS_NS}}}received", self._on_receipt)

    # -- reading --------------------------------------------------------------------------
    def row(self, person: Person) -> Row:
        return person_row(
            person, self.presence, self.clock.now(), self.municipality_names, self.hours
        )

    def search(self, query: str) -> list[Row]:
        return [self.row(hit.person) for hit in self.index.search(query, self.settings.results)]

    def person(self, person_id: str) -> Person | None:
        return self.directory.people().get(person_id)

    def is_operator(self, person: Person) -> bool:
        for group in self.settings.operator_groups:
            try:
                if person.jid in self.directory.members(group):
                    return True
            except UnknownGroup:
                continue  # not published (yet) by any directory source
        return False

    @staticmethod
    def note_json(note: Note, repeated: bool = False) -> dict[str, object]:
        return {
            "key": note.key,
            "person": note.person_id,
            "status": note.status,
            "at": note.sent_at.isoformat(),
            "delivered": note.delivered_at.isoformat() if note.delivered_at else None,
            "repeated": repeated,
        }

    async def _on_receipt(self, message: Message) -> None:
        received = message.xml.find(f"{{{RECEIPTS_NS}}}received")
        message_id = received.get("id", "") if received is not None else ""
        if not message_id or len(message_id) > 64:
            return
        note = self.notes.receipt(message_id, message["from"].bare, self.clock.now())
        if note is None:
            return  # not ours, a second copy, or from someone else than the person
        self.hub.send_to(note.username, sse("note", self.note_json(note)))
        await self.audit.record(
            f"switchboard:{note.username}", "switchboard.note", "delivered",
            {"person": note.person_id},
        )  # fmt: skip

    # -- live -----------------------------------------------------------------------------
    async def run(self) -> None:
        self.health.success()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._apply_forever())
                group.create_task(self._reindex_forever())
        finally:
            self.calls.cancel_all()
            self.hub.close_all()

    def _mark(self, person_id: str) -> None:
        self._dirty.add(person_id)
        self._wake.set()

    async def _apply_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not len(self.hub):
                self._dirty.clear()  # nobody watching: rows are computed when asked
                continue
            people = self.directory.people()
            batch = list(self._dirty)[:MAX_BATCH]
            self._dirty.difference_update(batch)
            if self._dirty:
                self._wake.set()
            rows = [self.row(people[pid]) for pid in batch if pid in people]
            if rows:
                self.hub.broadcast(sse("rows", rows))
            await asyncio.sleep(0)  # let the pages' writers run between batches

    def _on_people_changed(self, change: PeopleChanged) -> None:
        self._reindex.set()

    async def _reindex_forever(self) -> None:
        while True:
            await self._reindex.wait()
            self._reindex.clear()
            people = list(self.directory.people().values())
            self.index = await asyncio.to_thread(SearchIndex, people, self.municipality_names)
            for username in self.sessions.usernames():
                person = self.person(username)
                if person is None or not self.is_operator(person):
                    self.sessions.end_user(username)
                    self.hub.close_user(username)
                    await self.audit.record(
                        f"switchboard:{username}", "switchboard.role-lost", "logged-out"
                    )
            self.hub.broadcast(sse("directory", {"people": len(self.index)}))
            log.info("switchboard index rebuilt", people=len(self.index))
