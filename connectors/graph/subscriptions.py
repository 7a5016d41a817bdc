"""Change-notification subscriptions on a mailbox's events: create, renew, recreate.

One subscription per mailbox on `/users/{address}/events` (created, updated, deleted), with
the same URL for change and lifecycle notifications. Graph validates that URL while it
creates the subscription; a 400 about validation means Microsoft cannot reach SAMTEK
(`EndpointUnreachable`): the connector then keeps polling delta and tries again later.
The subscription id and expiry are kept in the store together with a fingerprint of the URL
and clientState, so a restart renews instead of piling up subscriptions, and a changed URL
or secret replaces them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import structlog

from connectors.graph.config import GraphConfig
from connectors.graph.http import GraphError, GraphHttp
from samtek.store import Store

log = structlog.get_logger("samtek.connectors.graph")
CHANGE_TYPES = "created,updated,deleted"


class EndpointUnreachable(GraphError):
    """Graph could not validate the notification URL: Microsoft cannot reach SAMTEK."""


@dataclass
class Subscription:
    id: str
    expires: datetime


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse(value: object, fallback: datetime) -> datetime:
    if not isinstance(value, str):
        return fallback
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Subscriber:
    def __init__(
        self,
        config: GraphConfig,
        http: GraphHttp,
        store: Store,
        namespace: str,
        now: Callable[[], datetime],
    ) -> None:
        if config.notification_url is None or config.client_state is None:
            raise ValueError("subscriptions need notification_url and client_state")
        self.cfg = config
        self.http = http
        self.store = store
        self.namespace = namespace
        self.now = now
        self.url = str(config.notification_url)
        self._state = config.client_state.get_secret_value()
        self._fingerprint = hashlib.sha256(f"{self.url}\n{self._state}".encode()).hexdigest()
        self.created = self.renewed = 0

    def _key(self, address: str) -> str:
        return f"subscription:{address.lower()}"

    def due(self, sub: Subscription | None) -> bool:
        """Renew (or create) now?"""
        margin = timedelta(minutes=self.cfg.renew_before_minutes)
        return sub is None or sub.expires - self.now() <= margin

    def _expiry(self) -> datetime:
        return self.now() + timedelta(minutes=self.cfg.subscription_minutes)

    async def restore(self, address: str) -> Subscription | None:
        """The stored subscription if it is ours and still alive (renewed to confirm it)."""
        raw = await self.store.get_state(self.namespace, self._key(address))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            sub = Subscription(str(data["id"]), _parse(data["expires"], self.now()))
            ours = data.get("fingerprint") == self._fingerprint
        except (ValueError, KeyError, TypeError):
            await self.store.delete_state(self.namespace, self._key(address))
            return None
        if not ours:  # another URL or clientState: its notifications would be refused
            await self.delete(address, sub)
            return None
        if sub.expires <= self.now():
            return None
        return await self.renew(address, sub)

    async def create(self, address: str) -> Subscription:
        body = {
            "changeType": CHANGE_TYPES,
            "notificationUrl": self.url,
            "lifecycleNotificationUrl": self.url,
            "resource": f"/users/{quote(address)}/events",
            "expirationDateTime": _iso(self._expiry()),
            "clientState": self._state,
        }
        try:
            answer = await self.http.request("POST", "/subscriptions", json=body)
        except GraphError as e:
            if e.status == 400 and ("validation" in str(e).lower() or e.code == "ValidationError"):
                raise EndpointUnreachable(
                    f"Microsoft Graph could not validate the notification URL {self.url}: {e}",
                    e.status,
                    e.code,
                ) from e
            raise
        sub = Subscription(
            str(answer["id"]), _parse(answer.get("expirationDateTime"), self._expiry())
        )
        self.created += 1
        await self._save(address, sub)
        log.debug(
            "subscribed to calendar changes", mailbox=address, expires=sub.expires.isoformat()
        )
        return sub

    async def renew(self, address: str, sub: Subscription) -> Subscription | None:
        """Extend `sub` (which also reauthorizes it); None if Graph no longer has it."""
        try:
            answer = await self.http.request(
                "PATCH",
                f"/subscriptions/{quote(sub.id)}",
                json={"expirationDateTime": _iso(self._expiry())},
            )
        except GraphError as e:
            if e.status == 404:
                log.info("subscription lost", mailbox=address, subscription=sub.id)
                await self.forget(address)
                return None
            raise
        renewed = Subscription(sub.id, _parse(answer.get("expirationDateTime"), self._expiry()))
        self.renewed += 1
        await self._save(address, renewed)
        return renewed

    async def delete(self, address: str, sub: Subscription) -> None:
        try:
            await self.http.request("DELETE", f"/subscriptions/{quote(sub.id)}")
        except GraphError as e:
            if e.status != 404:
                raise
        await self.forget(address)

    async def forget(self, address: str) -> None:
        await self.store.delete_state(self.namespace, self._key(address))

    async def _save(self, address: str, sub: Subscription) -> None:
        value = {"id": sub.id, "expires": sub.expires.isoformat(), "fingerprint": self._fingerprint}
        await self.store.put_state(self.namespace, self._key(address), json.dumps(value))
