"""XEP-0045 owner/admin operations over the component link (Prosody's or ejabberd's mod_muc).

The component must be an admin of the MUC service (Prosody's `admins`, ejabberd's
`access_admin`): then it counts as owner of every room and may create, configure, query
affiliations of and destroy any room. Only protocol here; what to do is decided by
bridges/rooms.

ejabberd creates a room when an admin sends an owner query to an address without one, and
leaves muc#admin queries to it unanswered: existence is therefore asked with disco#info
(XEP-0045 §6.4), which both servers answer with item-not-found for a missing room.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from slixmpp.exceptions import IqError
from slixmpp.stanza import Iq

from samtek.xmpp.link import XmppLink

NS_MUC = "http://jabber.org/protocol/muc"
NS_OWNER = "http://jabber.org/protocol/muc#owner"
NS_ADMIN = "http://jabber.org/protocol/muc#admin"
NS_DATA = "jabber:x:data"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_CONFERENCE = "jabber:x:conference"
ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig"
AFFILIATIONS = ("owner", "admin", "member")  # outcasts are left to the room's owners

FormValue = str | list[str]


class RoomGone(Exception):
    """The room does not exist (item-not-found) or was destroyed (gone)."""


@dataclass(frozen=True, slots=True)
class Affiliation:
    jid: str
    affiliation: str  # owner / admin / member / none


class MucClient:
    def __init__(self, link: XmppLink, service: str, nick: str = "SAMTEK") -> None:
        self.link = link
        self.service = service
        self.nick = nick
        self.iq_sets = 0  # counted for the idempotence benchmark ("a no-op writes nothing")

    def room_jid(self, room_id: str) -> str:
        return f"{room_id}@{self.service}"

    async def exists(self, room: str) -> bool:
        """Whether the room exists, without creating it (see the module docstring)."""
        query = ET.Element(f"{{{NS_DISCO_INFO}}}query")
        try:
            await self.link.send_iq(room, "get", query)
        except IqError as exc:
            if _error_conditions(exc.iq) & {"item-not-found", "gone"}:
                return False
            raise
        return True

    async def get_config(self, room: str) -> dict[str, FormValue]:
        """The owner configuration form's current values; RoomGone if there is no room.

        The whole form, not disco#info: only the form shows every field (a password, who
        may see real JIDs, history, presence broadcast...), and SAMTEK owns all of them.
        Ask `exists` first: on ejabberd this query creates a missing room.
        """
        try:
            reply = await self.link.send_iq(room, "get", ET.Element(f"{{{NS_OWNER}}}query"))
        except IqError as exc:
            if _error_conditions(exc.iq) & {"item-not-found", "gone"}:
                raise RoomGone(room) from None
            raise
        form = reply.xml.find(f"{{{NS_OWNER}}}query/{{{NS_DATA}}}x")
        if form is None:
            raise ValueError(f"{room}: owner query returned no data form")
        return parse_form(form)

    async def set_config(self, room: str, values: Mapping[str, FormValue]) -> None:
        query = ET.Element(f"{{{NS_OWNER}}}query")
        query.append(build_form(values))
        await self._set(room, query)

    async def affiliations(self, room: str) -> dict[str, str]:
        """bare JID -> owner/admin/member (one query per affiliation, sent at once)."""
        replies = await asyncio.gather(*(self._affiliation_list(room, a) for a in AFFILIATIONS))
        result: dict[str, str] = {}
        for affiliation, reply in zip(AFFILIATIONS, replies, strict=True):
            for item in reply.xml.iterfind(f"{{{NS_ADMIN}}}query/{{{NS_ADMIN}}}item"):
                if "jid" in item.attrib:
                    result[item.attrib["jid"].lower()] = affiliation
        return result

    async def _affiliation_list(self, room: str, affiliation: str) -> Iq:
        query = ET.Element(f"{{{NS_ADMIN}}}query")
        ET.SubElement(query, f"{{{NS_ADMIN}}}item", affiliation=affiliation)
        try:
            return await self.link.send_iq(room, "get", query)
        except IqError as exc:
            if _error_conditions(exc.iq) & {"item-not-found", "gone"}:
                raise RoomGone(room) from None
            raise

    async def set_affiliations(self, room: str, changes: Iterable[Affiliation]) -> None:
        """One IQ per change: Prosody 0.12 applies only the first <item/> of a muc#admin set."""
        await asyncio.gather(*(self._set_one(room, change) for change in changes))

    async def _set_one(self, room: str, change: Affiliation) -> None:
        query = ET.Element(f"{{{NS_ADMIN}}}query")
        ET.SubElement(query, f"{{{NS_ADMIN}}}item", jid=change.jid, affiliation=change.affiliation)
        await self._set(room, query)

    def join(self, room: str) -> None:
        """Enter (or create) the room as the component; without history."""
        xmpp = self.link._require()
        presence = xmpp.make_presence(pto=f"{room}/{self.nick}", pfrom=f"{self.link.jid}/rooms")
        muc = ET.SubElement(presence.xml, f"{{{NS_MUC}}}x")
        ET.SubElement(muc, f"{{{NS_MUC}}}history", maxstanzas="0")
        presence.send()

    def leave(self, room: str) -> None:
        xmpp = self.link._require()
        xmpp.make_presence(
            pto=f"{room}/{self.nick}", pfrom=f"{self.link.jid}/rooms", ptype="unavailable"
        ).send()

    async def create(self, room: str, values: Mapping[str, FormValue]) -> dict[str, FormValue]:
        """Create by joining (XEP-0045 §10.1), unlock it with the config, and leave.

        Only the fields the new room's form offers are sent (ejabberd refuses a form with an
        unknown field; Prosody ignores it); returns the values left out. Leaving matters: an
        occupant receives every message of the room, and SAMTEK has no use for the chat
        traffic of all project rooms.
        """
        self.join(room)
        # Join, queries and leave travel on one stream in order: the server creates the
        # locked room before it sees the query, so no wait for the self-presence is needed.
        offered = await self.get_config(room)
        await self.set_config(room, {f: v for f, v in values.items() if f in offered})
        self.leave(room)
        return {f: v for f, v in values.items() if f not in offered}

    async def post(self, room: str, body: str, wait_seconds: float = 30.0) -> bool:
        """`say`, and wait until the server confirms it (False: still queued after that)."""
        return await self.link.outbox.sent(self.say(room, body), wait_seconds)

    def say(self, room: str, body: str) -> str:
        """Post a groupchat message, confirmed by the server (mod_samtek_deliver posts it in
        the room under our nick); without that module: enter, post, leave on one stream.
        Returns the message's id in the outbox."""
        sender = f"{self.link.jid}/rooms"

        def plainly() -> None:
            self.join(room)
            self.link.send_now(room, body, mfrom=sender, mtype="groupchat")
            self.leave(room)

        return self.link.outbox.send(room, body, sender, "groupchat", nick=self.nick, plain=plainly)

    def clear_subject(self, room: str) -> None:
        """Enter, send an empty <subject/> (XEP-0045 §8.1: clears it), leave."""
        xmpp = self.link._require()
        self.join(room)
        message = xmpp.make_message(mto=room, mfrom=f"{self.link.jid}/rooms", mtype="groupchat")
        ET.SubElement(message.xml, f"{{{message.namespace}}}subject")
        message.send()
        self.leave(room)

    def invite(self, room: str, jid: str, reason: str) -> None:
        """XEP-0249 direct invitation, from the component."""
        xmpp = self.link._require()
        # A body too: clients without XEP-0249 still show the invitation (and a joinable URI).
        body = f"{reason}: xmpp:{room}?join"
        message = xmpp.make_message(mto=jid, mbody=body, mfrom=self.link.jid, mtype="normal")
        ET.SubElement(message.xml, f"{{{NS_CONFERENCE}}}x", jid=room, reason=reason)
        message.send()

    async def destroy(self, room: str, reason: str) -> None:
        query = ET.Element(f"{{{NS_OWNER}}}query")
        destroy = ET.SubElement(query, f"{{{NS_OWNER}}}destroy")
        ET.SubElement(destroy, f"{{{NS_OWNER}}}reason").text = reason
        await self._set(room, query)

    async def has_history(self, room: str) -> bool:
        """True when the room's MAM archive holds at least one message (RSM count)."""
        query = ET.Element("{urn:xmpp:mam:2}query")
        rsm = ET.SubElement(query, "{http://jabber.org/protocol/rsm}set")
        ET.SubElement(rsm, "{http://jabber.org/protocol/rsm}max").text = "0"
        reply = await self.link.send_iq(room, "set", query)
        count = reply.xml.find(
            "{urn:xmpp:mam:2}fin/{http://jabber.org/protocol/rsm}set/"
            "{http://jabber.org/protocol/rsm}count"
        )
        # Without a count we cannot prove the archive empty: assume history exists.
        return count is None or (count.text or "0").strip() != "0"

    async def _set(self, room: str, payload: ET.Element) -> Iq:
        self.iq_sets += 1
        return await self.link.send_iq(room, "set", payload)


