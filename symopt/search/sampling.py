"""The `[mutation]` config and the random draws it governs: which operators with which
weights, the bounds on programs and constants, and how a new call or constant is drawn.

`CallSampler` draws random type-correct calls over the variables in scope; the `insert`
mutation (`symopt.search.mutation`) and the random-search baseline
(`symopt.search.random_programs`) both draw their statements from it. Constants are
log-uniform in ``[constant_min, constant_max]`` with two significant digits, and every
constant a search makes is clamped to ``[MIN_ABS_CONSTANT, MAX_ABS_CONSTANT]``.

>>> sampler = CallSampler(MutationConfig(constant_min=0.5, constant_max=0.5))
>>> sampler.constant(as_random(0))
0.5
>>> MutationConfig.from_dict({"constant_prob": 2})
Traceback (most recent call last):
...
symopt.errors.UserError: mutation.constant_prob: must be a probability in [0, 1], got 2
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from symopt.errors import UserError
from symopt.lang.kinds import Kind
from symopt.lang.model import Arg
from symopt.lang.parser import MAX_STATEMENTS
from symopt.lang.registry import FUNCTIONS, KIND_TABLES

#: The operators, in the order their weights appear in `MutationConfig`.
OPERATORS = ("insert", "delete", "modify_arg", "perturb_constant", "replace_function")
#: Constants never get smaller (in magnitude) than this, nor larger than `MAX_ABS_CONSTANT`.
MIN_ABS_CONSTANT = 1e-8
MAX_ABS_CONSTANT = 1e8
#: Every library function but ``copy`` (plain assignment adds nothing a mutation needs).
DEFAULT_FUNCTIONS = tuple(name for name, f in FUNCTIONS.items() if not f.identity)

_S = Kind.SCALAR
_ARG_TRIES = 8  # argument draws per try before an insert gives up
#: Upper bound of ``max_tries`` (``max_statements`` is bounded by the parser's limit).
MAX_TRIES = 100_000


@dataclass(frozen=True)
class MutationConfig:
    """How to mutate: operator weights, bounds, and how new statements are drawn.

    Weights are relative (they need not sum to 1). ``constant_prob`` is the
    chance that a new argument is a constant rather than a variable; new
    constants are log-uniform in ``[constant_min, constant_max]``, rounded to
    two significant digits. ``functions`` are those ``insert`` and
    ``replace_function`` may use.

    >>> MutationConfig(delete=0.0).delete
    0.0
    """

    insert: float = 1.0
    delete: float = 1.0
    modify_arg: float = 1.0
    perturb_constant: float = 1.0
    replace_function: float = 0.5
    max_statements: int = 30
    max_tries: int = 50
    constant_prob: float = 0.25
    fresh_target_prob: float = 0.2
    functions: tuple[str, ...] = DEFAULT_FUNCTIONS
    constant_min: float = 1e-3
    constant_max: float = 10.0

    def __post_init__(self):
        if isinstance(self.functions, list):
            object.__setattr__(self, "functions", tuple(self.functions))
        _validate(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MutationConfig:
        """A config from plain data (a TOML ``[mutation]`` table); `UserError` names a bad key.

        >>> MutationConfig.from_dict({"max_statements": 12, "functions": ["sign", "mul"]}).functions
        ('sign', 'mul')
        >>> MutationConfig.from_dict({"bogus": 1})
        Traceback (most recent call last):
        ...
        symopt.errors.UserError: mutation.bogus: unknown key (known: insert, delete, \
modify_arg, perturb_constant, replace_function, max_statements, max_tries, constant_prob, \
fresh_target_prob, functions, constant_min, constant_max)
        """
        if not isinstance(data, dict):
            raise UserError(f"mutation: expected a table, got {data!r}")
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise UserError(f"mutation.{key}: unknown key (known: {', '.join(known)})")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """Every key as plain data (the inverse of `from_dict`).

        >>> MutationConfig.from_dict(MutationConfig(insert=2.0).to_dict()).insert
        2.0
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["functions"] = list(self.functions)
        return out

    def weights(self) -> dict[str, float]:
        """The operator weights by name.

        >>> MutationConfig().weights()["insert"]
        1.0
        """
        return {op: float(getattr(self, op)) for op in OPERATORS}


def _validate(cfg: MutationConfig) -> None:
    def bad(key: str, why: str) -> UserError:
        return UserError(f"mutation.{key}: {why}, got {getattr(cfg, key)!r}")

    def is_number(x) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

    for key in OPERATORS:
        if not is_number(getattr(cfg, key)) or getattr(cfg, key) < 0:
            raise bad(key, "must be a non-negative number")
    if sum(getattr(cfg, key) for key in OPERATORS) <= 0:
        raise UserError(f"mutation.{OPERATORS[0]}: at least one operator weight "
                        f"({', '.join(OPERATORS)}) must be positive")
    for key, limit in (("max_statements", MAX_STATEMENTS), ("max_tries", MAX_TRIES)):
        value = getattr(cfg, key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise bad(key, f"must be an integer from 1 to {limit:,}")
    for key in ("constant_prob", "fresh_target_prob"):
        value = getattr(cfg, key)
        if not is_number(value) or not 0 <= value <= 1:
            raise bad(key, "must be a probability in [0, 1]")
    if not isinstance(cfg.functions, tuple) or not cfg.functions:
        raise bad("functions", "must be a non-empty list of function names")
    for name in cfg.functions:
        if name not in FUNCTIONS:
            raise UserError(f"mutation.functions: unknown function {name!r}")
    for key in ("constant_min", "constant_max"):
        value = getattr(cfg, key)
        if not is_number(value) or not MIN_ABS_CONSTANT <= value <= MAX_ABS_CONSTANT:
            raise bad(key, f"must be a number in [{MIN_ABS_CONSTANT}, {MAX_ABS_CONSTANT}]")
    if cfg.constant_min > cfg.constant_max:
        raise bad("constant_min", f"must not exceed constant_max ({cfg.constant_max!r})")


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

    Shared by `Mutator` (insert) and `symopt.search.random_programs`.

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
            args, kinds, reads = [], [], False
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
