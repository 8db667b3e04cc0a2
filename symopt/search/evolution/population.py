"""Regularized (aging) evolution: a fixed-size population where the oldest leaves.

Real et al. (2019), as used by the Lion paper: pick T members at random, the fittest
(lowest fitness) is the parent; its mutated child joins the population and the
oldest member leaves, whatever its fitness. Ageing keeps the search moving: a lucky
candidate cannot hold its place for ever.

Randomness is derived per child from `(seed, child index)` (`child_rng`), so a run
that is stopped and resumed makes the same choices as one that never stopped.

>>> pop = AgingPopulation(size=3, tournament=2)
>>> for i, fit in enumerate([3.0, 1.0, 2.0, 0.5]):
...     pop.add(Member(id=i, fitness=fit, payload=None))
>>> [m.id for m in pop]          # the oldest (id 0) left
[1, 2, 3]
>>> pop.select(child_rng(0, 0)).fitness <= 2.0
True
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from symopt.lang.dead_code import state_values
from symopt.lang.model import Program


@dataclass(frozen=True)
class Member:
    """A population member: a stored candidate's id, fitness and program (`payload`)."""

    id: int
    fitness: float
    payload: Any


def child_rng(seed: int, index: int) -> random.Random:
    """The random generator for child number `index` of a search with `seed`.

    >>> child_rng(1, 5).random() == child_rng(1, 5).random()
    True
    >>> child_rng(1, 5).random() == child_rng(1, 6).random()
    False
    """
    return random.Random(f"symopt-search:{seed}:{index}")


class AgingPopulation:
    """The population of aging evolution: `add` pushes out the oldest, `select` runs a
    tournament."""

    def __init__(self, size: int, tournament: int):
        if not 1 <= tournament <= size:
            raise ValueError(f"tournament size {tournament} must be in [1, population {size}]")
        self.size = size
        self.tournament = tournament
        self._members: deque[Member] = deque(maxlen=size)

    def add(self, member: Member) -> None:
        """Add the youngest member; the oldest leaves once the population is full."""
        self._members.append(member)

    def reset(self, members: list[Member]) -> None:
        """Replace the whole population (warm start, restart, resume); oldest first."""
        self._members = deque(members[-self.size:], maxlen=self.size)

    def select(self, rng: random.Random) -> Member:
        """Tournament: `tournament` distinct members drawn uniformly, the fittest wins.

        Ties go to the member whose program keeps fewer state slots (less optimizer
        memory), then to the younger member; non-finite fitness loses to any finite one.

        >>> from symopt import programs
        >>> pop = AgingPopulation(size=2, tournament=2)
        >>> pop.add(Member(0, 1.0, programs.load("lion")))
        >>> pop.add(Member(1, 1.0, programs.load("adamw")))
        >>> pop.select(child_rng(0, 0)).id, pop.best().id
        (0, 0)
        """
        if not self._members:
            raise ValueError("cannot select from an empty population")
        k = min(self.tournament, len(self._members))
        picks = rng.sample(range(len(self._members)), k)
        best = min(picks, key=lambda i: (*rank(self._members[i]), -i))
        return self._members[best]

    def best(self) -> Member:
        """The fittest member; ties go to fewer state slots, then to the youngest."""
        return min(reversed(self._members), key=rank)

    def __iter__(self) -> Iterator[Member]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)


def _key(fitness: float) -> float:
    return fitness if not math.isnan(fitness) else math.inf


def rank(member: Member) -> tuple[float, int]:
    """How a member sorts in a tournament: fitness, then state slots (fewer first)."""
    payload = member.payload
    slots = state_values(payload) if isinstance(payload, Program) else 0
    return _key(member.fitness), slots
