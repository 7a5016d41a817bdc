"""Retention: audit entries and notification claims are deleted when they reach their age.

No polling: after each pass the task sleeps until the oldest remaining row reaches its
limit (a row written later expires later), so a row is deleted at its due time and the
task wakes only when something is due.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog

from samtek.health import HealthReporter
from samtek.store.audit import AuditLog
from samtek.store.store import Store

log = structlog.get_logger("samtek.store")


class Retention:
    def __init__(
        self,
        store: Store,
        audit_days: int,
        notification_days: int,
        health: HealthReporter | None = None,
    ) -> None:
        self._store = store
        self._audit = AuditLog(store.db, store.clock)
        self._audit_days = audit_days
        self._audit_keep = timedelta(days=audit_days)
        self._claims_keep = timedelta(days=notification_days)
        self.health = health or HealthReporter("retention")
        self.passes = 0  # completed passes (tests, metrics)

    async def prune(self) -> datetime:
        """Delete what is past its limit; returns when the next row falls due."""
        now = self._store.clock.now()
        audit = await self._audit.prune(self._audit_days)
        claims = await self._store.prune_notifications(now - self._claims_keep)
        if audit or claims:
            log.info("retention: old rows deleted", audit_entries=audit, notifications=claims)
        oldest_audit = await self._audit.oldest()
        oldest_claim = await self._store.oldest_notification()
        # Nothing kept yet: a row written from now on is due no earlier than now + keep.
        due = min(
            (oldest_audit or now) + self._audit_keep,
            (oldest_claim or now) + self._claims_keep,
        )
        self.passes += 1
        return due

    async def run(self) -> None:
        while True:
            due = await self.prune()
            self.health.success()
            delay = (due - self._store.clock.now()).total_seconds()
            await asyncio.sleep(max(delay, 0.0))
