"""Change notifications of the Graph fake: subscriptions, validation, delivery with faults.

As documented for webhooks: creating a subscription POSTs `?validationToken=` to the
notification URL (and the lifecycle URL) and wants 200, text/plain, the token, within 10 s;
notifications are POSTed as a changeNotificationCollection and need a 2xx within 3 s (else
retried). Subscriptions on Outlook events live at most 4,230 minutes and vanish when they
expire. Tests can drop, delay, duplicate and reorder deliveries, and remove subscriptions
with or without a lifecycle notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp

from samtek.clock import SYSTEM_CLOCK, Clock
from tests.fakes.graph import render
from tests.fakes.mailboxes import Change

MAX_MINUTES = 4230
CHANGE_TYPES = {"created", "updated", "deleted"}
_KIND = {"created": "created", "modified": "updated", "deleted": "deleted"}
Reply = tuple[int, dict[str, str], Any]
_FAILED = "Subscription validation request failed."  # Graph's wording


@dataclass
class FakeSubscription:
    id: str
    mailbox: str
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: datetime
    resource: str


@dataclass
class DeliveryFault:
    kind: str  # drop | delay | duplicate | reorder
    count: int = 1
    delay: float = 0.0


@dataclass
class Delivered:
    url: str
    items: list[dict[str, Any]]
    status: int


@dataclass
class Notifier:
    tenant: str
    clock: Clock = SYSTEM_CLOCK
    subscriptions: dict[str, FakeSubscription] = field(default_factory=dict)
    faults: deque[DeliveryFault] = field(default_factory=deque)
    delivered: list[Delivered] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    validations: list[tuple[str, int]] = field(default_factory=list)
    _held: tuple[str, dict[str, Any]] | None = None
    _queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(
        default_factory=lambda: asyncio.Queue(10_000)
    )
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _session: aiohttp.ClientSession | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._spawn(self._deliver_forever())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- test controls ----------------------------------------------------------------------
    def of(self, mailbox: str) -> list[FakeSubscription]:
        return [s for s in self.subscriptions.values() if s.mailbox == mailbox.lower()]

    def remove(self, mailbox: str, lifecycle: bool) -> None:
        """Graph drops the mailbox's subscriptions (with a subscriptionRemoved, or silently)."""
        for sub in self.of(mailbox):
            del self.subscriptions[sub.id]
            if lifecycle:
                self.lifecycle(sub, "subscriptionRemoved")

    def lifecycle(self, sub: FakeSubscription, event: str) -> None:
        if sub.lifecycle_url is None:
            return
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": _iso(sub.expires),
            "tenantId": self.tenant,
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }
        self._queue.put_nowait((sub.lifecycle_url, item))

    # -- the subscription API ---------------------------------------------------------------
    async def create(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return 400, {}, render.error("BadRequest", "A subscription object is required.")
        changes = frozenset(str(body.get("changeType", "")).split(","))
        resource = str(body.get("resource", ""))
        parts = resource.strip("/").split("/")
        expires = _parse(body.get("expirationDateTime"))
        state = body.get("clientState")
        url = str(body.get("notificationUrl", ""))
        lifecycle = body.get("lifecycleNotificationUrl")
        if not changes <= CHANGE_TYPES or len(parts) != 3 or parts[::2] != ["users", "events"]:
            return 400, {}, render.error("InvalidRequest", f"Unsupported resource {resource!r}.")
        if expires is None or not self._allowed(expires):
            return (
                400,
                {},
                render.error(
                    "InvalidRequest",
                    f"Subscription expiration can only be {MAX_MINUTES} minutes in the future.",
                ),
            )
        if state is not None and (not isinstance(state, str) or len(state) > 128):
            return 400, {}, render.error("InvalidRequest", "clientState is too long.")
        for target in (url, lifecycle):
            if target is None:
                continue
            problem = await self._validate(str(target))
            if problem is not None:
                return 400, {}, render.error("ValidationError", problem)
        sub = FakeSubscription(
            id=f"sub-{next(self._ids):04d}-{secrets.token_hex(4)}",
            mailbox=unquote(parts[1]).lower(),
            change_types=changes,
            notification_url=url,
            lifecycle_url=str(lifecycle) if lifecycle else None,
            client_state=state,
            expires=expires,
            resource=resource,
        )
        self.subscriptions[sub.id] = sub
        return 201, {}, self._render(sub)

    def renew(self, sub_id: str, body: Any) -> Reply:
        sub = self._alive(sub_id)
        if sub is None:
            return 404, {}, render.error("ResourceNotFound", "The object was not found.")
        expires = _parse(body.get("expirationDateTime") if isinstance(body, dict) else None)
        if expires is None or not self._allowed(expires):
            return 400, {}, render.error("InvalidRequest", "Bad expirationDateTime.")
        sub.expires = expires
        return 200, {}, self._render(sub)

    def reauthorize(self, sub_id: str) -> Reply:
        if self._alive(sub_id) is None:
            return 404, {}, render.error("ResourceNotFound", "The object was not found.")
        return 204, {}, None

    def delete(self, sub_id: str) -> Reply:
        if self.subscriptions.pop(sub_id, None) is None:
            return 404, {}, render.error("ResourceNotFound", "The object was not found.")
        return 204, {}, None

    def _allowed(self, expires: datetime) -> bool:
        now = self.clock.now()
        return now < expires <= now + timedelta(minutes=MAX_MINUTES, seconds=60)

    def _alive(self, sub_id: str) -> FakeSubscription | None:
        sub = self.subscriptions.get(sub_id)
        if sub is not None and sub.expires <= self.clock.now():
            del self.subscriptions[sub_id]  # expired: gone, as in Graph
            return None
        return sub

    def _render(self, sub: FakeSubscription) -> dict[str, Any]:
        return {
            "id": sub.id,
            "resource": sub.resource,
            "changeType": ",".join(sorted(sub.change_types)),
            "notificationUrl": sub.notification_url,
            "lifecycleNotificationUrl": sub.lifecycle_url,
            "expirationDateTime": _iso(sub.expires),
            "clientState": sub.client_state,
        }

    async def _validate(self, url: str) -> str | None:
        assert self._session is not None
        token = f"Validation: Testing client application reachability {secrets.token_hex(8)}<&>"
        try:
            async with self._session.post(
                _with_query(url, "validationToken=" + quote(token, safe="")),
                data=b"",
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=aiohttp.ClientTimeout(total=10),
            ) as resp:
                text = await resp.text()
                self.validations.append((url, resp.status))
                if resp.status == 200 and resp.content_type == "text/plain" and text == token:
                    return None
        except (aiohttp.ClientError, TimeoutError):
            self.validations.append((url, 0))
            return f"{_FAILED} Notification endpoint must respond with 200 OK to validation"
        return f"{_FAILED} Response must exactly match validationToken query parameter."

    # -- notifications ----------------------------------------------------------------------
    def on_change(self, mailbox: str, change: Change) -> None:
        kind = _KIND[change.kind]
        for sub in list(self.subscriptions.values()):
            if sub.mailbox != mailbox or kind not in sub.change_types:
                continue
            if self._alive(sub.id) is None:
                continue
            resource = f"Users/{sub.mailbox}/Events/{change.item_id}"
            item = {
                "id": f"n{change.seq}",
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": _iso(sub.expires),
                "clientState": sub.client_state,
                "changeType": kind,
                "resource": resource,
                "tenantId": self.tenant,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": f'W/"ck{change.seq}"',
                    "id": change.item_id,
                },
            }
            self._queue.put_nowait((sub.notification_url, item))

    async def _deliver_forever(self) -> None:
        while True:
            url, item = await self._queue.get()
            batch = [item]
            while not self._queue.empty():  # what waits for the same URL goes in one POST
                next_url, next_item = self._queue.get_nowait()
                if next_url != url:
                    self._spawn(self._send(next_url, [next_item]))
                    continue
                batch.append(next_item)
            for one in self._apply_faults(url, batch):
                await self._send(url, one)

    def _apply_faults(self, url: str, batch: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        fault = self.faults[0] if self.faults else None
        if fault is None:
            return [batch]
        fault.count -= 1
        if fault.count <= 0:
            self.faults.popleft()
        if fault.kind == "drop":
            self.dropped.extend(batch)
            return []
        if fault.kind == "duplicate":
            return [batch, batch]
        if fault.kind == "delay":
            self._spawn(self._later(fault.delay, url, batch))
            return []
        if fault.kind == "reorder" and self._held is None:  # sent after the next delivery
            self._held = (url, batch[0])
            return [batch[1:]] if len(batch) > 1 else []
        return [batch]

    async def _later(self, delay: float, url: str, batch: list[dict[str, Any]]) -> None:
        await asyncio.sleep(delay)
        await self._send(url, batch)

    async def _send(self, url: str, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        assert self._session is not None
        status = 0
        for attempt in range(3):  # Graph retries a delivery that got no 2xx in 3 s
            try:
                async with self._session.post(
                    url, json={"value": items}, timeout=aiohttp.ClientTimeout(total=3)
                ) as resp:
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            if 200 <= status < 300 or 400 <= status < 500:
                break
            await asyncio.sleep(0.2 * 2**attempt)
        self.delivered.append(Delivered(url, items, status))
        if self._held is not None:
            held_url, held = self._held
            self._held = None
            await self._send(held_url, [held])


def _with_query(url: str, query: str) -> str:
    parts = urlsplit(url)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
