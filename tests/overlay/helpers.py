"""slixmpp clients and a component for the overlay tests, recording what they receive."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Generic, Literal, NamedTuple, TypeVar, cast
from xml.etree import ElementTree as ET

import slixmpp
from slixmpp.stanza import Iq, Message, Presence
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from samtek.devserver.accounts import SeededAccounts
from samtek.devserver.prosody import ProsodyServer

NS = "urn:samtek:presence-overlay:0"
PASSWORD = "secret-pw"
WAIT = 10.0  # generous upper bound for an expected stanza; tests normally take far less
MAX_LOG = 10_000

T = TypeVar("T")
IqKind = Literal["get", "set"]


async def send_iq(iq: Iq) -> Iq:
    """iq.send() with a type: slixmpp's send() is untyped; raises IqError/IqTimeout."""
    return cast(Iq, await iq.send(timeout=WAIT))  # type: ignore[no-untyped-call]


def recorder(log: Log[T]) -> Callable[[StanzaBase], None]:
    return lambda stanza: log.add(cast(T, stanza))


class Log(Generic[T]):
    """Everything of one kind a stream received, searchable from a mark."""

    def __init__(self, limit: int = MAX_LOG) -> None:
        self.limit = limit
        self.items: list[T] = []
        self._changed = asyncio.Event()

    def add(self, item: T) -> None:
        if len(self.items) >= self.limit:
            raise RuntimeError(f"test stream received more than {self.limit} stanzas")
        self.items.append(item)
        self._changed.set()

    def mark(self) -> int:
        return len(self.items)

    def since(self, mark: int, pred: Callable[[T], bool] = lambda _: True) -> list[T]:
        return [item for item in self.items[mark:] if pred(item)]

    async def wait_for(self, pred: Callable[[T], bool], since: int = 0, what: str = "") -> T:
        async def scan() -> T:
            index = since
            while True:
                while index < len(self.items):
                    if pred(self.items[index]):
                        return self.items[index]
                    index += 1
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), WAIT)
        except TimeoutError:
            got = "\n".join(str(item) for item in self.items[since:]) or "(nothing)"
            raise AssertionError(
                f"no {what or 'matching stanza'} within {WAIT}s; got:\n{got}"
            ) from None


def show_of(p: Presence) -> str:
    return p["show"] or "available"


def ahead(seconds: float) -> datetime:
    """An instant `seconds` from now on the real clock: the server under test expires
    overlays and fires scheduled entries by its own timers, which run on it."""
    return datetime.now(UTC) + timedelta(seconds=seconds)


def until_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def instant(at: datetime) -> str:
    """Millisecond precision, as scheduled entries are sent."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry(
    tag: str,
    jid: str | None,
    show: str,
    transition: str,
    start: datetime | None,
    until: datetime,
    status: str | None = None,
) -> ET.Element:
    """A <set/> (tag "set") or schedule <entry/> element; start=None sends no `from`."""
    attrs = {"show": show, "transition": transition, "until": instant(until)}
    if jid is not None:
        attrs["jid"] = jid
    if start is not None:
        attrs["from"] = instant(start)
    element = ET.Element(f"{{{NS}}}{tag}", attrs)
    if status is not None:
        ET.SubElement(element, f"{{{NS}}}status").text = status
    return element


class Client:
    """A user's device: plaintext c2s to the test server, records every presence."""

    def __init__(
        self, server: ProsodyServer, user: str, resource: str, max_log: int = MAX_LOG
    ) -> None:
        self.server = server
        self.jid = f"{user}@{server.domain}/{resource}"
        self.presences: Log[Presence] = Log(max_log)
        self.xmpp = slixmpp.ClientXMPP(
            self.jid,
            PASSWORD,
            plugin_config={"feature_mechanisms": {"unencrypted_plain": True}},
        )
        # The test server has no certificates: plain TCP only (see samtek/devserver/prosody.py).
        self.xmpp.enable_starttls = False
        self.xmpp.enable_direct_tls = False
        self.xmpp.enable_plaintext = True
        self.xmpp.register_handler(
            Callback(
                "record presence", MatchXPath("{jabber:client}presence"), recorder(self.presences)
            )
        )

    async def connect(
        self,
        show: str | None = None,
        status: str | None = None,
        priority: int | None = None,
        extra: ET.Element | None = None,
    ) -> None:
        started = asyncio.get_running_loop().create_future()
        self.xmpp.add_event_handler("session_start", lambda _: started.set_result(None))
        self.xmpp.add_event_handler(
            "failed_auth",
            lambda _: started.set_exception(AssertionError(f"{self.jid}: auth failed")),
        )
        self.xmpp.connect("127.0.0.1", self.server.c2s_port)
        await asyncio.wait_for(started, WAIT)
        # Initial presence; its reflection proves the server has processed it (and the
        # broadcast to contacts, which happens in the same handler).
        await self.send_presence(show, status, priority, extra)

    async def send_presence(
        self,
        show: str | None = None,
        status: str | None = None,
        priority: int | None = None,
        extra: ET.Element | None = None,
    ) -> None:
        mark = self.presences.mark()
        p = self.xmpp.make_presence(pshow=show, pstatus=status, ppriority=priority)
        if extra is not None:
            p.append(extra)
        p.send()
        await self.presences.wait_for(
            lambda q: q["from"] == self.jid,
            mark,
            f"reflection of own presence at {self.jid}",
        )

    def from_(self, full_jid: str, mark: int = 0) -> list[Presence]:
        return self.presences.since(mark, lambda p: p["from"] == full_jid)

    async def presence_from(
        self, full_jid: str, since: int, show: str, status: str | None = None
    ) -> Presence:
        """Wait for a presence from `full_jid` with the given show (and status)."""
        return await self.presences.wait_for(
            lambda p: (
                p["from"] == full_jid
                and show_of(p) == show
                and (status is None or p["status"] == status)
            ),
            since,
            f"presence {show!r}/{status!r} from {full_jid} at {self.jid}",
        )

    async def close(self) -> None:
        await self.xmpp.disconnect(wait=1.0)


