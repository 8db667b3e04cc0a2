"""The paper's Figure 2 on our proxy: evolution vs constants-only vs random search at an
equal number of training steps, against the seed with its learning rate tuned.

    python bench/bench_quality.py [--budget 12000] [--searches 5] [--workers 2]
        [--steps N] [--transfer-steps N] [--transfer-lr 0.5,1,2] [--no-transfer]
        [--transfer-tasks nanogpt-small,vit-tiny] [--config search_configs/default.toml]
        [--plot bench/quality.png] [--out DIR] [--ablation]

For each method (`[search] method` = evolution, constants, random) and search seed
0..searches-1, a search of `--budget` training steps (`[search] budget_unit = "steps"`:
steps actually trained, the seed's evaluation and the learning-rate probes included, cache
hits free) from programs/adamw.prog on the default config's proxy task
(search_configs/default.toml: nanogpt-tiny, 200 steps a run; `--steps` shortens its runs),
with the default config's mechanisms (learning-rate probe, adaptive operator weights). The
baseline, measured in the same run: the seed program with its learning rate tuned over
x0.5, x1, x2, x4 (4 training runs; fitness = the best). Then each method's winner (its
best program over its searches) and the seed are trained on nanogpt-small and vit-tiny
under the same learning-rate grid (`--transfer-lr`), the transfer check.

Prints a table (mean ± std of the best fitness per method, how many searches beat the
LR-tuned seed, the steps each spent, each winner's transfer results), writes a plot of
the best fitness against training steps (mean over searches, min-max band) and ends with
the line `evolution vs constants-only: mean best X vs Y (N/S searches better, p=P)` (N:
searches of evolution whose best beats the constants-only search of the same search seed;
P: two-sided Mann-Whitney p-value of the two methods' best per search,
`symopt.report.discussion.compare_arms`). Lower fitness (validation loss) is better.

`--ablation`: evolution with each mechanism switched off in turn (budget counted in runs,
`budget / steps per run` of them; no learning-rate probe; the fixed operator mix), beside
full evolution and constants-only, `--searches` each, no transfer; last line
`ablation: evolution X; budget in runs A; no lr probe B; fixed operator mix C;
constants-only Y`.

With `--out DIR` the run directories are kept, and a rerun with the same DIR reuses the
searches stored there (finishing any that was cut short): after an interruption, only the
rest is trained.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search_bench import (  # noqa: E402
    add_arguments,
    bench_config,
    evaluate_all,
    fmt,
    lr_tuned,
    mann_whitney_p,
    mean,
    plot_steps,
    run_searches,
)

from symopt.lang import parse, parse_file, to_text  # noqa: E402
from symopt.search.storage.outputs import remove_dead_text  # noqa: E402

METHODS = ("evolution", "constants", "random")
LABELS = {"evolution": "evolution", "constants": "constants-only", "random": "random",
          "no-steps": "budget in runs", "no-probe": "no lr probe",
          "no-adapt": "fixed operator mix"}
ABLATION = ("evolution", "no-steps", "no-probe", "no-adapt", "constants")
SEED_LR_GRID = [0.5, 1.0, 2.0, 4.0]


def arm_config(cfg, arm: str, run_steps: int):
    """The search config of one arm: a method, or evolution with one mechanism off."""
    if arm in METHODS:
        return cfg.with_search(method=arm)
    evo = cfg.with_search(method="evolution")
    if arm == "no-steps":
        return evo.with_search(budget_unit="runs", budget=max(1, cfg.search.budget // run_steps))
    if arm == "no-probe":
        return evo.with_search(lr_probe=[])
    assert arm == "no-adapt"
    return dataclasses.replace(evo, mutation=dataclasses.replace(evo.mutation, adapt=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap, plot="bench/quality.png")
    ap.add_argument("--seed-program", default="programs/adamw.prog")
    ap.add_argument("--transfer-steps", type=int, default=None,
                    help="override the steps of the transfer tasks (default: theirs)")
    ap.add_argument("--transfer-lr", default="0.5,1,2", help="lr multipliers of transfer runs")
    ap.add_argument("--transfer-tasks", default="nanogpt-small,vit-tiny")
    ap.add_argument("--no-transfer", action="store_true")
    ap.add_argument("--ablation", action="store_true",
                    help="evolution with each mechanism off in turn (no transfer)")
    args = ap.parse_args()

    start = time.perf_counter()
    cfg, run_steps = bench_config(args)
    overrides = cfg.task.overrides
    seed_text = to_text(parse_file(args.seed_program), header=False)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-quality-"))
    arms = ABLATION if args.ablation else METHODS
    print(f"proxy {cfg.task.name} {overrides or ''}, budget {args.budget} training steps per "
          f"search ({args.budget / run_steps:g} full runs), {args.searches} searches per "
          f"{'arm' if args.ablation else 'method'}, workers {cfg.search.workers}, lr probe "
          f"{list(cfg.search.lr_probe)}, adaptive operators {cfg.mutation.adapt}; runs in "
          f"{out}", flush=True)

    seed_tuned = lr_tuned(seed_text, cfg, SEED_LR_GRID)
    print(f"seed ({args.seed_program}) with lr tuned over x{SEED_LR_GRID}: {seed_tuned:.4f}",
          flush=True)

    best: dict[str, list[float]] = {}
    spent: dict[str, list[int]] = {}
    curves: dict[str, list] = {}
    winners: dict[str, tuple[float, str]] = {}
    for arm in arms:
        runs = run_searches(arm_config(cfg, arm, run_steps), out, arm, LABELS[arm],
                            args.searches, args.seed_program)
        best[arm] = [r.fitness for r in runs]
        spent[arm] = [r.steps for r in runs]
        curves[arm] = [r.curve for r in runs]
        for r in runs:  # the arm's best program (ties: the earliest search)
            if arm not in winners or r.fitness < winners[arm][0]:
                winners[arm] = (r.fitness, r.text)

    transfer: dict[str, dict[str, float]] = {}
    tasks = [] if args.no_transfer or args.ablation else args.transfer_tasks.split(",")
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
    print(f"| {'arm' if args.ablation else 'method'} | best fitness (mean ± std, "
          f"{args.searches} searches) | beat LR-tuned seed | training steps (mean) |"
          + "".join(f" winner {t} |" for t in tasks))
    print("| --- | --- | --- | --- |" + " --- |" * len(tasks))

    def tcell(name: str, task: str) -> str:
        v = transfer.get(name, {}).get(task)
        return "—" if v is None else f"{v:.4f}"

    print(f"| seed, LR tuned (x0.5..x4) | {seed_tuned:.4f} | — | {4 * run_steps} |"
          + "".join(f" {tcell('seed', t)} |" for t in tasks))
    for m in arms:
        beat = sum(1 for f in best[m] if f < seed_tuned)
        print(f"| {LABELS[m]} | {fmt(best[m])} | {beat}/{args.searches} | "
              f"{mean(spent[m]):.0f} |" + "".join(f" {tcell(m, t)} |" for t in tasks))
    plot_steps({LABELS[m]: curves[m] for m in arms}, args.budget,
               ("seed, LR tuned", seed_tuned), Path(args.plot),
               f"{cfg.task.name}, {args.searches} searches x {args.budget} steps")
    print(f"plot: {args.plot}; wall time {time.perf_counter() - start:.0f}s")
    evo, con = best["evolution"], best["constants"]
    better = sum(1 for e, c in zip(evo, con) if e < c)
    if args.ablation:
        print("ablation: " + "; ".join(f"{LABELS[m]} {mean(best[m]):.4f}" for m in arms))
        return
    print(f"evolution vs constants-only: mean best {mean(evo):.4f} vs {mean(con):.4f} "
          f"({better}/{args.searches} searches better, p={mann_whitney_p(evo, con):.3g})")


if __name__ == "__main__":
    main()
