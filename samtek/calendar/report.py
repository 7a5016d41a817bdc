"""What reading a calendar cost: refused items and repaired damage, and the CPU budget.

A `Problem` names the event (its UID) when it cost one, so health can show which meeting a
person is missing and why. Reasons never quote event text: a private event's summary must not
reach logs or the admin API through an error message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from samtek.calendar import CalendarError

log = structlog.get_logger("samtek.ics")

# What the libraries raise on data they cannot read; caught per item (an event, a series),
# reported with its UID, so that one bad item never costs the calendar.
ITEM_ERRORS = (ValueError, TypeError, AttributeError, LookupError, ArithmeticError)


@dataclass(frozen=True, slots=True)
class Problem:
    reason: str
    uid: str | None = None  # the event it concerns, when there is one
    refused: bool = True  # False: repaired or partly read; the event itself was kept

    def __str__(self) -> str:
        return f"event {self.uid}: {self.reason}" if self.uid is not None else self.reason


def problem(problems: list[Problem] | None, found: Problem) -> None:
    """Record a problem; without a list (strict mode) it fails the whole calendar."""
    if problems is None:
        raise CalendarError(str(found))
    # debug only: connectors put problems in health, which logs each change once (a feed
    # polled every few minutes must not log the same problems every time)
    log.debug("ics problem", problem=str(found), refused=found.refused)
    problems.append(found)


class BudgetExceeded(CalendarError):
    """The calendar cost more CPU than it is allowed (a hostile or absurd feed)."""


class CpuBudget:
    """CPU seconds of the calling thread (parsing runs in worker threads): checked between
    steps and items, so one feed can never hold a parse thread for long."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._start = time.thread_time()

    def spent(self) -> float:
        return time.thread_time() - self._start

    def check(self, step: str) -> None:
        if self.seconds is not None and self.spent() > self.seconds:
            raise BudgetExceeded(
                f"refused: more than {self.seconds:g} s of CPU (at {step});"
                " the feed is too large or too complex"
            )
