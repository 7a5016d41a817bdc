"""Microsoft Graph connector: Microsoft 365 calendars with app-only (client credentials) access.

run(): per mailbox a calendarView delta round over the window (the full read, published as a
complete `CalendarUpdate`), then polling the delta link; changes are applied to the mailbox's
event map and the complete set is re-published when it changed. 410 on a delta link (sync
state gone) means a new full round. Delta links are kept in the store. Event subscriptions
(webhooks) would need an inbound HTTPS endpoint, so delta polling is the change detection.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import structlog

from connectors.graph.auth import TokenSource
from connectors.graph.config import GraphConfig
from connectors.graph.http import BATCH_LIMIT, DeltaExpired, GraphError, GraphHttp
from connectors.graph.mapping import EventRefused, to_blocks, to_event, to_oof
from samtek.calendar import CalendarError, MeetingRequest
from samtek.clock import Clock
from samtek.events import CalendarUpdate, OutOfOfficeUpdate
from samtek.model import BusyBlock, CalendarEvent, OutOfOffice, Person, TimeWindow
from samtek.plugin import AuthFailed, Connector, ConnectorContext
from samtek.runtime.bounded import for_each
from samtek.served import Cadence, poll_served

log = structlog.get_logger("samtek.connectors.graph")
SCHEDULES_PER_REQUEST = 20  # getSchedule limit
UTC_PREFER = 'outlook.timezone="UTC"'
SELECT = (
    "subject,start,end,isAllDay,showAs,sensitivity,location,onlineMeeting,"
    "onlineMeetingUrl,iCalUId,type,originalStart,isCancelled,isOrganizer,responseStatus"
)
# What one unreadable event may raise while being mapped; it costs that event only.
_EVENT_ERRORS = (EventRefused, ValueError, TypeError, AttributeError, KeyError, OverflowError)


def map_event(data: Any, timezone: str) -> tuple[str, CalendarEvent | None, str | None]:
    """(Graph event id, the event or None if it gives no presence, why it was refused)."""
    event_id = str(data.get("id")) if isinstance(data, dict) else "?"
    try:
        return event_id, to_event(data, timezone), None
    except _EVENT_ERRORS as e:
        return event_id, None, str(e) if isinstance(e, EventRefused) else type(e).__name__


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _graph_time(value: datetime) -> dict[str, str]:
    return {"dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


@dataclass
class _Mailbox:
    person: Person
    address: str
    delta_link: str | None = None
    events: dict[str, CalendarEvent] = field(default_factory=dict)  # by Graph event id
    refused: dict[str, str] = field(default_factory=dict)  # Graph event id -> reason
    published: tuple[CalendarEvent, ...] | None = None
    oof: OutOfOffice | None = None


_Step = Callable[[_Mailbox, TimeWindow], Awaitable[None]]


class GraphConnector(Connector):
    config_model = GraphConfig

    def __init__(self, config: GraphConfig, ctx: ConnectorContext) -> None:
        super().__init__(config, ctx)
        self.cfg = config
        self.tokens = TokenSource(config)
        self.http = GraphHttp(config, self.tokens)
        self._state_ns = f"graph:{ctx.name}"
        self.clock: Clock = ctx.clock  # tests may pin it

    async def close(self) -> None:
        await self.http.close()
        self.tokens.close()

    def window(self, now: datetime | None = None) -> TimeWindow:
        return TimeWindow.around(
            now or self.clock.now(),
            timedelta(days=self.cfg.window_back_days),
            timedelta(days=self.cfg.window_ahead_days),
        )

    def address_of(self, person: Person) -> str:
        for ref in person.calendars:
            if ref.source == self.name:
                return ref.address
        if person.email:
            return person.email
        raise CalendarError(f"{person.id} has no mailbox on {self.name} and no e-mail address")

    def _user(self, address: str) -> str:
        return f"/users/{quote(address)}"

    # -- CalendarSource / MeetingWriter / OOF ------------------------------------------------
    async def events(self, person: Person, window: TimeWindow) -> list[CalendarEvent]:
        address = self.address_of(person)
        url: str | None = (
            f"{self._user(address)}/calendarView?startDateTime={_iso(window.start)}"
            f"&endDateTime={_iso(window.end)}&$top={self.cfg.page_size}&$select={SELECT}"
        )
        found: list[CalendarEvent] = []
        while url:
            page = await self.http.request("GET", url, mailbox=address, prefer=(UTC_PREFER,))
            for data in page.get("value", []):
                event_id, event, why = map_event(data, person.timezone)
                if why is not None:
                    log.warning("event refused", mailbox=address, event_id=event_id, reason=why)
                elif event is not None:
                    found.append(event)
            url = page.get("@odata.nextLink")
        return sorted(found, key=lambda e: e.start)

    async def free_busy(
        self, people: Sequence[Person], window: TimeWindow
    ) -> dict[str, list[BusyBlock]]:
        by_address = {self.address_of(p).lower(): p.id for p in people}
        if not by_address:
            return {}
        addresses = list(by_address)
        asker = addresses[0]  # any mailbox may ask for others' schedules with app permissions
        calls = [
            {
                "id": str(n),
                "method": "POST",
                "url": f"{self._user(asker)}/calendar/getSchedule",
                "body": {
                    "schedules": addresses[i : i + SCHEDULES_PER_REQUEST],
                    "startTime": _graph_time(window.start),
                    "endTime": _graph_time(window.end),
                    "availabilityViewInterval": 30,
                },
            }
            for n, i in enumerate(range(0, len(addresses), SCHEDULES_PER_REQUEST))
        ]
        batches = [calls[i : i + BATCH_LIMIT] for i in range(0, len(calls), BATCH_LIMIT)]
        result: dict[str, list[BusyBlock]] = {}

        async def one(batch: list[dict[str, Any]]) -> None:
            for call_id, body in (await self.http.batch(batch)).items():
                if isinstance(body, GraphError):
                    log.warning("getSchedule failed", request=call_id, error=str(body))
                    continue
                for schedule in body.get("value", []):
                    if "error" in schedule:
                        log.warning(
                            "free/busy failed",
                            mailbox=schedule.get("scheduleId"),
                            error=schedule["error"].get("message"),
                        )
                        continue
                    result[by_address[schedule["scheduleId"].lower()]] = to_blocks(schedule)

        await for_each(batches, one, max(1, self.cfg.max_concurrency // 4))
        return result

    async def out_of_office(self, person: Person) -> OutOfOffice:
        address = self.address_of(person)
        settings = await self.http.request(
            "GET", f"{self._user(address)}/mailboxSettings", mailbox=address, prefer=(UTC_PREFER,)
        )
        return to_oof(settings.get("automaticRepliesSetting"))

    async def create_meeting(self, request: MeetingRequest) -> str:
        organiser = self.address_of(request.organiser)
        body: dict[str, Any] = {
            "subject": request.subject,
            "start": _graph_time(request.start),
            "end": _graph_time(request.end),
            "attendees": [
                {
                    "emailAddress": {"address": self.address_of(p), "name": p.name},
                    "type": "required",
                }
                for p in request.attendees
            ],
            # Makes a retried POST idempotent: Graph drops a second event with the same id.
            "transactionId": str(uuid.uuid4()),
        }
        if request.body:
            body["body"] = {"contentType": "text", "content": request.body}
        if request.location:
            body["location"] = {"displayName": request.location}
        if request.online_meeting_url:
            body["onlineMeetingUrl"] = request.online_meeting_url
        created = await self.http.request(
            "POST",
            f"{self._user(organiser)}/events",
            mailbox=organiser,
            json=body,
            prefer=(UTC_PREFER,),
        )
        return str(created.get("iCalUId") or created["id"])

    # -- run ---------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            try:
                await self.tokens.token()  # fail fast on bad credentials
            except AuthFailed as e:
                self.ctx.health.auth_failed(str(e))
                raise
            await self._follow_served()
        finally:
            await self.close()

    async def _follow_served(self) -> None:
        """Mailboxes come and go with the directory and this instance's partitions
        (samtek/served.py), without a restart."""
        window = self.window()

        def new_window(boxes: list[_Mailbox]) -> None:
            nonlocal window
            window = self.window()
            for box in boxes:  # a new window needs a new delta round
                box.delta_link = None

        def stopped(boxes: list[_Mailbox]) -> None:
            for box in boxes:
                self.ctx.health.item_ok(box.address)  # no longer ours to report

        async def round_of(step: _Step, boxes: list[_Mailbox]) -> None:
            await self._each(boxes, step, window)
            self.ctx.health.success()

        await poll_served(
            self.ctx.served,
            self.name,
            lambda work: _Mailbox(work.person, work.address),
            lambda boxes: round_of(self._start, boxes),
            lambda boxes: round_of(self._poll, boxes),
            lambda boxes: round_of(self._read_oof, boxes),
            Cadence(
                self.cfg.poll_interval_seconds,
                self.cfg.full_resync_hours * 3600,
                self.cfg.oof_poll_minutes * 60,
            ),
            new_window,
            stopped,
        )

    async def _each(self, mailboxes: list[_Mailbox], step: _Step, window: TimeWindow) -> None:
        async def one(box: _Mailbox) -> None:
            try:
                await step(box, window)
            except AuthFailed as e:
                self.ctx.health.auth_failed(str(e))
                raise
            except CalendarError as e:
                self.ctx.health.item_error(box.address, str(e))
            except Exception as e:  # one mailbox's surprise must not stop all
                log.error("unexpected failure for one mailbox", mailbox=box.address, exc_info=True)
                self.ctx.health.item_error(box.address, f"{type(e).__name__}: {e}")
            else:
                self.ctx.health.item_ok(box.address)

        await for_each(mailboxes, one, self.cfg.max_concurrency)

    async def _start(self, box: _Mailbox, window: TimeWindow) -> None:
        await self._full(box, window)
        await self._read_oof(box, window)

    async def _full(self, box: _Mailbox, window: TimeWindow) -> None:
        box.events, box.refused = {}, {}
        first = (
            f"{self._user(box.address)}/calendarView/delta?"
            f"startDateTime={_iso(window.start)}&endDateTime={_iso(window.end)}"
        )
        await self._delta_round(box, first)
        await self._publish(box, window)

    async def _poll(self, box: _Mailbox, window: TimeWindow) -> None:
        if box.delta_link is None:  # the first round failed earlier
            await self._full(box, window)
            return
        try:
            await self._delta_round(box, box.delta_link)
        except DeltaExpired as e:
            log.info("delta link expired, resyncing", mailbox=box.address, reason=str(e))
            await self.ctx.store.delete_state(self._state_ns, box.address.lower())
            await self._full(box, window)
            return
        await self._publish(box, window)

    async def _delta_round(self, box: _Mailbox, url: str) -> None:
        """Follow nextLinks to the deltaLink, applying every change to the event map."""
        prefer = (UTC_PREFER, f"odata.maxpagesize={self.cfg.page_size}")
        next_url: str | None = url
        while next_url:
            page = await self.http.request("GET", next_url, mailbox=box.address, prefer=prefer)
            for item in page.get("value", []):
                if isinstance(item, dict) and "@removed" in item:
                    box.events.pop(str(item.get("id")), None)
                    box.refused.pop(str(item.get("id")), None)
                    continue
                event_id, event, why = map_event(item, box.person.timezone)
                box.events.pop(event_id, None)
                box.refused.pop(event_id, None)
                if why is not None:
                    box.refused[event_id] = why
                elif event is not None:
                    box.events[event_id] = event
            next_url = page.get("@odata.nextLink")
            if next_url is None:
                box.delta_link = page.get("@odata.deltaLink")
                if box.delta_link is None:
                    raise GraphError(f"delta round for {box.address} ended without a deltaLink")
        await self.ctx.store.put_state(
            self._state_ns, box.address.lower(), json.dumps({"deltaLink": box.delta_link})
        )

    async def _publish(self, box: _Mailbox, window: TimeWindow) -> None:
        events = tuple(
            sorted(
                (e for e in box.events.values() if window.overlaps(e.start, e.end)),
                key=lambda e: (e.start, e.uid),
            )
        )
        self.ctx.health.item_counts(box.address, len(events), box.refused)
        self.ctx.health.item_ok(box.address)  # before publishing: consumers see fresh health
        if events != box.published:
            box.published = events
            await self.ctx.bus.publish(CalendarUpdate(self.name, box.person.id, window, events))

    async def _read_oof(self, box: _Mailbox, _window: TimeWindow) -> None:
        oof = await self.out_of_office(box.person)
        if oof != box.oof:
            box.oof = oof
            await self.ctx.bus.publish(OutOfOfficeUpdate(self.name, box.person.id, oof))
