"""Per-room ICS feeds of the room's meetings at an unguessable URL: /rooms/feed/<token>.ics.

token = HMAC-SHA256(feed secret, room id), truncated to 128 bits: stable across restarts,
not derivable without the secret. Each event carries the room's video link and dial-in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from aiohttp import web
from icalendar import Calendar, Event

from bridges.rooms.meetings import meeting_details
from bridges.rooms.spec import Room
from bridges.rooms.video import VideoLinks
from samtek.model import CalendarEvent


def feed_token(secret: bytes, room_id: str) -> str:
    return hmac.new(secret, room_id.encode(), hashlib.sha256).hexdigest()[:32]


def build_ics(room: Room, events: Sequence[CalendarEvent], video: VideoLinks) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//SAMTEK//rooms//NO")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", room.spec.name)
    details = meeting_details(room, video)
    for e in events:
        item = Event()
        item.add("uid", e.key)
        item.add("dtstart", e.start)
        item.add("dtend", e.end)
        item.add("dtstamp", e.start)
        hidden = e.sensitivity.hides_details
        item.add("summary", "Møte" if hidden else (e.subject or "Møte"))
        if e.location and not hidden:
            item.add("location", e.location)
        item.add("description", "\n".join([f"Prosjektrom: xmpp:{room.jid}?join", *details]))
        if room.spec.video.enabled:
            item.add("url", video.room_url(room.id))
        calendar.add_component(item)
    return bytes(calendar.to_ical())


class FeedApp:
    """The aiohttp sub-application; `lookup` maps a token to (room, events) or None."""

    def __init__(
        self,
        lookup: Callable[[str], tuple[Room, Sequence[CalendarEvent]] | None],
        video: VideoLinks,
    ) -> None:
        self.lookup = lookup
        self.video = video
        self.app = web.Application()
        self.app.router.add_get("/feed/{token}.ics", self._feed)

    async def _feed(self, request: web.Request) -> web.Response:
        found = self.lookup(request.match_info["token"])
        if found is None:
            raise web.HTTPNotFound(text="no such feed")
        room, events = found
        return web.Response(
            body=build_ics(room, events, self.video),
            content_type="text/calendar",
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )
