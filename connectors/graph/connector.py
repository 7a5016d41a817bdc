"""Microsoft Graph connector: Microsoft 365 calendars with app-only (client credentials) access.

run(): per mailbox a calendarView delta round over the window (the full read, published as a
complete `CalendarUpdate`), then rounds on the delta link; changes are applied to the
mailbox's event map and the complete set is re-published when it changed. 410 on a delta link
(sync state gone) means a new full round. Delta links are kept in the store.

What starts a delta round: with `notification_url` set, a change notification for the
mailbox (connectors/graph/notifications.py, subscriptions.py), and a slow safety-net round
(`safety_poll_minutes`) that repairs lost notifications. A mailbox without a working
subscription (none configured, Microsoft cannot reach the endpoint, creation failed) is
polled every `poll_interval_seconds`, as before.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import structlog

from connectors.graph.auth import TokenSource
from connectors.graph.config import GraphConfig
from connectors.graph.http import BATCH_LIMIT, DeltaExpired, GraphError, GraphHttp
from connectors.graph.mapping import EventRefused, to_blocks, to_event, to_oof
from connectors.graph.notifications import DELTA, RECREATE, RENEW, NotificationEndpoint, Work
from connectors.graph.subscriptions import EndpointUnreachable, Subscriber, Subscription
from connectors.graph.teams import TeamsPresence
from connectors.graph.teams_write import TeamsWriter
from samtek.calendar import CalendarError, MeetingRequest
from samtek.clock import Clock
from samtek.events import CalendarUpdate, OutOfOfficeUpdate
from samtek.health import ItemCounts
from samtek.model import BusyBlock, CalendarEvent, OutOfOffice, Person, TimeWindow
from samtek.plugin import AuthFailed, Connector, ConnectorContext
from samtek.runtime.bounded import for_each
from samtek.served import CalendarWork, follow

log = structlog.get_logger("samtek.connectors.graph")
SCHEDULES_PER_REQUEST = 20  # getSchedule limit
UTC_PREFER = 'outlook.timezone="UTC"'
SELECT = (
    "subject,start,end,isAllDay,showAs,sensitivity,location,onlineMeeting,"
    "onlineMeetingUrl,iCalUId,type,originalStart,isCancelled,isOrganizer,responseStatus"
)
NOTIFICATIONS_ITEM = "change notifications"  # the health item of the subscriptions
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
    subscription: Subscription | None = None
    synced_at: float = float("-inf")  # monotonic time of the last delta round
    subscribe_after: float = float("-inf")  # monotonic: a failed subscription waits till then
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one round at a time


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
        self.endpoint: NotificationEndpoint | None = None
        self.prefix = f"/graph/{ctx.name}"
        self._unreachable_until = float("-inf")  # monotonic: no subscribing before then
        self._window: TimeWindow | None = None
        self.teams: TeamsPresence | None = None
        self.teams_writer: TeamsWriter | None = None
        if config.teams_presence or config.teams_write:
            self.teams = TeamsPresence(
                ctx.name, config, self.http, ctx.bus, ctx.health, lambda: self.clock.now()
            )
        if config.teams_write and self.teams is not None:
            self.teams_writer = TeamsWriter(
                config, self.http, ctx.bus, self.teams, ctx.health, lambda: self.clock.now()
            )
            self.teams.writer = self.teams_writer
        if config.notification_url is not None and config.client_state is not None:
            if ctx.web is None:
                raise RuntimeError(f"graph connector {ctx.name}: no HTTP server in its context")
            self.endpoint = NotificationEndpoint(ctx.name, config.client_state.get_secret_value())
            # Routes must exist before the server starts: mounted here, answered while running.
            ctx.web.mount(
                self.prefix, self.endpoint.app, max_body_bytes=config.notification_max_body_bytes
            )

    def subscriber(self) -> Subscriber | None:
        if self.endpoint is None:
            return None
        return Subscriber(
            self.cfg, self.http, self.ctx.store, self._state_ns, lambda: self.clock.now()
        )

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
        # Mailboxes follow the directory and this instance's partitions (samtek/served.py):
        # added ones are subscribed and read at once, dropped ones are no longer polled.
        self._boxes: dict[CalendarWork, _Mailbox] = {}
        self._by_address: dict[str, _Mailbox] = {}  # for the notification workers
        self._people: list[tuple[Person, str]] = []  # live list: Teams re-resolves on growth
        try:
            try:
                await self.tokens.token()  # fail fast on bad credentials
            except AuthFailed as e:
                self.ctx.health.auth_failed(str(e))
                raise
            subscriber = self.subscriber()
            tasks: list[Coroutine[Any, Any, None]] = [self._rounds(subscriber)]
            if subscriber is not None and self.endpoint is not None:
                # Each mailbox queues at most one piece of work per action (notifications.py).
                queue = self.endpoint.open(3 * max(len(self.ctx.served.calendars(self.name)), 1000))
                tasks += [self._work(queue, subscriber) for _ in range(self.cfg.max_concurrency)]
            if self.teams is not None and self.cfg.teams_presence:
                tasks.append(self.teams.run(self._people))
            if self.teams_writer is not None:
                tasks.append(self.teams_writer.run(self._people))
            try:
                async with asyncio.TaskGroup() as group:
                    for task in tasks:
                        group.create_task(task)
            except BaseExceptionGroup as failed:
                raise failed.exceptions[0] from None
        finally:
            if self.endpoint is not None:
                self.endpoint.close()
            await self.close()

    def _follow(self) -> list[_Mailbox]:
        """Bring the mailboxes in line with what this instance serves; returns the new ones."""
        before = self._boxes
        self._boxes, added = follow(
            before, self.ctx.served.calendars(self.name), lambda w: _Mailbox(w.person, w.address)
        )
        for work, box in before.items():
            if work not in self._boxes:
                self.ctx.health.item_ok(box.address)  # no longer ours to report
                if self.endpoint is not None and box.subscription is not None:
                    self.endpoint.subscriptions.pop(box.subscription.id, None)
        self._by_address.clear()
        self._by_address.update({b.address.lower(): b for b in self._boxes.values()})
        self._people[:] = [(b.person, b.address) for b in self._boxes.values()]
        return [self._boxes[work] for work in added]

    async def _rounds(self, subscriber: Subscriber | None) -> None:
        """Full rounds every `full_resync_hours`; between them, delta rounds when due, and
        new mailboxes started as soon as the directory or the partitions change."""

        async def start(box: _Mailbox, window: TimeWindow) -> None:
            # Subscribe first: a change after the full read is then always notified.
            await self._subscribe(box, subscriber)
            await self._start(box, window)

        seen = self.ctx.served.version
        while True:
            window = self.window()
            anchored = time.monotonic()
            self._follow()
            mailboxes = list(self._boxes.values())
            for box in mailboxes:  # a new window needs a new delta round
                box.delta_link = None
            self._window = window
            await self._each(mailboxes, start, window, progress="mailboxes read")
            self.ctx.health.success()
            last_oof = time.monotonic()
            while time.monotonic() - anchored < self.cfg.full_resync_hours * 3600:
                seen = await self.ctx.served.wait(seen, self.cfg.poll_interval_seconds)
                if added := self._follow():
                    await self._each(added, start, window, progress="new mailboxes read")
                mailboxes = list(self._boxes.values())
                due = [box for box in mailboxes if self._delta_due(box)]
                await self._each(due, self._poll, window)
                if subscriber is not None:
                    renew = [box for box in mailboxes if subscriber.due(box.subscription)]
                    await for_each(
                        renew,
                        lambda box: self._guarded(box, self._subscribe(box, subscriber)),
                        self.cfg.max_concurrency,
                    )
                if time.monotonic() - last_oof >= self.cfg.oof_poll_minutes * 60:
                    await self._each(mailboxes, self._read_oof, window)
                    last_oof = time.monotonic()
                self.ctx.health.success()

    def _delta_due(self, box: _Mailbox) -> bool:
        """A mailbox with a live subscription waits for notifications; delta is its safety net."""
        interval = (
            self.cfg.safety_poll_minutes * 60
            if box.subscription is not None
            else self.cfg.poll_interval_seconds
        )
        # Half a tick of slack: a round due "now" must not wait for the next tick.
        return time.monotonic() - box.synced_at >= interval - self.cfg.poll_interval_seconds / 2

    async def _subscribe(
        self, box: _Mailbox, subscriber: Subscriber | None, *, force: bool = False
    ) -> None:
        """Create, restore or renew the mailbox's subscription when due (or `force`d).

        A failure costs only the notifications: the mailbox is polled until it works.
        """
        if subscriber is None or self.endpoint is None:
            return
        if not force and not subscriber.due(box.subscription):
            return
        if time.monotonic() < max(self._unreachable_until, box.subscribe_after):
            return  # failed a moment ago: keep polling, try later
        item = f"{box.address} (subscription)"
        try:
            await self._subscribe_now(box, subscriber)
        except AuthFailed:
            raise
        except CalendarError as e:
            box.subscribe_after = time.monotonic() + self.cfg.resubscribe_minutes * 60
            self.ctx.health.item_error(item, str(e))
        else:
            self.ctx.health.item_ok(item)

    async def _subscribe_now(self, box: _Mailbox, subscriber: Subscriber) -> None:
        assert self.endpoint is not None
        old = box.subscription
        sub = await (
            subscriber.restore(box.address) if old is None else subscriber.renew(box.address, old)
        )
        if sub is None:
            if old is not None:
                self.endpoint.subscriptions.pop(old.id, None)
            box.subscription = None  # polled at the normal interval until this works
            try:
                sub = await subscriber.create(box.address)
            except EndpointUnreachable as e:
                self._unreachable_until = time.monotonic() + self.cfg.resubscribe_minutes * 60
                self.ctx.health.item_error(
                    NOTIFICATIONS_ITEM,
                    f"{e}. Calendars are polled every {self.cfg.poll_interval_seconds:g} s"
                    f" instead; subscribing again in {self.cfg.resubscribe_minutes:g} min",
                )
                return
        box.subscription = sub
        self.endpoint.subscriptions[sub.id] = box.address.lower()
        self.ctx.health.item_ok(NOTIFICATIONS_ITEM)

    async def _resubscribe(self, box: _Mailbox, subscriber: Subscriber) -> None:
        """Graph removed the subscription: a new one, then the changes nobody notified."""
        if self.endpoint is not None and box.subscription is not None:
            self.endpoint.subscriptions.pop(box.subscription.id, None)
        box.subscription = None
        await subscriber.forget(box.address)
        await self._subscribe(box, subscriber)

    async def _work(self, queue: asyncio.Queue[Work], subscriber: Subscriber) -> None:
        """One worker on the notification queue."""
        endpoint = self.endpoint
        if endpoint is None:
            return
        while True:
            work = await queue.get()
            endpoint.taken(work)
            action, address = work
            box, window = self._by_address.get(address), self._window
            if box is None or window is None:
                continue
            if action == RENEW:  # a renewal also reauthorizes (Graph's lifecycle guidance)
                await self._guarded(box, self._subscribe(box, subscriber, force=True))
            elif action == RECREATE:
                await self._guarded(box, self._resubscribe(box, subscriber))
            if action in (DELTA, RECREATE):
                await self._each([box], self._poll, window)

    async def _guarded(self, box: _Mailbox, work: Awaitable[None]) -> None:
        """Subscription work: its health is its own item; a surprise must not stop the rest."""
        try:
            await work
        except AuthFailed as e:
            self.ctx.health.auth_failed(str(e))
            raise
        except Exception as e:
            log.error("subscription work failed", mailbox=box.address, exc_info=True)
            self.ctx.health.item_error(f"{box.address} (subscription)", f"{type(e).__name__}: {e}")

    async def _each(
        self, mailboxes: list[_Mailbox], step: _Step, window: TimeWindow, progress: str = ""
    ) -> None:
        """`step` for every mailbox, bounded; with `progress`, health counts them (status)."""
        done = 0

        async def one(box: _Mailbox) -> None:
            await self._guarded_step(box, step, window)
            if progress:
                nonlocal done
                done += 1
                self.ctx.health.progress(progress, done, len(mailboxes))

        await for_each(mailboxes, one, self.cfg.max_concurrency)

    async def _guarded_step(self, box: _Mailbox, step: _Step, window: TimeWindow) -> None:
        """One mailbox's failure is an item error; only AuthFailed stops the connector."""
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

    async def _start(self, box: _Mailbox, window: TimeWindow) -> None:
        async with box.lock:
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
        async with box.lock:
            await self._poll_locked(box, window)

    async def _poll_locked(self, box: _Mailbox, window: TimeWindow) -> None:
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
                box.synced_at = time.monotonic()
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
        self.ctx.health.item_counts(box.address, ItemCounts.of(len(events), box.refused))
        self.ctx.health.item_ok(box.address)  # before publishing: consumers see fresh health
        if events != box.published:
            box.published = events
            await self.ctx.bus.publish(CalendarUpdate(self.name, box.person.id, window, events))

    async def _read_oof(self, box: _Mailbox, _window: TimeWindow) -> None:
        oof = await self.out_of_office(box.person)
        if oof != box.oof:
            box.oof = oof
            await self.ctx.bus.publish(OutOfOfficeUpdate(self.name, box.person.id, oof))
