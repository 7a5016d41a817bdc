"""Do-not-disturb both ways between a person's chat status and their phone.

- Chat -> phone: the server module mod_samtek_dnd reports when a watched user switches dnd
  on or off by hand (`<dnd on="true"/>`); a dismissal of an overlay to dnd counts as "on".
  The bridge switches the DND of the person's extensions through the telephony connectors
  (`Telephony.set_dnd`: AstDB on Asterisk).
- Phone -> chat: the presence bridge asks `shows_phone_dnd` for every device state update;
  DND on the phone becomes the PHONE_DND claim ("Ikke forstyrr") if the municipality wants it.
- Loop guard: each extension remembers whether its current DND was switched on by SAMTEK for
  a chat dnd ("ours"). Our own DND reported back by the PBX is not shown as a phone DND (the
  person's own dnd already shows), and a DND set on the phone itself is never taken over by
  chat: leaving dnd in chat switches off only a DND that chat switched on. Reports within
  ECHO_WINDOW of our switch may predate it and do not end "ours". "Ours" is kept in the
  store, so a restart does not turn our DND into the phone's.
- Each municipality chooses (`dnd_sync`): off, phone_to_chat, chat_to_phone or both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol
from xml.etree import ElementTree as ET

import structlog
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Message

from bridges.telephony.phonebook import normalize
from samtek.bus import Bus
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.events import ManualPresenceChange, PeopleChanged
from samtek.health import HealthReporter
from samtek.model import Person, Show
from samtek.plugin import AuthFailed, Directory
from samtek.store import Store
from samtek.telephony import (
    DeviceState,
    DeviceStateUpdate,
    NotSupportedByPbx,
    Telephony,
    TelephonyError,
)
from samtek.xmpp.link import NotConnected, XmppLink

log = structlog.get_logger("samtek.dnd")

NS = "urn:samtek:dnd:0"
DND_TAG = f"{{{NS}}}dnd"
ECHO_WINDOW = timedelta(seconds=30)  # a PBX report this soon after our switch may predate it
MAX_PENDING = 1_000  # chat changes waiting for the PBX (the server module waits beyond)
STATE_NAMESPACE = "dnd-from-chat"  # extension -> "on" while SAMTEK's DND is on
# Users per watch-list IQ: ~60 KiB, far below Prosody's 512 KiB component stanza limit.
WATCH_CHUNK = 1_000

DndSync = Literal["off", "phone_to_chat", "chat_to_phone", "both"]
_TO_CHAT = {"phone_to_chat", "both"}
_TO_PHONE = {"chat_to_phone", "both"}


class Ownership(Protocol):
    def owns(self, person_id: str) -> bool: ...


@dataclass
class _Extension:
    phone_on: bool = False  # the PBX's last report
    ours: bool = False  # the current DND was switched on by SAMTEK for a chat dnd
    switched_at: datetime | None = None  # when SAMTEK last switched it


@dataclass(frozen=True, slots=True)
class _ChatChange:
    person_id: str
    on: bool


class DndBridge:
    def __init__(
        self,
        link: XmppLink,
        directory: Directory,
        bus: Bus,
        store: Store,
        municipalities: Mapping[str, DndSync],
        connectors: Mapping[str, object],
        domain: str,
        health: HealthReporter,
        clock: Clock = SYSTEM_CLOCK,
        ownership: Ownership | None = None,
    ) -> None:
        self._link = link
        self._directory = directory
        self._store = store
        self._sync = dict(municipalities)
        self._connectors = connectors  # filled by the service after the bridges are built
        self._domain = domain
        self.health = health
        self._clock = clock
        self._ownership = ownership
        self._extensions: dict[str, _Extension] = {}
        self.watching: int | None = None  # users the server watches for us; None: not told yet
        # Subscribe now, before connectors start, so no early change is missed.
        self._dismissals = bus.subscribe(ManualPresenceChange)
        self._people_changes = bus.subscribe(PeopleChanged)
        self._pending: asyncio.Queue[_ChatChange] = asyncio.Queue(MAX_PENDING)
        self._unsaved: set[str] = set()  # extensions whose "ours" changed since the last save
        self._save = asyncio.Event()

    @property
    def chat_to_phone_enabled(self) -> bool:
        return any(mode in _TO_PHONE for mode in self._sync.values())

    def register(self) -> None:
        self._link.on_ready(self.push_watch_list)
        self._link.on_message(DND_TAG, self.on_dnd_message)

    async def restore(self) -> None:
        """Which DNDs SAMTEK switched on for a chat dnd (before the presence bridge runs)."""
        for ext, value in (await self._store.list_state(STATE_NAMESPACE)).items():
            if value == "on":
                self._extension(ext).ours = True

    async def run(self) -> None:
        self.health.success()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._save_forever())
            group.create_task(self._consume_dismissals())
            group.create_task(self._consume_people())
            group.create_task(self._switch_forever())

    # -- phone -> chat (called by the presence bridge for every device state update) --------
    def shows_phone_dnd(self, person: Person, update: DeviceStateUpdate) -> bool:
        """Should this update's DND show in chat? Also keeps the extension's loop memory."""
        state = self._extension(update.extension)
        if update.state is DeviceState.DND:
            state.phone_on = True
            if state.ours:
                return False  # our own switch coming back: the person's chat dnd shows
            return self._sync.get(person.municipality, "phone_to_chat") in _TO_CHAT
        state.phone_on = False
        if state.ours and not self._recent(state):
            state.ours = False  # switched off on the phone: chat no longer owns it
            self._changed(update.extension)
        return True

    # -- chat -> phone ---------------------------------------------------------------------
    def watched(self) -> list[str]:
        """Bare JIDs whose manual dnd the server module should report."""
        return sorted(
            person.jid
            for person in self._directory.people().values()
            if person.phones and self._sync.get(person.municipality) in _TO_PHONE
        )

    async def push_watch_list(self) -> None:
        """Replace the server's watch list (after every connect and directory change)."""
        if not self.chat_to_phone_enabled:
            return  # no municipality wants it: mod_samtek_dnd need not be loaded
        users = self.watched()
        try:
            # The first part replaces the server's list, the others add to it.
            for start in range(0, max(len(users), 1), WATCH_CHUNK):
                payload = ET.Element(f"{{{NS}}}watch")
                if start:
                    payload.set("add", "true")
                for jid in users[start : start + WATCH_CHUNK]:
                    ET.SubElement(payload, f"{{{NS}}}user", jid=jid)
                await self._link.send_iq(self._domain, "set", payload)
        except (IqError, IqTimeout):
            self.health.item_error(
                "server",
                "the server module mod_samtek_dnd does not answer: add it to modules_enabled "
                "with samtek_dnd_trusted (deploy/prosody/README.md); dnd set in chat does "
                "not reach phones until then",
            )
            return
        self.watching = len(users)
        self.health.item_ok("server")

    async def on_dnd_message(self, message: Message) -> None:
        if message["from"].bare != self._domain or message["from"].resource:
            return  # only the server itself reports users' dnd
        item = message.xml.find(DND_TAG)
        if item is None:
            return
        person = self._directory.by_jid(item.attrib.get("jid", ""))
        on = item.attrib.get("on")
        if person is None or on not in ("true", "false"):
            return
        await self._pending.put(_ChatChange(person.id, on == "true"))

    async def _consume_dismissals(self) -> None:
        # A dismissal tells the new show only: "dnd" is a switch on; "off" needs the module.
        async for change in self._dismissals:
            person = self._directory.by_jid(change.jid)
            if person is not None and change.show is Show.DND:
                await self._pending.put(_ChatChange(person.id, True))

    async def _consume_people(self) -> None:
        async for _change in self._people_changes:
            try:
                await self.push_watch_list()
            except NotConnected:
                log.debug("dnd watch list not pushed: not connected; pushed on the next connect")

    async def _switch_forever(self) -> None:
        while True:
            change = await self._pending.get()
            person = self._directory.person(change.person_id)
            if person is None or self._sync.get(person.municipality) not in _TO_PHONE:
                continue
            if self._ownership is not None and not self._ownership.owns(person.id):
                continue  # the instance that serves this person switches it
            for phone in person.phones:
                await self._switch(person, normalize(phone), change.on)

    async def _switch(self, person: Person, ext: str, on: bool) -> None:
        state = self._extension(ext)
        if on and (state.ours or state.phone_on):
            return  # already on; a DND set on the phone stays the phone's
        if not on and not state.ours:
            return  # chat never switched it on: leave the phone's own DND alone
        # Remember first (also in the store): the PBX may report it before set_dnd returns.
        previous = (state.ours, state.switched_at)
        state.ours, state.switched_at = on, self._clock.now()
        await self._persist(ext)
        if await self._set_dnd(ext, on):
            log.info("phone dnd switched from chat", person=person.id, extension=ext, on=on)
        else:
            state.ours, state.switched_at = previous
            await self._persist(ext)

    async def _persist(self, ext: str) -> None:
        ext = normalize(ext)
        if self._extension(ext).ours:
            await self._store.put_state(STATE_NAMESPACE, ext, "on")
        else:
            await self._store.delete_state(STATE_NAMESPACE, ext)

    def _changed(self, ext: str) -> None:
        """For the synchronous phone side: saved soon by `_save_forever`."""
        self._unsaved.add(normalize(ext))
        self._save.set()

    async def _save_forever(self) -> None:
        while True:
            await self._save.wait()
            self._save.clear()
            batch, self._unsaved = self._unsaved, set()
            for ext in sorted(batch):
                await self._persist(ext)

    async def _set_dnd(self, ext: str, on: bool) -> bool:
        """Switch on every telephony connector that can; True if one did."""
        done = False
        phones = {n: c for n, c in self._connectors.items() if isinstance(c, Telephony)}
        if not phones:
            self.health.item_error("telephony", "no connector can switch a phone's DND")
        for name, connector in phones.items():
            try:
                await connector.set_dnd(ext, on)
            except NotSupportedByPbx as exc:
                self.health.item_error(f"connector {name}", str(exc))
                continue
            except (TelephonyError, AuthFailed) as exc:
                self.health.item_error(f"extension {ext}", str(exc))
                continue
            done = True
            self.health.item_ok(f"extension {ext}")
        return done

    def _extension(self, ext: str) -> _Extension:
        return self._extensions.setdefault(normalize(ext), _Extension())

    def _recent(self, state: _Extension) -> bool:
        at = state.switched_at
        return at is not None and self._clock.now() - at < ECHO_WINDOW