class Component:
    """SAMTEK's side: XEP-0114 component sending overlay IQs, recording messages."""

    def __init__(self, server: ProsodyServer) -> None:
        self.server = server
        self.messages: Log[Message] = Log()
        self.xmpp = slixmpp.ComponentXMPP(  # type: ignore[no-untyped-call]
            server.component_jid, server.component_secret, "127.0.0.1", server.component_port
        )
        self.xmpp.register_handler(
            Callback(
                "record message",
                MatchXPath("{jabber:component:accept}message"),
                recorder(self.messages),
            )
        )

    async def connect(self) -> None:
        started = asyncio.get_running_loop().create_future()
        self.xmpp.add_event_handler("session_start", lambda _: started.set_result(None))
        self.xmpp.connect()
        await asyncio.wait_for(started, WAIT)

    async def iq(self, kind: IqKind, payload: ET.Element) -> Iq:
        iq = self.xmpp.make_iq(ito=self.server.domain, ifrom=self.server.component_jid, itype=kind)
        iq.append(payload)
        return await send_iq(iq)

    async def set(
        self, jid: str, show: str, transition: str, until: str, status: str | None = None
    ) -> Iq:
        payload = ET.Element(f"{{{NS}}}set", jid=jid, show=show, transition=transition, until=until)
        if status is not None:
            ET.SubElement(payload, f"{{{NS}}}status").text = status
        return await self.iq("set", payload)

    async def clear(self, jid: str) -> Iq:
        return await self.iq("set", ET.Element(f"{{{NS}}}clear", jid=jid))

    async def schedule(self, jid: str, entries: list[ET.Element]) -> Iq:
        payload = ET.Element(f"{{{NS}}}schedule", jid=jid)
        payload.extend(entries)
        return await self.iq("set", payload)

    async def batch(self, items: list[ET.Element]) -> list[ET.Element]:
        """Per-item results, in order: <ok/>, <dismissed/> or <refused condition=…/>."""
        payload = ET.Element(f"{{{NS}}}batch")
        payload.extend(items)
        found = (await self.iq("set", payload)).xml.find(f"{{{NS}}}batch")
        assert found is not None, "batch result without <batch/>"
        return list(found)

    async def list(self) -> ET.Element:
        result = await self.iq("get", ET.Element(f"{{{NS}}}list"))
        found = result.xml.find(f"{{{NS}}}list")
        assert found is not None, f"list result without <list/>: {result}"
        return found

    async def close(self) -> None:
        await self.xmpp.disconnect(wait=1.0)


def dismissed_in(result: Iq) -> bool:
    return result.xml.find(f"{{{NS}}}dismissed") is not None


class Dismissed(NamedTuple):
    """Alice's overlay t1, dismissed by hand; bob (a contact) watches her laptop."""

    bob: Client
    laptop: Client
    mark: int  # bob's presences before the overlay


async def alice_dismisses_t1(
    server: SeededAccounts, component: Component, client: Callable[..., Awaitable[Client]]
) -> Dismissed:
    """Set-up shared by the batch tests on Prosody and on ejabberd."""
    bob = await client("bob", "desk")
    laptop = await client("alice", "laptop", status="free")
    await bob.presence_from(laptop.jid, 0, "available", "free")
    mark = bob.presences.mark()
    overlay = entry("set", server.jid("alice"), "dnd", "t1", None, ahead(30), "møte")
    await component.iq("set", overlay)
    await bob.presence_from(laptop.jid, mark, "dnd", "møte")
    await laptop.send_presence(show="away", status="lunsj")  # dismisses t1
    await component.messages.wait_for(
        lambda m: m.xml.find(f"{{{NS}}}dismissed") is not None, 0, "dismissal notice"
    )
    return Dismissed(bob, laptop, mark)


STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def error_condition(iq: Iq) -> str:
    """The defined condition of an error reply, read from the raw XML.

    slixmpp's ``iq["error"]`` only knows ``{jabber:client}error``; on a ComponentXMPP the
    element is ``{jabber:component:accept}error`` and ``iq["error"]["condition"]`` silently
    answers "feature-not-implemented" (its default) unless ``fix_error_ns=True``, which in
    turn breaks ClientXMPP error parsing in the same interpreter.
    """
    for child in iq.xml:
        if child.tag.endswith("}error"):
            for cond in child:
                if cond.tag.startswith(f"{{{STANZA_ERRORS}}}") and not cond.tag.endswith("}text"):
                    return cond.tag.split("}", 1)[1]
    raise AssertionError(f"no stanza error condition in {iq}")
