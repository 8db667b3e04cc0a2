"""How a search proposes its next candidate: `[search] method`.

- ``"evolution"``: a tournament winner of the population, mutated by every operator.
- ``"constants"``: the same, but the only operator is ``perturb_constant``, so every
  candidate has the seed's structure: the paper's hyperparameter-tuning baseline.
- ``"random"``: a random program of similar length to the seed (between 3/4 and 5/4 of
  its statements), with its signature, drawn from scratch: the paper's random search.
  It never starts from the seed or from any other candidate (no parent).

The three share the run store, cache, budget and outputs; only the proposal differs,
so they compare at an equal number of training runs.

>>> import random
>>> from symopt import programs
>>> from symopt.search.config.sections import MutationConfig
>>> seed = programs.load("adamw")
>>> propose = Proposer("random", MutationConfig(), seed)
>>> parent, child = propose(random.Random(0), population=None)
>>> parent, child.operator, child.program.params == seed.params
(None, 'random', True)
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

from symopt.lang import Program
from symopt.search.config.loading import Method
from symopt.search.config.sections import OPERATORS, MutationConfig
from symopt.search.evolution.mutation import Mutation, Mutator
from symopt.search.evolution.population import AgingPopulation, Member
from symopt.search.evolution.random_programs import random_program


def constants_only(config: MutationConfig) -> MutationConfig:
    """`config` with every operator but ``perturb_constant`` switched off.

    >>> constants_only(MutationConfig()).weights()["insert"], constants_only(
    ...     MutationConfig()).perturb_constant
    (0.0, 1.0)
    """
    weights: dict[str, Any] = {op: 0.0 for op in OPERATORS}  # float fields, by name
    weights["perturb_constant"] = config.perturb_constant or 1.0
    return dataclasses.replace(config, **weights)


class Proposer:
    """`proposer(rng, population) -> (parent Member or None, Mutation)` for a method."""

    def __init__(self, method: Method, config: MutationConfig, seed: Program):
        self.method = method
        self.config = constants_only(config) if method == "constants" else config
        self.mutator = Mutator(self.config)
        self.seed = seed
        length = len(seed.body)
        self.lengths = (max(1, math.floor(0.75 * length)),
                        max(1, min(self.config.max_statements, math.ceil(1.25 * length))))

    def __call__(self, rng: random.Random,
                 population: AgingPopulation | None) -> tuple[Member | None, Mutation]:
        if self.method == "random":
            lo, hi = self.lengths
            n = rng.randint(min(lo, hi), hi)
            program = random_program(rng, self.seed, n, self.config)
            return None, Mutation(program, "random", f"random program, {n} statements", 1)
        if population is None:
            raise ValueError(f"method {self.method!r} selects parents from a population")
        parent = population.select(rng)
        self.mutator.rng = rng
        return parent, self.mutator.mutate(parent.payload)
