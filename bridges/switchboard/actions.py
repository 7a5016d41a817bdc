"""What an operator can do for a caller: leave a phone note, or call the person.

A phone note is a chat message from the service to the person. The page sends a key with
each note; the same key again (a double Enter, a retry after a lost answer) returns the first
outcome and sends nothing, so a note is delivered once. Click-to-call rings the operator's
own phone first (`samtek.telephony.Telephony.originate`), as the assistant's `ring` does.
Transferring a caller the operator already speaks to is not offered: no connector exposes a
transfer (SIP REFER of an existing call) through a core protocol yet.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from samtek.model import Person
from samtek.telephony import Telephony, TelephonyError

log = structlog.get_logger("samtek.switchboard.actions")

NOTE_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")
MAX_CALLER, MAX_NUMBER, MAX_ABOUT = 100, 40, 300
MAX_REMEMBERED = 10_000
MAX_CALLS = 16  # click-to-calls waiting for an answer at once


class MessageSender(Protocol):
    """samtek.xmpp.link.XmppLink's side used here."""

    def send_message(self, to: str, body: str) -> None: ...


@dataclass(frozen=True, slots=True)
class NoteOutcome:
    status: str  # "sent" or "failed"
    at: datetime
    repeated: bool = False


def clean(text: object, limit: int) -> str:
    """One line of printable text: control characters (and newlines) become spaces."""
    if not isinstance(text, str):
        return ""
    printable = "".join(
        " " if unicodedata.category(ch).startswith("C") else ch for ch in text[: limit * 4]
    )
    return " ".join(printable.split())[:limit]


def note_text(operator: Person, caller: str, number: str, about: str) -> str:
    parts = [f"Ring tilbake til {caller}" if caller else "Ring tilbake"]
    if number:
        parts.append(number)
    text = ", ".join(parts)
    if about:
        text += f", om {about}"
    return f"Telefonnotat fra sentralbordet ({operator.name}): {text}."


class Notes:
    def __init__(self, sender: MessageSender) -> None:
        self._sender = sender
        self._done: OrderedDict[str, NoteOutcome] = OrderedDict()

    def leave(self, key: str, person: Person, body: str, now: datetime) -> NoteOutcome:
        """Send once per key (the caller validated `key` against NOTE_KEY)."""
        earlier = self._done.get(key)
        if earlier is not None:
            return NoteOutcome(earlier.status, earlier.at, repeated=True)
        try:
            self._sender.send_message(person.jid, body)
            outcome = NoteOutcome("sent", now)
        except ConnectionError as exc:  # XmppLink.NotConnected: not sent; a retry may send
            log.warning("phone note not sent", person=person.id, error=str(exc))
            return NoteOutcome("failed", now)
        self._done[key] = outcome
        while len(self._done) > MAX_REMEMBERED:
            self._done.popitem(last=False)
        return outcome


class Calls:
    def __init__(self, connectors: Mapping[str, object]) -> None:
        self._connectors = connectors  # filled as connectors start: looked up per call
        self._running: set[asyncio.Task[None]] = set()

    def telephony(self) -> Telephony | None:
        return next((c for c in self._connectors.values() if isinstance(c, Telephony)), None)

    def start(self, from_ext: str, to_ext: str, done: Callable[[str, str], Awaitable[None]]) -> str:
        """Start a click-to-call in the background; returns "calling", "busy" or
        "unavailable". `done(outcome, reason)` is awaited when it connected or failed."""
        telephony = self.telephony()
        if telephony is None:
            return "unavailable"
        if len(self._running) >= MAX_CALLS:
            return "busy"

        async def connect() -> None:
            try:
                await telephony.originate(from_ext, to_ext)
            except TelephonyError as exc:
                await done("failed", str(exc))
            else:
                await done("connected", "")

        task = asyncio.create_task(connect(), name=f"switchboard call {from_ext}->{to_ext}")
        self._running.add(task)
        task.add_done_callback(self._finished)
        return "calling"

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("click-to-call crashed", exc_info=task.exception())

    def cancel_all(self) -> None:
        for task in tuple(self._running):
            task.cancel()
