"""Benchmark: how much of the conversation corpus the assistant understands, and how fast.

Runs every message of tests/assistant/corpus/messages.toml through `intent.understand` (the
parse the commands act on) at the corpus's fixed "now", compares intent and slots with the
hand-written expectation, and prints the accuracy per language and overall, the messages
it gets wrong, and the parse time per message (median, max) — also for the longest message
a command may be (500 characters).

    /work/main/.venv/bin/python bench/assistant_language.py [--corpus other.toml]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridges.assistant.intent import understand
from tests.assistant.corpus import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=load.FILE)
    args = parser.parse_args()
    load.FILE = args.corpus
    cases = load.cases()
    right: dict[str, list[bool]] = {}
    costs = []
    understand("hjelp", load.NOW)  # warm: the first call compiles patterns
    for case in cases:
        started = time.perf_counter()
        got = understand(case.text, load.NOW)
        costs.append(time.perf_counter() - started)
        ok = got == case.expected
        right.setdefault(case.lang, []).append(ok)
        if not ok:
            print(f"WRONG {case.lang}: {case.text!r}\n  expected {case.expected}\n  got      {got}")
    for lang, results in sorted(right.items()):
        print(f"{lang}: {sum(results)}/{len(results)} = {100 * sum(results) / len(results):.1f} %")
    every = [ok for results in right.values() for ok in results]
    print(
        f"all: {sum(every)}/{len(every)} = {100 * sum(every) / len(every):.1f} % (target >= 95 %)"
    )
    print(
        f"parse per message: median {statistics.median(costs) * 1e6:.0f} µs,"
        f" max {max(costs) * 1e6:.0f} µs"
    )
    worst = [
        "finn tid " + "i morgen kl 10-11 " * 27,
        "er " + "a " * 245 + "ledig",
        "møte " + "på fredag om " * 37,
        "hjelpp" + "x" * 490,
        "please " * 71,
        "kalender " * 55,
        "when does " * 50,
    ]
    for text in worst:
        started = time.perf_counter()
        for _ in range(100):
            understand(text[:500], load.NOW)
        each = (time.perf_counter() - started) / 100
        print(f"500-character message {text[:20]!r}…: {each * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
