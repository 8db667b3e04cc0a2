"""Speed of one evaluation on a task (default nanogpt-tiny): compile s, run s, steps/s.

    python bench/bench_tasks.py [--task nanogpt-tiny] [--program programs/lion.prog] [--repeat 2]

Compares against optax.adamw in the same run, as a ratio. The first evaluation of a task
also compiles the task's shared parts (init, validation); later ones compile only the
optimizer's training chunk, which is what a search pays per candidate.
"""

from __future__ import annotations

import argparse
import functools

import jax
import optax

from symopt.tasks import evaluate, get_task


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="nanogpt-tiny")
    ap.add_argument("--program", action="append", default=[], help=".prog file(s) to time")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    task = get_task(args.task)
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"task: {task.describe()}")
    if hasattr(task, "unigram_entropy"):
        print(f"corpus: {task.text.describe()}")
    opts = {"optax.adamw": lambda lr: optax.adamw(lr, weight_decay=0.01),
            "optax.lion": lambda lr: optax.lion(lambda c: lr(c) / 3.0)}
    for path in args.program:
        from symopt.compile import to_optax
        from symopt.lang import parse_file

        opts[path] = functools.partial(to_optax, parse_file(path))
    evaluate(opts["optax.adamw"], get_task(args.task, steps=2))  # warm up JAX itself
    rows = {}
    for name, make_tx in opts.items():
        for i in range(args.repeat):
            fresh = (lambda f: (lambda lr: f(lr)))(make_tx)  # new object: compiles again
            r = evaluate(fresh, task)
            rows.setdefault(name, []).append(r)
            print(f"{name:>14} #{i}: {r.status:8} val loss {r.final_loss:.4f}  "
                  f"compile {r.compile_s:5.2f}s  run {r.run_s:5.2f}s  {r.steps_per_s:6.1f} steps/s")
    base = min(rows["optax.adamw"], key=lambda r: r.run_s)
    print("\nbest of repeats; ratio = this / optax.adamw")
    for name, rs in rows.items():
        c = min(r.compile_s for r in rs)
        r = min(r.run_s for r in rs)
        sps = max(x.steps_per_s for x in rs)
        print(f"{name:>14}: compile {c:5.2f}s ({c / base.compile_s:4.2f}x)  run {r:5.2f}s "
              f"({r / base.run_s:4.2f}x)  {sps:6.1f} steps/s  val loss {rs[0].final_loss:.4f}")


if __name__ == "__main__":
    main()
