"""Type checks per second of programs/adamw.prog on one core.

Baseline in the same run: a bare Python loop over the statements that does the same
dictionary lookups without checking, so the ratio says what the checker itself costs.

    python bench/bench_typecheck.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from symopt.lang import infer, parse_file

ROOT = Path(__file__).resolve().parent.parent


def rate(fn, arg, seconds: float = 1.0) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(1000):
            fn(arg)
        n += 1000
    return n / elapsed


def walk(program) -> int:
    seen = {}
    for s in program.body:
        seen[s.target] = s.fn
    return len(seen)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    program = parse_file(ROOT / "programs" / "adamw.prog")
    assert infer(program) is not None
    checks = rate(infer, program)
    base = rate(walk, program)
    print(f"type checks/s (adamw.prog, {len(program.body)} statements, one core): {checks:,.0f}")
    print(f"baseline: bare statement walk/s: {base:,.0f}")
    print(f"ratio check/walk time: {base / checks:.2f}x   target >= 50,000 checks/s: "
          f"{'met' if checks >= 50_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
