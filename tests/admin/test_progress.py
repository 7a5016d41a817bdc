"""Long work shows progress: health keeps it with an estimate, the status page says it in
words, the CLI prints a line every few seconds when not on a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from samtek.admin.status import progress
from samtek.clock import FixedClock
from samtek.health import HealthReporter
from samtek.progress import ProgressPrinter

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_health_progress_estimates_the_time_left_and_ends() -> None:
    clock = FixedClock(START)
    health = HealthReporter("rooms", clock)
    health.progress("rooms applied", 0, 1000)
    clock.set(START + timedelta(seconds=10))
    health.progress("rooms applied", 250, 1000)
    work = health.snapshot().progress
    assert work is not None and work.started == START
    assert work.remaining_seconds(clock.now()) == 30.0
    assert progress(health.snapshot(), clock.now()) == (
        '<span class="progress fix">rooms applied: 250 of 1,000, about 30 s left</span>'
    )
    health.progress("rooms applied", 1000, 1000)
    assert health.snapshot().progress is None
    assert progress(health.snapshot(), clock.now()) == ""


def test_cli_progress_without_a_terminal_prints_lines_not_a_bar() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out)
    for done in range(1, 101):
        printer(done, 100)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("1/100 rooms, about")
    assert lines[-1] == "100/100 rooms"
    assert "\r" not in out.getvalue() and len(lines) <= 3  # not one line per room
