"""Children per second: mutate -> type check -> remove_dead -> canonical_hash -> seen set.

Run as ``python bench/bench_mutation.py [--seconds S] [--seed N]``. It pins
itself to one core (``os.sched_setaffinity``) where the OS allows it, and
measures in the same run:

- the baseline: plain type checks (`infer`) of ``programs/adamw.prog`` per second;
- valid children per second from mutation alone (type check included);
- valid, hashed children per second through the whole pipeline (target >= 5,000/s);
- the valid-on-first-try rate, mean tries, and the fraction of new hashes.

Parents are drawn from a small aging population seeded with AdamW, as in
evolution, so children are not all one mutation away from AdamW.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symopt.lang import infer, parse_file, to_text  # noqa: E402
from symopt.lang.dead_code import remove_dead  # noqa: E402
from symopt.search.evolution.mutation import MutationConfig, Mutator  # noqa: E402

TARGET = 5000.0
POPULATION = 100


def load_canonical_hash():
    """The real `canonical_hash`, or a text-hash stand-in (with a warning) if it is missing."""
    try:
        from symopt.analysis import canonical_hash
        return canonical_hash, "symopt.analysis.canonical_hash"
    except ImportError:
        pass
    try:
        from symopt.analysis.hashing import canonical_hash
        return canonical_hash, "symopt.analysis.hashing.canonical_hash"
    except ImportError:
        print("WARNING: symopt.analysis.canonical_hash is not available; hashing the "
              "printed text instead (not name- or order-invariant)")
        return (lambda p: hash(to_text(p, header=False))), "hash(to_text) stand-in"


def pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        try:
            cpu = min(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {cpu})
            return f"pinned to CPU {cpu}"
        except OSError as err:
            return f"not pinned ({err.strerror})"
    return "not pinned (no sched_setaffinity on this OS)"


def rate(fn, seconds: float) -> tuple[float, int]:
    """Calls of `fn` per second over about `seconds`, and the number of calls."""
    n, batch = 0, 64
    start = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed, n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    pinned = pin_one_core()
    canonical_hash, hash_name = load_canonical_hash()
    seed = parse_file(ROOT / "programs" / "adamw.prog")
    config = MutationConfig()

    def measure(pipeline: bool):
        mutator = Mutator(config, rng=args.seed)
        pick = random.Random(args.seed + 1)
        population = deque([seed] * POPULATION, maxlen=POPULATION)
        seen: set = set()
        stats = {"children": 0, "tries": 0, "first": 0, "new": 0}

        def one():
            child = mutator.mutate(population[pick.randrange(POPULATION)])
            stats["children"] += 1
            stats["tries"] += child.tries
            stats["first"] += child.tries == 1
            if pipeline:
                key = canonical_hash(remove_dead(child.program))
                if key not in seen:
                    seen.add(key)
                    stats["new"] += 1
            population.append(child.program)

        per_s, _ = rate(one, args.seconds)
        return per_s, stats

    check_rate, _ = rate(lambda: infer(seed), args.seconds)
    mutate_rate, m_stats = measure(pipeline=False)
    full_rate, f_stats = measure(pipeline=True)

    n = f_stats["children"]
    print(f"bench_mutation: programs/adamw.prog ({len(seed.body)} statements), {pinned}, "
          f"hash = {hash_name}, population {POPULATION}, {args.seconds:.1f} s per figure")
    print(f"  baseline: plain type checks        {check_rate:12,.0f} /s")
    print(f"  valid children (mutate only)       {mutate_rate:12,.0f} /s   "
          f"ratio to type checks {mutate_rate / check_rate:.3f}")
    print(f"  valid hashed children (pipeline)   {full_rate:12,.0f} /s   "
          f"ratio to type checks {full_rate / check_rate:.3f}   "
          f"target {TARGET:,.0f}/s: {'met' if full_rate >= TARGET else 'NOT met'}")
    print(f"  valid on first try {f_stats['first'] / n:.1%}, mean tries "
          f"{f_stats['tries'] / n:.3f}, new hashes {f_stats['new'] / n:.1%} "
          f"of {n:,} children (mutate-only run: {m_stats['first'] / m_stats['children']:.1%} "
          f"first try)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
