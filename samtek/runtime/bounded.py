"""Run a coroutine per item with at most `limit` in flight (fixed workers, no queue)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def for_each(items: Iterable[T], fn: Callable[[T], Awaitable[None]], limit: int) -> None:
    iterator = iter(items)

    async def worker() -> None:
        for item in iterator:  # shared iterator: each item is taken by exactly one worker
            await fn(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, limit)):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        # The first failure stopped the others (TaskGroup cancels them): surface it as itself
        # so callers can catch AuthFailed etc. without unwrapping groups.
        raise failed.exceptions[0] from None
