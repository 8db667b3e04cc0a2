"""The paper's Figure 2 on our proxy: evolution vs constants-only vs random search at an
equal number of training runs, against the seed with its learning rate tuned.

    python bench/bench_quality.py [--budget 150] [--searches 3] [--workers 2]
        [--steps N] [--transfer-steps N] [--transfer-lr 0.5,1,2] [--no-transfer]
        [--transfer-tasks nanogpt-small,vit-tiny] [--config search_configs/default.toml]
        [--plot bench/quality.png] [--out DIR]

For each method (`[search] method` = evolution, constants, random) and search seed
0..searches-1, a search of `--budget` training runs (the seed's evaluation included; cache
hits are free) from programs/adamw.prog on the default config's proxy task
(search_configs/default.toml: nanogpt-tiny; `--steps` shortens its runs). The baseline,
measured in the same run: the seed program with its learning rate tuned over
x0.5, x1, x2, x4 (4 training runs; fitness = the best). Then each method's winner (its
best program over its searches) and the seed are trained on nanogpt-small and vit-tiny
under the same learning-rate grid (`--transfer-lr`), the transfer check.

Prints a table (mean ± std of the best fitness per method, how many searches beat the
LR-tuned seed, each winner's transfer results), writes a plot of the best fitness
against training runs (mean over searches, min-max band) and ends with the line
`evolution vs constants-only: mean best X vs Y (N/S searches better)` (N: searches of
evolution whose best beats the constants-only search of the same search seed).
Lower fitness (validation loss) is better. With `--out DIR` the run directories are kept,
and a rerun with the same DIR reuses the searches stored there (finishing any that was
cut short): e.g. after an interruption, only the rest is trained.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symopt.lang import parse, parse_file, to_text  # noqa: E402
from symopt.search.config.loading import (  # noqa: E402
    SearchConfig,
    default_config_path,
    load_config,
)
from symopt.search.evolution.loop import remove_dead_text, run_search  # noqa: E402
from symopt.search.execution.executor import EvalJob, make_executor  # noqa: E402
from symopt.search.storage.store import RunStore  # noqa: E402

METHODS = ("evolution", "constants", "random")
LABELS = {"evolution": "evolution", "constants": "constants-only", "random": "random"}
SEED_LR_GRID = [0.5, 1.0, 2.0, 4.0]


def evaluate_all(jobs: list[tuple[str, dict]], workers: int) -> list[float]:
    """Fitness of each (program text, task spec), `workers` training runs at a time."""
    executor = make_executor(workers=workers)
    try:
        futures = [executor.submit(EvalJob(text, spec)) for text, spec in jobs]
        return [executor.outcome(f).fitness for f in futures]
    finally:
        executor.shutdown()


def curve(run_dir: Path) -> list[float]:
    """Best fitness so far after each training run (cache hits cost nothing)."""
    store = RunStore.open(run_dir)
    try:
        best, out = math.inf, []
        for rec in store.candidates():
            best = min(best, rec.fitness)
            if not rec.cache_hit:
                out.append(best)
        return out
    finally:
        store.close()


def check_same_search(run_dir: Path, cfg) -> None:
    """A stored search is reused only if it is the one this bench would run."""
    store = RunStore.open(run_dir)
    try:
        stored = SearchConfig.from_dict(store.config, source=str(run_dir))
    finally:
        store.close()
    mine = dataclasses.replace(cfg, search=dataclasses.replace(
        cfg.search, workers=stored.search.workers))
    if stored.to_dict() != mine.to_dict():
        sys.exit(f"{run_dir}: holds a different search (another budget, task or config); "
                 f"use another --out")


def best_program(run_dir: Path) -> tuple[float, str]:
    store = RunStore.open(run_dir)
    try:
        rec = store.best(1)[0]
        return rec.fitness, rec.program_text
    finally:
        store.close()


def fmt(xs: list[float]) -> str:
    finite = [x for x in xs if math.isfinite(x)]
    if not finite:
        return "inf"
    sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return f"{statistics.mean(finite):.4f} ± {sd:.4f}" + (
        f" ({len(xs) - len(finite)} inf)" if len(finite) < len(xs) else "")


def plot(curves: dict[str, list[list[float]]], seed_tuned: float, path: Path,
         title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, runs in curves.items():
        n = min(len(c) for c in runs)
        xs = list(range(1, n + 1))
        cols = [[c[i] for c in runs] for i in range(n)]
        mean = [statistics.mean(v) if all(map(math.isfinite, v)) else math.nan for v in cols]
        ax.plot(xs, mean, label=LABELS[method])
        ax.fill_between(xs, [min(v) for v in cols], [max(v) for v in cols], alpha=0.2)
    ax.axhline(seed_tuned, color="k", ls="--", lw=1, label="seed, LR tuned")
    ax.set_xlabel("training runs")
    ax.set_ylabel("best validation loss so far")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=150, help="training runs per search")
    ap.add_argument("--searches", type=int, default=3, help="search seeds per method")
    ap.add_argument("--workers", type=int, default=None, help="default: the config's")
    ap.add_argument("--config", default=str(default_config_path()))
    ap.add_argument("--seed-program", default="programs/adamw.prog")
    ap.add_argument("--steps", type=int, default=None, help="override the proxy's steps")
    ap.add_argument("--transfer-steps", type=int, default=None,
                    help="override the steps of the transfer tasks (default: theirs)")
    ap.add_argument("--transfer-lr", default="0.5,1,2", help="lr multipliers of transfer runs")
    ap.add_argument("--transfer-tasks", default="nanogpt-small,vit-tiny")
    ap.add_argument("--no-transfer", action="store_true")
    ap.add_argument("--plot", default="bench/quality.png")
    ap.add_argument("--out", default=None, help="keep the run directories here; a rerun with "
                    "the same --out reuses (or finishes) the searches stored there")
    args = ap.parse_args()

    start = time.perf_counter()
    cfg = load_config(args.config)
    overrides = dict(cfg.task.overrides)
    if args.steps:
        overrides["steps"] = args.steps
    # Training runs are the budget: no time limit, so a loaded machine cannot turn slow
    # runs into timeouts (the fitness is then the same as on an idle one).
    cfg = dataclasses.replace(cfg, funnel=(), task=dataclasses.replace(
        cfg.task, overrides=overrides, time_limit_s=None))
    cfg = cfg.with_search(budget=args.budget,
                          **({"workers": args.workers} if args.workers else {}))
    seed_text = to_text(parse_file(args.seed_program), header=False)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-quality-"))
    print(f"proxy {cfg.task.name} {overrides or ''}, budget {args.budget} training runs per "
          f"search, {args.searches} searches per method, workers {cfg.search.workers}; "
          f"runs in {out}", flush=True)

    # The LR-tuned seed: one run per multiplier (in parallel), the best kept.
    seed_tuned = min(evaluate_all([(seed_text, {**cfg.task.spec(), "lr_multipliers": [m]})
                                   for m in SEED_LR_GRID], cfg.search.workers))
    print(f"seed ({args.seed_program}) with lr tuned over x{SEED_LR_GRID}: {seed_tuned:.4f}",
          flush=True)

    best: dict[str, list[float]] = {m: [] for m in METHODS}
    curves: dict[str, list[list[float]]] = {m: [] for m in METHODS}
    winners: dict[str, tuple[float, str]] = {}
    for method in METHODS:
        for s in range(args.searches):
            t0 = time.perf_counter()
            run_dir = out / f"{method}-{s}"
            mcfg = cfg.with_search(method=method, random_seed=s)
            reused = (run_dir / "run.sqlite").is_file()  # an earlier run of this bench
            if reused:
                check_same_search(run_dir, mcfg)
                run_search(mcfg, run_dir, resume=True)  # finishes it if it was cut short
            else:
                run_search(mcfg, run_dir, seeds=[args.seed_program])
            fit, text = best_program(run_dir)
            best[method].append(fit)
            curves[method].append(curve(run_dir))
            if method not in winners or fit < winners[method][0]:
                winners[method] = (fit, text)
            print(f"{LABELS[method]} search {s}: best {fit:.4f} "
                  f"({time.perf_counter() - t0:.0f}s{', reused from --out' if reused else ''})",
                  flush=True)

    transfer: dict[str, dict[str, float]] = {}
    tasks = [] if args.no_transfer else args.transfer_tasks.split(",")
    grid = [float(x) for x in args.transfer_lr.split(",")]
    programs = {"seed": seed_text} | {m: remove_dead_text(parse(t))
                                      for m, (_, t) in winners.items()}
    jobs = []  # (program name, task, multiplier): the best multiplier is kept per task
    for task in tasks:
        for m in grid:
            tspec = {"name": task, "seeds": [0], "lr_multipliers": [m], "time_limit_s": None,
                     "overrides": {"steps": args.transfer_steps} if args.transfer_steps else {}}
            jobs += [((name, task), (text, tspec)) for name, text in programs.items()]
    fits = evaluate_all([job for _, job in jobs], cfg.search.workers) if jobs else []
    for ((name, task), _), fit in zip(jobs, fits):
        slot = transfer.setdefault(name, {})
        slot[task] = min(slot.get(task, math.inf), fit)
    for name in programs:
        for task in tasks:
            print(f"transfer {task}: {name} {transfer[name][task]:.4f}", flush=True)

    print()
    print(f"| method | best fitness (mean ± std, {args.searches} searches) | "
          f"beat LR-tuned seed |" + "".join(f" winner {t} |" for t in tasks))
    print("| --- | --- | --- |" + " --- |" * len(tasks))

    def tcell(name: str, task: str) -> str:
        v = transfer.get(name, {}).get(task)
        return "—" if v is None else f"{v:.4f}"

    print(f"| seed, LR tuned (x0.5..x4) | {seed_tuned:.4f} | — |"
          + "".join(f" {tcell('seed', t)} |" for t in tasks))
    for m in METHODS:
        beat = sum(1 for f in best[m] if f < seed_tuned)
        print(f"| {LABELS[m]} | {fmt(best[m])} | {beat}/{args.searches} |"
              + "".join(f" {tcell(m, t)} |" for t in tasks))
    plot(curves, seed_tuned, Path(args.plot),
         f"{cfg.task.name}, {args.searches} searches x {args.budget} runs")
    print(f"plot: {args.plot}; wall time {time.perf_counter() - start:.0f}s")
    evo, con = best["evolution"], best["constants"]
    better = sum(1 for e, c in zip(evo, con) if e < c)
    print(f"evolution vs constants-only: mean best {_mean(evo):.4f} vs {_mean(con):.4f} "
          f"({better}/{args.searches} searches better)")


def _mean(xs: list[float]) -> float:
    return statistics.mean(xs) if xs else math.nan


if __name__ == "__main__":
    main()
