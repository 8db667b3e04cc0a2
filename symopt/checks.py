"""Validators, one per kind of setting a user gives: a config key, a command-line flag and a
library argument of the same kind go through the same function, so each rule and its
message are written once. Each returns the value normalized, or raises `UserError`
naming `where` (a config key, a flag).

>>> lr_multipliers([1, 3.0], "--lr-mult")
(1.0, 3.0)
>>> lr_multipliers([0.5, float("nan")], "c.toml: [task] lr_multipliers")
Traceback (most recent call last):
...
symopt.errors.UserError: c.toml: [task] lr_multipliers: must be a non-empty list of positive \
finite numbers, got [0.5, nan]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

from symopt.errors import UserError


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def lr_multipliers(values: Sequence[float], where: str) -> tuple[float, ...]:
    """Learning-rate multipliers: a non-empty list of positive finite numbers."""
    if (isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values
            or not all(_is_number(m) and 0 < m < math.inf for m in values)):
        shown = list(values) if isinstance(values, Sequence) else values
        raise UserError(f"{where}: must be a non-empty list of positive finite numbers, "
                        f"got {shown!r}")
    return tuple(float(m) for m in values)


def time_limit(value: float | None, where: str) -> float | None:
    """A wall-clock limit in seconds: positive, or None for no limit.

    >>> time_limit(None, "--time-limit"), time_limit(2, "--time-limit")
    (None, 2.0)
    """
    if value is None:
        return None
    if not _is_number(value) or not value > 0:
        raise UserError(f"{where}: must be positive, got {value!r}")
    return float(value)


def at_least(value: int, low: int, where: str) -> int:
    """An integer count of at least `low` (steps, seeds, workers...).

    >>> at_least(0, 1, "--seeds")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: --seeds: must be at least 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{where}: must be at least {low}, got {value!r}")
    return value


#: How programs run as optimizers (`symopt.tasks.engine`), and the default: on the 2-core
#: CPU the interpreter evaluates nanogpt-tiny programs several times faster than a compile
#: per program (`bench/bench_fitness.py`; the README's benchmarks), and compilation only
#: gets slower on accelerators.
Engine = Literal["interpreted", "compiled"]
ENGINES: tuple[Engine, ...] = get_args(Engine)
DEFAULT_ENGINE: Engine = "interpreted"


def engine(value: str, where: str) -> Engine:
    """An engine name, one of `ENGINES`.

    >>> engine("fast", "[task] engine")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: [task] engine: must be 'interpreted' or 'compiled', got 'fast'
    """
    if value not in ENGINES:
        raise UserError(f"{where}: must be 'interpreted' or 'compiled', got {value!r}")
    return ENGINES[ENGINES.index(value)]  # typed as an Engine
