"""Insert-if-absent of a shared value (the room feed secret): racing writers agree on one."""

from __future__ import annotations

import asyncio
import contextlib

from samtek.store import open_store


async def test_first_value_wins_and_everyone_reads_it_back(store_url: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        # Two instances only on PostgreSQL: a SQLite file belongs to one instance.
        count = 2 if store_url.startswith("postgresql") else 1
        stores = [await stack.enter_async_context(open_store(store_url)) for _ in range(count)]
        results = await asyncio.gather(
            *(
                stores[i % count].put_state_if_absent("rooms", "feed_secret", f"value-{i}")
                for i in range(20)
            )
        )
        assert len(set(results)) == 1
        assert await stores[0].get_state("rooms", "feed_secret") == results[0]
        again = await stores[-1].put_state_if_absent("rooms", "feed_secret", "later")
        assert again == results[0]