def _error_conditions(iq: Iq) -> set[str]:
    # Prosody's reply can carry two <error/>s (the room's and a stanza default): read all.
    return {
        child.tag.rsplit("}", 1)[-1]
        for error in iq.xml.iter()
        if error.tag.endswith("error")
        for child in error
        if child.tag.startswith("{urn:ietf:params:xml:ns:xmpp-stanzas}")
    }


def parse_form(form: ET.Element) -> dict[str, FormValue]:
    values: dict[str, FormValue] = {}
    for field in form.iterfind(f"{{{NS_DATA}}}field"):
        var = field.attrib.get("var")
        if not var or var == "FORM_TYPE":
            continue
        found = [v.text or "" for v in field.iterfind(f"{{{NS_DATA}}}value")]
        values[var] = (
            found
            if field.attrib.get("type", "").endswith("-multi")
            else (found[0] if found else "")
        )
    return values


def build_form(values: Mapping[str, FormValue]) -> ET.Element:
    form = ET.Element(f"{{{NS_DATA}}}x", type="submit")
    form_type = ET.SubElement(form, f"{{{NS_DATA}}}field", var="FORM_TYPE")
    ET.SubElement(form_type, f"{{{NS_DATA}}}value").text = ROOMCONFIG
    for var, value in values.items():
        field = ET.SubElement(form, f"{{{NS_DATA}}}field", var=var)
        for v in [value] if isinstance(value, str) else value:
            ET.SubElement(field, f"{{{NS_DATA}}}value").text = v
    return form
