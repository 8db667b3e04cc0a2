"""Evaluations per minute on nanogpt-tiny: the process executor vs Ray, same workers.

    flock /tmp/symopt-bench.lock python bench/bench_executors.py [--workers 2] [--evals 6]

Both executors evaluate the same programs (the classic optimizers in programs/, cycled)
with the same number of evaluations in flight. Each is warmed up first with one
evaluation per worker (JAX import, task data, first compiles): that start-up is paid
once per search, and printed, but the figure compared is steady-state throughput, which
is what a long search sees. Ray runs a local instance on this machine (`address = ""`).
The last line is `ray vs process: X.XX x` (Ray's evaluations/min over the process
executor's; 1.00 = no overhead).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symopt.lang import parse_file, to_text  # noqa: E402
from symopt.search.config.loading import ExecutorSection, SearchConfig  # noqa: E402
from symopt.search.execution.executor import EvalJob, make_executor  # noqa: E402

PROGRAMS = ["adamw", "adam", "lion", "signum", "momentum", "rmsprop", "nesterov", "sgd"]


def throughput(kind: str, workers: int, evals: int, spec: dict) -> tuple[float, float]:
    """(start-up seconds, evaluations per minute after warm-up) of one executor."""
    texts = [to_text(parse_file(f"programs/{p}.prog"), header=False) for p in PROGRAMS]
    start = time.perf_counter()
    ex = make_executor(ExecutorSection(kind=kind), workers, run_dir=tempfile.mkdtemp())
    try:
        warm = [ex.submit(EvalJob(texts[i % len(texts)], spec)) for i in range(workers)]
        _check([ex.outcome(f) for f in warm])
        startup = time.perf_counter() - start
        start = time.perf_counter()
        futures = [ex.submit(EvalJob(texts[i % len(texts)], spec)) for i in range(evals)]
        cf.wait(futures)
        _check([ex.outcome(f) for f in futures])
        return startup, 60.0 * evals / (time.perf_counter() - start)
    finally:
        ex.shutdown()


def _check(outcomes) -> None:
    bad = [o for o in outcomes if o.crashed]
    if bad:
        raise SystemExit(f"an executor failed: {bad[0].message}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--evals", type=int, default=6, help="timed evaluations per executor")
    ap.add_argument("--steps", type=int, default=None, help="override the task's steps")
    args = ap.parse_args()
    overrides = {"steps": args.steps} if args.steps else {}
    spec = SearchConfig.from_dict({"task": {"name": "nanogpt-tiny", "overrides": overrides,
                                            "time_limit_s": 600.0}}).task.spec()
    rates = {}
    for kind in ("process", "ray"):
        startup, rate = throughput(kind, args.workers, args.evals, spec)
        rates[kind] = rate
        print(f"{kind:8s} workers {args.workers}: start-up + warm-up {startup:6.1f}s, "
              f"{rate:6.2f} evals/min over {args.evals} evaluations", flush=True)
    print(f"ray vs process: {rates['ray'] / rates['process']:.2f} x")


if __name__ == "__main__":
    main()
