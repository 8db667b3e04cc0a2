"""The `[mutation]` config and the random draws it governs: which operators with which
weights, the bounds on programs and constants, and how a new call or constant is drawn.

`CallSampler` draws random type-correct calls over the variables in scope; the `insert`
mutation (`symopt.search.evolution.mutation`) and the random-search baseline
(`symopt.search.evolution.random_programs`) both draw their statements from it. Constants are
log-uniform in ``[constant_min, constant_max]`` with two significant digits, and every
constant a search makes is clamped to ``[MIN_ABS_CONSTANT, MAX_ABS_CONSTANT]``.

>>> sampler = CallSampler(MutationConfig(constant_min=0.5, constant_max=0.5))
>>> sampler.constant(as_random(0))
0.5
>>> MutationConfig.from_dict({"constant_prob": 2})
Traceback (most recent call last):
...
symopt.errors.UserError: mutation.constant_prob: must be a probability in [0, 1] (got 2.0)
"""

from __future__ import annotations

import math
import random

import numpy as np

from symopt.lang.kinds import Kind
from symopt.lang.model import Arg
from symopt.lang.registry import FUNCTIONS, KIND_TABLES
from symopt.search.config.sections import (
    DEFAULT_FUNCTIONS as DEFAULT_FUNCTIONS,
)
from symopt.search.config.sections import (
    MAX_ABS_CONSTANT,
    MIN_ABS_CONSTANT,
    MutationConfig,
)

_S = Kind.SCALAR
_ARG_TRIES = 8  # argument draws per try before an insert gives up


def as_random(rng: random.Random | np.random.Generator | int) -> random.Random:
    """A `random.Random` from a `random.Random` (itself), a numpy Generator or an int seed.

    A numpy Generator seeds a new `random.Random` from one draw, so results are
    deterministic for the Generator's seed (pure-Python draws are much faster).

    >>> as_random(3).random() == random.Random(3).random()
    True
    """
    if isinstance(rng, random.Random):
        return rng
    if isinstance(rng, np.random.Generator):
        return random.Random(int(rng.integers(0, 2**63)))
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return random.Random(int(rng))
    raise TypeError(f"rng must be a random.Random, a numpy Generator or an int, got {rng!r}")


def clamp_constant(value: float) -> float:
    """`value` with its magnitude clamped to [MIN_ABS_CONSTANT, MAX_ABS_CONSTANT] (0 -> +min).

    >>> clamp_constant(0.0), clamp_constant(-1e12), clamp_constant(0.5)
    (1e-08, -100000000.0, 0.5)
    """
    magnitude = min(max(abs(value), MIN_ABS_CONSTANT), MAX_ABS_CONSTANT)
    return -magnitude if value < 0 else magnitude


class CallSampler:
    """Draws random type-correct calls ``fn(args) -> kind`` over a kinds environment.

    Shared by `Mutator` (insert) and `symopt.search.evolution.random_programs`.

    >>> sampler = CallSampler(MutationConfig(functions=("sign",)))
    >>> sampler.sample(random.Random(0), {"g": Kind.TENSOR})
    ('sign', ('g',), <Kind.TENSOR: 2>)
    """

    def __init__(self, config: MutationConfig):
        self.config = config
        self._fns = [(name, FUNCTIONS[name].arity, KIND_TABLES[name]) for name in config.functions]
        self._log_lo = math.log(config.constant_min)
        self._log_hi = math.log(config.constant_max)

    def constant(self, rng: random.Random) -> float:
        """A new constant: log-uniform magnitude, two significant digits."""
        x = math.exp(rng.uniform(self._log_lo, self._log_hi))
        return clamp_constant(float(f"{x:.2g}"))

    def sample(self, rng: random.Random, env: dict[str, Kind]
               ) -> tuple[str, tuple[Arg, ...], Kind] | None:
        """A random call whose arguments are variables of `env` or new constants.

        Each argument is a constant with probability ``constant_prob``, else a
        uniformly drawn variable; calls of arity >= 1 read at least one
        variable. None when no acceptable draw is found in a few attempts.
        """
        names = list(env)
        p_const = self.config.constant_prob
        for _ in range(_ARG_TRIES):
            fn, arity, table = rng.choice(self._fns)
            if arity == 0:
                return fn, (), table[()]
            args: list[Arg] = []
            kinds: list[Kind] = []
            reads = False
            for _ in range(arity):
                if rng.random() < p_const:
                    args.append(self.constant(rng))
                    kinds.append(_S)
                else:
                    name = rng.choice(names)
                    args.append(name)
                    kinds.append(env[name])
                    reads = True
            if not reads:
                continue
            kind = table.get(tuple(kinds))
            if kind is not None:
                return fn, tuple(args), kind
        return None
