"""What a connector implements to be resynced on demand (admin API `POST /admin/resync`)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Resyncable(Protocol):
    async def resync(self) -> None:
        """Re-read everything from the source now (not incrementally); return when done."""
