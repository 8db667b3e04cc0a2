"""Cost of the canonical hash, the fingerprint and the simplifier on programs/adamw.prog.

Baselines measured in the same run: `to_text` (printing the program) and the
type checker's `infer` (which runs on every mutation). Targets: hash <= 100 us,
fingerprint <= 5 ms. The machine is shared, so each figure is the best of
several repeats.

    python bench/bench_analysis.py
"""

from __future__ import annotations

import time

from symopt.analysis import canonical_hash, fingerprint, simplify
from symopt.lang import infer, parse_file, to_text


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
    fp_us = best_us(lambda: fingerprint(p), 20)
    simplify_us = best_us(lambda: simplify(raw), 5, repeat=3)
    print(f"programs/adamw.prog ({len(p.body)} statements)")
    print(f"  baseline to_text         {text_us:9.1f} us")
    print(f"  baseline infer (typecheck){infer_us:8.1f} us")
    print(f"  canonical_hash           {hash_us:9.1f} us   target <= 100 us   "
          f"{hash_us / text_us:.1f}x to_text, {hash_us / infer_us:.1f}x infer")
    print(f"  fingerprint              {fp_us / 1e3:9.2f} ms   target <= 5 ms     "
          f"{fp_us / text_us:.0f}x to_text, {fp_us / hash_us:.0f}x canonical_hash")
    print(f"tests/programs/lion_raw.prog ({len(raw.body)} statements)")
    print(f"  canonical_hash           {hash_raw_us:9.1f} us")
    print(f"  simplify (with check)    {simplify_us / 1e3:9.2f} ms   "
          f"{simplify_us / fp_us:.1f}x fingerprint(adamw)")


if __name__ == "__main__":
    main()
