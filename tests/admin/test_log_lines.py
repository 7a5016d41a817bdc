"""Every log line is one whole JSON object, whichever thread or library wrote it.

Log shippers parse the service's stderr line by line. Library loggers (aiosqlite and
asyncio's executors log from their own threads) and structlog once wrote through separate
writers, and a library line could land between one of our records and its newline.
"""

from __future__ import annotations

import json
import logging
import threading

import pytest
import structlog

from tests.admin.test_secret_redaction import json_logs_at_debug

THREADS = 6
LINES = 400


def write_lines(index: int, start: threading.Barrier) -> None:
    ours = structlog.get_logger("samtek.test")
    library = logging.getLogger(f"library{index}")
    start.wait()
    for n in range(LINES):
        ours.info("ours", thread=index, n=n, padding="x" * 200)
        library.warning("library thread %d line %d %s", index, n, "y" * 200)


def test_threads_and_libraries_never_split_a_line(capfd: pytest.CaptureFixture[str]) -> None:
    start = threading.Barrier(THREADS)
    with json_logs_at_debug():
        threads = [threading.Thread(target=write_lines, args=(i, start)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = [line for line in capfd.readouterr().err.splitlines() if line]
    records = [json.loads(line) for line in lines]  # each line parses on its own
    assert len(records) == 2 * THREADS * LINES
    assert sum(1 for r in records if r["event"] == "ours") == THREADS * LINES
    library = [r for r in records if r.get("logger", "").startswith("library")]
    assert len(library) == THREADS * LINES
    assert all(r["level"] == "warning" and "timestamp" in r for r in library)


def test_library_debug_that_carries_peoples_data_stays_quiet(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # aiosqlite logs every call with its SQL parameters at DEBUG: people's events.
    with json_logs_at_debug():
        logging.getLogger("aiosqlite").debug("executing %s", "INSERT ... 'Anna: lege'")
        structlog.get_logger("samtek.test").debug("ours at debug")
    err = capfd.readouterr().err
    assert "lege" not in err
    assert "ours at debug" in err
