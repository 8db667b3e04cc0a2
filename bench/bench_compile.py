"""Step time of a small transformer: programs/adamw.prog compiled vs optax.adamw.

Runs `python bench/bench_compile.py [--steps N] [--repeats R]`. Uses the model of
`symopt.tasks.get_task("nanogpt-tiny")`. Both optimizers are timed in the same run,
interleaved (noisy shared machines), each as one jitted train step (grad + update +
apply); prints the median ms per step and the ratio compiled / optax.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import optax

from symopt.compile import to_optax
from symopt.lang import parse_file
from symopt.tasks import get_task


def make_step(task, tx):
    @jax.jit
    def step(params, state, batch):
        loss, grads = jax.value_and_grad(task.loss)(params, batch)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    return step


def time_steps(step, params, state, batch, n: int) -> float:
    """Seconds per step over `n` steps (after the caller's warm-up)."""
    start = time.perf_counter()
    for _ in range(n):
        params, state, loss = step(params, state, batch)
    jax.block_until_ready(loss)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved timings each")
    args = parser.parse_args()

    task = get_task("nanogpt-tiny")
    data = task.load_data()
    params = task.init_params(jax.random.PRNGKey(0))
    batch = task.train_batch(data, jax.random.PRNGKey(1))
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(params))
    lr = 1e-3
    contenders = {
        "optax.adamw": optax.adamw(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01),
        "adamw.prog": to_optax(parse_file("programs/adamw.prog"), lr),
    }
    runs = {}
    for name, tx in contenders.items():
        step, state = make_step(task, tx), tx.init(params)
        time_steps(step, params, state, batch, 3)  # compile and warm up
        runs[name] = (step, state)
    times = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, (step, state) in runs.items():
            times[name].append(time_steps(step, params, state, batch, args.steps))
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f"nanogpt-tiny: {n_params} parameters, {jax.devices()[0].platform}, "
          f"{args.repeats} x {args.steps} steps each, interleaved")
    for name, t in med.items():
        print(f"  {name:12s} median {1e3 * t:8.3f} ms/step  (min {1e3 * min(times[name]):.3f})")
    print(f"  ratio adamw.prog / optax.adamw: {med['adamw.prog'] / med['optax.adamw']:.3f}")


if __name__ == "__main__":
    main()
