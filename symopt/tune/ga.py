"""The genetic algorithm and random search over a :class:`~symopt.tune.space.Space`.

GA (as researchers run it on nanoGPT): generation 0 is the untuned point plus random
samples; each next generation keeps the top half (by fitness, lower is better) as
parents, makes children by uniform crossover of two random parents, and resamples each
gene of a child with probability ``mutation_rate``; ``elitism`` best individuals are
carried over unchanged (not retrained). Random search draws every trial independently
(its first trial is the untuned point). Both run the trials in this process, one at a
time, and store each in the :class:`~symopt.tune.store.TuneStore` as it finishes; a
generation's proposals depend only on the seed and the stored earlier generations, so a
resumed run proposes the same trials and skips those already stored.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import numpy as np

from symopt.errors import UserError
from symopt.lang.model import Program
from symopt.tasks.base import Task
from symopt.tune.config import TuneConfig
from symopt.tune.space import Space
from symopt.tune.store import TuneStore, TuneTrial
from symopt.tune.trainer import Hyper, RunResult, trainer_for

Evaluate = Callable[[Mapping[str, float]], RunResult]
Progress = Callable[[TuneTrial, bool], None]  # (trial, reused from the store)


def run_point(program: Program, task: Task, space: Space, values: Mapping[str, float],
              seed: int = 0) -> RunResult:
    """Train `program` on `task` once at the hyperparameters `values` (never raises)."""
    t0 = time.perf_counter()
    try:
        overrides = space.task_overrides(values)
        t = task.replace(**overrides) if overrides else task
        trainer = trainer_for(program, t)
        hyper = Hyper.of(space.constants(values), values["lr_multiplier"],
                         values["warmup_steps"])
        return trainer.run(hyper, seed)
    except Exception as err:  # noqa: BLE001 - a trial must never crash the tuner
        return RunResult(math.inf, "error", f"{type(err).__name__}: {err}", (),
                         time.perf_counter() - t0)


def _key(values: Mapping[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()}


class _Runner:
    """Evaluates proposals, reusing the trials a killed run already stored."""

    def __init__(self, method: str, store: TuneStore, evaluate: Evaluate,
                 progress: Progress | None):
        self.method, self.store, self.evaluate, self.progress = method, store, evaluate, progress
        self.done = {(t.generation, t.index): t for t in store.trials() if t.method == method}

    def __call__(self, generation: int, index: int, values: Mapping[str, float]) -> TuneTrial:
        old = self.done.get((generation, index))
        if old is not None:
            if _key(old.values) != _key(values):
                raise UserError(f"{self.store.path}: stored trial {generation}/{index} does not "
                                "match this run's proposal (the store was made by another "
                                "version or settings); start a new run")
            if self.progress:
                self.progress(old, True)
            return old
        r = self.evaluate(values)
        trial = TuneTrial(self.method, generation, index, dict(values), r.fitness, r.status,
                      r.message, r.seconds)
        self.store.add(trial)
        if self.progress:
            self.progress(trial, False)
        return trial


def run_ga(space: Space, cfg: TuneConfig, store: TuneStore, evaluate: Evaluate,
           progress: Progress | None = None) -> list[TuneTrial]:
    """The GA at ``cfg.n_trials()`` training runs; returns every trial."""
    run = _Runner("ga", store, evaluate, progress)
    budget, pop_size = cfg.n_trials(), cfg.population
    trials: list[TuneTrial] = []
    population: list[TuneTrial] = []
    gen = 0
    while len(trials) < budget:
        rng = np.random.default_rng([cfg.random_seed, gen])
        n = min(pop_size - (cfg.elitism if gen else 0), budget - len(trials))
        if gen == 0:
            proposals = [space.defaults()] + [space.sample(rng) for _ in range(n - 1)]
            elites: list[TuneTrial] = []
        else:
            ranked = sorted(population, key=lambda t: t.fitness)
            parents = ranked[: max(2, len(ranked) // 2)]
            elites = ranked[: cfg.elitism]
            proposals = []
            for _ in range(n):
                a, b = rng.choice(len(parents), size=2, replace=False)
                child = space.crossover(parents[a].values, parents[b].values, rng)
                proposals.append(space.mutate(child, rng, cfg.mutation_rate))
        children = [run(gen, i, v) for i, v in enumerate(proposals)]
        trials.extend(children)
        population = elites + children
        gen += 1
    return trials


def run_random(space: Space, cfg: TuneConfig, store: TuneStore, evaluate: Evaluate,
               progress: Progress | None = None) -> list[TuneTrial]:
    """Random search at ``cfg.n_trials()`` training runs; the first trial is untuned."""
    run = _Runner("random", store, evaluate, progress)
    out = []
    for i in range(cfg.n_trials()):
        rng = np.random.default_rng([cfg.random_seed, i])
        values = space.defaults() if i == 0 else space.sample(rng)
        out.append(run(0, i, values))
    return out
