"""At-least-once delivery of chat messages over a component stream, shown once.

Components have no stream management: a message written into a stream that dies a moment
later is gone. The outbox keeps every message until the server confirms it: each goes out
wrapped in an IQ to `deploy/prosody/mod_samtek_deliver.lua`, which answers after routing it
(to the user's sessions, offline storage or a room) and drops repeats of an id. Unconfirmed
messages are re-sent after a reconnect, or after a timeout with backoff, in their order.

Without the module (the IQ is refused as unknown) the outbox falls back to plain messages,
delivered at most once, and says so in health. A module that cannot post in rooms (ejabberd's)
refuses a groupchat message with <groupchat-unsupported/>: that one is sent plainly.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol
from xml.etree import ElementTree as ET

import structlog
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Iq

from samtek.health import HealthReporter
from samtek.runtime.backoff import Backoff

log = structlog.get_logger("samtek.xmpp.delivery")

NS = "urn:samtek:deliver:0"
CLIENT_NS = "jabber:client"
MAX_QUEUED = 10_000  # beyond this the oldest message is dropped (and logged)
WINDOW = 32  # confirmations awaited at once
NOT_LOADED = {"feature-not-implemented", "service-unavailable"}
# The application condition of a module that delivers chat but cannot post in rooms
# (deploy/ejabberd/mod_samtek_deliver.erl): only that message is sent plainly.
UNSUPPORTED_GROUPCHAT = f".//{{{NS}}}groupchat-unsupported"

MessageType = Literal["chat", "normal", "headline", "groupchat"]


class Transport(Protocol):
    """What the outbox needs from the component link."""

    @property
    def connected(self) -> bool: ...

    async def send_iq(self, to: str, kind: Literal["get", "set"], payload: ET.Element) -> Iq: ...

    def send_now(self, to: str, body: str, mfrom: str | None, mtype: MessageType) -> None: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: str
    to: str
    body: str
    mfrom: str | None
    mtype: MessageType
    nick: str | None = None  # groupchat: the room posts it under this nick
    # Without the server module: how to send it plainly (a room needs enter, post, leave).
    plain: Callable[[], None] | None = None

    def payload(self) -> ET.Element:
        deliver = ET.Element(f"{{{NS}}}deliver", id=self.id)
        if self.nick:
            deliver.set("nick", self.nick)
        attrs = {"to": self.to, "type": self.mtype}
        if self.mfrom:
            attrs["from"] = self.mfrom
        message = ET.SubElement(deliver, f"{{{CLIENT_NS}}}message", attrs)
        ET.SubElement(message, f"{{{CLIENT_NS}}}body").text = self.body
        return deliver


class Outbox:
    def __init__(
        self,
        transport: Transport,
        domain: str,
        health: HealthReporter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._transport = transport
        self._domain = domain  # the users' host, where mod_samtek_deliver runs
        self._health = health
        self._sleep = sleep
        self._queue: OrderedDict[str, Outgoing] = OrderedDict()  # bounded by MAX_QUEUED
        self._wake = asyncio.Event()
        self._reliable = True  # until the server says it does not know the IQ
        self._waiters: dict[str, asyncio.Future[None]] = {}  # id -> sent (see `sent`)
        self.confirmed = 0  # messages the server confirmed (tests, metrics)

    def send(
        self,
        to: str,
        body: str,
        mfrom: str | None,
        mtype: MessageType,
        nick: str | None = None,
        plain: Callable[[], None] | None = None,
    ) -> str:
        """Queue a message; it is delivered when connected. Never blocks, never raises."""
        message = Outgoing(secrets.token_hex(12), to, body, mfrom, mtype, nick, plain)
        if len(self._queue) >= MAX_QUEUED:
            _, dropped = self._queue.popitem(last=False)
            log.warning("outbox full: oldest message dropped", to=dropped.to, limit=MAX_QUEUED)
            self._done(dropped.id)
        self._queue[message.id] = message
        self._wake.set()
        return message.id

    async def sent(self, message_id: str, wait_seconds: float) -> bool:
        """Wait until the message is confirmed (or sent plainly, or refused); False after
        `wait_seconds` (it stays queued: it goes out when it can)."""
        if message_id not in self._queue:
            return True
        waiter = self._waiters.setdefault(message_id, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), wait_seconds)
        except TimeoutError:
            return False
        return True

    def _done(self, message_id: str) -> None:
        self._queue.pop(message_id, None)
        waiter = self._waiters.pop(message_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def connected(self) -> None:
        """The link is (again) up: send what is waiting. The server may have loaded the
        module since the last stream: try the reliable way again."""
        if not self._reliable:
            self._reliable = True
            self._health.item_ok("delivery")
        self._wake.set()

    async def run(self) -> None:
        backoff = Backoff(initial=0.5, maximum=30.0)
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._transport.connected or not self._queue:
                continue
            if await self._flush():
                backoff.reset()
            elif self._transport.connected:  # timeouts, not a lost stream: wait, then retry
                await self._sleep(backoff.next_delay())
                self._wake.set()

    async def _flush(self) -> bool:
        """Send everything queued, WINDOW at a time, in order. True if all were confirmed."""
        while self._queue and self._transport.connected:
            batch = list(self._queue.values())[:WINDOW]
            if not self._reliable:
                for message in batch:
                    self._send_plainly(message)
                continue
            results = await asyncio.gather(*(self._deliver(m) for m in batch))
            if not self._reliable:
                continue  # the module is missing: the rest go out plainly, at once
            if not all(results):
                return False
        return True

    async def _deliver(self, message: Outgoing) -> bool:
        try:
            await self._transport.send_iq(self._domain, "set", message.payload())
        except IqError as exc:
            condition = exc.iq["error"]["condition"] if exc.iq is not None else ""
            raw = ET.tostring(exc.iq.xml, encoding="unicode") if exc.iq is not None else ""
            if exc.iq is not None and exc.iq.xml.find(UNSUPPORTED_GROUPCHAT) is not None:
                # The module is there but cannot post in a room (ejabberd's): this message
                # goes out plainly (enter, post, leave), the others stay confirmed.
                self._send_plainly(message)
                return True
            if any(name in raw for name in NOT_LOADED) or condition in NOT_LOADED:
                self._fall_back()
                return False
            # The server refused this one message (bad address, too long): never retried.
            log.warning("message refused by the server", to=message.to, error=condition)
            self._done(message.id)
            return True
        except (IqTimeout, ConnectionError):
            return False  # re-sent later with the same id; the server drops a repeat
        self._done(message.id)
        self.confirmed += 1
        return True

    def _send_plainly(self, message: Outgoing) -> None:
        if message.plain is not None:
            message.plain()
        else:
            self._transport.send_now(message.to, message.body, message.mfrom, message.mtype)
        self._done(message.id)

    def _fall_back(self) -> None:
        if self._reliable:
            self._reliable = False
            self._health.item_error(
                "delivery",
                "the server module mod_samtek_deliver is not loaded: chat messages are sent"
                " at most once (lost if the stream drops)",
            )
