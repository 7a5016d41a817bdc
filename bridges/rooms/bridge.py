"""The rooms daemon: reconcile every interval (with jitter), on spec changes and reconnects;
keep the meeting reminders and ICS feeds current.

Spec errors keep the last good rooms (and show in health); a failed pass is retried with
backoff. Nothing is done while the XMPP link is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog
import watchfiles

from bridges.rooms.feed import FeedApp, feed_token
from bridges.rooms.invites import Inviter
from bridges.rooms.meetings import MeetingScheduler
from bridges.rooms.plan import Phase, Plan, phase_of
from bridges.rooms.reconciler import Reconciler
from bridges.rooms.registry import RoomSpecRegistry
from bridges.rooms.requests import RoomRequests
from bridges.rooms.settings import RoomsSection
from bridges.rooms.spec import Room, SpecError, SpecSet, read_specs, resolve
from bridges.rooms.video import VideoLinks
from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.groups import GroupDirectory
from samtek.health import HealthReporter
from samtek.model import CalendarEvent, Person
from samtek.runtime.backoff import Backoff
from samtek.store import Store
from samtek.xmpp.link import XmppLink
from samtek.xmpp.muc import MucClient

log = structlog.get_logger("samtek.rooms")


class RoomsBridge:
    def __init__(
        self,
        settings: RoomsSection,
        people: Mapping[str, Person],
        link: XmppLink,
        store: Store,
        domain: str,
        health: HealthReporter,
        sources: Mapping[str, object] | None = None,
        groups: GroupDirectory | None = None,
        base_dir: Path | None = None,
        duty_held: Callable[[], bool] = lambda: True,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.clock = clock
        # With several instances only the holder of the "rooms" lease reconciles.
        self._duty_held = duty_held
        self.spec_dir = (base_dir or Path.cwd()) / settings.spec_dir  # relative to the config
        self.people = people
        self.link = link
        self.store = store
        self.health = health
        self.sources = sources if sources is not None else {}  # connectors by name, filled later
        self.groups = groups
        self.muc = MucClient(link, settings.muc_service or f"conference.{domain}", settings.nick)
        self.video = VideoLinks(settings, clock)
        by_jid = {p.jid.lower(): p.language for p in people.values()}
        self.inviter = Inviter(self.muc, domain, self.video, lambda jid: by_jid.get(jid.lower()))
        self.reconciler = Reconciler(self.muc, self.inviter, settings.retention_days, store, health)
        self.meetings = MeetingScheduler(
            settings, store, self.video, self.muc.say, lambda: link.connected, clock
        )
        self.rooms: list[Room] = []
        self._tokens: dict[str, Room] = {}
        self._secret: bytes | None = None
        self._wake = asyncio.Event()
        self.feeds = FeedApp(self._lookup_feed, self.video)
        self.passes = 0  # completed reconciliation passes (tests wait on it)
        self.last_plan: Plan | None = None
        self.specs = RoomSpecRegistry(
            store,
            lambda: read_specs(self.spec_dir),
            self._resolve,
            self.wake,
            lambda: self.today().date(),
            self.preview,
        )
        self.requests = RoomRequests(settings, store, self.specs, link.send_message, clock)

    async def on_xmpp_ready(self) -> None:
        self._wake.set()  # reconcile at once after every (re)connect

    def wake(self) -> None:
        self._wake.set()

    async def load_rooms(self) -> list[Room]:
        """Spec files and API-made specs, resolved against the directory."""
        stored = await self.specs.stored()
        return await asyncio.to_thread(lambda: self._resolve(read_specs(self.spec_dir, stored)))

    def _resolve(self, specs: SpecSet) -> list[Room]:
        return resolve(specs, self.people, self.muc.service, self.groups, self.settings.groups)

    def today(self) -> datetime:
        return self.clock.now().astimezone(ZoneInfo(self.settings.default_timezone))

    async def reconcile(self, apply: bool = True) -> Plan:
        try:
            rooms = await self.load_rooms()
            self.health.item_ok("specs")
        except SpecError as exc:
            self.health.item_error("specs", "; ".join(exc.errors))
            log.warning("room specs invalid; keeping the last good ones", errors=exc.errors)
            rooms = self.rooms
        self.rooms = rooms
        await self.index_feeds(rooms)
        plan = await self.reconciler.plan(rooms, self.today().date())
        if not plan.empty:
            log.info("rooms plan", changes=len(plan.actions), plan=plan.render())
        if apply and not plan.empty:
            await self.reconciler.apply(plan)
        today = self.today().date()
        active = [
            r for r in rooms if phase_of(r, today, self.settings.retention_days) is Phase.ACTIVE
        ]
        await self.meetings.refresh(active, self.sources)  # no reminders in closed rooms
        self.last_plan = plan
        self.passes += 1
        return plan

    async def preview(self) -> Plan:
        """What a pass would change now, without changing anything (admin API, CLI)."""
        rooms = await self.load_rooms()
        return await self.reconciler.plan(rooms, self.today().date())

    def feed_url(self, room_id: str) -> str | None:
        if self._secret is None:
            return None
        return f"/rooms/feed/{feed_token(self._secret, room_id)}.ics"

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch_specs())
        backoff = Backoff(initial=5.0, maximum=self.settings.interval_seconds)
        try:
            while True:
                delay = self._jittered()
                self._wake.clear()  # before the work: a wake-up during it runs another pass
                if self.link.connected and self._duty_held():
                    try:
                        await self.reconcile()
                        backoff.reset()
                        self.health.success()
                    except Exception as exc:  # retried with backoff; health says why
                        delay = backoff.next_delay()
                        self.health.item_error("reconcile", f"{type(exc).__name__}: {exc}")
                        log.warning(
                            "rooms pass failed",
                            error=str(exc),
                            retry_in=round(delay, 1),
                            exc_info=True,
                        )
                    else:
                        self.health.item_ok("reconcile")
                else:
                    await self._refresh_feeds()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            watcher.cancel()
            self.meetings.close()

    async def _refresh_feeds(self) -> None:
        """Without the rooms duty (or the link): keep serving every room's ICS feed, so any
        instance behind the load balancer answers; reminders stay with the duty holder."""
        try:
            rooms = await self.load_rooms()
        except SpecError as exc:
            self.health.item_error("specs", "; ".join(exc.errors))
            rooms = self.rooms
        else:
            self.health.item_ok("specs")
        self.rooms = rooms
        try:
            today = self.today().date()
            active = [
                r for r in rooms if phase_of(r, today, self.settings.retention_days) is Phase.ACTIVE
            ]
            await self.meetings.refresh(active, self.sources, remind=False)
            await self.index_feeds(rooms)  # after the meetings: no feed is served empty
        except Exception as exc:  # retried on the next pass; health says why
            self.health.item_error("feeds", f"{type(exc).__name__}: {exc}")
            log.warning("room feeds not refreshed", error=str(exc), exc_info=True)
        else:
            self.health.item_ok("feeds")

    def _jittered(self) -> float:
        j = self.settings.jitter
        return self.settings.interval_seconds * random.uniform(1 - j, 1 + j)

    async def _watch_specs(self) -> None:
        spec_dir = self.spec_dir
        if not spec_dir.is_dir():
            log.warning("room spec directory missing; not watched", path=str(spec_dir))
            return
        async for _ in watchfiles.awatch(spec_dir, debounce=200, step=50):
            log.info("room specs changed", path=str(spec_dir))
            self._wake.set()

    async def index_feeds(self, rooms: Sequence[Room]) -> None:
        if self._secret is None:
            self._secret = await self._feed_secret()
        self._tokens = {feed_token(self._secret, r.id): r for r in rooms if r.calendar}

    async def _feed_secret(self) -> bytes:
        if self.settings.feed_secret is not None:
            return self.settings.feed_secret.get_secret_value().encode()
        # Instances starting together must agree on one secret: the first insert wins.
        stored = await self.store.put_state_if_absent("rooms", "feed_secret", secrets.token_hex(32))
        return stored.encode()

    def _lookup_feed(self, token: str) -> tuple[Room, list[CalendarEvent]] | None:
        room = self._tokens.get(token)
        if room is None:
            return None
        return room, self.meetings.meetings.get(room.id, [])
