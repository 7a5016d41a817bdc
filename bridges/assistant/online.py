"""Whether people are online in the chat, what they set themselves, and since when.

Asked from the server module mod_samtek_presence_info (deploy/prosody): one IQ for all the
people of a `status` command, answered from the server's sessions. Without the module, or
when it does not answer in time, `status` simply says nothing about being online.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from xml.etree import ElementTree as ET

import structlog
from slixmpp.exceptions import IqError, IqTimeout

from samtek.xmpp.link import NotConnected, XmppLink

log = structlog.get_logger("samtek.assistant")

NS = "urn:samtek:presence-info:0"
SHOWS = {"available", "chat", "away", "xa", "dnd"}
MAX_STATUS = 200  # characters of a person's own status text quoted back
MAX_USERS = 20  # the module answers at most this many per request


@dataclass(frozen=True, slots=True)
class Online:
    online: bool
    show: str | None = None  # when online: available, chat, away, xa or dnd
    status: str | None = None  # the text they set themselves
    since: datetime | None = None  # when this began (unknown after a server restart)


class OnlineLookup(Protocol):
    async def of(self, jids: Sequence[str]) -> Mapping[str, Online]: ...


class ServerOnline:
    """`OnlineLookup` through the XMPP server (mod_samtek_presence_info)."""

    def __init__(self, link: XmppLink, domain: str, timeout: float = 3.0) -> None:
        self._link = link
        self._domain = domain
        self._timeout = timeout

    async def of(self, jids: Sequence[str]) -> Mapping[str, Online]:
        wanted = list(dict.fromkeys(j.lower() for j in jids))[:MAX_USERS]
        if not wanted:
            return {}
        payload = ET.Element(f"{{{NS}}}query")
        for jid in wanted:
            ET.SubElement(payload, f"{{{NS}}}user", jid=jid)
        try:
            async with asyncio.timeout(self._timeout):
                iq = await self._link.send_iq(self._domain, "get", payload)
        except (IqError, IqTimeout, NotConnected, TimeoutError) as exc:
            log.warning("presence info not available", error=type(exc).__name__)
            return {}
        query = iq.xml.find(f"{{{NS}}}query")
        if query is None:
            return {}
        return {
            jid: state
            for item in query.findall(f"{{{NS}}}user")
            if (jid := item.get("jid", "").lower()) in wanted
            and (state := _parse(item)) is not None
        }


def _parse(item: ET.Element) -> Online | None:
    online = item.get("online")
    if online not in ("true", "false"):
        return None
    show = item.get("show") if online == "true" else None
    status = (item.text or "").strip()[:MAX_STATUS] or None if online == "true" else None
    return Online(online == "true", show if show in SHOWS else None, status, _since(item))


def _since(item: ET.Element) -> datetime | None:
    text = item.get("since")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None
