"""The `[assistant]` config section."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AssistantSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Askers must be in the directory AND have a JID in one of these domains; empty means
    # the XMPP domain of the service.
    domains: list[str] = []
    work_start: time = time(8, 0)
    work_end: time = time(16, 0)
    work_days: list[int] = Field(default=[0, 1, 2, 3, 4], description="weekdays, Monday = 0")
    find_time_minutes: int = Field(default=30, ge=5, le=720)
    find_time_days: int = Field(default=14, ge=1, le=90, description="search this far ahead")
    find_time_results: int = Field(default=3, ge=1, le=10)
    meeting_minutes: int = Field(default=60, ge=5, le=720)
    calendar_timeout: float = Field(default=20.0, gt=0)
    # Per sender: `burst` commands at once, refilled over `per_seconds`.
    rate_burst: int = Field(default=5, ge=1, le=100)
    rate_per_seconds: float = Field(default=10.0, gt=0)
    max_senders: int = Field(default=10_000, ge=10)
    max_concurrent: int = Field(default=8, ge=1, le=256)
    max_queued: int = Field(default=500, ge=1)
    oof_autoreply: bool = True

    @model_validator(mode="after")
    def _check(self) -> AssistantSection:
        if self.work_end <= self.work_start:
            raise ValueError("work_end must be after work_start")
        if any(d not in range(7) for d in self.work_days):
            raise ValueError("work_days are 0 (Monday) to 6 (Sunday)")
        return self
