"""Room meetings: the linked calendar's events, and one reminder per occurrence in the room.

Events come from the running calendar connector (`CalendarSource.events`) for the room's
CalendarRef, refreshed on every reconciliation pass. Each reminder has an exact timer
(`loop.call_at`), rescheduled when the event moves; `store.claim_notification` makes it
exactly-once per occurrence, also across restarts. A reminder whose time passed while the
service was down is still posted if the meeting has not started yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from bridges.rooms.settings import RoomsSection
from bridges.rooms.spec import Room
from bridges.rooms.texts import text
from bridges.rooms.video import VideoLinks
from samtek.calendar import CalendarSource
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.model import CalendarEvent, Person, TimeWindow
from samtek.store import Store

log = structlog.get_logger("samtek.rooms")

Poster = Callable[[str, str], object]  # (room JID, text); queued, confirmed by the server


@dataclass(frozen=True, slots=True)
class Meeting:
    room: Room
    event: CalendarEvent

    @property
    def key(self) -> str:
        return f"rooms:reminder:{self.room.jid}:{self.event.key}"


def room_person(room: Room, timezone: str) -> Person:
    """The room as a calendar owner, so any CalendarSource can serve its linked calendar."""
    assert room.calendar is not None
    return Person(
        id=f"room:{room.id}",
        jid=room.jid,
        name=room.spec.name,
        municipality=room.spec.municipality or "",
        language=room.spec.language,
        timezone=timezone,
        calendars=(room.calendar,),
    )


def meeting_details(room: Room, video: VideoLinks) -> list[str]:
    language = room.spec.language
    lines = []
    if room.spec.video.enabled:
        lines.append(text(language, "video", url=video.room_url(room.id)))
    if room.spec.dialin:
        number, pin = room.spec.dialin.number, room.spec.dialin.pin
        lines.append(
            text(language, "dialin_pin", number=number, pin=pin)
            if pin
            else text(language, "dialin", number=number)
        )
    return lines


def reminder_text(meeting: Meeting, video: VideoLinks, timezone: str) -> str:
    event, language = meeting.event, meeting.room.spec.language
    fallback = text(language, "meeting")
    subject = fallback if event.sensitivity.hides_details else (event.subject or fallback)
    start = event.start.astimezone(ZoneInfo(timezone))
    return "\n".join(
        [
            text(language, "reminder", subject=subject, time=f"{start:%H:%M}"),
            *meeting_details(meeting.room, video),
        ]
    )


class MeetingScheduler:
    def __init__(
        self,
        settings: RoomsSection,
        store: Store,
        video: VideoLinks,
        post: Poster,
        ready: Callable[[], bool],
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.store = store
        self.video = video
        self.post = post
        self.ready = ready  # False while the XMPP link is down: do not burn the claim
        self.meetings: dict[str, list[CalendarEvent]] = {}  # room id -> events
        self._timers: dict[str, tuple[datetime, asyncio.TimerHandle]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def refresh(
        self, rooms: list[Room], sources: Mapping[str, object], remind: bool = True
    ) -> None:
        """Re-read each room's meetings; with `remind`, (re)schedule their reminders, else
        drop every timer (an instance without the rooms duty only serves the feeds)."""
        now = self._clock.now()
        window = TimeWindow(
            now - timedelta(days=1), now + timedelta(days=self.settings.meetings_ahead_days)
        )
        wanted: dict[str, Meeting] = {}
        for room in rooms:
            if room.calendar is None:
                continue
            source = sources.get(room.calendar.source)
            if not isinstance(source, CalendarSource):
                log.warning(
                    "room calendar source missing or not a calendar",
                    room=room.id,
                    source=room.calendar.source,
                )
                continue
            person = room_person(room, self.settings.default_timezone)
            try:
                events = await source.events(person, window)
            except Exception as exc:  # a broken calendar must not stop other rooms
                log.warning(
                    "room calendar failed",
                    room=room.id,
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=True,
                )
                continue
            self.meetings[room.id] = sorted(events, key=lambda e: e.start)
            for event in events:
                meeting = Meeting(room, event)
                wanted[meeting.key] = meeting
        self._schedule(wanted if remind else {}, now)

    def _schedule(self, wanted: Mapping[str, Meeting], now: datetime) -> None:
        lead = timedelta(minutes=self.settings.reminder_minutes)
        for key in list(self._timers):
            when, handle = self._timers[key]
            meeting = wanted.get(key)
            if meeting is None or meeting.event.start - lead != when:
                handle.cancel()  # cancelled or moved: rescheduled below if still there
                del self._timers[key]
        loop = asyncio.get_running_loop()
        for key, meeting in wanted.items():
            when = meeting.event.start - lead
            if key in self._timers or meeting.event.start <= now:
                continue
            delay = max(0.0, (when - now).total_seconds())
            handle = loop.call_at(loop.time() + delay, self._fire, meeting)
            self._timers[key] = (when, handle)

    def _fire(self, meeting: Meeting) -> None:
        self._timers.pop(meeting.key, None)
        task = asyncio.get_running_loop().create_task(self._remind(meeting))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _remind(self, meeting: Meeting) -> None:
        if not self.ready():
            log.warning(
                "reminder skipped: XMPP not connected",
                room=meeting.room.jid,
                meeting=meeting.event.key,
            )
            return
        try:
            if not await self.store.claim_notification(meeting.key):
                return  # already posted (e.g. before a restart)
            self.post(
                meeting.room.jid, reminder_text(meeting, self.video, self.settings.default_timezone)
            )
            log.info("meeting reminder posted", room=meeting.room.jid, meeting=meeting.event.key)
        except Exception:
            log.exception(
                "meeting reminder failed", room=meeting.room.jid, meeting=meeting.event.key
            )

    def close(self) -> None:
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
