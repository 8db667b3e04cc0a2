"""Fitness throughput: evaluations per minute of three evaluators on the same programs.

    python bench/bench_fitness.py [--task nanogpt-tiny] [--programs bench/fitness_programs.json]
                                  [--limit N] [--steps S]

The programs (``bench/fitness_programs.json``) are distinct candidates of a real search
(good, bad and diverging ones; see ``"source"`` in the file). Each evaluator trains every
program once with the same training budget (the task's steps and multipliers):

1. ``per-program jit``: the compiled engine, one compile per program, divergence checked
   between chunks (what every search did before the interpreter);
2. ``compile-once``: the interpreter (one compile per size class), same checks;
3. ``compile-once + early stop``: the interpreter, divergence stopped at the first bad
   step, and hurdles at 25% and 50% of the run at the seed's curve x 1.1 (the seed,
   ``programs/adamw.prog``, is trained first without hurdles, inside the timing).

Compile time is included (a search pays it). The fitness of every program that ends
``ok`` under both engines must agree within 1e-3 relative (checked, printed). The last
line is the ratio of evaluations per minute, early-stopping engine / per-program jit.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import jax

from symopt.lang import parse, parse_file
from symopt.search.hurdles import hurdle_steps
from symopt.tasks import get_task
from symopt.tasks.train import ProgramOptimizer, evaluate


def run_all(name, programs, task, engine, early_stop, hurdle_margin=None):
    t0 = time.perf_counter()
    hurdles = []
    if hurdle_margin is not None:
        seed = evaluate(ProgramOptimizer(parse_file("programs/adamw.prog"), engine), task)
        at = dict(zip(seed.eval_steps, seed.curve, strict=True))
        hurdles = [(k, at[k] * (1 + hurdle_margin))
                   for k in hurdle_steps(task.steps, task.n_evals, (0.25, 0.5))]
    results = []
    for i, p in enumerate(programs):
        r = evaluate(ProgramOptimizer(p, engine), task, hurdles=hurdles, early_stop=early_stop)
        results.append(r)
        print(f"  {name} {i:2d}: {r.status:8} fitness {r.fitness:8.4f} steps {r.steps:4d} "
              f"compile {r.compile_s:5.1f}s run {r.run_s:5.1f}s  {r.message[:60]}", flush=True)
    minutes = (time.perf_counter() - t0) / 60
    print(f"  {name}: {len(results) / minutes:.2f} evaluations/min", flush=True)
    return results, minutes


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
          f"task: {task.describe()}, {len(programs)} programs from {data['source']}")
    evaluate(lambda lr: __import__("optax").sgd(lr), get_task(args.task, steps=2))  # warm JAX
    rows = {}
    for name, engine, early, margin in [
        ("per-program jit", "compiled", False, None),
        ("compile-once", "interpreted", False, None),
        ("compile-once + early stop", "interpreted", True, 0.1),
    ]:
        rows[name] = run_all(name, programs, task, engine, early, margin)
    base, base_min = rows["per-program jit"]
    worst, compared = 0.0, 0
    for name in ("compile-once", "compile-once + early stop"):
        for a, b in zip(base, rows[name][0], strict=True):
            if a.ok and b.ok:
                compared += 1
                worst = max(worst, abs(a.fitness - b.fitness) / abs(a.fitness))
    print()
    for name, (results, minutes) in rows.items():
        statuses = {s: sum(r.status == s for r in results) for s in
                    ("ok", "diverged", "hurdle", "timeout", "error")}
        steps = sum(r.steps for r in results)
        print(f"{name:>26}: {len(results) / minutes:6.2f} evaluations/min "
              f"({minutes:5.2f} min, {steps} training steps; "
              + ", ".join(f"{k} {v}" for k, v in statuses.items() if v) + ")")
    agree = "agree" if worst <= 1e-3 else "DISAGREE"
    print(f"fitness of ok programs vs per-program jit: max relative difference {worst:.2e} over "
          f"{compared} pairs ({agree} within 1e-3)")
    speed = {n: len(r) / m for n, (r, m) in rows.items()}
    print(f"compile-once alone: {speed['compile-once'] / speed['per-program jit']:.2f} x")
    ratio = speed["compile-once + early stop"] / speed["per-program jit"]
    if not math.isfinite(ratio):
        ratio = 0.0
    print(f"fitness throughput: {ratio:.2f} x the per-program jit evaluator")


if __name__ == "__main__":
    main()
