"""Compare several optimizers on one task over several seeds (the data behind ``symopt eval``)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from symopt.errors import UserError
from symopt.tasks.base import EvalResult, Task
from symopt.tasks.registry import get_task
from symopt.tasks.train import MakeTx, evaluate


@dataclass(frozen=True)
class ProgramSummary:
    """All seeds of one optimizer: ``mean``/``std`` of the fitness (``inf`` if any seed
    failed) and ``ratio`` = mean / baseline mean (``None`` without a baseline)."""

    name: str
    results: tuple[EvalResult, ...]
    mean: float
    std: float
    ratio: float | None

    @property
    def n_ok(self) -> int:
        return sum(r.ok for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        fin = lambda x: x if x is not None and math.isfinite(x) else None
        return {
            "name": self.name, "mean": fin(self.mean), "std": fin(self.std),
            "ratio": fin(self.ratio), "n_ok": self.n_ok,
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


def _summary(name: str, results: list[EvalResult], base_mean: float | None) -> ProgramSummary:
    fits = [r.fitness for r in results]
    if all(math.isfinite(f) for f in fits):
        mean = statistics.fmean(fits)
        std = statistics.pstdev(fits) if len(fits) > 1 else 0.0
    else:
        mean = std = math.inf
    ratio = None
    if base_mean is not None:
        ratio = mean / base_mean if math.isfinite(base_mean) and base_mean != 0 else math.nan
    return ProgramSummary(name, tuple(results), mean, std, ratio)


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
    raw: dict[str, list[EvalResult]] = {}
    for name, make_tx in optimizers.items():
        raw[name] = []
        for seed in seed_list:
            r = evaluate(make_tx, task, seed=seed, lr_multipliers=lr_multipliers,
                         time_limit_s=time_limit_s)
            raw[name].append(r)
            if progress is not None:
                progress(name, r)
    base_mean = None
    if baseline is not None:
        base_mean = _summary(baseline, raw[baseline], None).mean
    return Comparison(task.name, seed_list, baseline,
                      tuple(_summary(n, rs, base_mean) for n, rs in raw.items()))
