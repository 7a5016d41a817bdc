"""A small typed publish/subscribe bus between connectors and bridges.

Each subscription has its own bounded queue; `publish` waits while a subscriber's queue is
full (backpressure), so nothing is dropped and memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_QUEUE_SIZE = 10_000


class Subscription(AsyncIterator[T]):
    def __init__(self, bus: Bus, event_type: type[T], maxsize: int) -> None:
        self._bus = bus
        self.event_type = event_type
        self.queue: asyncio.Queue[T] = asyncio.Queue(maxsize)

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        return await self.queue.get()

    def close(self) -> None:
        self._bus._unsubscribe(self)


class Bus:
    def __init__(self) -> None:
        self._subscriptions: dict[type[Any], list[Subscription[Any]]] = defaultdict(list)

    def subscribe(self, event_type: type[T], maxsize: int = DEFAULT_QUEUE_SIZE) -> Subscription[T]:
        subscription = Subscription(self, event_type, maxsize)
        self._subscriptions[event_type].append(subscription)
        return subscription

    async def publish(self, event: object) -> None:
        for subscription in tuple(self._subscriptions.get(type(event), ())):
            await subscription.queue.put(event)

    def depths(self) -> dict[str, int]:
        """Queue depth per event type (for metrics)."""
        return {
            event_type.__name__: sum(s.queue.qsize() for s in subs)
            for event_type, subs in self._subscriptions.items()
        }

    def _unsubscribe(self, subscription: Subscription[Any]) -> None:
        subs = self._subscriptions.get(subscription.event_type, [])
        if subscription in subs:
            subs.remove(subscription)
