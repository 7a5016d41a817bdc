"""A mirror of one calendar collection's VEVENT resources, kept current with few requests.

Change detection, cheapest first:
  1. sync-collection REPORT with the last sync-token (RFC 6578): only changed/removed hrefs;
  2. where the server has no sync-collection: the collection's CS:getctag, and on change
  3. a calendar-query listing of ETags within the window.
Only resources whose ETag changed are downloaded (calendar-multiget). The lock makes sure one
collection is never fetched twice at once, whoever asks (the sync loop or an on-demand query).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from yarl import URL

from connectors.caldav import davxml
from connectors.caldav.client import (
    CalDavError,
    CalDavHttpError,
    CalDavTimeout,
    DavClient,
    redact,
)
from connectors.caldav.state import StateStore
from samtek.calendar.minimise import minimise
from samtek.calendar.report import Problem
from samtek.model import CalendarEvent, TimeWindow

log = structlog.get_logger("samtek.connectors.caldav")

MULTIGET_CHUNK = 100
MAX_SYNC_ROUNDS = 20  # a server may truncate sync results (507); bounded follow-ups
PERSIST_ITEMS_MAX_BYTES = 512 * 1024  # larger mirrors are refetched after a restart instead
_INVALID_TOKEN = (400, 403, 409, 412)


@dataclass
class Item:
    etag: str
    ics: bytes
    parsed_key: tuple[Any, ...] | None = None
    parsed: list[CalendarEvent] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class SyncStats:
    full_refreshes: int = 0
    sync_reports: int = 0
    ctag_checks: int = 0
    fetched: int = 0


class Collection:
    def __init__(self, url: str, client: DavClient, state: StateStore, namespace: str) -> None:
        self.url = url
        self.client = client
        self.lock = asyncio.Lock()
        self.items: dict[str, Item] = {}
        self.window: TimeWindow | None = None
        self.sync_token: str | None = None
        self.ctag: str | None = None
        self.supports_sync: bool | None = None
        self.supports_free_busy: bool | None = None
        self.server_filter = True  # False once a time-range query timed out (see _list_etags)
        self.stats = SyncStats()
        self._state = state
        self._namespace = namespace
        self._restored = False
        self.failing_items: set[str] = set()  # health items reported for unreadable events

    @property
    def label(self) -> str:
        return redact(self.url)

    async def sync(self, window: TimeWindow) -> bool:
        """Bring the mirror up to date for `window`; True if any resource changed."""
        async with self.lock:
            if not self._restored:
                await self._restore()
            if self.window != window:
                return await self._full_refresh(window)
            if self.supports_sync and self.sync_token:
                try:
                    return await self._incremental()
                except CalDavHttpError as exc:
                    if exc.status not in _INVALID_TOKEN:
                        raise
                    log.info("sync-token refused, relisting", collection=self.label, error=str(exc))
                    self.sync_token = None
                    return await self._full_refresh(window)
            if not self.supports_sync:
                self.stats.ctag_checks += 1
                own = await self._own_props([davxml.GETCTAG])
                ctag = own.text(davxml.GETCTAG)
                if ctag is not None and ctag == self.ctag:
                    return False
            return await self._full_refresh(window)

    async def _own_props(self, names: list[str]) -> davxml.DavResource:
        status = await self.client.propfind(self.url, names, depth=0)
        for resource in status.resources:
            if davxml.same_resource(resource.url, self.url):
                return resource
        if len(status.resources) == 1:
            return status.resources[0]
        raise CalDavError(f"PROPFIND {self.label}: no properties for the collection itself")

    async def _full_refresh(self, window: TimeWindow) -> bool:
        self.stats.full_refreshes += 1
        # Token first: a change made while we list is then reported by the next sync.
        own = await self._own_props(
            [davxml.SYNC_TOKEN, davxml.GETCTAG, davxml.SUPPORTED_REPORT_SET]
        )
        token = own.text(davxml.SYNC_TOKEN)
        report_set = own.props.get(davxml.SUPPORTED_REPORT_SET)
        if report_set is not None:
            reports = {element.tag for element in report_set.iter()}
            self.supports_sync = davxml.SYNC_COLLECTION in reports and token is not None
            if self.supports_free_busy is None:  # keep a False learnt from a refusal/timeout
                self.supports_free_busy = davxml.FREE_BUSY_QUERY in reports
        else:
            self.supports_sync = token is not None
        etags = await self._list_etags(window)
        wanted = [
            h for h, e in etags.items() if not e or h not in self.items or self.items[h].etag != e
        ]
        fetched = await self._multiget(wanted)
        before = {h: i.etag for h, i in self.items.items()}
        self.items = {
            href: fetched.get(href) or self.items[href]
            for href in etags
            if href in fetched or href in self.items
        }
        self.window, self.sync_token, self.ctag = window, token, own.text(davxml.GETCTAG)
        await self._persist()
        return before != {h: i.etag for h, i in self.items.items()}

    async def _list_etags(self, window: TimeWindow) -> dict[str, str]:
        """href -> ETag of the resources to mirror.

        Normally a calendar-query with a time-range, so only the window is listed. A server
        that expands recurrences itself can spin on a recurrence bomb (Radicale does); after
        one timeout the collection is listed without a server-side filter instead (all
        hrefs by sync-collection or PROPFIND), and our own bounded parser picks the window.
        """
        if self.server_filter:
            try:
                listing = await self.client.report(
                    self.url,
                    davxml.calendar_query(window.start, window.end, [davxml.GETETAG]),
                    depth=1,
                )
            except CalDavTimeout as exc:
                log.warning(
                    "time-range query timed out; listing without server-side filter",
                    collection=self.label,
                    error=str(exc),
                )
                self.server_filter = False
            else:
                return self._etags(listing)
        if self.supports_sync:
            body = davxml.sync_collection(None)
            return self._etags(await self.client.report(self.url, body, depth=0))
        return self._etags(await self.client.propfind(self.url, [davxml.GETETAG], depth=1))

    def _etags(self, listing: davxml.Multistatus) -> dict[str, str]:
        return {
            r.url: r.text(davxml.GETETAG) or ""
            for r in listing.resources
            if r.status in (None, 200) and not davxml.same_resource(r.url, self.url)
        }

    async def _incremental(self) -> bool:
        changed: dict[str, str] = {}
        removed: set[str] = set()
        token = self.sync_token
        for _ in range(MAX_SYNC_ROUNDS):
            self.stats.sync_reports += 1
            result = await self.client.report(self.url, davxml.sync_collection(token), depth=0)
            truncated = False
            for r in result.resources:
                if davxml.same_resource(r.url, self.url):
                    truncated = truncated or r.status == 507
                elif r.status == 404:
                    removed.add(r.url)
                    changed.pop(r.url, None)
                else:
                    changed[r.url] = r.text(davxml.GETETAG) or ""
                    removed.discard(r.url)
            if not result.sync_token:
                raise CalDavError(f"REPORT sync-collection {self.label}: no sync-token returned")
            token = result.sync_token
            if not truncated:
                break
        wanted = [
            h for h, e in changed.items() if not e or h not in self.items or self.items[h].etag != e
        ]
        fetched = await self._multiget(wanted)
        dirty = bool(fetched) or any(h in self.items for h in removed)
        for href in removed:
            self.items.pop(href, None)
        self.items.update(fetched)
        token_moved, self.sync_token = token != self.sync_token, token
        if dirty or token_moved:
            await self._persist()
        return dirty

    async def _multiget(self, hrefs: list[str]) -> dict[str, Item]:
        fetched: dict[str, Item] = {}
        for i in range(0, len(hrefs), MULTIGET_CHUNK):
            chunk = hrefs[i : i + MULTIGET_CHUNK]
            body = davxml.calendar_multiget(URL(h).raw_path for h in chunk)
            result = await self.client.report(self.url, body, depth=1)
            for r in result.resources:
                data = r.text(davxml.CALENDAR_DATA)
                if r.status not in (None, 200) or data is None:
                    continue  # deleted between listing and fetch: the next sync settles it
                # Minimised before it is kept: no details of private events in memory or store.
                fetched[r.url] = Item(r.text(davxml.GETETAG) or "", minimise(data.encode("utf-8")))
        self.stats.fetched += len(fetched)
        return fetched

    # --- durable state: token, ctag and (small) mirrors survive a restart ----------------

    async def _restore(self) -> None:
        self._restored = True
        raw = await self._state.get_state(self._namespace, self.url)
        if not raw:
            return
        try:
            data = json.loads(raw)
            self.sync_token, self.ctag = data.get("token"), data.get("ctag")
            self.supports_sync = data.get("supports_sync")
            self.server_filter = data.get("server_filter", True)
            if data.get("window") and data.get("items") is not None:
                start, end = (datetime.fromisoformat(v) for v in data["window"])
                self.window = TimeWindow(start, end)
                self.items = {  # minimised again: state saved by a version that kept it all
                    h: Item(e, minimise(ics.encode())) for h, (e, ics) in data["items"].items()
                }
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable saved state", collection=self.label, error=str(exc))
            self.items, self.window = {}, None

    async def _persist(self) -> None:
        size = sum(len(i.ics) for i in self.items.values())
        keep = size <= PERSIST_ITEMS_MAX_BYTES and self.window is not None
        data: dict[str, Any] = {
            "token": self.sync_token,
            "ctag": self.ctag,
            "supports_sync": self.supports_sync,
            "server_filter": self.server_filter,
            "window": [self.window.start.isoformat(), self.window.end.isoformat()]
            if keep and self.window
            else None,
            "items": {h: [i.etag, i.ics.decode("utf-8", "replace")] for h, i in self.items.items()}
            if keep
            else None,
        }
        await self._state.put_state(self._namespace, self.url, json.dumps(data))
