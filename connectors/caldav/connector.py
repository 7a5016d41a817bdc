"""The CalDAV connector: keeps every served person's calendars mirrored and publishes changes.

CalDAV has no push a middleware can rely on, so each person is polled on an interval with
jitter; change detection per collection (collection.py) keeps a poll to one small REPORT.
A person's `CalendarUpdate` is only published when all their collections synced, so a
failing calendar never makes its events vanish downstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import cast
from urllib.parse import quote

import aiohttp
import structlog

from connectors.caldav import davxml
from connectors.caldav.client import (
    XML_TYPE,
    CalDavError,
    CalDavHttpError,
    CalDavTimeout,
    DavClient,
    redact,
)
from connectors.caldav.collection import Collection
from connectors.caldav.config import CalDavConfig
from connectors.caldav.discovery import discover_calendars
from connectors.caldav.freebusy import blocks_from_events, parse_vfreebusy
from connectors.caldav.meeting import meeting_ics
from connectors.caldav.state import StateStore
from samtek.calendar import CalendarError, MeetingRequest
from samtek.calendar.ics import DEFAULT_MAX_INSTANCES, Problem, parse_events
from samtek.events import CalendarUpdate
from samtek.health import ItemCounts
from samtek.model import BusyBlock, CalendarEvent, Person, TimeWindow
from samtek.plugin import AuthFailed, Connector, ConnectorContext

log = structlog.get_logger("samtek.connectors.caldav")

_NO_FREE_BUSY = (400, 403, 405, 406, 415, 501)  # server refuses free-busy-query: compute it
PARSE_WORKERS = 2
_MAX_REASONS = 20  # per person in health; the count says how many there are
_Work = tuple[Person | None, tuple[str, ...]]  # a person as served: them and their addresses


def backoff_delay(failures: int, initial: float, cap: float) -> float:
    """Exponential backoff with jitter: 0.5..1 x min(cap, initial * 2^(failures-1))."""
    base: float = min(cap, initial * 2.0 ** max(0, failures - 1))
    return base * random.uniform(0.5, 1.0)


@dataclass
class SyncOutcome:
    ok: int = 0
    failed: int = 0
    auth_failed: int = 0
    first_error: str | None = None

    def fail(self, exc: CalDavError) -> None:
        self.failed += 1
        if isinstance(exc, CalDavHttpError) and exc.auth_failed:
            self.auth_failed += 1
        self.first_error = self.first_error or str(exc)


class CalDavConnector(Connector):
    config_model = CalDavConfig
    config: CalDavConfig

    def __init__(self, config: CalDavConfig, ctx: ConnectorContext) -> None:
        super().__init__(config, ctx)
        self._state = cast(StateStore, ctx.store)
        self._client: DavClient | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._semaphore = asyncio.Semaphore(config.max_concurrency)
        self._collections: dict[str, Collection] = {}
        self._discovered: dict[str, tuple[list[str], float]] = {}  # address -> (calendars, when)
        self._published: dict[str, tuple[TimeWindow, tuple[CalendarEvent, ...]]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._cycles: dict[str, int] = {}
        self._published_in: dict[str, int] = {}  # person -> cycle of the last publish
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._last_work: dict[str, _Work] = {}  # what each person's loop last synced
        self._served_at: tuple[int, dict[str, list[str]]] | None = None  # (version, served)

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        limit = self.config.max_concurrency * 2
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as session:
            self._client = DavClient(self.config, session)
            for collection in self._collections.values():  # mirrors survive a restart
                collection.client = self._client
            self._executor = ThreadPoolExecutor(PARSE_WORKERS, f"caldav-{self.name}")
            try:
                seen = self.ctx.served.version
                await self._first_round()
                async with asyncio.TaskGroup() as group:
                    while True:  # follows the directory and this instance's partitions
                        self._reconcile(group)
                        seen = await self.ctx.served.wait(
                            seen, self.config.sync_interval.total_seconds()
                        )
            finally:
                for task in self._tasks.values():
                    task.cancel()
                self._tasks.clear()
                self._client = None
                self._executor.shutdown(wait=False, cancel_futures=True)

    async def _first_round(self) -> None:
        """Sync everyone once; if every calendar refused our credentials, stop retrying."""
        people = self._served()
        self._last_work = self._work_of(people)
        outcomes = await asyncio.gather(*(self._sync_person(pid) for pid in people))
        total = sum(o.ok + o.failed for o in outcomes)
        refused = sum(o.auth_failed for o in outcomes)
        if total and refused == total:
            error = next(o.first_error for o in outcomes if o.first_error)
            raise AuthFailed(
                f"CalDAV server {redact(str(self.config.url))} refused "
                f"the credentials for every calendar: {error}"
            )

    def _reconcile(self, group: asyncio.TaskGroup) -> None:
        """Start people newly served, stop those gone, and sync at once anyone whose
        calendars or settings changed (a new address, another municipality)."""
        wanted = self._served()
        work = self._work_of(wanted)
        for pid in set(self._tasks) - set(wanted):
            self._tasks.pop(pid).cancel()
            self._published.pop(pid, None)
            self.ctx.health.item_counts(pid, None)
        for pid in set(wanted) - set(self._tasks):
            self._wake.setdefault(pid, asyncio.Event())
            self._tasks[pid] = group.create_task(self._person_loop(pid), name=f"caldav:{pid}")
        for pid, items in work.items():
            if self._last_work.get(pid) != items:  # joined or changed since the last look
                self._wake[pid].set()
        self._last_work = work

    def _work_of(self, served: dict[str, list[str]]) -> dict[str, _Work]:
        return {pid: (self.ctx.directory.person(pid), tuple(a)) for pid, a in served.items()}

    async def _person_loop(self, pid: str) -> None:
        failures = 0
        interval = self.config.sync_interval.total_seconds()
        jitter = self.config.sync_jitter.total_seconds()
        while True:
            if failures:
                delay = backoff_delay(
                    failures,
                    self.config.backoff_initial.total_seconds(),
                    self.config.backoff_max.total_seconds(),
                )
            else:
                delay = interval + random.uniform(-jitter, jitter)
            wake = self._wake[pid]
            with contextlib.suppress(TimeoutError):  # the normal case: the interval passed
                await asyncio.wait_for(wake.wait(), max(0.0, delay))
            wake.clear()
            self._cycles[pid] = self._cycles.get(pid, 0) + 1
            outcome = await self._sync_person(pid)
            failures = failures + 1 if outcome.failed else 0

    def request_sync(self, person_id: str) -> None:
        """Sync this person now instead of at the next interval."""
        if person_id in self._wake:
            self._wake[person_id].set()

    def sync_cycles(self, person_id: str) -> int:
        """How many sync cycles the person's loop has started (for tests and metrics)."""
        return self._cycles.get(person_id, 0)

    def published_in_cycle(self, person_id: str) -> int:
        """The sync cycle that published the person's last update (0: the first round)."""
        return self._published_in.get(person_id, 0)

    def collection(self, url: str) -> Collection:
        if url not in self._collections:
            self._collections[url] = Collection(
                url, self._require_client(), self._state, f"caldav:{self.name}"
            )
        return self._collections[url]

    # --- one person's sync -----------------------------------------------------------------

    def _served(self) -> dict[str, list[str]]:
        """Person id -> addresses this instance reads; recomputed only after a change."""
        version = self.ctx.served.version
        if self._served_at is None or self._served_at[0] != version:
            people: dict[str, list[str]] = {}
            for work in sorted(self.ctx.served.calendars(self.name), key=lambda w: w.address):
                people.setdefault(work.person.id, []).append(work.address)
            self._served_at = (version, people)
        return self._served_at[1]

    def _window(self) -> TimeWindow:
        # Anchored to the hour: the listing is redone when the anchor moves, not every poll.
        anchor = self.ctx.clock.now().replace(minute=0, second=0, microsecond=0)
        return TimeWindow.around(
            anchor, self.config.window_back, self.config.window_ahead + timedelta(hours=1)
        )

    async def _calendars(self, address: str, outcome: SyncOutcome | None = None) -> list[str]:
        """Calendars behind an address, rediscovered now and then (new calendars appear)."""
        client = self._require_client()
        now = asyncio.get_running_loop().time()
        max_age = self.config.sync_interval.total_seconds() * self.config.rediscover_every
        cached = self._discovered.get(address)
        item = f"discovery {redact(address)}"
        try:
            url = client.resolve(address)
            if cached and (cached[0] == [url] or now - cached[1] < max_age):
                return cached[0]
            item = f"discovery {redact(url)}"
            async with self._semaphore:
                calendars = await discover_calendars(client, address)
        except CalDavError as exc:
            self.ctx.health.item_error(item, str(exc))
            if outcome is None or cached is None:
                raise
            outcome.fail(exc)
            return cached[0]  # keep serving what we found last time
        self.ctx.health.item_ok(item)
        self._discovered[address] = (calendars, now)
        return calendars

    async def _person_calendars(self, person_id: str, outcome: SyncOutcome) -> list[str]:
        urls: list[str] = []
        for address in self._served().get(person_id, []):
            try:
                urls.extend(await self._calendars(address, outcome))
            except CalDavError as exc:
                outcome.fail(exc)
        return list(dict.fromkeys(urls))

    async def _urls_or_raise(self, person: Person) -> list[str]:
        outcome = SyncOutcome()
        urls = await self._person_calendars(person.id, outcome)
        if outcome.first_error or not urls:
            missing = f"{person.id} has no calendar on {self.name}"
            raise CalendarError(outcome.first_error or missing)
        return urls

    async def _sync_person(self, pid: str) -> SyncOutcome:
        outcome = SyncOutcome()
        person = self.ctx.directory.person(pid)
        if person is None:
            return outcome
        window = self._window()
        urls = await self._person_calendars(pid, outcome)
        for url in urls:
            collection = self.collection(url)
            try:
                async with self._semaphore:
                    await collection.sync(window)
            except CalDavError as exc:
                if isinstance(exc, CalDavHttpError) and exc.status == 404:
                    self._discovered.clear()  # a calendar went away: rediscover next time
                self.ctx.health.item_error(collection.label, str(exc))
                outcome.fail(exc)
                continue
            self.ctx.health.item_ok(collection.label)
            outcome.ok += 1
        if outcome.failed or not urls:
            return outcome
        events = await self._mirrored_events(urls, window, person)
        if self._published.get(pid) != (window, events):
            self._published[pid] = (window, events)
            self._published_in[pid] = self._cycles.get(pid, 0)
            await self.ctx.bus.publish(CalendarUpdate(self.name, pid, window, events))
        self.ctx.health.success()
        return outcome

    async def _mirrored_events(
        self, urls: list[str], window: TimeWindow, person: Person
    ) -> tuple[CalendarEvent, ...]:
        key = (window, person.timezone, person.email, person.aliases)
        found: dict[str, CalendarEvent] = {}
        reasons: list[str] = []
        refused = 0
        for url in urls:
            collection = self.collection(url)
            failing: set[str] = set()
            for href, item in list(collection.items.items()):
                if item.parsed_key != key:
                    item.parsed, item.problems = await self._parse(item.ics, window, person)
                    item.parsed_key = key
                if item.problems:
                    label = f"event {redact(href)}"
                    failing.add(label)
                    self.ctx.health.item_error(label, "; ".join(map(str, item.problems))[:500])
                    refused += sum(1 for p in item.problems if p.refused)
                    reasons += [f"{label}: {p}"[:300] for p in item.problems]
                for event in item.parsed:
                    found.setdefault(event.key, event)
            for label in collection.failing_items - failing:  # fixed or deleted since
                self.ctx.health.item_ok(label)
            collection.failing_items = failing
        events = tuple(sorted(found.values(), key=lambda e: (e.start, e.end, e.key)))
        self.ctx.health.item_counts(
            person.id, ItemCounts(len(events), refused, tuple(reasons[:_MAX_REASONS]))
        )
        return events

    async def _parse(
        self, ics: bytes, window: TimeWindow, person: Person
    ) -> tuple[list[CalendarEvent], list[Problem]]:
        """Events and problems of one resource; a broken resource costs only itself."""
        problems: list[Problem] = []
        call = functools.partial(
            parse_events,
            ics,
            window,
            person.timezone,
            person.email,
            DEFAULT_MAX_INSTANCES,
            problems,
            person.aliases,
        )
        try:
            events = await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except CalendarError as exc:
            return [], [Problem(str(exc))]
        return events, problems

    def _require_client(self) -> DavClient:
        if self._client is None:
            raise CalendarError(f"CalDAV connector {self.name} is not running")
        return self._client

    # --- CalendarSource --------------------------------------------------------------------

    async def events(self, person: Person, window: TimeWindow) -> list[CalendarEvent]:
        urls = await self._urls_or_raise(person)
        mirror = self._window()
        if mirror.start <= window.start and window.end <= mirror.end:
            outcome = await self._sync_person(person.id)  # cheap: one REPORT per calendar
            never_synced = [u for u in urls if self.collection(u).window is None]
            if outcome.first_error and never_synced:
                raise CalendarError(outcome.first_error)  # else: last good state, as published
            events = await self._mirrored_events(urls, mirror, person)
        else:
            events = await self._query_events(urls, window, person)
        return [e for e in events if window.overlaps(e.start, e.end)]

    async def _query_events(
        self, urls: list[str], window: TimeWindow, person: Person
    ) -> tuple[CalendarEvent, ...]:
        """Outside the mirrored window: a one-off calendar-query, not cached."""
        client = self._require_client()
        body = davxml.calendar_query(
            window.start, window.end, [davxml.GETETAG, davxml.CALENDAR_DATA]
        )
        found: dict[str, CalendarEvent] = {}
        for url in urls:
            collection = self.collection(url)
            if not collection.server_filter:  # the mirror holds every resource: parse it
                for item in list(collection.items.values()):
                    events, _ = await self._parse(item.ics, window, person)
                    for event in events:
                        found.setdefault(event.key, event)
                continue
            async with self._semaphore:
                result = await client.report(url, body, depth=1)
            for resource in result.resources:
                data = resource.text(davxml.CALENDAR_DATA)
                if data is None:
                    continue
                events, problems = await self._parse(data.encode(), window, person)
                if problems:
                    log.warning(
                        "event partly unreadable", event=redact(resource.url), problems=problems
                    )
                for event in events:
                    found.setdefault(event.key, event)
        return tuple(sorted(found.values(), key=lambda e: (e.start, e.end, e.key)))

    async def free_busy(
        self, people: Sequence[Person], window: TimeWindow
    ) -> dict[str, list[BusyBlock]]:
        results = await asyncio.gather(
            *(self._free_busy_one(p, window) for p in people), return_exceptions=True
        )
        errors = [
            f"{p.id}: {r}"
            for p, r in zip(people, results, strict=True)
            if isinstance(r, BaseException)
        ]
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result  # cancellation and the like
        if errors:
            raise CalendarError("free/busy failed for " + "; ".join(errors))
        return {p.id: cast(list[BusyBlock], r) for p, r in zip(people, results, strict=True)}

    async def _free_busy_one(self, person: Person, window: TimeWindow) -> list[BusyBlock]:
        urls = await self._urls_or_raise(person)
        client = self._require_client()
        blocks: list[BusyBlock] = []
        for url in urls:
            if self.collection(url).supports_free_busy is False:
                break
            try:
                async with self._semaphore:
                    response = await client.request(
                        "REPORT",
                        url,
                        davxml.free_busy_query(window.start, window.end),
                        {"Depth": "1", "Content-Type": XML_TYPE},
                        ok=(200,),
                    )
            except (CalDavHttpError, CalDavTimeout) as exc:
                # A timeout too: a server expanding a recurrence bomb must not be asked again.
                if isinstance(exc, CalDavHttpError) and exc.status not in _NO_FREE_BUSY:
                    raise
                log.info(
                    "free-busy-query refused, computing from events",
                    collection=redact(url),
                    error=str(exc),
                )
                self.collection(url).supports_free_busy = False
                break
            blocks.extend(parse_vfreebusy(response.body, window))
        else:
            return sorted(blocks, key=lambda b: (b.start, b.end))
        return blocks_from_events(await self.events(person, window), window)

    # --- MeetingWriter ---------------------------------------------------------------------

    async def create_meeting(self, request: MeetingRequest) -> str:
        organiser = request.organiser
        outcome = SyncOutcome()
        urls = await self._person_calendars(organiser.id, outcome)
        if not urls:
            raise CalendarError(
                outcome.first_error or f"{organiser.id} has no calendar on {self.name}"
            )
        uid, ics = meeting_ics(request, clock=self.ctx.clock)
        target = f"{urls[0]}{quote(uid, safe='@')}.ics"
        async with self._semaphore:
            await self._require_client().request(
                "PUT",
                target,
                ics,
                {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
                ok=(200, 201, 204),
            )
        log.info("meeting created", organiser=organiser.id, uid=uid, calendar=redact(urls[0]))
        self.request_sync(organiser.id)
        return uid
