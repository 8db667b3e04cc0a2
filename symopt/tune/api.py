"""``run_tune``: tune a program's hyperparameters by GA, PBT or random search.

>>> import tempfile
>>> from symopt.lang import parse
>>> from symopt.tune.config import TuneConfig
>>> slow_sgd = parse("def train(w, g, lr):\\n    return g * (lr * 0.01)")
>>> cfg = TuneConfig(task="quadratic", method="random", budget=3,
...                  task_overrides={"steps": 30}, space={"c0": [0.01, 1.0]})
>>> r = run_tune(slow_sgd, cfg, tempfile.mkdtemp())
>>> r.fitness <= r.untuned, sorted(p.name for p in r.run_dir.iterdir())[:4]
(True, ['fitness.png', 'run.lock', 'trials.csv', 'tune.sqlite'])
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symopt.config_table import at, error
from symopt.errors import UserError
from symopt.files import output_dir
from symopt.lang import parse
from symopt.lang.model import Program
from symopt.lang.printer import to_text
from symopt.search.storage.runlock import ensure_free, run_lock
from symopt.tasks import get_task, list_tasks
from symopt.tasks.base import Task
from symopt.tune import outputs
from symopt.tune.config import TuneConfig
from symopt.tune.ga import run_ga, run_point, run_random
from symopt.tune.space import Space, build_space
from symopt.tune.store import FILE, TuneStore, TuneTrial


@dataclass
class TuneResult:
    run_dir: Path
    method: str
    best: dict[str, float]  # the best hyperparameters
    fitness: float  # the best fitness found (PBT: the best member's final loss)
    untuned: float  # the untuned program's fitness
    tuned_fitness: float  # tuned.prog retrained from scratch (PBT); = fitness otherwise
    n_trials: int
    tuned: Program
    events: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.method}: {self.n_trials} training runs; best validation loss "
                 f"{self.fitness:.5g} (untuned {self.untuned:.5g})"]
        if self.method == "pbt":
            lines.append(f"{len(self.events)} exploits; tuned.prog retrained from scratch: "
                         f"{self.tuned_fitness:.5g}" + (
                             "" if self.tuned_fitness < self.untuned else
                             ", not better than untuned: the gain came from PBT's schedule "
                             "(schedules.png), which fixed constants do not reproduce"))
        lines.append("best: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else
                                          f"{k}={v}" for k, v in self.best.items()))
        return "\n".join(lines)


def setup(program: Program, cfg: TuneConfig) -> tuple[Task, Space]:
    """The task (with its overrides) and the search space of `program` under `cfg`; a task
    that cannot be built names `tune.task` or `tune.overrides`."""
    if not cfg.task:
        raise UserError("tune needs a task: --task NAME or [tune] task = ...")
    try:
        task = get_task(cfg.task, **cfg.task_overrides)
    except UserError as err:
        key = "task" if cfg.task not in list_tasks() else "overrides"
        raise error(at("", "tune", key), str(err)) from None
    return task, build_space(program, task, cfg.space, tie_equal=cfg.tie_equal_constants)


def run_tune(program: Program | None, cfg: TuneConfig | None, run_dir: str | os.PathLike[str],
             *, resume: bool = False,
             progress: Callable[[str], None] | None = None) -> TuneResult:
    """Tune `program` by ``cfg.method``; writes tune.sqlite, trials.csv, tuned.prog, plots
    (and for PBT, pbt_events.csv and schedules.png) into `run_dir`.

    With `resume`, `program` and `cfg` are ignored (pass None): both are read back from the
    store; without it, both are needed.
    The run directory has one owner at a time (`symopt.search.storage.runlock.run_lock`).
    """
    with contextlib.ExitStack() as owner:
        return _run_tune(program, cfg, Path(run_dir), resume, progress, owner)


def _run_tune(program, cfg, run_dir, resume, progress, owner) -> TuneResult:
    if resume:
        if (run_dir / FILE).is_file():  # else `open` says there is no tuning run here
            owner.enter_context(run_lock(run_dir))
        store = TuneStore.open(run_dir)
        meta = store.meta()
        cfg = TuneConfig.from_dict(meta["config"], source=f"{run_dir}/tune.sqlite")
        program = parse(meta["program"], f"{run_dir / FILE}: stored program")
    task, space = setup(program, cfg)
    if not resume:
        output_dir(run_dir, "--out")
        ensure_free(run_dir)  # refused before tune.sqlite is written into another's run
        owner.enter_context(run_lock(run_dir))
        store = TuneStore.create(run_dir, cfg.to_dict(), to_text(program))
        owner.callback(store.close)
    say = progress or (lambda s: None)
    try:
        if cfg.method == "pbt":
            return _finish_pbt(program, task, space, cfg, store, run_dir, resume, say)
        evaluate = lambda v: run_point(program, task, space, v, cfg.train_seed)

        def report(t: TuneTrial, reused: bool) -> None:
            say(f"{t.method} gen {t.generation} #{t.index}: {t.status} {t.fitness:.5g}"
                + (" (stored)" if reused else f" in {t.seconds:.1f}s"))

        method = run_ga if cfg.method == "ga" else run_random
        trials = method(space, cfg, store, evaluate, report)
        untuned = next(t.fitness for t in trials if t.generation == 0 and t.index == 0)
        best = min(trials, key=lambda t: t.fitness)
        records = [{"method": t.method, "trial": n, "generation": t.generation,
                    "values": t.values, "fitness": t.fitness, "status": t.status,
                    "message": t.message} for n, t in enumerate(trials)]
        return _write(program, task, space, cfg, run_dir, records, best.values, best.fitness,
                      untuned, best.fitness)
    finally:
        store.close()


def _finish_pbt(program, task, space, cfg, store, run_dir, resume, say) -> TuneResult:
    from symopt.tune import pbt

    steps = task.steps
    spec = {"program": to_text(program), "task": cfg.task, "task_overrides": cfg.task_overrides,
            "space": cfg.space, "tie": cfg.tie_equal_constants, "train_seed": cfg.train_seed,
            "chunk_steps": max(1, math.ceil(steps / cfg.pbt.iterations)), "steps": steps}
    say(f"pbt: {cfg.n_trials()} members on Ray Tune, {cfg.pbt.iterations} iterations each")
    records = pbt.run_pbt(spec, space, cfg, run_dir, resume=resume)
    if not records:
        raise UserError(f"PBT produced no results (see the Ray Tune logs in {run_dir}/pbt)")
    finals: dict[str, dict] = {}
    for r in records:
        finals[r["trial"]] = r
    for r in finals.values():
        store.add(TuneTrial("pbt", r["generation"], r["member"], r["values"], r["fitness"],
                        r["status"], r["message"], 0.0))
    best = min(finals.values(), key=lambda r: r["fitness"])
    say("pbt: retraining the untuned and the tuned program from scratch")
    untuned = run_point(program, task, space, space.defaults(), cfg.train_seed).fitness
    retrained = run_point(program, task, space, best["values"], cfg.train_seed).fitness
    events = pbt.exploit_events(records, space)
    keys = list(space.keys)
    outputs.write_csv(
        run_dir / "pbt_events.csv",
        ["time", "iteration", "trial", "exploited_trial", *(f"old_{k}" for k in keys),
         *(f"new_{k}" for k in keys), "loss_restored", "loss_source"],
        [[_iso(e["time"]), e["iteration"], e["trial"], e["exploited"],
          *(e["old"].get(k, "") for k in keys), *(e["new"][k] for k in keys),
          e["restored_val"], e["source_val"]] for e in events])
    series: dict[str, list] = {}
    for r in records:
        series.setdefault(r["trial"], []).append(r)
    outputs.plot_schedules(run_dir / "schedules.png", space, series, best["trial"])
    result = _write(program, task, space, cfg, run_dir, records, best["values"],
                    best["fitness"], untuned, retrained)
    result.events = events
    return result


def _iso(t: float | None) -> str:
    import datetime

    if t is None:
        return ""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="seconds")


def _write(program, task, space, cfg, run_dir, records, best, fitness, untuned,
           tuned_fitness) -> TuneResult:
    overrides = space.task_overrides(best)
    tuned = outputs.tuned_program(program, space, best, task.replace(**overrides)
                                  if overrides else task, method=cfg.method,
                                  fitness=fitness, untuned=untuned)
    outputs.write_tuned(run_dir / "tuned.prog", tuned)
    header, rows = outputs.trials_rows(space, records)
    outputs.write_csv(run_dir / "trials.csv", header, rows)
    outputs.plot_fitness(run_dir / "fitness.png", records, untuned,
                         f"symopt tune --method {cfg.method} ({task.name})")
    return TuneResult(run_dir, cfg.method, dict(best), fitness, untuned, tuned_fitness,
                      len({r["trial"] for r in records}), tuned)
