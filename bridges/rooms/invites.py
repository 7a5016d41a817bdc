"""Telling a new member about a room: a XEP-0249 direct invitation and a XEP-0402 bookmark.

The bookmark goes into the member's PEP through deploy/prosody/mod_samtek_rooms.lua (a
component cannot publish to a user's PEP on stock Prosody). Users of other domains get the
invitation only.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.etree import ElementTree as ET

import structlog

from bridges.rooms.texts import text
from bridges.rooms.video import VideoLinks
from samtek.xmpp.muc import MucClient

log = structlog.get_logger("samtek.rooms")

NS = "urn:samtek:rooms:0"
NS_BOOKMARKS = "urn:xmpp:bookmarks:1"


class Inviter:
    def __init__(
        self,
        muc: MucClient,
        domain: str,
        video: VideoLinks | None = None,
        language_of: Callable[[str], str | None] = lambda _jid: None,
    ) -> None:
        self.muc = muc
        self.domain = domain
        self.video = video
        self.language_of = language_of  # bare JID -> the person's language, if in the directory

    async def invite(
        self, room: str, jid: str, name: str, video: bool = True, room_language: str = "nb"
    ) -> None:
        language = self.language_of(jid) or room_language
        reason = text(language, "invitation", name=name)
        if self.video is not None and video:
            # personal link: signed for this member when Jitsi tokens are configured. Never
            # last in the text: clients append ": xmpp:room" to the reason, and a URL at the
            # end would take the colon into the link.
            url = self.video.member_url(room.split("@", 1)[0], jid, jid)
            reason += ". " + text(language, "invitation_video", url=url)
        self.muc.invite(room, jid, reason=reason)
        if jid.rpartition("@")[2] == self.domain:
            await self.bookmark(room, jid, name)

    async def forget(self, room: str, jid: str) -> None:
        """A removed member loses the bookmark too (local users only)."""
        if jid.rpartition("@")[2] == self.domain:
            await self.bookmark(room, jid, "", remove=True)

    async def bookmark(self, room: str, jid: str, name: str, remove: bool = False) -> None:
        request = ET.Element(f"{{{NS}}}bookmark", jid=jid, room=room)
        if remove:
            request.set("remove", "true")
        else:
            conference = ET.SubElement(
                request, f"{{{NS_BOOKMARKS}}}conference", name=name, autojoin="true"
            )
            ET.SubElement(conference, f"{{{NS_BOOKMARKS}}}nick").text = jid.split("@", 1)[0]
        self.muc.iq_sets += 1
        await self.muc.link.send_iq(self.domain, "set", request)
