"""Rediscovery: from SGD with momentum, can evolution find what constant tuning cannot
(per-coordinate adaptivity, a sign), at an equal number of training steps?

    python bench/bench_discovery.py [--budget 12000] [--searches 5] [--workers 2]
        [--steps N] [--config search_configs/default.toml] [--plot bench/discovery.png]
        [--out DIR]

Seed: programs/momentum.prog (m <- 0.9 m + g, update = lr m: a momentum constant and,
with the learning-rate probe on, a learning-rate scale to tune; no adaptivity). On the
default config's proxy (nanogpt-tiny, 200 steps a run; `--steps` shortens the runs),
with its mechanisms (step budget, learning-rate probe, adaptive operator weights),
`--searches` searches (search seeds 0..N-1) of each of evolution and constants-only
(`[search] method = "constants"`: the seed's structure, its constants tuned), each of
`--budget` training steps. The reference, measured in the same run: AdamW
(programs/adamw.prog) with its learning rate tuned over x0.5, x1, x2, x4 (4 runs, the
best kept). Prints each search's best program simplified, a table, a plot of the best
fitness against training steps (mean and min-max band per method), and ends with the line
`rediscovery: evolution X vs constants-only Y (N/S paired searches better, Mann-Whitney
p=P); tuned AdamW Z` (on one line;

X, Y: mean best fitness; N: search seeds where evolution's best beats constants-only's;
P: two-sided Mann-Whitney p-value of the two methods' best per search,
`symopt.report.discussion.compare_arms`; Z: the tuned AdamW's fitness). Lower is better.
With `--out DIR` the run directories are kept and a rerun with the same DIR reuses the
searches stored there (finishing any that was cut short).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search_bench import (  # noqa: E402
    add_arguments,
    bench_config,
    fmt,
    lr_tuned,
    mann_whitney_p,
    mean,
    plot_steps,
    run_searches,
)

from symopt import programs  # noqa: E402
from symopt.lang import to_text  # noqa: E402

METHODS = {"evolution": "evolution", "constants": "constants-only"}
LR_GRID = [0.5, 1.0, 2.0, 4.0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap, plot="bench/discovery.png")
    args = ap.parse_args()

    start = time.perf_counter()
    cfg, run_steps = bench_config(args)
    overrides = cfg.task.overrides
    seed = str(programs.path("momentum"))
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-discovery-"))
    print(f"seed {seed} on {cfg.task.name} {overrides or ''}, budget {args.budget} training "
          f"steps per search ({args.budget / run_steps:g} full runs), {args.searches} searches "
          f"per method, workers {cfg.search.workers}, lr probe {list(cfg.search.lr_probe)}, "
          f"adaptive operators {cfg.mutation.adapt}; runs in {out}", flush=True)

    adamw = to_text(programs.load("adamw"), header=False)
    tuned = lr_tuned(adamw, cfg, LR_GRID)
    print(f"AdamW with lr tuned over x{LR_GRID}: {tuned:.4f}", flush=True)

    best: dict[str, list[float]] = {}
    curves: dict[str, list] = {}
    for method, label in METHODS.items():
        runs = run_searches(cfg.with_search(method=method), out, method, label, args.searches,
                            seed, show=True)
        best[method] = [r.fitness for r in runs]
        curves[method] = [r.curve for r in runs]

    print()
    print(f"| method | best fitness (mean ± std, {args.searches} searches) | beat tuned AdamW |")
    print("| --- | --- | --- |")
    print(f"| AdamW, lr tuned (x0.5..x4) | {tuned:.4f} | — |")
    for method, label in METHODS.items():
        beat = sum(1 for f in best[method] if f < tuned)
        print(f"| {label} | {fmt(best[method])} | {beat}/{args.searches} |")
    evo, con = best["evolution"], best["constants"]
    gap = 100 * (mean(evo) - tuned) / tuned
    print(f"evolution's mean is {abs(gap):.1f}% {'above' if gap > 0 else 'below'} tuned AdamW")
    plot_steps({METHODS[m]: curves[m] for m in METHODS}, args.budget, ("AdamW, lr tuned", tuned),
               Path(args.plot), f"from momentum, {cfg.task.name}, {args.searches} searches x "
               f"{args.budget} steps")
    print(f"plot: {args.plot}; wall time {time.perf_counter() - start:.0f}s")
    better = sum(1 for e, c in zip(evo, con) if e < c)
    print(f"rediscovery: evolution {mean(evo):.4f} vs constants-only {mean(con):.4f} "
          f"({better}/{args.searches} paired searches better, Mann-Whitney "
          f"p={mann_whitney_p(evo, con):.3g}); tuned AdamW {tuned:.4f}")


if __name__ == "__main__":
    main()
