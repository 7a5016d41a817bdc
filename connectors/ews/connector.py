"""EWS connector: on-premises Exchange calendars via exchangelib, one service account with
ApplicationImpersonation for all mailboxes.

run(): per mailbox a pull subscription on the calendar (made *before* the full read, so no
change falls between read and subscription), a full read of the window published as a
complete `CalendarUpdate`, then GetEvents polling; any calendar event triggers a re-read and,
if the set changed, a new complete update. A lost subscription or watermark means:
resubscribe, re-read, publish. Subscriptions are kept in the store, so a restart resumes them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from exchangelib import Account, Attendee, Body, CalendarItem, Mailbox

from connectors.ews.client import FREE_BUSY_CHUNK, EwsClient, Subscription, SubscriptionLost
from connectors.ews.config import EwsConfig
from connectors.ews.mapping import ItemRefused, to_blocks, to_event, to_oof
from samtek.calendar import CalendarError, MeetingRequest
from samtek.clock import Clock
from samtek.events import CalendarUpdate, OutOfOfficeUpdate
from samtek.health import ItemCounts
from samtek.model import BusyBlock, CalendarEvent, OutOfOffice, Person, TimeWindow
from samtek.plugin import AuthFailed, Connector, ConnectorContext
from samtek.runtime.bounded import for_each
from samtek.served import Cadence, poll_served

log = structlog.get_logger("samtek.connectors.ews")


@dataclass
class _Mailbox:
    person: Person
    address: str
    subscription: Subscription | None = None
    published: tuple[CalendarEvent, ...] | None = None
    oof: OutOfOffice | None = None


_Step = Callable[[_Mailbox, TimeWindow], Awaitable[None]]
# What one unreadable item may raise while being mapped; it costs that item only.
_ITEM_ERRORS = (ItemRefused, ValueError, TypeError, AttributeError, KeyError, OverflowError)


def map_items(items: Sequence[Any], timezone: str) -> tuple[list[CalendarEvent], dict[str, str]]:
    """(events sorted by start, refused item id -> reason): one bad item never costs the
    mailbox its calendar."""
    events: list[CalendarEvent] = []
    refused: dict[str, str] = {}
    for n, item in enumerate(items):
        try:
            event = to_event(item, timezone)
        except _ITEM_ERRORS as e:
            item_id = getattr(item, "id", None) or f"item #{n}"
            refused[str(item_id)] = str(e) if isinstance(e, ItemRefused) else type(e).__name__
            continue
        if event is not None:
            events.append(event)
    return sorted(events, key=lambda e: e.start), refused


class EwsConnector(Connector):
    config_model = EwsConfig

    def __init__(self, config: EwsConfig, ctx: ConnectorContext) -> None:
        super().__init__(config, ctx)
        self.cfg = config
        self.client = EwsClient(config)
        self._state_ns = f"ews:{ctx.name}"
        self.clock: Clock = ctx.clock  # tests may pin it

    # -- CalendarSource / MeetingWriter / OOF ------------------------------------------------
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

    async def events(self, person: Person, window: TimeWindow) -> list[CalendarEvent]:
        return (await self._events(person, window))[0]

    async def _events(
        self, person: Person, window: TimeWindow
    ) -> tuple[list[CalendarEvent], dict[str, str]]:
        address = self.address_of(person)
        items = await self.client.calendar_view(address, window.start, window.end, person.timezone)
        return map_items(items, person.timezone)

    async def free_busy(
        self, people: Sequence[Person], window: TimeWindow
    ) -> dict[str, list[BusyBlock]]:
        by_address = {self.address_of(p).lower(): p.id for p in people}
        addresses = list(by_address)
        size = FREE_BUSY_CHUNK
        chunks = [addresses[i : i + size] for i in range(0, len(addresses), size)]
        result: dict[str, list[BusyBlock]] = {}

        async def one(chunk: list[str]) -> None:
            views = await self.client.free_busy_chunk(chunk, window.start, window.end)
            for address, view in zip(chunk, views, strict=True):
                if isinstance(view, Exception):
                    log.warning("free/busy failed", mailbox=address, error=str(view))
                    continue
                result[by_address[address]] = to_blocks(view)

        await for_each(chunks, one, self.cfg.max_concurrency)
        return result

    async def out_of_office(self, person: Person) -> OutOfOffice:
        return to_oof(await self.client.oof(self.address_of(person)))

    async def create_meeting(self, request: MeetingRequest) -> str:
        uid = str(uuid.uuid4())
        text = "\n\n".join(t for t in (request.body, request.online_meeting_url) if t)

        def build(account: Account) -> CalendarItem:
            return CalendarItem(
                account=account,
                uid=uid,
                subject=request.subject,
                start=request.start,
                end=request.end,
                body=Body(text) if text else None,
                location=request.location,
                samtek_online_url=request.online_meeting_url,
                required_attendees=[
                    Attendee(mailbox=Mailbox(email_address=self.address_of(p)))
                    for p in request.attendees
                ],
            )

        await self.client.create(self.address_of(request.organiser), build)
        return uid

    # -- run ---------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            await self._loop()
        finally:
            self.client.close()

    async def _loop(self) -> None:
        """Follows what this instance serves (samtek/served.py): mailboxes come and go
        without a restart; the credentials are checked once, on the first mailbox."""
        window = self.window()
        checked = False

        async def start(boxes: list[_Mailbox]) -> None:
            nonlocal checked
            if not checked:
                checked = True
                try:
                    await self.client.check_credentials(boxes[0].address)
                except AuthFailed as e:
                    self.ctx.health.auth_failed(str(e))
                    raise
                except CalendarError as e:
                    # Credentials were accepted (or the server is down); the sync will tell.
                    log.warning("credential check inconclusive", error=str(e))
            await self._round(boxes, self._start, window, progress="mailboxes read")

        def new_window(_boxes: list[_Mailbox]) -> None:
            nonlocal window
            window = self.window()

        def stopped(boxes: list[_Mailbox]) -> None:
            for box in boxes:
                self.ctx.health.item_ok(box.address)  # no longer ours to report

        await poll_served(
            self.ctx.served,
            self.name,
            lambda work: _Mailbox(work.person, work.address),
            start,
            lambda boxes: self._round(boxes, self._poll, window),
            lambda boxes: self._round(boxes, self._read_oof, window),
            Cadence(
                self.cfg.poll_interval_seconds,
                self.cfg.full_resync_hours * 3600,
                self.cfg.oof_poll_minutes * 60,
            ),
            new_window,
            stopped,
        )

    async def _round(
        self, mailboxes: list[_Mailbox], step: _Step, window: TimeWindow, progress: str = ""
    ) -> None:
        await self._each(mailboxes, step, window, progress)
        self.ctx.health.success()

    async def _each(
        self, mailboxes: list[_Mailbox], step: _Step, window: TimeWindow, progress: str = ""
    ) -> None:
        """`step` for every mailbox, bounded; with `progress`, health counts them (status)."""
        done = 0

        async def one(box: _Mailbox) -> None:
            nonlocal done
            await self._guard(box, step, window)
            if progress:
                done += 1
                self.ctx.health.progress(progress, done, len(mailboxes))

        await for_each(mailboxes, one, self.cfg.max_concurrency)

    async def _guard(self, box: _Mailbox, step: _Step, window: TimeWindow) -> None:
        """One mailbox's failure is an item error; only AuthFailed stops the connector."""
        try:
            await step(box, window)
        except AuthFailed as e:
            self.ctx.health.auth_failed(str(e))
            raise
        except CalendarError as e:
            self.ctx.health.item_error(box.address, str(e))
        except Exception as e:  # one mailbox's surprise must not stop 10,000
            log.error("unexpected failure for one mailbox", mailbox=box.address, exc_info=True)
            self.ctx.health.item_error(box.address, f"{type(e).__name__}: {e}")
        else:
            self.ctx.health.item_ok(box.address)

    async def _start(self, box: _Mailbox, window: TimeWindow) -> None:
        if box.subscription is None:
            box.subscription = await self._restore(box.address)
        if box.subscription is None:
            await self._subscribe(box)
        await self._read(box, window)
        await self._read_oof(box, window)

    async def _poll(self, box: _Mailbox, window: TimeWindow) -> None:
        if box.subscription is None:  # an earlier subscribe failed
            await self._subscribe(box)
            await self._read(box, window)
            return
        if box.published is None:  # the first read failed after subscribing
            await self._read(box, window)
        try:
            changed, sub = await self.client.poll(box.address, box.subscription)
        except SubscriptionLost as e:
            log.info("subscription lost, resyncing", mailbox=box.address, reason=str(e))
            await self._subscribe(box)
            await self._read(box, window)
            return
        if sub.watermark != box.subscription.watermark:
            box.subscription = sub
            await self._save(box.address, sub)
        if changed:
            await self._read(box, window)

    async def _read(self, box: _Mailbox, window: TimeWindow) -> None:
        found, refused = await self._events(box.person, window)
        events = tuple(found)
        self.ctx.health.item_counts(box.address, ItemCounts.of(len(events), refused))
        self.ctx.health.item_ok(box.address)  # before publishing: consumers see fresh health
        if events != box.published:
            box.published = events
            await self.ctx.bus.publish(CalendarUpdate(self.name, box.person.id, window, events))

    async def _read_oof(self, box: _Mailbox, _window: TimeWindow) -> None:
        oof = await self.out_of_office(box.person)
        if oof != box.oof:
            box.oof = oof
            await self.ctx.bus.publish(OutOfOfficeUpdate(self.name, box.person.id, oof))

    async def _subscribe(self, box: _Mailbox) -> None:
        box.subscription = await self.client.subscribe(
            box.address, self.cfg.subscription_timeout_minutes
        )
        await self._save(box.address, box.subscription)

    async def _restore(self, address: str) -> Subscription | None:
        raw = await self.ctx.store.get_state(self._state_ns, address.lower())
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Subscription(str(data["id"]), str(data["watermark"]))
        except (ValueError, KeyError, TypeError) as e:
            log.warning("ignoring unreadable stored subscription", mailbox=address, error=repr(e))
            return None

    async def _save(self, address: str, sub: Subscription) -> None:
        value = json.dumps({"id": sub.subscription_id, "watermark": sub.watermark})
        await self.ctx.store.put_state(self._state_ns, address.lower(), value)
