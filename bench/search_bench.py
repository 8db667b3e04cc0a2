"""Shared parts of the search-quality benchmarks (`bench_quality.py`, `bench_discovery.py`):
their common flags, the learning-rate-tuned reference, searches that resume from `--out`,
best-so-far curves against training steps, the plot with each method's mean and min-max
band, and the Mann-Whitney p-value of `symopt.report.discussion.compare_arms` (the statistics
`symopt report` and sweeps use).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symopt.analysis import simplify, to_nested_text  # noqa: E402
from symopt.errors import SymoptError  # noqa: E402
from symopt.lang import parse, remove_dead  # noqa: E402
from symopt.report.discussion import Arm, compare_arms  # noqa: E402
from symopt.search.config.loading import SearchConfig  # noqa: E402
from symopt.search.evolution.loop import run_search  # noqa: E402
from symopt.search.execution.executor import EvalJob, make_executor  # noqa: E402
from symopt.search.storage.store import RunStore  # noqa: E402


def add_arguments(ap: argparse.ArgumentParser, plot: str) -> None:
    """The flags both benchmarks take (`plot`: the default of `--plot`)."""
    from symopt.search.config.loading import default_config_path

    ap.add_argument("--budget", type=int, default=12000, help="training steps per search")
    ap.add_argument("--searches", type=int, default=5, help="search seeds per method")
    ap.add_argument("--workers", type=int, default=None, help="default: the config's")
    ap.add_argument("--config", default=str(default_config_path()))
    ap.add_argument("--steps", type=int, default=None, help="override the proxy's steps")
    ap.add_argument("--plot", default=plot)
    ap.add_argument("--out", default=None, help="keep the run directories here; a rerun with "
                    "the same --out reuses (or finishes) the searches stored there")


def bench_config(args) -> tuple[SearchConfig, int]:
    """The search config of a quality benchmark and the steps of one full run: the config
    file's proxy (its steps overridden by ``args.steps``), no funnel and no time limit
    (training steps are the budget, so a loaded machine cannot turn slow runs into
    timeouts: the fitness is the same as on an idle one), ``args.budget`` training steps."""
    from symopt.search.config.loading import load_config
    from symopt.tasks import get_task

    cfg = load_config(args.config)
    overrides = dict(cfg.task.overrides)
    if args.steps:
        overrides["steps"] = args.steps
    cfg = dataclasses.replace(cfg, funnel=(), task=dataclasses.replace(
        cfg.task, overrides=overrides, time_limit_s=None))
    cfg = cfg.with_search(budget=args.budget, budget_unit="steps",
                          **({"workers": args.workers} if args.workers else {}))
    return cfg, get_task(cfg.task.name, **overrides).steps * len(cfg.task.seeds)


def evaluate_all(jobs: list[tuple[str, dict]], workers: int) -> list[float]:
    """Fitness of each (program text, task spec), `workers` training runs at a time."""
    executor = make_executor(workers=workers)
    try:
        futures = [executor.submit(EvalJob(text, spec)) for text, spec in jobs]
        return [executor.outcome(f).fitness for f in futures]
    finally:
        executor.shutdown()


def lr_tuned(text: str, cfg: SearchConfig, grid: list[float]) -> float:
    """A program's fitness with its learning rate tuned: one run per multiplier of `grid`
    (in parallel), the best kept."""
    return min(evaluate_all([(text, {**cfg.task.spec(), "lr_multipliers": [m]}) for m in grid],
                            cfg.search.workers))


def check_same_search(run_dir: Path, cfg: SearchConfig) -> None:
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


def search(cfg: SearchConfig, run_dir: Path, seed_program: str) -> bool:
    """Run the search into `run_dir`, or finish the one stored there (True: reused)."""
    reused = (run_dir / "run.sqlite").is_file()
    if reused:
        check_same_search(run_dir, cfg)
        res = run_search(cfg, run_dir, resume=True)  # finishes it if it was cut short
    else:
        res = run_search(cfg, run_dir, seeds=[seed_program])
    if res.seed_failed:  # nothing to compare: say why, keep what was stored
        sys.exit(f"{run_dir}: the search stopped: {res.seed_failed} (remove that directory "
                 f"to run this search again)")
    if res.interrupted:  # Ctrl-C: the search stored what it did; so does the bench
        sys.exit(f"{run_dir}: interrupted; the same command resumes it")
    return reused


@dataclasses.dataclass
class Searched:
    """One finished search: its best fitness and program, the steps it spent, its curve."""

    fitness: float
    text: str
    steps: int
    curve: list[tuple[int, float]]


def run_searches(cfg: SearchConfig, out: Path, name: str, label: str, count: int,
                 seed_program: str, show: bool = False) -> list[Searched]:
    """`count` searches of `cfg` (search seeds 0..count-1) from `seed_program` into
    `out/NAME-S` (reused when stored there), a line printed per search (with `show`, its
    best program simplified below it)."""
    found = []
    for s in range(count):
        t0 = time.perf_counter()
        run_dir = out / f"{name}-{s}"
        reused = search(cfg.with_search(random_seed=s), run_dir, seed_program)
        fit, text, steps = best_program(run_dir)
        found.append(Searched(fit, text, steps, step_curve(run_dir)))
        print(f"{label} search {s}: best {fit:.4f}, {steps} steps "
              f"({time.perf_counter() - t0:.0f}s{', reused from --out' if reused else ''})",
              flush=True)
        if show:
            print("\n".join("    " + line for line in simplified(text).splitlines()),
                  flush=True)
    return found


def best_program(run_dir: Path) -> tuple[float, str, int]:
    """The best candidate's fitness and program text, and the training steps spent."""
    store = RunStore.open(run_dir)
    try:
        rec = store.best(1)[0]
        return rec.fitness, rec.program_text, sum(r.steps for r in store.candidates())
    finally:
        store.close()


