"""The component session to the XMPP server, as a supervised part.

`run()` is the lifetime of one connection: connect, authenticate, run the on-ready hooks
(re-assert state), then wait until the stream drops and raise, so the supervisor reconnects
with backoff. A fresh slixmpp object per connection keeps no half-dead state around.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from xml.etree import ElementTree as ET

import structlog
from slixmpp import JID, ComponentXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Iq, Message
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.handler import Callback, CoroutineCallback
from slixmpp.xmlstream.matcher import MatchXPath
from slixmpp.xmlstream.matcher.base import MatcherBase

from samtek.config import XmppSection
from samtek.health import HealthReporter
from samtek.xmpp.delivery import MessageType, Outbox
from samtek.xmpp.xmltext import clean_element

log = structlog.get_logger("samtek.xmpp")

CONNECT_TIMEOUT = 15.0
IQ_TIMEOUT = 15.0

ReadyHook = Callable[[], Awaitable[None]]
IqType = Literal["get", "set"]
MessageHook = Callable[[Message], Awaitable[None]]


_Pending = tuple[JID, "asyncio.Future[Iq]"]  # the addressee, and who waits for its answer


class NotConnected(ConnectionError):
    pass


class XmppLink:
    def __init__(self, settings: XmppSection, health: HealthReporter) -> None:
        self.settings = settings
        self.health = health
        self._xmpp: ComponentXMPP | None = None
        self._ready_hooks: list[ReadyHook] = []
        self._message_hooks: list[tuple[str, MessageHook]] = []
        self._pending: dict[str, _Pending] = {}  # by IQ id
        # Chat messages wait here until the server confirms them (survives reconnects).
        self.outbox = Outbox(self, settings.domain, health)

    @property
    def jid(self) -> str:
        return self.settings.component_jid

    @property
    def connected(self) -> bool:
        return self._xmpp is not None

    def on_ready(self, hook: ReadyHook) -> None:
        """Called after every (re)connect, e.g. to re-assert presence overlays."""
        self._ready_hooks.append(hook)

    def on_message(self, payload_tag: str, hook: MessageHook) -> None:
        """Route inbound <message/>s carrying a child `{ns}tag` to `hook`."""
        self._message_hooks.append((payload_tag, hook))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        xmpp = ComponentXMPP(  # type: ignore[no-untyped-call]
            self.settings.component_jid,
            self.settings.component_secret.get_secret_value(),
            self.settings.host,
            self.settings.port,
        )
        started: asyncio.Future[None] = loop.create_future()
        lost: asyncio.Future[str] = loop.create_future()

        def _session_start(_: object) -> None:
            if not started.done():
                started.set_result(None)

        def _lost(reason: object) -> None:
            # Not connected from this instant: nothing may be written into a dead stream
            # (it would be dropped silently), and whoever waits for a reply hears it now.
            # Only for this connection: an old stream's late event must not end a new one.
            if self._xmpp is xmpp:
                self._xmpp = None
                self._fail_pending()
            if not lost.done():
                lost.set_result(str(reason) if reason else "stream closed")

        # The one place every outgoing stanza passes: no text in it can break the stream.
        xmpp.add_filter("out_sync", _legal_xml)
        xmpp.add_event_handler("session_start", _session_start)
        xmpp.add_event_handler("disconnected", _lost)
        xmpp.add_event_handler("connection_failed", _lost)
        xmpp.add_event_handler("stream_error", lambda err: _lost(f"stream error: {err}"))
        xmpp.register_handler(
            Callback("samtek iq replies", _PendingReply(self._pending), self._on_iq_reply)  # type: ignore[arg-type]
        )
        for tag, hook in self._message_hooks:
            # CoroutineCallback: a plain Callback would call the async hook without awaiting it.
            xmpp.register_handler(
                CoroutineCallback(
                    f"samtek message {tag}",
                    MatchXPath(f"{{{xmpp.default_ns}}}message/{tag}"),
                    self._guarded(hook),  # type: ignore[arg-type]
                )
            )
        xmpp.connect()
        delivering: asyncio.Task[None] | None = None
        try:
            waiters: set[asyncio.Future[Any]] = {started, lost}
            done, _ = await asyncio.wait(
                waiters, timeout=CONNECT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            if started not in done:
                reason = lost.result() if lost.done() else "timed out"
                raise NotConnected(
                    f"cannot connect to {self.settings.host}:{self.settings.port} as"
                    f" {self.jid}: {reason}"
                )
            log.info("xmpp connected", jid=self.jid)
            self._xmpp = xmpp
            self.health.success()
            delivering = asyncio.create_task(self.outbox.run())
            self.outbox.connected()
            # A hook waiting on the server must not delay noticing that the server went away.
            ready: asyncio.Task[None] = asyncio.create_task(self._run_ready_hooks())
            hooks_or_loss: set[asyncio.Future[Any]] = {ready, lost}
            await asyncio.wait(hooks_or_loss, return_when=asyncio.FIRST_COMPLETED)
            if ready.done():
                ready.result()  # a failing hook fails this connection (and is retried)
            else:
                ready.cancel()
                with contextlib.suppress(asyncio.CancelledError, NotConnected):
                    await ready
            reason = await lost
            raise NotConnected(f"connection lost: {reason}")
        finally:
            self._xmpp = None
            self._fail_pending()
            if delivering is not None:
                delivering.cancel()  # what is unconfirmed stays queued for the next stream
            xmpp.abort()

    async def _run_ready_hooks(self) -> None:
        for ready_hook in self._ready_hooks:
            await ready_hook()

    def _fail_pending(self) -> None:
        for _, reply in self._pending.values():
            if not reply.done():
                reply.set_exception(NotConnected("connection lost before the reply"))

    async def send_iq(self, to: str, kind: IqType, payload: ET.Element) -> Iq:
        """Send an IQ and return the result; raises IqError on error replies, IqTimeout.

        Replies are matched by id (and then sender) in a dict: slixmpp's `Iq.send` registers
        one handler per outstanding IQ and tests every reply against all of them, which is
        quadratic when thousands of overlays change in the same second.
        """
        xmpp = self._require()
        iq = xmpp.make_iq(ito=to, ifrom=self.jid, itype=kind)
        iq.append(payload)
        reply: asyncio.Future[Iq] = asyncio.get_running_loop().create_future()
        self._pending[iq["id"]] = (iq["to"], reply)
        try:
            xmpp.send(iq)
            result = await asyncio.wait_for(reply, IQ_TIMEOUT)
        except TimeoutError:
            raise IqTimeout(iq) from None  # type: ignore[no-untyped-call]
        finally:
            self._pending.pop(iq["id"], None)
        if result["type"] == "error":
            raise IqError(result)  # type: ignore[no-untyped-call]
        return result

    def _on_iq_reply(self, iq: Iq) -> None:
        pending = self._pending.get(iq["id"])
        if pending is None:
            return
        asked, reply = pending
        # Only the entity we asked may answer (RFC 6120 §8.2.3, §10.1): another one that
        # learned or guessed the id must not complete the request with its own answer.
        if iq["from"] != asked:
            log.debug("iq reply from an entity not asked ignored", sender=str(iq["from"]))
            return
        if not reply.done():
            reply.set_result(iq)

    def send_message(
        self, to: str, body: str, mfrom: str | None = None, mtype: MessageType = "chat"
    ) -> None:
        """Queue a chat message: delivered at least once and shown once (see delivery.py),
        also when it is sent while the stream is down."""
        self.outbox.send(to, body, mfrom, mtype)

    def send_now(
        self, to: str, body: str, mfrom: str | None = None, mtype: MessageType = "chat"
    ) -> None:
        """Write a message into the current stream (lost if the stream dies right after)."""
        xmpp = self._require()
        xmpp.send_message(mto=JID(to), mbody=body, mfrom=JID(mfrom or self.jid), mtype=mtype)

    def send_message_with_receipt(self, to: str, body: str, message_id: str) -> None:
        """A chat message from the component asking for a delivery receipt (XEP-0184 §5:
        allowed to a bare JID); the receipt comes back as <received id=message_id/>."""
        xmpp = self._require()
        message = xmpp.make_message(mto=JID(to), mbody=body, mfrom=JID(self.jid), mtype="chat")
        message["id"] = message_id
        message.append(ET.Element("{urn:xmpp:receipts}request"))
        message.send()

    def _require(self) -> ComponentXMPP:
        if self._xmpp is None:
            raise NotConnected("the XMPP component is not connected")
        return self._xmpp

    @staticmethod
    def _guarded(hook: MessageHook) -> Callable[[Message], Awaitable[None]]:
        # slixmpp logs and swallows handler exceptions; log them ourselves with context.
        async def handler(message: Message) -> None:
            try:
                await hook(message)
            except Exception:
                log.exception("message handler failed", sender=str(message["from"]))

        return handler


def _legal_xml(stanza: StanzaBase) -> StanzaBase:
    clean_element(stanza.xml)
    return stanza


class _PendingReply(MatcherBase):
    """Matches IQ results/errors that answer one of our outstanding requests, in O(1)."""

    def __init__(self, pending: dict[str, _Pending]) -> None:
        super().__init__(None)
        self._pending = pending

    def match(self, xml: StanzaBase) -> bool:
        return (
            xml.name == "iq" and xml["type"] in ("result", "error") and xml["id"] in self._pending
        )
