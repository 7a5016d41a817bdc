"""Where the connector keeps small durable state (sync tokens, ctags).

`samtek.store.Store` satisfies `StateStore`; tests and tools use `MemoryStateStore`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class StateStore(Protocol):
    async def get_state(self, namespace: str, key: str) -> str | None: ...

    async def put_state(self, namespace: str, key: str, value: str) -> None: ...


class MemoryStateStore:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    async def get_state(self, namespace: str, key: str) -> str | None:
        return self.values.get((namespace, key))

    async def put_state(self, namespace: str, key: str, value: str) -> None:
        self.values[(namespace, key)] = value
