"""Client side of the presence-overlay protocol (deploy/prosody/mod_samtek_overlay.lua).

The server applies an overlay (show + status) to what a user's contacts see, removes it at
`until` by itself, and tells us when the user changes status by hand (a "dismissal").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.stanza import Iq

from samtek.clock import SYSTEM_CLOCK, Clock, from_server_time, to_server_time
from samtek.model import Show
from samtek.xmpp.link import IqType, XmppLink

NS = "urn:samtek:presence-overlay:0"


@dataclass(frozen=True, slots=True)
class Overlay:
    show: Show
    status: str
    transition: str
    until: datetime


@dataclass(frozen=True, slots=True)
class ServerOverlays:
    overlays: dict[str, Overlay]
    dismissed: dict[str, tuple[str, datetime]]  # jid -> (transition, until)


class OverlayRejected(Exception):
    pass


class PresenceOverlays:
    def __init__(self, link: XmppLink, domain: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self._link = link
        self._domain = domain
        self._clock = clock  # `until` is in the server's own time on the wire

    async def set(self, jid: str, overlay: Overlay) -> bool:
        """Apply; False when the user already dismissed this transition by hand."""
        payload = ET.Element(
            f"{{{NS}}}set",
            jid=jid,
            show=overlay.show.value,
            transition=overlay.transition,
            until=_utc(to_server_time(self._clock, overlay.until)),
        )
        ET.SubElement(payload, f"{{{NS}}}status").text = overlay.status
        result = await self._send("set", payload, jid)
        return result.xml.find(f".//{{{NS}}}dismissed") is None

    async def clear(self, jid: str) -> None:
        await self._send("set", ET.Element(f"{{{NS}}}clear", jid=jid), jid)

    async def list(self) -> ServerOverlays:
        result = await self._send("get", ET.Element(f"{{{NS}}}list"), "*")
        overlays: dict[str, Overlay] = {}
        dismissed: dict[str, tuple[str, datetime]] = {}
        for item in result.xml.iterfind(f".//{{{NS}}}overlay"):
            status = item.find(f"{{{NS}}}status")
            overlays[item.attrib["jid"]] = Overlay(
                show=Show(item.attrib["show"]),
                status=(status.text or "") if status is not None else "",
                transition=item.attrib["transition"],
                until=from_server_time(self._clock, _parse(item.attrib["until"])),
            )
        for item in result.xml.iterfind(f".//{{{NS}}}dismissed"):
            dismissed[item.attrib["jid"]] = (
                item.attrib["transition"],
                from_server_time(self._clock, _parse(item.attrib["until"])),
            )
        return ServerOverlays(overlays, dismissed)

    async def _send(self, kind: IqType, payload: ET.Element, jid: str) -> Iq:
        try:
            return await self._link.send_iq(self._domain, kind, payload)
        except IqTimeout as exc:
            raise OverlayRejected(f"overlay request for {jid}: no answer in time") from exc
        except IqError as exc:
            condition, text = _error_of(exc.iq)
            raise OverlayRejected(
                f"overlay {payload.tag.split('}')[1]} for {jid}: {condition}"
                f"{' - ' + text if text else ''}"
            ) from exc


def _error_of(iq: Iq) -> tuple[str, str]:
    """(condition, text) read from the raw XML: on a component stream the <error/> is in
    jabber:component:accept, which slixmpp's iq["error"] does not parse (it answers
    "feature-not-implemented" for any error)."""
    for child in iq.xml:
        if child.tag.endswith("}error"):
            condition, text = "undefined-condition", ""
            for item in child:
                name = item.tag.split("}")[-1]
                if name == "text":
                    text = item.text or ""
                else:
                    condition = name
            return condition, text
    return "undefined-condition", ""


def _utc(value: datetime) -> str:
    # Whole seconds, rounded up: the server may clear a little late, never early.
    utc = value.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
