"""The ``[tune]`` configuration: method, budget, GA and PBT settings, space, task overrides.

A TOML file holds a ``[tune]`` table (and optionally ``[tune.space]``, ``[tune.task]``,
``[tune.pbt]``); every key is checked, and a bad one is a ``UserError`` naming it::

    [tune]
    method = "ga"            # ga | pbt | random
    budget = 40              # training runs (PBT: its population, trained concurrently)
    population = 10          # GA population
    mutation_rate = 0.05     # GA: each gene resampled with this probability
    elitism = 0              # GA: best individuals carried over unchanged
    seed = 0                 # the tuner's random seed
    train_seed = 0           # the seed of every training run (init and batches)
    tie_equal_constants = true
    time_limit_s = 3600      # per training run; PBT's whole run is bounded by it (pbt.time_bound)
    [tune.overrides]         # fixed task settings, e.g. steps = 100
    [tune.space]             # c0 = [0.5, 0.99], lr_multiplier = 2.0, layers = [1, 2, 4]
    [tune.pbt]
    iterations = 10          # reports per run; exploit/explore between them
    perturbation_interval = 2
    quantile_fraction = 0.25
    resample_probability = 0.25
    perturbation_factors = [1.2, 0.8]
    resources_per_trial = {cpu = 0.5, gpu = 0}

>>> TuneConfig.from_dict({"tune": {"method": "pbt", "budget": 4}}).pbt.quantile_fraction
0.25
>>> TuneConfig.from_dict({"tune": {"budjet": 4}})
Traceback (most recent call last):
...
symopt.errors.UserError: <config>: unknown key 'tune.budjet'
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from symopt import checks
from symopt.errors import UserError
from symopt.files import load_toml

Method = Literal["ga", "pbt", "random"]
METHODS: tuple[Method, ...] = get_args(Method)


@dataclass(frozen=True)
class PBTConfig:
    iterations: int = 10
    perturbation_interval: int = 2
    quantile_fraction: float = 0.25
    resample_probability: float = 0.25
    perturbation_factors: tuple[float, float] = (1.2, 0.8)
    resources_per_trial: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TuneConfig:
    task: str = ""
    method: str = "ga"
    budget: int | None = None  # None: population x generations (GA), 50 (random), 8 (PBT)
    population: int = 10
    generations: int = 5
    mutation_rate: float = 0.05
    elitism: int = 0
    seed: int = 0
    train_seed: int = 0
    tie_equal_constants: bool = True
    time_limit_s: float = 3600.0  # one training run; bounds PBT's tuner.fit() (pbt.time_bound)
    space: dict[str, Any] = field(default_factory=dict)
    task_overrides: dict[str, Any] = field(default_factory=dict)
    pbt: PBTConfig = field(default_factory=PBTConfig)

    def n_trials(self) -> int:
        """The number of training runs the method will do."""
        if self.budget is not None:
            return self.budget
        return {"ga": self.population * self.generations, "random": 50, "pbt": 8}[self.method]

    def replace(self, **changes: Any) -> TuneConfig:
        out = dataclasses.replace(self, **changes)
        out.validate("<command line>")
        return out

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        tune = {k: v for k, v in d.items() if k not in ("space", "task_overrides", "pbt")}
        if tune["budget"] is None:
            del tune["budget"]
        pbt = dict(d["pbt"])
        pbt["perturbation_factors"] = list(pbt["perturbation_factors"])
        return {"tune": {**tune, "space": d["space"], "overrides": d["task_overrides"], "pbt": pbt}}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<config>") -> TuneConfig:
        unknown = set(data) - {"tune"}
        if unknown:
            raise UserError(f"{source}: unknown table {sorted(unknown)[0]!r} (expected [tune])")
        raw = dict(data.get("tune", {}))
        if not isinstance(raw, dict):
            raise UserError(f"{source}: [tune] must be a table")
        space = raw.pop("space", {})
        task_overrides = raw.pop("overrides", {})
        pbt_raw = raw.pop("pbt", {})
        for name, table in (("space", space), ("overrides", task_overrides), ("pbt", pbt_raw)):
            if not isinstance(table, dict):
                raise UserError(f"{source}: tune.{name} must be a table")
        names = {f.name for f in dataclasses.fields(cls)} - {"space", "task_overrides", "pbt"}
        for key in raw:
            if key not in names:
                raise UserError(f"{source}: unknown key 'tune.{key}'")
        pbt_names = {f.name for f in dataclasses.fields(PBTConfig)}
        for key in pbt_raw:
            if key not in pbt_names:
                raise UserError(f"{source}: unknown key 'tune.pbt.{key}'")
        if "perturbation_factors" in pbt_raw:
            pf = pbt_raw["perturbation_factors"]
            if not (isinstance(pf, list) and len(pf) == 2):
                raise UserError(f"{source}: tune.pbt.perturbation_factors: expected two numbers")
            pbt_raw["perturbation_factors"] = tuple(pf)
        cfg = cls(**raw, space=dict(space), task_overrides=dict(task_overrides),
                  pbt=PBTConfig(**pbt_raw))
        cfg.validate(source)
        return cfg

    def validate(self, source: str) -> None:
        def bad(key: str, why: str) -> UserError:
            return UserError(f"{source}: tune.{key}: {why}")

        def integer(key: str, value: Any, low: int, high: int = checks.MAX_TUNE_COUNT) -> None:
            if (isinstance(value, bool) or not isinstance(value, int) or value < low
                    or value > high):
                raise bad(key, f"expected an integer in [{low}, {high:,}], got "
                               f"{str(value)[:40]!r}")

        def number(key: str, value: Any, low: float, high: float) -> None:
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not low <= value <= high or not math.isfinite(value)):
                raise bad(key, f"expected a number in [{low:g}, {high:g}], got {value!r}")

        if self.method not in METHODS:
            raise bad("method", f"expected one of {', '.join(METHODS)}, got {self.method!r}")
        if not isinstance(self.task, str):
            raise bad("task", f"expected a task name, got {self.task!r}")
        if self.budget is not None:
            integer("budget", self.budget, 1, checks.MAX_TUNE_BUDGET)
        integer("population", self.population, 2)
        integer("generations", self.generations, 1)
        if self.budget is None and self.population * self.generations > checks.MAX_TUNE_BUDGET:
            raise bad("generations", f"population x generations is above the limit of "
                                     f"{checks.MAX_TUNE_BUDGET:,} training runs")
        integer("elitism", self.elitism, 0)
        if self.elitism >= self.population:
            raise bad("elitism", f"must be below the population ({self.population})")
        integer("seed", self.seed, 0, checks.MAX_SEED_VALUE)
        integer("train_seed", self.train_seed, 0, checks.MAX_SEED_VALUE)
        number("mutation_rate", self.mutation_rate, 0.0, 1.0)
        checks.time_limit(self.time_limit_s, f"{source}: tune.time_limit_s")
        if not isinstance(self.tie_equal_constants, bool):
            raise bad("tie_equal_constants", "expected true or false")
        p = self.pbt
        integer("pbt.iterations", p.iterations, 2)
        integer("pbt.perturbation_interval", p.perturbation_interval, 1)
        number("pbt.quantile_fraction", p.quantile_fraction, 0.0, 0.5)
        number("pbt.resample_probability", p.resample_probability, 0.0, 1.0)
        for f in p.perturbation_factors:
            number("pbt.perturbation_factors", f, 1e-3, 1e3)
        if not isinstance(p.resources_per_trial, dict):
            raise bad("pbt.resources_per_trial", "expected a table like {cpu = 1, gpu = 0.5}")
        for k, v in p.resources_per_trial.items():
            if k not in ("cpu", "gpu"):
                raise bad(f"pbt.resources_per_trial.{k}", "unknown resource (cpu, gpu)")
            number(f"pbt.resources_per_trial.{k}", v, 0.0, 1024.0)


def load_config(path: str | os.PathLike[str]) -> TuneConfig:
    """Read a TOML file with a ``[tune]`` table."""
    return TuneConfig.from_dict(load_toml(path), source=str(path))
