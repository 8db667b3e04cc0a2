"""Evolution vs random search on quick.toml, same number of training runs, several seeds.

    python bench/bench_search.py [--budget N] [--seeds 3] [--config search_configs/quick.toml]

Evolution: `run_search` from programs/adamw.prog (seed evaluation counted in the budget).
Random search (the baseline, measured in the same run): random valid programs with the
seed's signature and a length drawn around the seed's (so "similar length"), each
deduplicated by canonical hash, trained on the same task until the same number of
training runs; the best fitness of each is compared. Lower fitness is better.
Also prints children/s, cache hit %, invalid-child % and evaluations/min of evolution.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symopt.analysis.hashing import canonical_hash  # noqa: E402
from symopt.lang import parse_file, to_text  # noqa: E402
from symopt.lang.dead_code import remove_dead  # noqa: E402
from symopt.search.config.loading import load_config  # noqa: E402
from symopt.search.evolution.loop import run_search  # noqa: E402
from symopt.search.evolution.random_programs import random_program  # noqa: E402
from symopt.search.execution.executor import evaluate_text  # noqa: E402


def random_search(cfg, seed_program, budget: int, seed: int) -> float:
    rng = random.Random(seed)
    mcfg = cfg.mutation
    n = len(remove_dead(seed_program).body)
    seen, best, spec = set(), math.inf, cfg.task.spec()
    while len(seen) < budget:
        length = max(1, min(mcfg.max_statements, n + rng.randint(-3, 3)))
        p = remove_dead(random_program(rng, seed_program, length, mcfg))
        h = canonical_hash(p)
        if h in seen:
            continue
        seen.add(h)
        best = min(best, evaluate_text(to_text(p, header=False), spec).fitness)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=None, help="default: the config's budget")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--config", default="search_configs/quick.toml")
    args = ap.parse_args()
    cfg = load_config(args.config)
    budget = args.budget or cfg.search.budget
    seed_program = parse_file("programs/adamw.prog")
    rows = []
    for s in range(args.seeds):
        c = cfg.with_search(budget=budget, random_seed=s, workers=1)
        t0 = time.perf_counter()
        res = run_search(c, Path(tempfile.mkdtemp()) / "run", seeds=["programs/adamw.prog"])
        t_evo = time.perf_counter() - t0
        t0 = time.perf_counter()
        rnd = random_search(c, seed_program, budget, s)
        t_rnd = time.perf_counter() - t0
        st = res.stats
        rows.append((s, st.seed_fitness, res.best.fitness, rnd))
        print(f"seed {s}: adamw seed {st.seed_fitness:.5g}  evolution best {res.best.fitness:.5g}"
              f"  random search best {rnd:.5g}  | evolution: {st.candidates} candidates, "
              f"{st.cache_hit_pct:.1f}% cache hits, {st.invalid_pct:.1f}% invalid children, "
              f"{st.redundant_pct:.1f}% redundant, {st.evals_per_min:.1f} evals/min, "
              f"{st.children_per_s:.0f} children/s prepared, {t_evo:.0f}s; random {t_rnd:.0f}s",
              flush=True)
    wins = sum(e < r for _, _, e, r in rows)
    ratios = [e / r for _, _, e, r in rows if math.isfinite(r) and r > 0]
    print(f"evolution beat random search on {wins}/{len(rows)} seeds with {budget} "
          f"training runs each; best-fitness ratio evolution/random: median "
          f"{statistics.median(ratios) if ratios else float('nan'):.3g} (lower is better)")


if __name__ == "__main__":
    main()
