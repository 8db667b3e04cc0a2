"""Population-parallel training: evaluations per minute at several population batches.

    python bench/bench_batch.py [--task nanogpt-tiny] [--batches 1,4,16] [--steps S]
                                [--children M] [--repeat R] [--seed 0] [--quick]

On an accelerator: ``--batches 1,32,256``. The programs are distinct valid children of a
search from ``adamw`` (the project's `Mutator`, each parent drawn from the last 20 kept
children, distinct by canonical hash; no selection, so good, bad and diverging ones), as
many as the largest batch unless ``--children`` says more. First every child is trained
alone with `symopt.tasks.evaluate` (the reference). Then, for each batch size N, the same
children are trained in calls of N (`symopt.tasks.batch.evaluate_batch`, the path of
``[search] batch = N``): a first pass compiles what it meets (reported apart), then
``--repeat`` timed rounds go over all the batch sizes in turn (so a change in the
machine's load falls on all alike) and the best round of each is kept. Every batched
result must have the reference's status, and ok ones its fitness within 1e-3 relative,
unless the child is chaotic in float32 (moving its learning rate or its constants by one
or two ulps moves its own fitness by more than the difference; measured only for
children that differ).
Peak device memory is printed where the backend reports it (``memory_stats``; the CPU
backend does not). Optimizer state bytes per batch member, for adamw and lion, are those
of the interpreter's state (`InterpState`: count and state slots), the compiled engine's
and, for comparison, the state the interpreter kept before issue 21 (its whole register
file). The last line is the throughput at the largest batch and its ratio to batch 1.

On a CPU `evaluate_batch` does not train different programs in one call (under ``vmap``
the interpreter's ``lax.switch`` runs every branch: see `symopt.tasks.batch`): a batch of
N is N calls, each batched over its seeds x multipliers, so batches above 1 can only
match batch 1; the gain is on accelerators.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time

import jax
import numpy as np

from symopt import programs as builtin
from symopt.analysis.hashing import canonical_hash
from symopt.compile import to_optax
from symopt.compile.interpreter import SizeClass, encode, interpreted_tx
from symopt.lang.dead_code import remove_dead
from symopt.search.evolution.mutation import Mutator
from symopt.tasks import evaluate, get_task
from symopt.tasks.batch import evaluate_batch
from symopt.tasks.engine import ProgramOptimizer


def children(n: int, seed: int) -> list:
    """`n` distinct valid children of a walk from adamw (see the module docstring)."""
    rng, mutator = random.Random(seed), Mutator(rng=seed)
    adamw = builtin.load("adamw")
    kept, seen = [adamw], {canonical_hash(remove_dead(adamw))}
    while len(kept) <= n:
        child = mutator.mutate(rng.choice(kept[-20:])).program
        h = canonical_hash(remove_dead(child))
        if h not in seen:
            encode(child)  # valid: it type-checks and fits a size class
            seen.add(h)
            kept.append(child)
    return kept[1:]


def device_name() -> str:
    d = jax.devices()[0]
    if jax.default_backend() == "cpu":
        return f"cpu ({os.cpu_count()} cores)"
    return f"{d.device_kind} ({jax.default_backend()})"


def peak_memory() -> str:
    stats = jax.devices()[0].memory_stats()
    if not stats or "peak_bytes_in_use" not in stats:
        return f"not reported by the {jax.default_backend()} backend"
    return f"{stats['peak_bytes_in_use'] / 2**20:.1f} MiB (peak since start)"


def state_bytes(task) -> None:
    """Optimizer state bytes per batch member, adamw and lion, interpreter vs compiled."""
    params = jax.eval_shape(task.init_params, jax.random.PRNGKey(0))
    leaves = jax.tree_util.tree_leaves(params)
    n = sum(math.prod(x.shape) for x in leaves)
    p_bytes = sum(math.prod(x.shape) * x.dtype.itemsize for x in leaves)
    print(f"optimizer state per batch member ({task.name}: {n} parameters, "
          f"{p_bytes / 2**20:.2f} MiB):")

    def nbytes(tree) -> int:
        return sum(math.prod(x.shape) * x.dtype.itemsize for x in jax.tree_util.tree_leaves(tree))

    for name in ("adamw", "lion"):
        p = builtin.load(name)
        interp = nbytes(jax.eval_shape(interpreted_tx(1e-3, encode(p)).init, params))
        compiled = nbytes(jax.eval_shape(to_optax(p, 1e-3).init, params))
        # before issue 21: slots padded to 4 and the register file (scalars, leaf scalars,
        # tensors) of 4 + 4 + 2 x 16 rows, all float32 here
        rows = 4 + 4 + 2 * 16
        before = 4 * (1 + 4 * n + rows * (1 + len(leaves) + n))
        print(f"  {name:5}: interpreter {interp / 2**20:8.2f} MiB ({interp / p_bytes:.2f} x "
              f"params), compiled engine {compiled / 2**20:8.2f} MiB "
              f"({compiled / p_bytes:.2f} x), register file in the state (before) "
              f"{before / 2**20:8.2f} MiB ({before / p_bytes:.1f} x)")


def _ulps(x: float, k: int) -> float:
    y = np.float32(x)
    for _ in range(abs(k)):
        y = np.nextafter(y, np.float32(np.inf if k > 0 else -np.inf))
    return float(y)


def sensitivity(program, task, fitness: float) -> float:
    """The largest relative change of the child's own fitness (trained alone) when every
    learning-rate multiplier, or every constant of the program, moves by -2, -1, +1 or +2
    float32 ulps (the constants matter for children that do not read `lr`)."""
    worst = 0.0
    for k in (-2, -1, 1, 2):
        for prog, mults in ((program, [_ulps(m, k) for m in task.lr_multipliers]),
                            (program.with_constants([_ulps(c, k) for c in program.constants()]),
                             None)):
            r = evaluate(ProgramOptimizer(prog), task, lr_multipliers=mults)
            worst = max(worst, abs(r.fitness - fitness) / abs(fitness) if r.ok else math.inf)
    return worst


def batched_pass(opts, task, n: int) -> tuple[float, list]:
    t0 = time.perf_counter()
    out = []
    for i in range(0, len(opts), n):
        out += [per_seed[0] for per_seed in evaluate_batch(opts[i:i + n], task)]
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="nanogpt-tiny")
    ap.add_argument("--batches", help="population batch sizes (default 1,4,16; e.g. 1,32,256)")
    ap.add_argument("--steps", type=int, help="override the task's training steps")
    ap.add_argument("--children", type=int, default=0, help="children (default: largest batch)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the mutation walk")
    ap.add_argument("--repeat", type=int, default=1, help="timed rounds (best kept)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 20 steps, batches 1,2 unless given")
    args = ap.parse_args()
    default = "1,2" if args.quick else "1,4,16"
    batches = [int(b) for b in (args.batches or default).split(",")]
    if any(b < 1 for b in batches):
        ap.error("--batches: positive integers")
    steps = 20 if args.quick and args.steps is None else args.steps
    task = get_task(args.task, **({} if steps is None else {"steps": steps}))
    kids = children(max(max(batches), args.children), args.seed)
    opts = [ProgramOptimizer(p) for p in kids]
    sizes: dict[SizeClass, int] = {}
    for o in opts:
        sizes[o.encoded().size] = sizes.get(o.encoded().size, 0) + 1
    print(f"device: {device_name()}, jax {jax.__version__}; task: {task.describe()}; "
          f"{len(kids)} children of adamw; size classes: "
          + ", ".join(f"{s.statements}x{s.slots} slots: {k}" for s, k in sizes.items()),
          flush=True)
    state_bytes(task)

    t0 = time.perf_counter()
    ref = [evaluate(o, task) for o in opts]
    ref_s = time.perf_counter() - t0
    statuses = {s: sum(r.status == s for r in ref) for s in ("ok", "diverged", "error")}
    print(f"one at a time (evaluate, compiles included): {ref_s:.1f} s, "
          f"{60 * len(ref) / ref_s:.2f} evaluations/min; "
          + ", ".join(f"{k} {v}" for k, v in statuses.items() if v), flush=True)

    first = {n: batched_pass(opts, task, n)[0] for n in batches}  # compiles what it meets
    warm: dict[int, float] = {}
    got: dict[int, list] = {}
    for _ in range(args.repeat):  # rounds over the batch sizes: load changes fall on all
        for n in batches:
            seconds, got[n] = batched_pass(opts, task, n)
            warm[n] = min(warm.get(n, math.inf), seconds)
    speed = {n: 60 * len(opts) / warm[n] for n in batches}
    for n in batches:
        same = sum(a.status == b.status for a, b in zip(ref, got[n], strict=True))
        diffs = [(abs(a.fitness - b.fitness) / abs(a.fitness), p, a)
                 for a, b, p in zip(ref, got[n], kids, strict=True) if a.ok and b.ok]
        worst = max((d for d, *_ in diffs), default=0.0)
        print(f"batch {n:4d}: {speed[n]:7.2f} evaluations/min ({warm[n]:.1f} s warm, best of "
              f"{args.repeat}; first pass, compiling: {first[n]:.1f} s); same status "
              f"{same}/{len(opts)}; fitness within 1e-3: "
              f"{sum(d <= 1e-3 for d, *_ in diffs)}/{len(diffs)} (max {worst:.1e})", flush=True)
        for d, p, a in diffs:
            if d > 1e-3:
                s = sensitivity(p, task, a.fitness)
                verdict = "chaotic" if d <= s else "NOT chaotic: a defect"
                print(f"    child {kids.index(p)} differs by {d:.1e}; 1-2 ulps of lr or of its "
                      f"constants move its own fitness by up to {s:.1e} ({verdict})", flush=True)
    print(f"peak device memory: {peak_memory()}")
    top, base = max(batches), speed.get(1)
    ratio = f"{speed[top] / base:.2f} x batch 1" if base else "no batch 1 measured"
    print(f"batched throughput: {speed[top]:.2f} evaluations/min at batch {top} ({ratio}) "
          f"on {device_name()}")


if __name__ == "__main__":
    main()
