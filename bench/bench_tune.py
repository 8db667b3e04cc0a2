"""GA vs PBT vs random search on nanogpt-tiny, equal training steps, AdamW and Lion.

    python bench/bench_tune.py [--budget 6] [--steps 200] [--population 3] [--tune-model]

Each method gets `budget` training runs of `steps` steps (PBT: `budget` members trained
concurrently on Ray Tune, each one run long), so all three spend the same number of
training steps. Fitness = validation loss (nats/char) at the end of a run; lower is
better. The model (layers, heads, width) is fixed at nanogpt-tiny's unless --tune-model.

The tuned learning rate of a program is the rate its update is multiplied by:
``base_lr x lr_multiplier`` for AdamW, and that times Lion's inner lr factor (constant
#2 of lion.prog, 0.1 untuned) for Lion, i.e. the ``learning_rate`` of ``optax.lion``.
The paper reports Lion's 3-10x smaller than AdamW's. Last line: that ratio per method.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symopt.lang import parse_file  # noqa: E402
from symopt.tasks import get_task  # noqa: E402
from symopt.tune import TuneConfig, run_tune  # noqa: E402

METHODS = ("random", "ga", "pbt")


def effective_lr(name: str, result, base_lr: float) -> float:
    lr = base_lr * result.best["lr_multiplier"]
    if name == "lion":  # constant #2 multiplies lr inside lion.prog
        lr *= result.tuned.constants()[2]
    return lr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=6, help="training runs per method")
    ap.add_argument("--steps", type=int, default=200, help="steps per training run")
    ap.add_argument("--population", type=int, default=3, help="GA population")
    ap.add_argument("--iterations", type=int, default=4, help="PBT reports per run")
    ap.add_argument("--tune-model", action="store_true", help="also tune layers/heads/width")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    task = get_task("nanogpt-tiny", steps=args.steps)
    space = {} if args.tune_model else {"layers": task.layers, "heads": task.heads,
                                         "width": task.width}
    print(f"nanogpt-tiny, {args.steps} steps per run, {args.budget} runs per method "
          f"({args.budget * args.steps} training steps each); GA population {args.population}, "
          f"PBT population {args.budget} x {args.iterations} iterations")
    out = Path(tempfile.mkdtemp(prefix="bench-tune-"))
    best: dict[tuple[str, str], float] = {}
    lrs: dict[tuple[str, str], float] = {}
    untuned: dict[str, float] = {}
    for name in ("adamw", "lion"):
        program = parse_file(f"programs/{name}.prog")
        for method in METHODS:
            cfg = TuneConfig(task="nanogpt-tiny", method=method, budget=args.budget,
                             population=args.population, seed=args.seed,
                             task_overrides={"steps": args.steps}, space=space,
                             pbt=TuneConfig().pbt.__class__(iterations=args.iterations,
                                                            perturbation_interval=1))
            t0 = time.perf_counter()
            r = run_tune(program, cfg, out / f"{name}-{method}")
            best[name, method] = r.fitness
            lrs[name, method] = effective_lr(name, r, task.base_lr)
            untuned[name] = r.untuned
            extra = (f", {len(r.events)} exploits, tuned.prog from scratch "
                     f"{r.tuned_fitness:.4f}" if method == "pbt" else "")
            print(f"{name:6s} {method:6s} best {r.fitness:.4f} (untuned {r.untuned:.4f}) "
                  f"lr {lrs[name, method]:.2e} in {time.perf_counter() - t0:.0f}s{extra}",
                  flush=True)
    print()
    print("| program | untuned | random | GA | PBT |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("adamw", "lion"):
        print(f"| {name} | {untuned[name]:.4f} | "
              + " | ".join(f"{best[name, m]:.4f}" for m in METHODS) + " |")
    ratios = {m: lrs["lion", m] / lrs["adamw", m] for m in METHODS}
    print("tuned Lion lr / tuned AdamW lr: "
          + ", ".join(f"{m} {ratios[m]:.3g}" for m in METHODS)
          + " (paper: 0.1-0.33, i.e. 3-10x smaller)")


if __name__ == "__main__":
    main()
