"""Group membership as the rooms feature sees it (implemented by the directory service)."""

from __future__ import annotations

from typing import Protocol


class GroupDirectory(Protocol):
    def members(self, group: str) -> set[str]: ...
