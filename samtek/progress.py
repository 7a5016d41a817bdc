"""Progress of long CLI work: a bar on a terminal, a line every few seconds otherwise (logs)."""

from __future__ import annotations

import time
from typing import TextIO

LINE_EVERY = 5.0  # seconds between lines when not on a terminal
WIDTH = 30


class ProgressPrinter:
    """Call with (done, total) as work finishes; prints an estimate of the time left."""

    def __init__(self, out: TextIO, what: str = "rooms") -> None:
        self.out = out
        self.what = what
        self.tty = out.isatty()
        self.started = time.monotonic()
        self._last_line = float("-inf")

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        elapsed = now - self.started
        left = elapsed / done * (total - done) if done else 0.0
        text = f"{done:,}/{total:,} {self.what}, about {left:.0f} s left"
        if self.tty:
            filled = WIDTH * done // max(total, 1)
            bar = "#" * filled + "-" * (WIDTH - filled)
            end = "\n" if done >= total else ""
            self.out.write(f"\r[{bar}] {text}   {end}")
            self.out.flush()
        elif done >= total or now - self._last_line >= LINE_EVERY:
            self._last_line = now
            self.out.write(f"{text}\n" if done < total else f"{done:,}/{total:,} {self.what}\n")
            self.out.flush()
