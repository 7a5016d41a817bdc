"""The endpoint Microsoft Graph posts change and lifecycle notifications to.

Mounted on SAMTEK's public listener at /graph/<connector>/notifications (both the
notificationUrl and the lifecycleNotificationUrl of every subscription):

- `?validationToken=...`: the handshake when a subscription is created; the URL-decoded
  token is echoed as text/plain within Graph's 10 s.
- A JSON `changeNotificationCollection`: every item's clientState is checked in constant
  time; valid items become work for their mailbox (a delta round, a renewal, a new
  subscription) in a bounded queue, and the answer is 202 at once: Graph wants a 2xx within
  3 s and retries otherwise. Work is keyed per (action, mailbox) and queued only once, so
  duplicates, batches and reordering cost one delta round; a full queue answers 503 so Graph
  delivers again later.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger("samtek.connectors.graph")

ROUTE = "/notifications"
MAX_TOKEN_CHARS = 1024  # Graph's tokens are a few hundred characters
DELTA, RENEW, RECREATE = "delta", "renew", "recreate"
Work = tuple[str, str]  # (action, mailbox address)
# What a lifecycle notification asks for. "missed": notifications were lost; the delta
# query from the last sync state returns everything since, which is the documented resync.
_LIFECYCLE = {"missed": DELTA, "reauthorizationRequired": RENEW, "subscriptionRemoved": RECREATE}


def _digest(value: str) -> bytes:
    # Hashing first makes the comparison independent of the lengths, too.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


class NotificationEndpoint:
    def __init__(self, connector: str, client_state: str) -> None:
        self.connector = connector
        self._state = _digest(client_state)
        self.app = web.Application()
        self.app.router.add_post(ROUTE, self._handle)
        self.subscriptions: dict[str, str] = {}  # subscription id -> mailbox address
        self.queue: asyncio.Queue[Work] | None = None  # set while the connector runs
        self._queued: set[Work] = set()
        self.validations = 0
        self.accepted = 0
        self.rejected = 0
        self.unknown = 0

    def open(self, capacity: int) -> asyncio.Queue[Work]:
        self.queue = asyncio.Queue(max(1, capacity))
        self._queued.clear()
        return self.queue

    def close(self) -> None:
        self.queue = None
        self._queued.clear()

    def offer(self, work: Work) -> bool:
        """Queue `work` unless it is already waiting; False if the queue is full."""
        if self.queue is None:
            return False
        if work in self._queued:
            return True
        try:
            self.queue.put_nowait(work)
        except asyncio.QueueFull:
            return False
        self._queued.add(work)
        return True

    def taken(self, work: Work) -> None:
        """A worker started on `work`: a new notification for it queues it again."""
        self._queued.discard(work)

    async def _handle(self, request: web.Request) -> web.Response:
        if "validationToken" in request.query:
            return self._validate(request.query["validationToken"])
        if self.queue is None:
            return _text(503, "not running")
        try:
            body: Any = await request.json()
        except (ValueError, UnicodeDecodeError):
            return self._reject(request, 400, "body is not JSON")
        items = body.get("value") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return self._reject(request, 400, "no notification collection")
        valid = forged = 0
        for item in items:
            if not isinstance(item, dict) or not self._authentic(item.get("clientState")):
                forged += 1
                continue
            valid += 1
            work = self._work(item)
            if work is not None and not self.offer(work):
                log.warning(
                    "notification queue full, asking Graph to redeliver", connector=self.connector
                )
                return _text(503, "busy")
        if forged:
            self.rejected += forged
            if not valid:
                return self._reject(
                    request, 401, f"{forged} notification(s) with a wrong clientState"
                )
            log.warning(
                "notifications with a wrong clientState ignored",
                connector=self.connector,
                forged=forged,
                remote=request.remote,
            )
        self.accepted += valid
        return _text(202, "")

    def _validate(self, token: str) -> web.Response:
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isprintable():
            return _text(400, "bad validation token")
        self.validations += 1
        return _text(200, token)

    def _authentic(self, state: object) -> bool:
        return isinstance(state, str) and hmac.compare_digest(_digest(state), self._state)

    def _work(self, item: dict[str, Any]) -> Work | None:
        subscription = item.get("subscriptionId")
        address = self.subscriptions.get(subscription) if isinstance(subscription, str) else None
        if address is None:
            self.unknown += 1  # an old subscription, or one whose creation is still answering
            return None
        event = item.get("lifecycleEvent")
        if event is None and isinstance(item.get("changeType"), str):
            return (DELTA, address)
        action = _LIFECYCLE.get(event) if isinstance(event, str) else None
        if action is None:
            log.info("unknown notification kind ignored", connector=self.connector, mailbox=address)
            return None
        log.info(
            "lifecycle notification", connector=self.connector, mailbox=address, lifecycle=event
        )
        return (action, address)

    def _reject(self, request: web.Request, status: int, reason: str) -> web.Response:
        log.warning(
            "graph notification rejected",
            connector=self.connector,
            reason=reason,
            remote=request.remote,
            status=status,
        )
        return _text(status, reason)


def _text(status: int, text: str) -> web.Response:
    # text/plain and nosniff: an echoed token can never be rendered as HTML or script.
    return web.Response(
        status=status,
        text=text,
        content_type="text/plain",
        headers={"X-Content-Type-Options": "nosniff"},
    )
