"""Fitness throughput: evaluations per minute of three evaluators on the same programs.

    python bench/bench_fitness.py [--task nanogpt-tiny] [--programs bench/fitness_programs.json]
                                  [--limit N] [--steps S]

The programs (``bench/fitness_programs.json``) are distinct candidates of a real search
(good, bad and diverging ones; see ``"source"`` in the file). Each evaluator trains every
program once with the same training budget (the task's steps and learning-rate
multipliers):

1. ``per-program jit``: the compiled engine, one compile per program, divergence checked
   between chunks only (what every search did before the interpreter);
2. ``compile-once``: the interpreter (one compile per size class), the same checks;
3. ``compile-once + early stop``: the interpreter, divergence stopped at the first bad
   step, and hurdles at 25% and 50% of the run at the seed's curve x 1.1 (the seed,
   the built-in ``adamw``, is trained first without hurdles, inside this evaluator's time).

The evaluators take turns program by program, so a change in the machine's load falls on
all three alike. Compile time is included (a search pays it). The fitness of every
program that ends ``ok`` under both engines is compared. Where the engines differ by more
than 1e-3 relative, the bench also measures the program's own float32 sensitivity: the
compiled engine's fitness with the learning rate changed by one or two float32 ulps (a
change no larger than the rounding differences of two correct implementations); a program whose
difference between engines is within its own sensitivity is chaotic (e.g. `sign` of
values near zero), not wrongly computed. The last line is the ratio of evaluations per
minute, early-stopping engine / per-program jit.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import jax
import numpy as np
import optax

from symopt import programs as builtin
from symopt.lang import parse
from symopt.search.evolution.hurdles import hurdle_steps
from symopt.tasks import evaluate, get_task
from symopt.tasks.engine import ProgramOptimizer

EVALUATORS = [  # name, engine, early stop, hurdles
    ("per-program jit", "compiled", False, False),
    ("compile-once", "interpreted", False, False),
    ("compile-once + early stop", "interpreted", True, True),
]


def seed_hurdles(task) -> list[tuple[int, float]]:
    seed = evaluate(ProgramOptimizer(builtin.load("adamw"), "interpreted"), task)
    at = dict(zip(seed.eval_steps, seed.curve, strict=True))
    return [(k, at[k] * 1.1) for k in hurdle_steps(task.steps, task.n_evals, (0.25, 0.5))]


def sensitivity(program, task, fitness: float) -> float:
    """The largest relative change of the compiled engine's fitness when every learning-rate
    multiplier moves by -2, -1, +1 or +2 float32 ulps (one sample would understate it)."""
    worst = 0.0
    for ulps in (-2, -1, 1, 2):
        mults = []
        for m in task.lr_multipliers:
            x = np.float32(m)
            for _ in range(abs(ulps)):
                x = np.nextafter(x, np.float32(np.inf if ulps > 0 else 0))
            mults.append(float(x))
        r = evaluate(ProgramOptimizer(program, "compiled"), task, lr_multipliers=mults)
        worst = max(worst, abs(r.fitness - fitness) / abs(fitness) if r.ok else math.inf)
    return worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="nanogpt-tiny")
    ap.add_argument("--programs", default=str(Path(__file__).with_name("fitness_programs.json")))
    ap.add_argument("--limit", type=int, default=0, help="use only the first N programs")
    ap.add_argument("--steps", type=int, help="override the task's steps (all evaluators)")
    args = ap.parse_args()
    data = json.loads(Path(args.programs).read_text())
    programs = [parse(text) for text in data["programs"]]
    if args.limit:
        programs = programs[: args.limit]
    overrides = {} if args.steps is None else {"steps": args.steps}
    task = get_task(args.task, **overrides)
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"task: {task.describe()}, {len(programs)} programs from {data['source']}", flush=True)
    evaluate(lambda lr: optax.sgd(lr), task.replace(steps=2))  # load data, warm JAX (untimed)
    seconds = {name: 0.0 for name, *_ in EVALUATORS}
    results: dict[str, list] = {name: [] for name, *_ in EVALUATORS}
    t0 = time.perf_counter()
    hurdles = seed_hurdles(task)
    seconds["compile-once + early stop"] += time.perf_counter() - t0
    for i, p in enumerate(programs):
        for name, engine, early, with_hurdles in EVALUATORS:
            t0 = time.perf_counter()
            r = evaluate(ProgramOptimizer(p, engine), task, early_stop=early,
                         hurdles=hurdles if with_hurdles else ())
            seconds[name] += time.perf_counter() - t0
            results[name].append(r)
            print(f"  {i:2d} {name:>26}: {r.status:8} fitness {r.fitness:8.4f} steps "
                  f"{r.steps:4d} compile {r.compile_s:5.1f}s run {r.run_s:5.1f}s "
                  f"{r.message[:50]}", flush=True)
    base = results["per-program jit"]
    diffs = []
    for a, b, p in zip(base, results["compile-once"], programs, strict=True):
        if a.ok and b.ok:
            diffs.append((abs(a.fitness - b.fitness) / abs(a.fitness), a, p))
    print()
    for name, rs in results.items():
        statuses = {s: sum(r.status == s for r in rs) for s in
                    ("ok", "diverged", "hurdle", "timeout", "error")}
        steps = sum(r.steps for r in rs)
        print(f"{name:>26}: {60 * len(rs) / seconds[name]:6.2f} evaluations/min "
              f"({seconds[name] / 60:5.2f} min, {steps} training steps; "
              + ", ".join(f"{k} {v}" for k, v in statuses.items() if v) + ")")
    same_status = sum(a.status == b.status for a, b in zip(base, results["compile-once"],
                                                            strict=True))
    print(f"same status under both engines: {same_status}/{len(programs)} programs")
    within = sum(d <= 1e-3 for d, *_ in diffs)
    print(f"fitness of ok programs, interpreter vs per-program jit: {within}/{len(diffs)} within "
          f"1e-3 relative, max {max((d for d, *_ in diffs), default=0.0):.2e}")
    for d, a, p in diffs:
        if d > 1e-3:
            s = sensitivity(p, task, a.fitness)
            verdict = "within" if d <= max(s, 1e-3) else "OUTSIDE"
            print(f"  differs by {d:.2e}; a 1-2 ulp lr change moves the compiled fitness by up "
                  f"to {s:.2e} ({verdict} its own float32 sensitivity)")
    speed = {name: 60 * len(programs) / seconds[name] for name in seconds}
    print(f"compile-once alone: {speed['compile-once'] / speed['per-program jit']:.2f} x")
    ratio = speed["compile-once + early stop"] / speed["per-program jit"]
    print(f"fitness throughput: {ratio:.2f} x the per-program jit evaluator")


if __name__ == "__main__":
    main()