def step_curve(run_dir: Path) -> list[tuple[int, float]]:
    """(training steps spent, best fitness so far) after each trained candidate."""
    store = RunStore.open(run_dir)
    try:
        best, steps, out = math.inf, 0, []
        for rec in store.candidates():
            steps += rec.steps
            best = min(best, rec.fitness)
            if rec.steps:
                out.append((steps, best))
        return out
    finally:
        store.close()


def at(curve: list[tuple[int, float]], x: float) -> float:
    """The best fitness reached within `x` steps (inf before the first result)."""
    best = math.inf
    for steps, fit in curve:
        if steps > x:
            break
        best = fit
    return best


def simplified(text: str) -> str:
    """A program as its simplified nested text (the stored text if it cannot simplify)."""
    program = remove_dead(parse(text))
    try:
        program = simplify(program)
    except SymoptError:
        pass
    return to_nested_text(program, header=False).rstrip()


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided Mann-Whitney p-value of two methods' best fitness per search."""
    return compare_arms(Arm(0, "a", {}, list(a)), Arm(1, "b", {}, list(b))).p


def fmt(xs: list[float]) -> str:
    finite = [x for x in xs if math.isfinite(x)]
    if not finite:
        return "inf"
    sd = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return f"{statistics.mean(finite):.4f} ± {sd:.4f}" + (
        f" ({len(xs) - len(finite)} inf)" if len(finite) < len(xs) else "")


def mean(xs: list[float]) -> float:
    return statistics.mean(xs) if xs else math.nan


def plot_steps(curves: dict[str, list[list[tuple[int, float]]]], budget: int,
               reference: tuple[str, float], path: Path, title: str) -> None:
    """Best fitness so far against training steps: each method's mean over its searches
    and the min-max band; a dashed line at the reference (e.g. the LR-tuned seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # to the last step spent (a search may end up to one training job past its budget)
    end = max([budget] + [c[-1][0] for runs in curves.values() for c in runs if c])
    xs = [end * (k + 1) / 100 for k in range(100)]
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, runs in curves.items():
        cols = [[at(c, x) for c in runs] for x in xs]
        ok = [all(map(math.isfinite, v)) for v in cols]
        ax.plot([x for x, k in zip(xs, ok) if k], [statistics.mean(v) for v, k in zip(cols, ok)
                                                   if k], label=label)
        ax.fill_between([x for x, k in zip(xs, ok) if k], [min(v) for v, k in zip(cols, ok) if k],
                        [max(v) for v, k in zip(cols, ok) if k], alpha=0.2)
    ax.axhline(reference[1], color="k", ls="--", lw=1, label=reference[0])
    ax.set_xlabel("training steps")
    ax.set_ylabel("best validation loss so far")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
