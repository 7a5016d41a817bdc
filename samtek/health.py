"""Health of one supervised part (a connector, a bridge, the XMPP link).

State changes are logged once when they happen, not on every failure, so a source that
stays broken for a day does not flood the log (Home Assistant's coordinator does the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import structlog

from samtek.clock import SYSTEM_CLOCK, Clock
from samtek.redact import redact_text

MAX_REASONS = 20  # per item: the count says how many there are


class HealthState(StrEnum):
    STARTING = "starting"
    OK = "ok"
    DEGRADED = "degraded"  # running, but some items (a person's feed, a mailbox) fail
    FAILING = "failing"  # not running; the supervisor retries with backoff
    AUTH_FAILED = "auth_failed"  # not retried: credentials must be fixed first
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ItemCounts:
    """What one item (a person's feed, a mailbox) gave at its last read."""

    published: int  # events published
    refused: int  # events refused (each with a reason below)
    reasons: tuple[str, ...] = ()  # "<id>: <reason>", refused and repaired, bounded

    @classmethod
    def of(cls, published: int, refused: Mapping[str, str]) -> ItemCounts:
        """From refused entry ids (UID, ItemId, event id) and their reasons."""
        reasons = tuple(f"{entry}: {refused[entry]}" for entry in sorted(refused))
        return cls(published, len(refused), reasons[:MAX_REASONS])


@dataclass(frozen=True, slots=True)
class Progress:
    """Long work under way (a first read of every calendar, applying many rooms)."""

    what: str  # "rooms applied", "feeds read"
    done: int
    total: int
    started: datetime

    def remaining_seconds(self, now: datetime) -> float | None:
        """A linear estimate from the pace so far; None before there is a pace."""
        elapsed = (now - self.started).total_seconds()
        if self.done <= 0 or elapsed <= 0:
            return None
        return elapsed / self.done * max(self.total - self.done, 0)


@dataclass
class HealthSnapshot:
    name: str
    state: HealthState
    since: datetime
    reason: str | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    restarts: int
    next_retry: datetime | None
    item_errors: dict[str, str] = field(default_factory=dict)
    item_counts: dict[str, ItemCounts] = field(default_factory=dict)
    progress: Progress | None = None


class HealthReporter:
    """Written by the part itself (items, success) and by the supervisor (failing, restarts)."""

    def __init__(self, name: str, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self.name = name
        self._log = structlog.get_logger("samtek.health").bind(part=name)
        self._state = HealthState.STARTING
        self._since = self._clock.now()
        self._reason: str | None = None
        self._last_success: datetime | None = None
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._restarts = 0
        self._next_retry: datetime | None = None
        self._item_errors: dict[str, str] = {}
        self._item_counts: dict[str, ItemCounts] = {}
        self._progress: Progress | None = None

    @property
    def state(self) -> HealthState:
        return self._state

    def success(self) -> None:
        """The part completed a unit of work (a sync, a connect)."""
        self._last_success = self._clock.now()
        self._next_retry = None
        self._settle()

    def item_error(self, item: str, error: str) -> None:
        """One item failed (e.g. one person's feed); the part keeps serving the others."""
        item, error = redact_text(item), redact_text(error)
        if self._item_errors.get(item) != error:
            self._log.warning("item failing", item=item, error=error)
        self._item_errors[item] = error
        self._record_error(f"{item}: {error}")
        self._settle()

    def item_ok(self, item: str) -> None:
        item = redact_text(item)
        if self._item_errors.pop(item, None) is not None:
            self._log.info("item recovered", item=item)
        self._settle()

    def item_counts(self, item: str, counts: ItemCounts | None) -> None:
        """Record what the item gave at its last read (None: the item is gone). Refused
        entries are data problems, not source failures: shown with reasons, logged once,
        without degrading the part."""
        if counts is None:
            self._item_counts.pop(item, None)
            return
        old = self._item_counts.get(item)
        for reason in sorted(set(counts.reasons) - set(old.reasons if old else ())):
            self._log.warning("entry refused", item=item, reason=reason)
        self._item_counts[item] = counts

    def failing(self, error: str, next_retry: datetime | None) -> None:
        self._record_error(error)
        self._next_retry = next_retry
        self._restarts += 1
        self._set(HealthState.FAILING, self._last_error)

    def auth_failed(self, error: str) -> None:
        self._record_error(error)
        self._set(HealthState.AUTH_FAILED, self._last_error)

    def stopped(self) -> None:
        self._set(HealthState.STOPPED, None)

    def progress(self, what: str, done: int, total: int) -> None:
        """Report long work; `done >= total` ends it."""
        if done >= total:
            self._progress = None
            return
        same = self._progress is not None and self._progress.what == what
        started = self._progress.started if same and self._progress else self._clock.now()
        self._progress = Progress(what, done, total, started)

    def snapshot(self) -> HealthSnapshot:
        return HealthSnapshot(
            name=self.name,
            state=self._state,
            since=self._since,
            reason=self._reason,
            last_success=self._last_success,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            restarts=self._restarts,
            next_retry=self._next_retry,
            item_errors=dict(self._item_errors),
            item_counts=dict(self._item_counts),
            progress=self._progress,
        )

    def _record_error(self, error: str) -> None:
        # Every text shown in health (admin API, status page, log) passes here: no secrets.
        error = redact_text(error)
        self._last_error = error
        self._last_error_at = self._clock.now()

    def _settle(self) -> None:
        if self._item_errors:
            count = len(self._item_errors)
            self._set(HealthState.DEGRADED, f"{count} item(s) failing")
        else:
            self._set(HealthState.OK, None)

    def _set(self, state: HealthState, reason: str | None) -> None:
        if state == self._state and reason == self._reason:
            return
        previous = self._state
        self._state, self._reason, self._since = state, reason, self._clock.now()
        log = (
            self._log.info if state in (HealthState.OK, HealthState.STOPPED) else self._log.warning
        )
        log("health changed", previous=previous.value, state=state.value, reason=reason)
