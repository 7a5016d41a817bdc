"""What an operator can do for a caller: leave a phone note, or call the person.

A phone note is a chat message from the service to the person, asking for a delivery receipt
(XEP-0184): "sent" when handed to the XMPP server, "delivered" when the person's client
confirms it. The page sends a key with each note; the same key again (a double Enter, a retry
after a lost answer) returns the first outcome and sends nothing, so a note arrives once.
Click-to-call rings the operator's own phone first (`samtek.telephony.Telephony.originate`),
as the assistant's `ring` does. Transfer hands the caller the operator is speaking to over to
the person (`samtek.telephony.CallTransfer.transfer`, a blind transfer): it returns once the
PBX took it on, so the page gets the outcome in the answer.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog
from slixmpp.stanza import Message

from samtek.model import Person
from samtek.telephony import CallTransfer, NotSupportedByPbx, Telephony, TelephonyError

log = structlog.get_logger("samtek.switchboard.actions")

NOTE_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")
MAX_CALLER, MAX_NUMBER, MAX_ABOUT = 100, 40, 300
MAX_REMEMBERED = 10_000
MAX_CALLS = 16  # click-to-calls waiting for an answer at once
MAX_TRANSFERS = 16  # transfers waiting for the PBX at once
TRANSFER_SECONDS = 40.0  # above a SIP transaction's 32 s: the connector's own timeout wins


RECEIPTS_NS = "urn:xmpp:receipts"


class MessageSender(Protocol):
    """samtek.xmpp.link.XmppLink's side used here."""

    def send_message_with_receipt(self, to: str, body: str, message_id: str) -> None: ...

    def on_message(self, payload_tag: str, hook: Callable[[Message], Awaitable[None]]) -> None: ...


@dataclass(slots=True)
class Note:
    key: str  # the page's key for it
    username: str  # the operator who left it
    person_id: str
    jid: str  # where it went: only this person's client may confirm it
    status: str  # "sent", then "delivered" when their client confirms (XEP-0184)
    sent_at: datetime
    delivered_at: datetime | None = None


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
    """Phone notes by the page's key, and by message id for the receipts (both bounded)."""

    def __init__(self, sender: MessageSender) -> None:
        self._sender = sender
        self._by_key: OrderedDict[str, Note] = OrderedDict()
        self._by_id: OrderedDict[str, Note] = OrderedDict()

    def leave(
        self, key: str, username: str, person: Person, body: str, now: datetime
    ) -> tuple[Note | None, bool]:
        """(the note, whether this operator left it before under `key`); (None, False): not sent, as
        SAMTEK is not connected to the XMPP server (a retry with the same key may send)."""
        earlier = self._by_key.get(f"{username}:{key}")
        if earlier is not None:
            return earlier, True
        message_id = f"sb-{secrets.token_hex(12)}"
        try:
            self._sender.send_message_with_receipt(person.jid, body, message_id)
        except ConnectionError as exc:  # XmppLink.NotConnected
            log.warning("phone note not sent", person=person.id, error=str(exc))
            return None, False
        note = Note(key, username, person.id, person.jid, "sent", now)
        self._remember(self._by_key, f"{username}:{key}", note)
        self._remember(self._by_id, message_id, note)
        return note, False

    def receipt(self, message_id: str, sender_bare: str, now: datetime) -> Note | None:
        """The note a receipt confirms, the first time; None for anything else."""
        note = self._by_id.get(message_id)
        if note is None or note.status == "delivered" or sender_bare.lower() != note.jid:
            return None
        note.status, note.delivered_at = "delivered", now
        return note

    @staticmethod
    def _remember(table: OrderedDict[str, Note], key: str, note: Note) -> None:
        table[key] = note
        while len(table) > MAX_REMEMBERED:
            table.popitem(last=False)


class Calls:
    def __init__(self, connectors: Mapping[str, object]) -> None:
        self._connectors = connectors  # filled as connectors start: looked up per call
        self._running: set[asyncio.Task[None]] = set()
        self._transfers = 0

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

    async def transfer(self, extension: str, target: str) -> tuple[str, str]:
        """Blind-transfer `extension`'s call to `target`: (outcome, reason for the audit).

        Outcomes: "transferred", "failed" (no call, refused, no answer), "not-supported",
        "unavailable" (no connector can transfer), "busy" (too many at once)."""
        connector = next(
            (c for c in self._connectors.values() if isinstance(c, CallTransfer)), None
        )
        if connector is None:
            return "unavailable", "no telephony connector can transfer calls"
        if self._transfers >= MAX_TRANSFERS:
            return "busy", "too many transfers in progress"
        self._transfers += 1
        try:
            async with asyncio.timeout(TRANSFER_SECONDS):
                await connector.transfer(extension, target)
        except NotSupportedByPbx as exc:
            return "not-supported", str(exc)
        except TelephonyError as exc:
            return "failed", str(exc)
        except TimeoutError:
            return "failed", f"no answer from the PBX within {TRANSFER_SECONDS:g} s"
        finally:
            self._transfers -= 1
        return "transferred", ""

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("click-to-call crashed", exc_info=task.exception())

    def cancel_all(self) -> None:
        for task in tuple(self._running):
            task.cancel()
