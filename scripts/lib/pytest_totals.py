"""Sums the pytest summary lines of several runs into one final line, in pytest's own form
("== 3 failed, 812 passed, 4 skipped in 901.20s =="), so whoever reads the last line of
scripts/test sees every test run (the main run and the runs at fixed instants)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

SUMMARY = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+) in ([\d.]+)s")
ORDER = ("failed", "passed", "skipped", "xfailed", "xpassed", "warnings", "errors")
NOT_SUMMED = {"deselected"}  # each instant run deselects the unmarked tests again
SINGULAR = {"warning": "warnings", "error": "errors"}


def main(logs: list[str]) -> int:
    totals: dict[str, int] = {}
    seconds = 0.0
    for log in logs:
        lines = Path(log).read_text(errors="replace").splitlines() if Path(log).exists() else []
        found = [m for m in map(SUMMARY.match, lines) if m]
        if not found:
            continue
        counts, took = found[-1].groups()
        seconds += float(took)
        for count, word in (c.split(" ", 1) for c in counts.split(", ")):
            word = SINGULAR.get(word, word)
            if word in NOT_SUMMED:
                continue
            totals[word] = totals.get(word, 0) + int(count)
    parts = [f"{totals[w]} {w}" for w in ORDER if totals.get(w)]
    parts += [f"{n} {w}" for w, n in totals.items() if w not in ORDER and n]
    text = ", ".join(parts) or "no tests ran"
    print(f"{'=' * 20} {text} in {seconds:.2f}s (all runs: {len(logs)}) {'=' * 20}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
