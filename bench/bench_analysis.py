"""Cost of preparing a child in a search, with the NumPy fingerprint vs its eager-JAX baseline.

A search prepares every child it proposes: mutate a parent, type-check the child, drop its
dead code, hash it and (on a hash miss) fingerprint it. This bench runs exactly those steps
on children of the built-in programs (parents in turn, the same children for both engines:
one mutation seed per repeat) and reports microseconds per child with

- the NumPy fingerprint (`symopt.analysis.fingerprint`, the registry's ``impl(xp, ...)``
  with ``xp = numpy``), and
- the baseline measured in the same run: the same fingerprint computed eagerly with
  ``xp = jax.numpy`` (the fingerprint's former engine: one eager JAX call per operation).

Issue 9's target: a few hundred microseconds per child at most (it was 51-76 children/s
with eager JAX). Also printed: the canonical hash, the fingerprint alone and the simplifier
on one program, against printing it (`to_text`) and the type checker's `infer`. The machine
is shared, so each figure is the best of several repeats.

    python bench/bench_analysis.py [--children 200] [--repeat 5]

The last line reads
``prepare a child: NumPy X us vs eager JAX Y us = Z x faster (A vs B children/s)``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from symopt import programs
from symopt.analysis import canonical_hash, fingerprint, simplify
from symopt.lang import infer, is_valid, parse_file, remove_dead, to_text
from symopt.search.evolution.mutation import MutationConfig, Mutator

_RAW = Path(__file__).resolve().parent.parent / "tests" / "programs" / "lion_raw.prog"


def best_us(fn: Callable[[], object], number: int, repeat: int = 7) -> float:
    """Best time of `fn` over `repeat` rounds of `number` calls, in microseconds per call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best * 1e6


def prepare_children(xp, parents: list, n: int, seed: int) -> tuple[float, int]:
    """Seconds to prepare `n` children (mutate, check, dead code, hash, fingerprint with `xp`),
    and how many were valid (invalid ones stop after the check, as in a search)."""
    mutator = Mutator(MutationConfig(), rng=seed)
    valid = 0
    start = time.perf_counter()
    for i in range(n):
        mutation = mutator.mutate(parents[i % len(parents)])
        if mutation.operator == "none" or not is_valid(mutation.program):
            continue
        live = remove_dead(mutation.program)
        canonical_hash(live)
        fingerprint(live, xp)
        valid += 1
    return time.perf_counter() - start, valid


def prepare_us(xp, parents: list, n: int, repeat: int) -> tuple[float, int]:
    """Best microseconds per child over `repeat` rounds (round r uses mutation seed r)."""
    prepare_children(xp, parents, len(parents), seed=-1)  # warm up (JAX: first calls)
    best, valid = float("inf"), 0
    for r in range(repeat):
        seconds, valid = prepare_children(xp, parents, n, seed=r)
        best = min(best, seconds / n)
    return best * 1e6, valid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--children", type=int, default=200, help="children per repeat")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    parents = [programs.load(name) for name in programs.names()]
    same = sum(fingerprint(p) == fingerprint(p, jnp) for p in parents)
    p = programs.load("adamw")
    raw = parse_file(_RAW)
    text_us = best_us(lambda: to_text(p), 2000)
    infer_us = best_us(lambda: infer(p), 2000)
    hash_us = best_us(lambda: canonical_hash(p), 2000)
    fp_us = best_us(lambda: fingerprint(p), 200)
    fp_jax_us = best_us(lambda: fingerprint(p, jnp), 20)
    simplify_us = best_us(lambda: simplify(raw), 5, repeat=3)
    np_child, valid = prepare_us(np, parents, args.children, args.repeat)
    jax_child, _ = prepare_us(jnp, parents, args.children, args.repeat)

    print(f"jax {jax.__version__}, numpy {np.__version__}, {jax.devices()[0].platform}")
    print(f"adamw.prog ({len(p.body)} statements)")
    print(f"  baseline to_text           {text_us:9.1f} us")
    print(f"  baseline infer (typecheck) {infer_us:9.1f} us")
    print(f"  canonical_hash             {hash_us:9.1f} us   target <= 100 us   "
          f"{hash_us / text_us:.1f}x to_text, {hash_us / infer_us:.1f}x infer")
    print(f"  fingerprint (NumPy)        {fp_us:9.1f} us   {fp_us / hash_us:.1f}x canonical_hash")
    print(f"  fingerprint (eager JAX)    {fp_jax_us:9.1f} us   {fp_jax_us / fp_us:.1f}x NumPy")
    print(f"lion_raw.prog ({len(raw.body)} statements)")
    print(f"  simplify (with check)      {simplify_us / 1e3:9.2f} ms")
    print(f"preparing children of the {len(parents)} built-in programs "
          f"({args.children} per repeat, {valid} valid, best of {args.repeat}; "
          f"fingerprints equal under both engines for {same}/{len(parents)} programs)")
    print(f"  NumPy fingerprint          {np_child:9.1f} us per child   "
          f"{1e6 / np_child:7.0f} children/s")
    print(f"  eager JAX fingerprint      {jax_child:9.1f} us per child   "
          f"{1e6 / jax_child:7.0f} children/s")
    print(f"prepare a child: NumPy {np_child:.0f} us vs eager JAX {jax_child:.0f} us = "
          f"{jax_child / np_child:.1f} x faster ({1e6 / np_child:.0f} vs "
          f"{1e6 / jax_child:.0f} children/s)")


if __name__ == "__main__":
    main()
