"""Searching from Python: `symopt.search` runs a search, `symopt.load_run` reopens one,
`symopt.tune` tunes a program's hyperparameters.

In the spirit of PySR's ``PySRRegressor.fit``: seeds in (`Program`s, `.prog` paths or
built-in names such as ``"adamw"``), a result out whose ``best`` and ``hall_of_fame`` are
`Candidate`s: `Program`s (compile them with `symopt.to_optax`, print them, export them)
that also carry their fitness. Ctrl-C (or a notebook's "interrupt kernel") stops the
search as on the command line: the runs in flight are collected and stored, and the
result comes back with ``interrupted=True``. Everything lives in ``run_dir``, so
`load_run` reopens a finished or interrupted run, and ``symopt search --resume`` (or
``search(..., resume=True)``) continues it.

>>> import symopt, tempfile
>>> run = symopt.search("sgd", task="quadratic", budget=4, run_dir=tempfile.mkdtemp(),
...                     config={"search": {"population": 4}, "task": {"overrides": {"steps": 20}}})
>>> run.best.fitness <= run.hall_of_fame[-1].fitness, isinstance(run.best, symopt.Program)
(True, True)
>>> again = symopt.load_run(run.run_dir)
>>> again.best.fitness == run.best.fitness, len(again.candidates) == run.stats.candidates
(True, True)

`symopt.tune` is ``symopt tune`` from Python: a program (or a built-in name or path) in,
a `symopt.tune.TuneResult` out, its ``tuned`` program ready for `symopt.to_optax`:

>>> r = symopt.tune("sgd", task="quadratic", method="random", budget=2,
...                 config={"tune": {"overrides": {"steps": 20}}}, run_dir=tempfile.mkdtemp())
>>> r.fitness <= r.untuned, r.n_trials, isinstance(r.tuned, symopt.Program)
(True, 2, True)
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import tempfile
import types
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symopt.errors import SearchFailedError, UserError
from symopt.lang import Program, parse
from symopt.search.config.loading import SearchConfig, load_config
from symopt.search.evolution.loop import run_search
from symopt.search.evolution.progress import SearchStats, make_progress
from symopt.search.execution.interrupt import stop_on_sigint
from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import RunStore
from symopt.tasks.registry import BUILTIN_TASKS
from symopt.tune import TuneConfig, TuneResult

Seed = Program | str | os.PathLike


@dataclass(frozen=True, eq=False)
class Candidate(Program):
    """A program a search evaluated, with what it measured: ``fitness`` (validation loss,
    lower is better; ``inf`` unless ``status == "ok"``), ``status`` and the candidate's
    ``id`` in the run store. It is a `Program`: compile, print or export it as one."""

    fitness: float = math.inf
    status: str = "ok"
    id: int = -1

    @classmethod
    def from_record(cls, rec: CandidateRecord) -> Candidate:
        program = parse(rec.program_text, f"candidate {rec.id}", check=False)
        fields = {f.name: getattr(program, f.name) for f in dataclasses.fields(Program)}
        return cls(**fields, fitness=rec.fitness, status=rec.status, id=rec.id or -1)

    def __repr__(self) -> str:
        return f"Candidate(id={self.id}, fitness={self.fitness:.6g}, status={self.status!r})"


@dataclass
class SearchRun:
    """A search's outcome, read from its run directory.

    ``best`` and ``hall_of_fame`` (best first) are `Candidate`s; ``candidates`` every
    stored row (`CandidateRecord`: program text, parent, mutation, timings);
    ``stats`` the counters of the session that just ran (None for `load_run`).
    """

    run_dir: Path
    config: SearchConfig
    best: Candidate | None
    hall_of_fame: list[Candidate]
    candidates: list[CandidateRecord] = field(repr=False)
    interrupted: bool = False
    stats: SearchStats | None = field(default=None, repr=False)
    seed_failed: str = ""  # why no seed trained: the search then stopped before any child


def search(seeds: Seed | list[Seed], task: str | None = None, budget: int | None = None,
           config: SearchConfig | dict[str, Any] | str | os.PathLike | None = None,
           run_dir: str | os.PathLike | None = None, *, workers: int | None = None,
           resume: bool = False, progress: str = "none") -> SearchRun:
    """Evolve optimizer programs from `seeds`; return the run (see the module docstring).

    `task` (a task name) and `budget` (training runs or steps, the config's
    `[search] budget_unit`) override the config's; `config` is a
    `SearchConfig`, a dict with its sections, or a TOML path (default: `SearchConfig()`).
    `run_dir` is created (default: a new temporary folder); with ``resume=True`` it is
    continued and `seeds`, `task` and `config` are taken from it. `progress` is the
    command line's display (``"none"``, ``"plain"``, ``"rich"``, ``"auto"``).
    """
    cfg = _config(config)
    if task is not None:
        cfg = dataclasses.replace(cfg, task=dataclasses.replace(cfg.task, name=task))
        cfg.check_task()
    changes = {k: v for k, v in (("budget", budget), ("workers", workers)) if v is not None}
    if changes:
        cfg = cfg.with_search(**changes)
    if run_dir is None:
        if resume:
            raise UserError("resume=True needs the run_dir to continue")
        run_dir = tempfile.mkdtemp(prefix="symopt-search-")
    seed_list = None if resume else (list(seeds) if isinstance(seeds, list | tuple) else [seeds])
    with stop_on_sigint() as stop_requested:
        result = run_search(cfg, run_dir, seeds=seed_list, resume=resume,
                            progress=make_progress(progress), stop_requested=stop_requested)
    run = load_run(run_dir)
    run.interrupted, run.stats = result.interrupted, result.stats
    run.seed_failed = result.seed_failed
    _check_something_worked(run)
    return run


def _check_something_worked(run: SearchRun) -> None:
    """`SearchFailedError` naming the cause when candidates were evaluated and every one
    failed (nothing to return as ``best``); an interrupted search returns what it has."""
    hint = ""
    if run.config.task.name not in BUILTIN_TASKS and run.config.executor.kind != "inline":
        hint = (f" Task {run.config.task.name!r} was registered at run time: worker processes "
                f"know it only if an importable module (or a script with an `if __name__ == "
                f"\"__main__\":` guard) registers it; or evaluate in this process with "
                f"config={{'executor': {{'kind': 'inline'}}}}.")
    stored = f" Every row is stored in {run.run_dir}/run.sqlite (symopt.load_run reopens it)"
    if run.seed_failed:
        raise SearchFailedError(f"the search stopped before any child: {run.seed_failed}."
                                f"{hint}{stored}")
    if run.best is not None or run.interrupted or not run.candidates:
        return
    causes = Counter(f"{r.status}: {(r.message or 'no message').splitlines()[0][:300]}"
                     for r in run.candidates if not r.cache_hit)
    if not causes:
        return
    cause, n = causes.most_common(1)[0]
    raise SearchFailedError(
        f"every evaluation of the search failed ({sum(causes.values())} training runs, none "
        f"with a finite fitness); the most common cause ({n}x): {cause}.{hint}{stored}")


def load_run(run_dir: str | os.PathLike) -> SearchRun:
    """Reopen a finished or interrupted run: its config, best and hall of fame, every row."""
    store = RunStore.open(run_dir)
    try:
        config = SearchConfig.from_dict(store.config, source=f"{run_dir}/run.sqlite")
        candidates = store.candidates()
        top = store.best(config.search.hall_of_fame)
    finally:
        store.close()
    hall = [Candidate.from_record(r) for r in top]
    return SearchRun(Path(run_dir), config, hall[0] if hall else None, hall, candidates)


def tune(program: Seed | None = None, task: str | None = None, method: str | None = None,
         budget: int | None = None,
         config: TuneConfig | dict[str, Any] | str | os.PathLike | None = None,
         run_dir: str | os.PathLike | None = None, *, resume: bool = False,
         progress: bool = False) -> TuneResult:
    """Tune `program`'s hyperparameters (``symopt tune``): a `Program`, a `.prog` path or a
    built-in name. `task`, `method` (``"ga"``, ``"pbt"``, ``"random"``) and `budget`
    (training runs) override `config`'s: a `TuneConfig`, a dict with a ``"tune"`` table,
    or a TOML path. `run_dir` receives tune.sqlite, trials.csv, tuned.prog and the plots
    (default: a new temporary folder); ``resume=True`` continues the run in `run_dir` with
    its stored program and settings. `progress` prints a line per trial to stderr.
    """
    from symopt.programs import as_program
    from symopt.tune import load_tune_config, run_tune

    say = (lambda line: print(line, file=sys.stderr, flush=True)) if progress else None
    if resume:
        if run_dir is None:
            raise UserError("resume=True needs the run_dir to continue")
        return run_tune(None, None, run_dir, resume=True, progress=say)
    if program is None:
        raise UserError("tune needs a program: a Program, a .prog path or a built-in name")
    if config is None:
        cfg = TuneConfig()
    elif isinstance(config, TuneConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = TuneConfig.from_dict(config)
    else:
        cfg = load_tune_config(config)
    changes = {k: v for k, v in (("task", task), ("method", method), ("budget", budget))
               if v is not None}
    if changes:
        cfg = cfg.replace(**changes)
    if run_dir is None:
        run_dir = tempfile.mkdtemp(prefix="symopt-tune-")
    return run_tune(as_program(program), cfg, run_dir, progress=say)


class _CallablePackage(types.ModuleType):
    """`symopt.search` and `symopt.tune` are both packages and these functions: each package is
    made callable rather than shadowed, so ``import symopt.search.evolution.loop`` and
    ``symopt.search(...)`` (``import symopt.tune.ga`` and ``symopt.tune(...)``) both work."""

    def __call__(self, *args: Any, **kwargs: Any) -> SearchRun:
        return search(*args, **kwargs)


class _CallableTunePackage(types.ModuleType):
    __doc__ = _CallablePackage.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> TuneResult:
        return tune(*args, **kwargs)


sys.modules["symopt.search"].__class__ = _CallablePackage
sys.modules["symopt.tune"].__class__ = _CallableTunePackage


def _config(config: SearchConfig | dict[str, Any] | str | os.PathLike | None) -> SearchConfig:
    if config is None:
        return SearchConfig()
    if isinstance(config, SearchConfig):
        return config
    if isinstance(config, dict):
        return SearchConfig.from_dict(config)
    return load_config(config)
