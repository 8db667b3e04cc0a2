"""Compare several optimizers on one task over several seeds (the data behind ``symopt eval``)."""

from __future__ import annotations

import functools
import math
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from symopt.errors import UserError
from symopt.tasks.base import EvalResult, Status, Task
from symopt.tasks.registry import get_task
from symopt.tasks.seeds import Evaluation, evaluate_seeds
from symopt.tasks.train import MakeTx


@dataclass(frozen=True)
class ProgramSummary:
    """All seeds of one optimizer: its `Evaluation` (``mean``/``std`` of the fitness, ``inf``
    if a seed failed: `symopt.tasks.seeds` says the rule) and ``ratio`` = mean / baseline
    mean (``None`` without a baseline)."""

    name: str
    evaluation: Evaluation
    ratio: float | None

    @property
    def results(self) -> tuple[EvalResult, ...]:
        return self.evaluation.results

    @property
    def mean(self) -> float:
        return self.evaluation.fitness

    @property
    def std(self) -> float:
        return self.evaluation.std

    @property
    def n_ok(self) -> int:
        return self.evaluation.n_ok

    def to_dict(self) -> dict[str, Any]:
        fin = lambda x: x if x is not None and math.isfinite(x) else None
        return {
            "name": self.name, "mean": fin(self.mean), "std": fin(self.std),
            "ratio": fin(self.ratio), "n_ok": self.n_ok, "status": self.evaluation.status,
            "seeds": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True)
class Comparison:
    """The outcome of :func:`compare`; ``to_dict()`` is what ``symopt eval --json`` writes."""

    task: str
    seeds: tuple[int, ...]
    baseline: str | None
    programs: tuple[ProgramSummary, ...]

    def __getitem__(self, name: str) -> ProgramSummary:
        for p in self.programs:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "seeds": list(self.seeds), "baseline": self.baseline,
                "programs": [p.to_dict() for p in self.programs]}


def _ratio(mean: float, base_mean: float | None) -> float | None:
    if base_mean is None:
        return None
    return mean / base_mean if math.isfinite(base_mean) and base_mean != 0 else math.nan


def compare(
    optimizers: Mapping[str, MakeTx],
    task: Task | str,
    *,
    seeds: int | Sequence[int] = 1,
    baseline: str | None = None,
    lr_multipliers: Sequence[float] | None = None,
    time_limit_s: float | None = None,
    progress: Callable[[str, EvalResult], None] | None = None,
    isolate: bool = False,
) -> Comparison:
    """Evaluate every optimizer on ``task`` for each seed (``seeds=N`` means 0..N-1).

    ``baseline`` names one of ``optimizers``; each summary's ``ratio`` is its mean over the
    baseline's mean (< 1 is better). ``progress(name, result)`` is called after each run.
    Each optimizer is one `evaluate_seeds`: a failed seed fails it, and its remaining seeds
    are not trained.
    With ``isolate``, each run happens in a worker process (`symopt.isolation`) that
    is killed at ``time_limit_s`` (compilation included) and whose crash (e.g. out of
    memory) is that run's ``error``; ``make_tx`` and the task must then be picklable.

    >>> import optax
    >>> c = compare({"adam": lambda lr: optax.adam(lr), "zero": lambda lr: optax.set_to_zero()},
    ...             "quadratic", seeds=2, baseline="adam")
    >>> c["zero"].ratio > 1.0, len(c["adam"].results)
    (True, 2)
    """
    if not isinstance(task, Task):
        task = get_task(task)
    seed_list = tuple(range(seeds)) if isinstance(seeds, int) else tuple(int(s) for s in seeds)
    if not seed_list:
        raise UserError("need at least one seed")
    if baseline is not None and baseline not in optimizers:
        raise UserError(f"baseline {baseline!r} is not among the optimizers {list(optimizers)}")
    evaluations: dict[str, Evaluation] = {}
    worker = None
    if isolate:
        from symopt.isolation import IsolatedWorker

        worker = IsolatedWorker()
    try:
        for name, make_tx in optimizers.items():
            report = None if progress is None else functools.partial(progress, name)
            if worker is None:
                evaluations[name] = evaluate_seeds(make_tx, task, seeds=seed_list,
                                                   lr_multipliers=lr_multipliers,
                                                   time_limit_s=time_limit_s, progress=report)
            else:
                evaluations[name] = _evaluate_isolated(worker, make_tx, task, seed_list,
                                                       lr_multipliers, time_limit_s)
                for r in evaluations[name].results:
                    if report is not None:
                        report(r)
    finally:
        if worker is not None:
            worker.close()
    base_mean = None if baseline is None else evaluations[baseline].fitness
    return Comparison(task.name, seed_list, baseline, tuple(
        ProgramSummary(n, e, _ratio(e.fitness, base_mean)) for n, e in evaluations.items()))


def _evaluate_in_worker(payload: bytes, seeds, lr_multipliers, time_limit_s) -> Evaluation:
    """Worker side of `compare(isolate=True)`: one optimizer over its seeds."""
    from symopt.isolation import untimed

    with untimed():  # loading the task's data is not the optimizer's time
        make_tx, task = pickle.loads(payload)  # noqa: S301 - made by this process's parent
        task.data  # noqa: B018 - loads the data
    return evaluate_seeds(make_tx, task, seeds=seeds, lr_multipliers=lr_multipliers,
                          time_limit_s=time_limit_s)


def _evaluate_isolated(worker, make_tx: MakeTx, task: Task, seeds, lr_multipliers,
                       time_limit_s) -> Evaluation:
    """`evaluate_seeds` in `worker`, killed `time_limit_s` per seed after it starts."""
    limit = None if time_limit_s is None else time_limit_s * len(seeds)
    out = worker.call(_evaluate_in_worker, (pickle.dumps((make_tx, task)), tuple(seeds),
                                            lr_multipliers, time_limit_s), limit_s=limit)
    if out.kind == "ok":
        return out.value
    status: Status = "timeout" if out.kind == "timeout" else "error"
    failed = EvalResult(fitness=math.inf, status=status, message=out.message, seed=int(seeds[0]),
                        task=task.name, run_s=out.seconds)
    return Evaluation(math.inf, status, out.message, out.seconds, crashed=out.kind == "died",
                      std=math.inf, results=(failed,))
