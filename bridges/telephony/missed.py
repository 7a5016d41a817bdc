"""Missed calls -> one chat message from the assistant to the callee.

"Tapt anrop fra Kari Nordmann (+47 …) kl. 10:42", in the callee's language and timezone.
Exactly once per call and callee, also across restarts: the store's notification claim is
taken before sending. If the XMPP link drops between claim and send, the message is held in
memory and sent after the reconnect; a crash in that instant loses it (at most once).
"""

from __future__ import annotations

import asyncio
import tomllib
from collections import deque
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import structlog
from babel.dates import format_date

from bridges.telephony.phonebook import PhoneBook, normalize
from samtek.bus import Bus
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.health import HealthReporter
from samtek.model import Person
from samtek.plugin import Directory
from samtek.store import Store
from samtek.telephony import CallDirection, CallEvent, CallState
from samtek.xmpp.link import NotConnected

log = structlog.get_logger("samtek.missed_calls")

LANGUAGES = ("nb", "nn", "en")
_BABEL_LOCALE = {"nb": "nb_NO", "nn": "nn_NO", "en": "en_GB"}
MAX_BACKLOG = 5_000  # missed calls waiting for the XMPP link (oldest dropped beyond)
_ANONYMOUS = {"", "anonymous", "unknown", "restricted", "private"}


class ChatSender(Protocol):
    """What the notifier needs of the XMPP link (samtek.xmpp.link.XmppLink)."""

    @property
    def connected(self) -> bool: ...

    def send_message(
        self, to: str, body: str, mfrom: str | None = None, mtype: Literal["chat"] = "chat"
    ) -> None: ...


@cache
def catalogue(language: str) -> dict[str, str]:
    if language not in LANGUAGES:
        raise ValueError(f"no missed-call catalogue for language {language!r}")
    text = files("bridges.telephony").joinpath(f"catalogs/{language}.toml").read_text("utf-8")
    return tomllib.loads(text)


def missed_call_text(
    callee: Person,
    caller_name: str | None,
    caller_number: str,
    at: datetime,
    now: datetime,
) -> str:
    language = callee.language if callee.language in LANGUAGES else "nb"
    texts = catalogue(language)
    number = "" if caller_number.strip().lower() in _ANONYMOUS else caller_number.strip()
    if caller_name and number and caller_name != number:
        caller = f"{caller_name} ({number})"
    else:
        caller = caller_name or number or texts["unknown_caller"]
    tz = ZoneInfo(callee.timezone)
    local, local_now = at.astimezone(tz), now.astimezone(tz)
    time = f"{local:%H:%M}"
    if local.date() == local_now.date():
        return texts["missed_call"].format(caller=caller, time=time)
    pattern = "EEEE d MMMM" if language == "en" else "EEEE d. MMMM"
    date = format_date(local.date(), pattern, locale=_BABEL_LOCALE[language])
    return texts["missed_call_earlier"].format(caller=caller, time=time, date=date)


class MissedCallNotifier:
    def __init__(
        self,
        directory: Directory,
        bus: Bus,
        store: Store,
        link: ChatSender,
        health: HealthReporter,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._clock = clock
        self._store = store
        self._link = link
        self.health = health
        self._phonebook = PhoneBook(directory)
        self._connected = asyncio.Event()
        self._pending: deque[CallEvent] = deque(maxlen=MAX_BACKLOG)
        self._wake = asyncio.Event()
        # Subscribe now, before connectors start, so no early event is missed.
        self._calls = bus.subscribe(CallEvent)

    async def on_xmpp_ready(self) -> None:
        self._connected.set()

    async def run(self) -> None:
        self.health.success()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._collect())
            group.create_task(self._send_forever())

    async def _collect(self) -> None:
        # Keeps draining the bus while XMPP is down, so connectors never stall behind us.
        async for event in self._calls:
            if event.state is not CallState.MISSED or event.direction is not CallDirection.IN:
                continue
            if len(self._pending) == self._pending.maxlen:
                dropped = self._pending.popleft()
                log.warning(
                    "missed-call backlog full, oldest dropped",
                    call_id=dropped.call_id,
                    backlog=self._pending.maxlen,
                )
            self._pending.append(event)
            self._wake.set()

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._notify(self._pending.popleft())

    async def _notify(self, event: CallEvent) -> None:
        callee = self._phonebook.person_for(event.extension)
        if callee is None:
            log.debug("missed call to an unknown extension", extension=event.extension)
            return
        caller = self._phonebook.person_for(event.remote_number)
        name = caller.name if caller else event.remote_name
        if name and normalize(name) == normalize(event.remote_number):
            name = None  # PBXs often repeat the number as the display name
        body = missed_call_text(callee, name, event.remote_number, event.at, self._clock.now())
        # One message per call and callee (a ring group rings several people in one call).
        key = f"missed:{event.source}:{event.call_id}:{callee.id}"
        await self._wait_connected()
        if not await self._store.claim_notification(key):
            log.info("missed call already notified", key=key)
            return
        while True:
            try:
                self._link.send_message(callee.jid, body)
                break
            except NotConnected:
                self._connected.clear()
                await self._wait_connected()
        log.info("missed call notified", person=callee.id, call_id=event.call_id)
        self.health.item_ok(callee.id)

    async def _wait_connected(self) -> None:
        if not self._link.connected:
            self._connected.clear()
        await self._connected.wait()
