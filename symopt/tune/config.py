"""The ``[tune]`` configuration: method, budget, GA and PBT settings, space, task overrides.

A TOML file holds a ``[tune]`` table (and optionally ``[tune.space]``,
``[tune.overrides]``, ``[tune.pbt]``); every key is checked, by the reader of every config
(`symopt.config_table`), and a bad one is a ``UserError`` naming it by its dotted path
(``c.toml: tune.pbt.iterations: must be an integer in [2, 100,000] (got 1)``)::

    [tune]
    method = "ga"            # ga | pbt | random
    budget = 40              # training runs (PBT: its population, trained concurrently)
    population = 10          # GA population
    mutation_rate = 0.05     # GA: each gene resampled with this probability
    elitism = 0              # GA: best individuals carried over unchanged
    random_seed = 0          # the tuner's random seed (`seed`, the old spelling, still read)
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
symopt.errors.UserError: <config>: tune.budjet: unknown key (did you mean 'budget'?)
>>> TuneConfig.from_dict({"tune": {"pbt": {"iterations": "10"}}}, source="c.toml")
Traceback (most recent call last):
...
symopt.errors.UserError: c.toml: tune.pbt.iterations: expected an integer (got '10')
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from symopt import checks
from symopt.config_table import NO_VALUE, at, error, read_table, toml_key
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
    random_seed: int = field(default=0, metadata=toml_key(old="seed"))
    train_seed: int = 0
    tie_equal_constants: bool = True
    time_limit_s: float = 3600.0  # one training run; bounds PBT's tuner.fit() (pbt.time_bound)
    space: dict[str, Any] = field(default_factory=dict)
    task_overrides: dict[str, Any] = field(default_factory=dict, metadata=toml_key("overrides"))
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
        """A config from a parsed TOML document: a ``[tune]`` table."""
        if not isinstance(data, dict):
            raise error(at(source), "expected a table of sections", data)
        for key in data:
            if key != "tune":
                raise error(at(source, key), "unknown section (a tune config has one: [tune])")
        cfg = read_table(cls, data.get("tune", {}), source, "tune")
        cfg.validate(source)
        return cfg

    def validate(self, source: str) -> None:
        def bad(key: str, why: str, value: Any = NO_VALUE) -> UserError:
            return error(at(source, "tune", key), why, value)

        def integer(key: str, value: Any, low: int, high: int = checks.MAX_TUNE_COUNT) -> None:
            if (isinstance(value, bool) or not isinstance(value, int) or value < low
                    or value > high):
                raise bad(key, f"must be an integer in [{low}, {high:,}]", value)

        def number(key: str, value: Any, low: float, high: float) -> None:
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not low <= value <= high or not math.isfinite(value)):
                raise bad(key, f"must be a number in [{low:g}, {high:g}]", value)

        if self.method not in METHODS:
            raise bad("method", f"must be one of {', '.join(METHODS)}", self.method)
        if not isinstance(self.task, str):
            raise bad("task", "expected a task name", self.task)
        if self.budget is not None:
            integer("budget", self.budget, 1, checks.MAX_TUNE_BUDGET)
        integer("population", self.population, 2)
        integer("generations", self.generations, 1)
        if self.budget is None and self.population * self.generations > checks.MAX_TUNE_BUDGET:
            raise bad("generations", f"population x generations = "
                      f"{self.population * self.generations:,} is above the limit of "
                      f"{checks.MAX_TUNE_BUDGET:,} training runs")
        integer("elitism", self.elitism, 0)
        if self.elitism >= self.population:
            raise bad("elitism", f"must be below the population ({self.population})",
                      self.elitism)
        integer("random_seed", self.random_seed, 0, checks.MAX_SEED_VALUE)
        integer("train_seed", self.train_seed, 0, checks.MAX_SEED_VALUE)
        number("mutation_rate", self.mutation_rate, 0.0, 1.0)
        checks.time_limit(self.time_limit_s, at(source, "tune", "time_limit_s"))
        if not isinstance(self.tie_equal_constants, bool):
            raise bad("tie_equal_constants", "expected true or false", self.tie_equal_constants)
        p = self.pbt
        integer("pbt.iterations", p.iterations, 2)
        integer("pbt.perturbation_interval", p.perturbation_interval, 1)
        number("pbt.quantile_fraction", p.quantile_fraction, 0.0, 0.5)
        number("pbt.resample_probability", p.resample_probability, 0.0, 1.0)
        for f in p.perturbation_factors:
            number("pbt.perturbation_factors", f, 1e-3, 1e3)
        if not isinstance(p.resources_per_trial, dict):
            raise bad("pbt.resources_per_trial", "expected a table like {cpu = 1, gpu = 0.5}",
                      p.resources_per_trial)
        for k, v in p.resources_per_trial.items():
            if k not in ("cpu", "gpu"):
                raise bad(f"pbt.resources_per_trial.{k}", "unknown resource (cpu, gpu)")
            number(f"pbt.resources_per_trial.{k}", v, 0.0, 1024.0)


def load_tune_config(path: str | os.PathLike[str]) -> TuneConfig:
    """Read a TOML file with a ``[tune]`` table."""
    return TuneConfig.from_dict(load_toml(path), source=str(path))
