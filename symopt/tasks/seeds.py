"""One evaluation of an optimizer over several seeds, with one result type and one rule.

`evaluate_seeds` trains the task once per seed (`symopt.tasks.train.evaluate`) and
returns an `Evaluation`. The rule, the same for the search (`symopt.search.execution.executor`),
`symopt eval` (`symopt.tasks.compare`) and anything built on them: the fitness is the mean
of the seeds' final validation losses; the first seed that does not end ``ok`` with a
finite loss fails the whole evaluation (fitness ``inf``, its status and message; a
non-finite ``ok`` counts as ``diverged``) and the remaining seeds are not trained, since
they could not change the verdict.

>>> import optax
>>> e = evaluate_seeds(lambda lr: optax.adam(lr), "quadratic", seeds=(0, 1))
>>> e.status, len(e.results), e.fitness == sum(r.fitness for r in e.results) / 2
('ok', 2, True)
>>> bad = evaluate_seeds(lambda lr: optax.sgd(lambda c: 1e9 * lr(c)), "quadratic", seeds=(0, 1))
>>> bad.status, bad.fitness, len(bad.results)
('diverged', inf, 1)
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from symopt.tasks.base import EvalResult, Status, Task
from symopt.tasks.registry import get_task
from symopt.tasks.train import MakeTx, evaluate


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one optimizer over several seeds.

    ``fitness`` is the mean over seeds (``inf`` unless every seed is ok); ``std`` their
    spread; ``status``/``message`` those of the first failed seed (``"ok"``, ``""`` when
    none failed); ``seconds`` the wall clock of the whole evaluation. ``results`` holds
    each trained seed's `EvalResult`, in order (it may be empty where only the verdict
    travels, e.g. back from a worker process). ``crashed`` marks outcomes caused by the
    executor running it (a dead worker, a lost actor), not by the program. Those and
    timeouts are *transient* (`transient`): facts about the machine at that moment, retried
    once by the executors and never cached; every other failure (diverged, hurdle, an
    error the program's own math raised) is the program's and is cached. ``node``
    is the Ray node that ran it ("" off Ray). ``curves`` holds ``(task seed, steps,
    validation losses)`` for each seed trained (partial when it stopped early), ``steps`` and
    ``planned_steps`` the training steps done over all seeds and those full runs would have
    done, ``run_seconds`` the training time (compilation excluded): what the search stores
    and counts as saved by early stops, kept by `verdict`. ``by_multiplier`` holds, for
    each learning-rate multiplier tried, ``(multiplier, mean final validation loss over the
    seeds, steps trained)``; the mean is ``inf`` unless that multiplier ended ok on every
    seed (what a learning-rate probe chooses from, `symopt.search.evolution.lr_probe`).
    """

    fitness: float
    status: Status
    message: str = ""
    seconds: float = 0.0
    crashed: bool = False
    std: float = 0.0
    results: tuple[EvalResult, ...] = ()
    node: str = ""
    curves: tuple[tuple[int, tuple[int, ...], tuple[float, ...]], ...] = ()
    steps: int = 0
    planned_steps: int = 0
    run_seconds: float = 0.0
    by_multiplier: tuple[tuple[float, float, int], ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def transient(self) -> bool:
        """A failure of the machine, not of the program: a timeout, a dead worker, a lost
        actor (out of memory included). Retried once, never cached.

        >>> Evaluation(math.inf, "timeout").transient, Evaluation(math.inf, "diverged").transient
        (True, False)
        """
        return self.crashed or self.status == "timeout"

    @property
    def n_ok(self) -> int:
        """Seeds that trained successfully."""
        return sum(r.ok for r in self.results)

    def verdict(self) -> Evaluation:
        """This evaluation without its per-seed results (small to send between processes)."""
        return dataclasses.replace(self, results=())


def evaluate_seeds(
    make_tx: MakeTx,
    task: Task | str,
    *,
    seeds: Sequence[int] = (0,),
    lr_multipliers: Sequence[float] | None = None,
    time_limit_s: float | None = None,
    hurdles: Sequence[tuple[int, float]] = (),
    progress: Callable[[EvalResult], None] | None = None,
    race_at: int | None = None,
) -> Evaluation:
    """Train `task` with ``make_tx`` once per seed; see the module docstring for the rule.

    ``lr_multipliers``, ``time_limit_s`` (per seed), ``hurdles`` and ``race_at`` go to
    `evaluate`;
    ``progress(result)`` is called after each seed.
    """
    if not isinstance(task, Task):
        task = get_task(task)
    start = time.perf_counter()
    results: list[EvalResult] = []
    for seed in seeds:
        r = evaluate(make_tx, task, seed=seed, lr_multipliers=lr_multipliers,
                     time_limit_s=time_limit_s, hurdles=hurdles, race_at=race_at)
        results.append(r)
        if progress is not None:
            progress(r)
        if not _seed_ok(r):
            break
    return combine(results, time.perf_counter() - start)


def _seed_ok(r: EvalResult) -> bool:
    return r.status == "ok" and math.isfinite(r.fitness)


def combine(results: Sequence[EvalResult], seconds: float = 0.0) -> Evaluation:
    """The `Evaluation` of per-seed results, in seed order, by the module's rule (seeds
    after the first failed one are dropped: they cannot change the verdict).

    >>> from symopt.tasks.base import EvalResult
    >>> e = combine([EvalResult(1.0, "ok"), EvalResult(float("inf"), "hurdle", "m"),
    ...              EvalResult(3.0, "ok")])
    >>> e.status, e.message, len(e.results)
    ('hurdle', 'm', 2)
    """
    results = list(results)
    for k, r in enumerate(results):
        if not _seed_ok(r):
            kept = results[: k + 1]
            status = r.status if r.status != "ok" else "diverged"
            return Evaluation(math.inf, status, r.message, seconds, std=math.inf,
                              results=tuple(kept), **_training(kept))
    fits = [r.fitness for r in results]
    if not fits:
        return Evaluation(math.inf, "error", "no seeds to train", std=math.inf)
    std = statistics.pstdev(fits) if len(fits) > 1 else 0.0
    return Evaluation(sum(fits) / len(fits), "ok", "", seconds, std=std,
                      results=tuple(results), **_training(results))


def _training(results: list[EvalResult]) -> dict:
    return dict(curves=tuple((r.seed, r.eval_steps, r.curve) for r in results),
                steps=sum(r.steps for r in results),
                planned_steps=sum(r.planned_steps for r in results),
                run_seconds=sum(r.run_s for r in results),
                by_multiplier=by_multiplier(results))


def by_multiplier(results: Sequence[EvalResult]) -> tuple[tuple[float, float, int], ...]:
    """``(multiplier, mean final loss over the seeds or inf, steps)`` per multiplier.

    >>> from symopt.tasks.base import EvalResult
    >>> a = EvalResult(1.0, "ok", trials=((1.0, 1.0), (4.0, 3.0)), trial_steps=(10, 10))
    >>> b = EvalResult(2.0, "ok", trials=((1.0, 2.0), (4.0, math.inf)), trial_steps=(10, 3))
    >>> by_multiplier([a, b])
    ((1.0, 1.5, 20), (4.0, inf, 13))
    """
    if not results or any(len(r.trials) != len(results[0].trials)
                          or len(r.trial_steps) != len(r.trials) for r in results):
        return ()
    out = []
    for k, (mult, _) in enumerate(results[0].trials):
        finals = [r.trials[k][1] for r in results]
        mean = (sum(finals) / len(finals) if all(math.isfinite(f) for f in finals)
                else math.inf)
        out.append((float(mult), mean, sum(r.trial_steps[k] for r in results)))
    return tuple(out)
