"""Search throughput: training runs per minute of a real search, fast fitness vs before.

    python bench/bench_search_speed.py [--config nanogpt_tiny] [--budget 40]

Runs `symopt.search` twice from the built-in ``adamw``, same config, search seed and
budget, funnel off, one after the other on this machine:

1. ``before``: ``[task] engine = "compiled"`` (one XLA compile per candidate) and no
   hurdles (what the search did before the compile-once engine; divergence is still
   stopped at its first bad step, which the search did not do then, so this baseline is
   a little faster than it was);
2. ``now``: the config as shipped (the interpreter, hurdles on).

It prints each run's training runs per minute (wall time of the whole search, worker
start-up, compiles and the seed's run included), early stops and the time they saved,
and preparation time per child. The last line is
``search throughput: X.XX x (now vs compiled engine without hurdles)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

from symopt.search.config.loading import load_config
from symopt.search.evolution.hurdles import HurdlesSection
from symopt.search.evolution.loop import run_search


def one_search(cfg, label: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_search(cfg, tmp, seeds=["adamw"], run_funnel_after=False)
        minutes = (time.perf_counter() - t0) / 60
    s = res.stats
    rate = s.evaluations / minutes
    print(f"{label}: {s.evaluations} training runs, {s.candidates} candidates in "
          f"{minutes:.2f} min = {rate:.2f} training runs/min; best {s.best_fitness:.4f}; "
          f"early stops {s.stopped_diverged} diverged + {s.stopped_hurdle} hurdle, "
          f"{s.saved_seconds:.0f}s of training saved ({s.saved_pct:.0f}%); "
          f"{s.prepare_us_per_child:.0f} us to prepare a child", flush=True)
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="nanogpt_tiny")
    ap.add_argument("--budget", type=int, default=40)
    args = ap.parse_args()
    cfg = load_config(args.config).with_search(budget=args.budget)
    before = dataclasses.replace(cfg, task=dataclasses.replace(cfg.task, engine="compiled"),
                                 hurdles=HurdlesSection())
    print(f"config {args.config}: task {cfg.task.name}, {cfg.search.workers} workers, "
          f"budget {args.budget}, hurdles {cfg.hurdles.at}", flush=True)
    rate_before = one_search(before, "before (compiled engine, no hurdles)")
    rate_now = one_search(cfg, "now (config as shipped)")
    print(f"search throughput: {rate_now / rate_before:.2f} x "
          f"(now vs compiled engine without hurdles)")


if __name__ == "__main__":
    main()
