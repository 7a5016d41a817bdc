"""Out-of-office auto-replies: one automatic answer per sender, recipient and day.

A component does not see messages between users, so the server module
deploy/prosody/mod_samtek_oof.lua watches the users SAMTEK lists as out of office and tells
the component who wrote to whom (never the text). SAMTEK re-checks the person (opted in with
`oof_autoreply`, out of office right now), claims a notification key in the store (exactly
once across restarts) and answers the sender from the component's JID with the OOF text.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

import structlog
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Message

from bridges.assistant.texts import Texts
from samtek.bus import Bus
from samtek.clock import SYSTEM_CLOCK, Clock, to_server_time
from samtek.events import OutOfOfficeUpdate
from samtek.health import HealthReporter
from samtek.model import ExternalAudience, OutOfOffice, Person
from samtek.plugin import Directory
from samtek.presence.texts import format_until
from samtek.store import Store
from samtek.xmpp.link import NotConnected, XmppLink

log = structlog.get_logger("samtek.assistant.oof")

NS = "urn:samtek:oof:0"
HIT = f"{{{NS}}}oof-hit"
OPEN_END = timedelta(days=366)  # an OOF without an end is watched this long, then re-sent
MAX_RECENT = 10_000  # keys answered recently, kept in memory to spare the store


def active(oof: OutOfOffice | None, now: datetime) -> bool:
    return (
        oof is not None
        and oof.enabled
        and (oof.start is None or oof.start <= now)
        and (oof.end is None or now < oof.end)
    )


class OofAutoReply:
    def __init__(
        self,
        link: XmppLink,
        directory: Directory,
        bus: Bus,
        store: Store,
        domain: str,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._clock = clock
        self._link = link
        self._directory = directory
        self._store = store
        self._domain = domain
        self._updates = bus.subscribe(OutOfOfficeUpdate)  # before connectors start
        self._oof: dict[str, OutOfOffice] = {}
        self._changed = asyncio.Event()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.health = HealthReporter("assistant-oof", clock)

    def register(self) -> None:
        self._link.on_ready(self.push)
        self._link.on_message(HIT, self.on_hit)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._consume())
            group.create_task(self._push_on_change())

    async def _consume(self) -> None:
        async for update in self._updates:
            self._oof[update.person_id] = update.oof
            self._changed.set()

    async def _push_on_change(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            try:
                await self.push()
            except NotConnected:
                log.debug("OOF list not pushed: not connected; pushed on the next connect")

    def watched(self, now: datetime) -> dict[str, datetime]:
        """Bare JID -> until, for everyone who wants auto-replies and is (or will be) away."""
        out = {}
        for person_id, oof in self._oof.items():
            person = self._directory.person(person_id)
            if person is None or not person.oof_autoreply or not oof.enabled:
                continue
            until = oof.end or now + OPEN_END
            if until > now:
                out[person.jid] = until
        return out

    async def push(self) -> None:
        """Replace the server's list of watched users (after every connect and change)."""
        payload = ET.Element(f"{{{NS}}}oof")
        for jid, until in sorted(self.watched(self._clock.now()).items()):
            real = to_server_time(self._clock, until)  # Prosody compares with its own clock
            ET.SubElement(payload, f"{{{NS}}}user", jid=jid, until=str(int(real.timestamp())))
        try:
            await self._link.send_iq(self._domain, "set", payload)
        except (IqError, IqTimeout) as exc:
            # Most likely mod_samtek_oof is not loaded: auto-replies are off, all else works.
            self.health.item_error("server", f"cannot set the OOF list: {exc}")
            return
        self.health.item_ok("server")
        self.health.success()

    async def on_hit(self, message: Message) -> None:
        if message["from"].bare != self._domain:
            return  # only the server itself reports messages between users
        hit = message.xml.find(HIT)
        if hit is None:
            return
        sender, to = hit.attrib.get("from", ""), hit.attrib.get("to", "")
        recipient = self._directory.by_jid(to)
        now = self._clock.now()
        if recipient is None or not recipient.oof_autoreply:
            return
        oof = self._oof.get(recipient.id)
        if not active(oof, now) or oof is None:
            return
        sender_bare = sender.split("/", 1)[0].lower()
        # The server says whether the sender is in the recipient's roster (a "known" sender).
        known = hit.attrib.get("contact") == "true"
        text = self.text(recipient, oof, sender_bare, now, known)
        if text is None:
            return
        day = now.astimezone(Texts(recipient.language, recipient.timezone).tz).date()
        key = f"oof-autoreply:{sender_bare}:{recipient.jid}:{day.isoformat()}"
        if key in self._recent or not await self._store.claim_notification(key):
            return
        self._recent[key] = None
        while len(self._recent) > MAX_RECENT:
            self._recent.popitem(last=False)
        self._link.send_message(sender, text)

    def text(
        self, recipient: Person, oof: OutOfOffice, sender: str, now: datetime, known: bool = False
    ) -> str | None:
        """The auto-reply for `sender`, or None when this sender gets none.

        The internal text (with the return date) only for people in the directory; anyone
        else (a local account outside it, a federated sender) gets the mailbox's external
        text, and only if its external audience includes them, as Exchange would answer.
        """
        reader = self._directory.by_jid(sender)  # in the sender's language
        if reader is None:
            return self._external_text(recipient, oof, known)
        texts = Texts(reader.language, reader.timezone)
        message = (oof.message or "").strip()
        if oof.end is None:
            return texts("oof_autoreply_open", name=recipient.name, message=message).strip()
        until = format_until(oof.end, now, texts.language, texts.tz, date_only=True)
        return texts("oof_autoreply", name=recipient.name, until=until, message=message).strip()

    @staticmethod
    def _external_text(recipient: Person, oof: OutOfOffice, known: bool) -> str | None:
        audience = oof.external_audience
        allowed = audience is ExternalAudience.ALL or (audience is ExternalAudience.KNOWN and known)
        message = (oof.external_message or "").strip()
        if not allowed or not message:
            return None
        texts = Texts(recipient.language, recipient.timezone)
        return texts("oof_autoreply_external", message=message)
