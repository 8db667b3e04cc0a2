"""Compare several optimizers on one task over several seeds (the data behind ``symopt eval``)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from symopt.errors import UserError
from symopt.tasks.base import EvalResult, Task
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
) -> Comparison:
    """Evaluate every optimizer on ``task`` for each seed (``seeds=N`` means 0..N-1).

    ``baseline`` names one of ``optimizers``; each summary's ``ratio`` is its mean over the
    baseline's mean (< 1 is better). ``progress(name, result)`` is called after each run.
    Each optimizer is one `evaluate_seeds`: a failed seed fails it, and its remaining seeds
    are not trained.

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
    for name, make_tx in optimizers.items():
        report = None if progress is None else functools.partial(progress, name)
        evaluations[name] = evaluate_seeds(make_tx, task, seeds=seed_list,
                                           lr_multipliers=lr_multipliers,
                                           time_limit_s=time_limit_s, progress=report)
    base_mean = None if baseline is None else evaluations[baseline].fitness
    return Comparison(task.name, seed_list, baseline, tuple(
        ProgramSummary(n, e, _ratio(e.fitness, base_mean)) for n, e in evaluations.items()))
