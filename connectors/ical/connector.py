"""The iCal connector: one watcher per feed, publishing each person's events on change.

An ICS feed offers no change notification, so HTTP feeds are polled, cheaply (conditional
GET) and with jitter so thousands of feeds spread out; never two fetches of one feed at once
(one task per feed). Local files are watched with inotify (watchfiles): a change is seen at once.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
import structlog
import watchfiles
from pydantic import Field

from connectors.ical.fetch import Validators, fetch_http, local_path, read_file
from samtek.calendar import CalendarError
from samtek.calendar.ics import DEFAULT_CPU_SECONDS, Problem
from samtek.calendar.pool import ParsePool
from samtek.events import CalendarUpdate
from samtek.health import ItemCounts
from samtek.model import (
    BusyBlock,
    BusyStatus,
    CalendarEvent,
    Person,
    TimeWindow,
    calendar_address,
)
from samtek.plugin import Connector, ConnectorConfig, ConnectorContext
from samtek.redact import redact_text, redact_url
from samtek.runtime.backoff import Backoff
from samtek.served import CalendarWork

log = structlog.get_logger("samtek.ical")
_MAX_REASONS = 20  # per feed in health; the count says how many there are


class IcalConfig(ConnectorConfig):
    refresh_interval: float = Field(300.0, ge=1, description="seconds between HTTP polls")
    jitter: float = Field(0.1, ge=0, le=0.5, description="± fraction of the interval")
    full_refresh_hours: float = Field(6.0, gt=0, description="unconditional re-read period")
    # 10 MiB holds years of a shared municipal calendar with long agendas; a bigger feed is
    # refused while it streams (a 15 MB hostile feed cost 28 s of CPU when it was parsed).
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    cpu_seconds: float = Field(
        DEFAULT_CPU_SECONDS, gt=0, description="CPU budget for parsing one feed (seconds)"
    )
    timeout: float = Field(30.0, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    max_instances: int = Field(5_000, ge=10)
    max_concurrent_fetches: int = Field(16, ge=1, le=256)
    # Parsing is CPU-bound pure Python: worker processes use every core (samtek.calendar.pool).
    parse_processes: int = Field(2, ge=1, le=32)
    window_back_hours: int = Field(24, ge=1)
    window_ahead_days: int = Field(14, ge=1)


@dataclass
class _Feed:
    person: Person
    address: str
    validators: Validators = field(default_factory=Validators)
    last_full: datetime | None = None
    # The hash of what was last published, not the events: the subscribers own those, and a
    # copy per feed here held 370 MB for 10,000 year-long feeds.
    published: int | None = None

    @property
    def item(self) -> str:
        return self.person.id


class IcalConnector(Connector):
    config_model = IcalConfig
    config: IcalConfig

    def __init__(self, config: ConnectorConfig, ctx: ConnectorContext) -> None:
        super().__init__(config, ctx)
        self._parser = ParsePool(self.config.parse_processes)  # workers start on demand
        self._fetches = asyncio.Semaphore(self.config.max_concurrent_fetches)
        # (person, address) of the feeds served: read at least once, or not yet (progress)
        self._read_once: set[tuple[str, str]] = set()
        self._unread: set[tuple[str, str]] = set()

    # -- CalendarSource ---------------------------------------------------------------------
    async def events(self, person: Person, window: TimeWindow) -> list[CalendarEvent]:
        result: list[CalendarEvent] = []
        async with aiohttp.ClientSession() as session:
            for ref in person.calendars:
                if ref.source == self.name:
                    feed = _Feed(person, calendar_address(ref.address))
                    read = await self._read(session, feed, window, conditional=False)
                    result += read[0] if read is not None else []
        return result

    async def free_busy(
        self, people: Sequence[Person], window: TimeWindow
    ) -> dict[str, list[BusyBlock]]:
        return {
            person.id: [
                BusyBlock(e.start, e.end, e.busy)
                for e in await self.events(person, window)
                if e.busy is not BusyStatus.FREE
            ]
            for person in people
        }

    # -- supervised run ---------------------------------------------------------------------
    async def run(self) -> None:
        # The feeds follow the directory and this instance's partitions (samtek/served.py):
        # one poll task per HTTP feed, one watcher over the set of local files.
        served = self.ctx.served
        feeds: dict[CalendarWork, _Feed] = {}
        polls: dict[CalendarWork, asyncio.Task[None]] = {}
        watched: frozenset[CalendarWork] = frozenset()
        watcher: asyncio.Task[None] | None = None
        try:
            async with aiohttp.ClientSession() as session, asyncio.TaskGroup() as group:
                while True:
                    seen = served.version
                    items = served.calendars(self.name)
                    feeds = {w: feeds.get(w) or _Feed(w.person, calendar_address(w.address))
                             for w in items}  # fmt: skip
                    keys = {(f.item, f.address) for f in feeds.values()}
                    self._read_once &= keys  # feeds no longer served are forgotten
                    self._unread = keys - self._read_once
                    files = frozenset(w for w in items if local_path(w.address) is not None)
                    for work in polls.keys() - (items - files):
                        polls.pop(work).cancel()
                    for work in items - files - polls.keys():
                        polls[work] = group.create_task(self._poll(session, feeds[work]))
                    if files != watched:
                        if watcher is not None:
                            watcher.cancel()
                        watched = files
                        chosen = [feeds[w] for w in files]  # kept: unchanged files not re-sent
                        watcher = group.create_task(self._watch(session, chosen)) if files else None
                    await served.wait(seen)
        finally:
            await self._parser.aclose()

    def _first_read(self, feed: _Feed) -> None:
        """Count feeds read since they were added: the status page shows the first read of
        a large region as a count with an estimate, not minutes of silence."""
        key = (feed.item, feed.address)
        if key in self._unread:
            self._unread.discard(key)
            self._read_once.add(key)
            total = len(self._read_once) + len(self._unread)
            self.ctx.health.progress("feeds read", total - len(self._unread), total)

    async def _poll(self, session: aiohttp.ClientSession, feed: _Feed) -> None:
        interval = self.config.refresh_interval
        backoff = Backoff(initial=min(5.0, interval), maximum=interval)
        await asyncio.sleep(random.uniform(0, min(interval, 5.0)))  # spread the first wave
        while True:
            ok = await self._refresh(session, feed)
            self._first_read(feed)
            if ok:
                backoff.reset()
                delay = interval * random.uniform(1 - self.config.jitter, 1 + self.config.jitter)
            else:
                delay = backoff.next_delay()
            await asyncio.sleep(delay)

    async def _watch(self, session: aiohttp.ClientSession, feeds: list[_Feed]) -> None:
        by_path: dict[str, list[_Feed]] = {}
        for feed in feeds:
            path = local_path(feed.address)
            assert path is not None
            by_path.setdefault(os.path.abspath(path), []).append(feed)
        for feed in feeds:
            await self._refresh(session, feed)
            self._first_read(feed)
        directories = {os.path.dirname(p) for p in by_path if os.path.isdir(os.path.dirname(p))}
        missing = {os.path.dirname(p) for p in by_path} - directories
        for directory in missing:
            log.warning("feed directory missing; not watched", directory=directory)
        if not directories:
            await asyncio.Event().wait()  # nothing to watch; errors are in health
        async for changes in watchfiles.awatch(*directories, debounce=50, step=20):
            touched = {os.path.abspath(changed) for _, changed in changes}
            for changed in touched & by_path.keys():
                for feed in by_path[changed]:
                    await self._refresh(session, feed)

    async def _refresh(self, session: aiohttp.ClientSession, feed: _Feed) -> bool:
        now = self.ctx.clock.now()
        window = TimeWindow(
            now - timedelta(hours=self.config.window_back_hours),
            now + timedelta(days=self.config.window_ahead_days),
        )
        full = feed.last_full is None or now - feed.last_full > timedelta(
            hours=self.config.full_refresh_hours
        )
        try:
            read = await self._read(session, feed, window, conditional=not full)
        except CalendarError as exc:
            self.ctx.health.item_error(feed.item, str(exc))
            return False
        self.ctx.health.success()
        if read is None:
            return True
        events, problems = read
        self._report(feed, len(events), problems)
        if full:
            feed.last_full = now
        snapshot = tuple(sorted(events, key=lambda e: (e.start, e.uid)))
        digest = hash(snapshot)  # equal events hash equal (frozen dataclasses)
        if digest != feed.published:
            await self.ctx.bus.publish(CalendarUpdate(self.name, feed.person.id, window, snapshot))
            feed.published = digest
        return True

    def _report(self, feed: _Feed, published: int, problems: list[Problem]) -> None:
        """Health: what the feed gave, and each refused or damaged item with its UID."""
        refused = sum(1 for p in problems if p.refused)
        reasons = tuple(str(p)[:300] for p in problems[:_MAX_REASONS])
        self.ctx.health.item_counts(feed.item, ItemCounts(published, refused, reasons))
        if not problems:
            self.ctx.health.item_ok(feed.item)
            return
        more = f" (and {len(problems) - _MAX_REASONS} more)" if len(problems) > _MAX_REASONS else ""
        self.ctx.health.item_error(
            feed.item,
            f"{_where(feed.address)}: {published} event(s) published, {refused} refused: "
            + "; ".join(reasons)
            + more,
        )

    async def _read(
        self,
        session: aiohttp.ClientSession,
        feed: _Feed,
        window: TimeWindow,
        conditional: bool,
    ) -> tuple[list[CalendarEvent], list[Problem]] | None:
        """The feed's events and the items it refused, or None when unchanged; raises
        CalendarError naming the feed when the feed as a whole cannot be read."""
        validators = feed.validators if conditional else Validators()
        path = local_path(feed.address)
        try:
            # The slot is held until the body is parsed, so bodies waiting for a parser are
            # bounded (released at once, all 10,000 bodies queued up ahead of the parsers).
            async with self._fetches:
                if path is not None:
                    fetched = await read_file(path, validators, self.config.max_bytes)
                else:
                    fetched = await fetch_http(
                        session,
                        feed.address,
                        validators,
                        self.config.max_bytes,
                        self.config.timeout,
                        self.config.max_redirects,
                    )
                if fetched.body is None:
                    return None
                # one bad event costs only itself: it is one of the problems
                events, problems = await self._parser.parse(
                    fetched.body,
                    window,
                    feed.person.timezone,
                    feed.person.email,
                    self.config.max_instances,
                    feed.person.aliases,
                    self.config.cpu_seconds,
                )
        except CalendarError as exc:
            raise CalendarError(f"{_where(feed.address)}: {exc}") from exc
        except Exception as exc:  # a parser bug on one feed must not stop the others
            log.exception("unexpected error reading feed", feed=_where(feed.address))
            reason = redact_text(f"{type(exc).__name__}: {exc}")
            raise CalendarError(f"{_where(feed.address)}: {reason}") from exc
        feed.validators = fetched.validators
        return events, problems


def _where(address: str) -> str:
    path = local_path(address)
    return str(path) if path is not None else redact_url(address)
