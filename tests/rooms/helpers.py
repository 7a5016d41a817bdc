"""Rooms tests: a Prosody with mod_samtek_rooms, the component link, and people's clients."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Literal, cast
from xml.etree import ElementTree as ET

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Iq, Message, Presence
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from samtek.config import XmppSection
from samtek.devserver.prosody import ProsodyServer
from samtek.health import HealthReporter
from samtek.xmpp.link import XmppLink
from samtek.xmpp.muc import NS_DISCO_INFO

WAIT = 10.0
PASSWORD = "pw"
NS_OWNER = "http://jabber.org/protocol/muc#owner"
NS_ADMIN = "http://jabber.org/protocol/muc#admin"
NS_DATA = "jabber:x:data"


SQL_APT_PACKAGE = "lua-dbi-sqlite3"


class RoomsProsody(ProsodyServer):
    """The harness's Prosody with a MUC room cache that holds every room (deploy/rooms.md):
    with the default of 100, each query to a room outside the cache reloads it from disk.
    `muc_sql`: rooms in SQLite instead of the internal file store, which rewrites the list of
    all persistent rooms on every room save (quadratic for a first apply of many rooms)."""

    muc_sql = False
    muc_options = ""  # more option lines for the MUC component (e.g. the deploy example's)

    def _config(self) -> str:
        # the MUC component is the last section of the harness config: these lines join it
        extra = self.muc_options + "\tmuc_room_cache_size = 10000\n"
        if self.muc_sql:
            database = self.dir / "muc.sqlite"
            extra += (
                f'\tstorage = "sql"\n\tsql = {{ driver = "SQLite3", database = "{database}" }}\n'
            )
        return super()._config() + extra


DEPLOY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "prosody" / "prosody.cfg.lua"


def deploy_muc_options() -> str:
    """The option lines of the MUC component in deploy/prosody/prosody.cfg.lua."""
    lines = DEPLOY_CONFIG.read_text().splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("Component") and '"muc"' in line
    )
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith(("\t", " ")):
            break
        if line.strip() and not line.strip().startswith("--"):
            block.append("\t" + line.strip() + "\n")
    return "".join(block)


def rooms_prosody(muc_sql: bool = False, muc_options: str = "") -> RoomsProsody:
    """Prosody as the harness starts it, plus the bookmarks module for the component."""
    if (
        muc_sql
        and not Path("/usr/share/lua/5.4/DBI.lua").exists()
        and not list(Path("/usr/share/lua").glob("*/DBI.lua"))
    ):
        raise RuntimeError(f"SQL storage needs LuaDBI: apt-get install -y {SQL_APT_PACKAGE}")
    server = RoomsProsody()
    server.muc_sql = muc_sql
    server.muc_options = muc_options
    server.extra_host_config = (
        '\tmodules_enabled = { "samtek_overlay"; "samtek_rooms"; "samtek_deliver" }\n'
        f'\tsamtek_rooms_trusted = {{ "{server.component_jid}" }}\n'
    )
    return server


def xmpp_section(prosody: ProsodyServer, directory: Path) -> XmppSection:
    secret = directory / "component.secret"
    secret.write_text(prosody.component_secret)
    return XmppSection(
        domain=prosody.domain,
        component_jid=prosody.component_jid,
        component_secret=f"file:{secret}",  # type: ignore[arg-type]
        port=prosody.component_port,
    )


async def connected_link(settings: XmppSection) -> tuple[XmppLink, asyncio.Task[None]]:
    link = XmppLink(settings, HealthReporter("xmpp"))
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    link.on_ready(on_ready)
    task = asyncio.create_task(link.run())
    await asyncio.wait_for(ready.wait(), WAIT)
    return link, task


class Person:
    """An ordinary client: records messages, queries rooms as an owner would."""

    def __init__(self, jid: str, port: int) -> None:
        self.jid = jid
        self.port = port
        self.messages: list[Message] = []
        self.presences: list[Presence] = []
        self._changed = asyncio.Event()
        self.xmpp: ClientXMPP | None = None

    async def connect(self) -> None:
        xmpp = ClientXMPP(self.jid, PASSWORD)
        xmpp.enable_plaintext = True
        xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_start(_: object) -> None:
            xmpp.send_presence()
            if not started.done():
                started.set_result(None)

        xmpp.add_event_handler("session_start", on_start)
        # every message, also those without a body (slixmpp's "message" event needs one)
        xmpp.register_handler(
            Callback(
                "all messages",
                MatchXPath("{jabber:client}message"),
                lambda stanza: self._record(cast(Message, stanza)),
            )
        )
        xmpp.register_handler(
            Callback(
                "all presences",
                MatchXPath("{jabber:client}presence"),
                lambda stanza: self._record_presence(cast(Presence, stanza)),
            )
        )
        xmpp.connect("127.0.0.1", self.port)
        await asyncio.wait_for(started, WAIT)
        self.xmpp = xmpp

    def _record(self, message: Message) -> None:
        self.messages.append(message)
        self._changed.set()

    def _record_presence(self, presence: Presence) -> None:
        self.presences.append(presence)
        self._changed.set()

    async def enter(self, room: str, nick: str, password: str | None = None) -> Presence:
        """Join; the room's answer: our own presence in the room, or an error presence."""
        mark = len(self.presences)
        self.join(room, nick, password)
        occupant = f"{room}/{nick}"

        async def answer() -> Presence:
            while True:
                for p in self.presences[mark:]:
                    if p["from"] == occupant and (
                        p["type"] == "error" or p.xml.find(".//{*}status[@code='110']") is not None
                    ):
                        return p
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(answer(), WAIT)

    async def wait_message(self, pred: Callable[[Message], bool], what: str) -> Message:
        async def scan() -> Message:
            while True:
                for m in self.messages:
                    if pred(m):
                        return m
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), WAIT)
        except TimeoutError:
            got = "\n".join(str(m) for m in self.messages) or "(nothing)"
            raise AssertionError(f"{self.jid}: no {what} within {WAIT}s; got:\n{got}") from None

    async def iq(
        self, to: str, kind: Literal["get", "set"], payload: ET.Element, timeout: float = WAIT
    ) -> Iq:
        assert self.xmpp is not None
        iq = self.xmpp.make_iq(ito=to, itype=kind)
        iq.append(payload)
        return cast(Iq, await iq.send(timeout=timeout))  # type: ignore[no-untyped-call]

    async def gone_condition(self, room: str, attempts: int = 20) -> str:
        """The error a destroyed room's JID answers to disco#info (not the owner form: that
        query would create the room on ejabberd). ejabberd answers the destroy before the
        room's process has stopped, and drops a query that reaches the stopping room: a
        query that gets no answer is asked again; one that gets a result fails."""
        for _ in range(attempts):
            try:
                await self.iq(room, "get", ET.Element(f"{{{NS_DISCO_INFO}}}query"), timeout=1)
            except IqTimeout:
                continue
            except IqError as error:
                return str(error.condition)
            raise AssertionError(f"{room} still answers disco#info after it was destroyed")
        raise AssertionError(f"{room} never answered disco#info after it was destroyed")

    async def room_config(self, room: str) -> dict[str, str]:
        reply = await self.iq(room, "get", ET.Element(f"{{{NS_OWNER}}}query"))
        values = {}
        for field in reply.xml.iterfind(f".//{{{NS_DATA}}}field"):
            value = field.find(f"{{{NS_DATA}}}value")
            values[field.attrib.get("var", "")] = value.text or "" if value is not None else ""
        return values

    async def set_room_config(self, room: str, values: dict[str, str]) -> None:
        query = ET.Element(f"{{{NS_OWNER}}}query")
        form = ET.SubElement(query, f"{{{NS_DATA}}}x", type="submit")
        for var, value in {
            "FORM_TYPE": "http://jabber.org/protocol/muc#roomconfig",
            **values,
        }.items():
            field = ET.SubElement(form, f"{{{NS_DATA}}}field", var=var)
            ET.SubElement(field, f"{{{NS_DATA}}}value").text = value
        await self.iq(room, "set", query)

    async def affiliations(self, room: str) -> dict[str, str]:
        result = {}
        for affiliation in ("owner", "admin", "member"):
            query = ET.Element(f"{{{NS_ADMIN}}}query")
            ET.SubElement(query, f"{{{NS_ADMIN}}}item", affiliation=affiliation)
            reply = await self.iq(room, "get", query)
            for item in reply.xml.iterfind(f".//{{{NS_ADMIN}}}item"):
                result[item.attrib["jid"]] = affiliation
        return result

    async def set_affiliation(self, room: str, jid: str, affiliation: str) -> None:
        query = ET.Element(f"{{{NS_ADMIN}}}query")
        ET.SubElement(query, f"{{{NS_ADMIN}}}item", jid=jid, affiliation=affiliation)
        await self.iq(room, "set", query)

    async def bookmarks(self) -> dict[str, ET.Element]:
        """This account's XEP-0402 bookmarks: room JID -> <conference/>."""
        pubsub = ET.Element("{http://jabber.org/protocol/pubsub}pubsub")
        ET.SubElement(
            pubsub, "{http://jabber.org/protocol/pubsub}items", node="urn:xmpp:bookmarks:1"
        )
        reply = await self.iq(self.jid, "get", pubsub)
        return {
            item.attrib["id"]: item[0]
            for item in reply.xml.iterfind(".//{http://jabber.org/protocol/pubsub}item")
        }

    def join(self, room: str, nick: str, password: str | None = None) -> None:
        assert self.xmpp is not None
        presence = self.xmpp.make_presence(pto=f"{room}/{nick}")
        x = ET.SubElement(presence.xml, "{http://jabber.org/protocol/muc}x")
        if password is not None:
            ET.SubElement(x, "{http://jabber.org/protocol/muc}password").text = password
        presence.send()

    async def disconnect(self) -> None:
        if self.xmpp is not None:
            self.xmpp.disconnect(wait=0.5)
            await asyncio.sleep(0.1)
            self.xmpp.abort()
            self.xmpp = None
