"""Cost of the canonical hash, the fingerprint and the simplifier on programs/adamw.prog.

Baselines measured in the same run: `to_text` (printing the program) and the
type checker's `infer` (which runs on every mutation), and the fingerprint's former
engine (the compiled program run eagerly with JAX). Targets: hash <= 100 us, fingerprint
(NumPy, from the registry's implementations) a few hundred us, and preparing a child
(mutate -> check -> dead code -> hash -> fingerprint) a few hundred us. The machine is
shared, so each figure is the best of several repeats.

    python bench/bench_analysis.py
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from symopt.analysis import canonical_hash, fingerprint, simplify
from symopt.analysis.fingerprinting import LRS, SHAPES, STEPS, fixed_inputs
from symopt.compile import update_fn
from symopt.lang import infer, is_valid, parse_file, remove_dead, to_text
from symopt.search.mutation import MutationConfig, Mutator


def jax_trace(program):
    """The fingerprint's former engine: the compiled program, eager JAX, same inputs."""
    run = update_fn(program)
    weights, grads = fixed_inputs()
    w = [jnp.asarray(x) for x in weights]
    state = tuple([jnp.zeros(s, jnp.float32) for s in SHAPES] for _ in range(program.n_state))
    for t in range(STEPS):
        update, state = run(w, [jnp.asarray(x) for x in grads[t]], state, LRS[t], t + 1)
        w = [a - b for a, b in zip(w, update, strict=True)]
    return jax.block_until_ready(w)


def best_us(fn, number: int, repeat: int = 7) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best * 1e6


def main() -> None:
    p = parse_file("programs/adamw.prog")
    raw = parse_file("tests/programs/lion_raw.prog")
    text_us = best_us(lambda: to_text(p), 2000)
    infer_us = best_us(lambda: infer(p), 2000)
    hash_us = best_us(lambda: canonical_hash(p), 2000)
    hash_raw_us = best_us(lambda: canonical_hash(raw), 2000)
    fp_us = best_us(lambda: fingerprint(p), 200)
    jax_us = best_us(lambda: jax_trace(p), 20)
    mutator = Mutator(MutationConfig(), rng=0)

    def prepare():
        child = mutator.mutate(p).program
        if is_valid(child):
            live = remove_dead(child)
            canonical_hash(live)
            fingerprint(live)

    prepare_us = best_us(prepare, 200)
    simplify_us = best_us(lambda: simplify(raw), 5, repeat=3)
    print(f"programs/adamw.prog ({len(p.body)} statements)")
    print(f"  baseline to_text         {text_us:9.1f} us")
    print(f"  baseline infer (typecheck){infer_us:8.1f} us")
    print(f"  canonical_hash           {hash_us:9.1f} us   target <= 100 us   "
          f"{hash_us / text_us:.1f}x to_text, {hash_us / infer_us:.1f}x infer")
    print(f"  fingerprint (NumPy)      {fp_us:9.1f} us   "
          f"{fp_us / text_us:.0f}x to_text, {fp_us / hash_us:.1f}x canonical_hash")
    print(f"  former JAX eager trace   {jax_us:9.1f} us   (the same steps through update_fn)")
    print(f"  prepare a child          {prepare_us:9.1f} us   "
          "(mutate, check, dead code, hash, fingerprint)")
    print(f"tests/programs/lion_raw.prog ({len(raw.body)} statements)")
    print(f"  canonical_hash           {hash_raw_us:9.1f} us")
    print(f"  simplify (with check)    {simplify_us / 1e3:9.2f} ms   "
          f"{simplify_us / fp_us:.1f}x fingerprint(adamw)")
    print(f"fingerprint: NumPy {fp_us:.0f} us vs eager JAX {jax_us:.0f} us = "
          f"{jax_us / fp_us:.1f}x faster; prepare a child {prepare_us:.0f} us")


if __name__ == "__main__":
    main()
