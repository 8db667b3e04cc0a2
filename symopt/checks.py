"""Validators, one per kind of setting a user gives: a config key, a command-line flag and a
library argument of the same kind go through the same function, so each rule and its
message are written once. Each returns the value normalized, or raises `UserError`
naming `where` (a config key, a flag) in the one format of `symopt.config_table.error`:
`where: problem (got value)`.

>>> lr_multipliers([1, 3.0], "--lr-mult")
(1.0, 3.0)
>>> lr_multipliers([0.5, float("nan")], "c.toml: task.lr_multipliers")
Traceback (most recent call last):
...
symopt.errors.UserError: c.toml: task.lr_multipliers: must be a non-empty list of positive \
finite numbers (got [0.5, nan])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

from symopt.config_table import error

# -- Upper bounds: every count, list and file a user gives (README "Limits") ---------------
# One place for all of them: the command line, the search, tune and sweep configs and the
# task overrides check against these, so a typo of a few digits is refused up front instead
# of running for ever or filling the memory.

#: Files read (programs, configs, stored text): a real one is a few kilobytes.
MAX_FILE_BYTES = 1_000_000
#: TOML (configs, `--set` values): arrays and tables nested at most this deep...
MAX_TOML_DEPTH = 16
#: ...and integers within 64 bits, as the TOML specification says.
MAX_TOML_INT = 2**63 - 1
#: Training seeds per evaluation (`eval --seeds`, `[task] seeds`, `[[funnel]] seeds`)...
MAX_SEEDS = 100
#: ...each below 2^31.
MAX_SEED_VALUE = 2**31 - 1
#: Learning-rate multipliers tried per evaluation (`--lr-mult`, `lr_multipliers` keys).
MAX_LR_MULTIPLIERS = 32
#: Programs compared by one `symopt eval`.
MAX_PROGRAMS = 100
#: Training steps of one run (`eval --steps`, the `steps`/`warmup_steps` overrides).
MAX_STEPS = 10_000_000
#: Any other integer setting of a task (`dim`, `width`, `layers`, `n_train`, `batch_size`...).
MAX_TASK_SIZE = 1_000_000
#: Training runs of one `symopt tune` (`--budget`, `[tune] budget`, population x generations).
MAX_TUNE_BUDGET = 100_000
#: `[tune] population`, `generations`, `[tune.pbt] iterations` and the tuner's seeds.
MAX_TUNE_COUNT = 100_000
#: Choices of one `[tune.space]` gene (`heads = [2, 4, 8]`, `{ choices = [...] }`).
MAX_CHOICES = 100
#: Seed programs of a search or sweep (`--seed`, `--program`), `[[funnel]]` stages and
#: `[hurdles] at` points.
MAX_LIST = 100
#: Wall-clock limit of one evaluation (`--time-limit`, `time_limit_s`): a week.
MAX_TIME_LIMIT_S = 7 * 24 * 3600.0
#: Searches in one `symopt sweep` (the product of its `--vary` lists and `--repeats`).
MAX_SWEEP_RUNS = 1_000
#: `[search]` keys (section, key) -> largest accepted value.
SEARCH_LIMITS: dict[tuple[str, str], int] = {
    ("search", "population"): 100_000, ("search", "budget"): 10_000_000_000,
    ("search", "workers"): 1024, ("search", "batch"): 4096, ("search", "hall_of_fame"): 10_000,
    ("search", "stall_after"): 1_000_000, ("search", "max_candidates"): 1_000_000_000,
    ("search", "snapshot_every"): 1_000_000_000, ("search", "restart_after"): 1_000_000_000,
    ("search", "random_seed"): MAX_TOML_INT,
    ("task", "seeds"): MAX_SEEDS, ("task", "seed"): MAX_SEED_VALUE,
}
#: Integer task fields with their own range (low, high); any other: [1, MAX_TASK_SIZE].
TASK_INT_RANGES: dict[str, tuple[int, int]] = {
    "steps": (1, MAX_STEPS), "warmup_steps": (0, MAX_STEPS), "n_evals": (1, 10_000),
}


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def lr_multipliers(values: Sequence[float], where: str) -> tuple[float, ...]:
    """Learning-rate multipliers: a non-empty list of positive finite numbers, at most
    `MAX_LR_MULTIPLIERS` of them."""
    if (isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values
            or not all(_is_number(m) and 0 < m < math.inf for m in values)):
        shown = list(values) if isinstance(values, Sequence) else values
        raise error(where, "must be a non-empty list of positive finite numbers", shown)
    if len(values) > MAX_LR_MULTIPLIERS:
        raise error(where, f"{len(values)} multipliers; at most {MAX_LR_MULTIPLIERS}")
    return tuple(float(m) for m in values)


def short_list(values: Sequence, high: int, where: str) -> list:
    """A non-empty list of at most `high` items (one of the `MAX_*` bounds).

    >>> short_list([2, 4], MAX_CHOICES, "tune.space.heads")
    [2, 4]
    >>> short_list(list(range(1000)), MAX_CHOICES, "tune.space.heads")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: tune.space.heads: 1,000 items; at most 100
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise error(where, "must be a non-empty list", values)
    if len(values) > high:
        raise error(where, f"{len(values):,} items; at most {high:,}")
    return list(values)


def bounded(value: int, low: int, high: int, where: str) -> int:
    """An integer count in [`low`, `high`] (the high end one of the `MAX_*` bounds).

    >>> bounded(10**30, 1, MAX_SEEDS, "--seeds")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: --seeds: must be at most 100 (got 1000000000000000000000000000000)
    """
    at_least(value, low, where)
    if value > high:
        raise error(where, f"must be at most {high:,}", value)
    return value


def task_int(key: str, value: int, where: str) -> int:
    """An integer task setting within its range (`TASK_INT_RANGES`, else [1, MAX_TASK_SIZE]).

    >>> task_int("dim", 0, "overrides dim")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: overrides dim: must be at least 1 (got 0)
    """
    low, high = TASK_INT_RANGES.get(key, (1, MAX_TASK_SIZE))
    return bounded(value, low, high, where)


def time_limit(value: float | None, where: str) -> float | None:
    """A wall-clock limit in seconds: positive, at most `MAX_TIME_LIMIT_S`, or None for
    no limit.

    >>> time_limit(None, "--time-limit"), time_limit(2, "--time-limit")
    (None, 2.0)
    >>> time_limit(float("inf"), "--time-limit")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: --time-limit: must be at most 604800 s (a week) (got inf)
    """
    if value is None:
        return None
    if not _is_number(value) or not value > 0:
        raise error(where, "must be positive", value)
    if not value <= MAX_TIME_LIMIT_S:
        raise error(where, f"must be at most {MAX_TIME_LIMIT_S:.0f} s (a week)", value)
    return float(value)


def at_least(value: int, low: int, where: str) -> int:
    """An integer count of at least `low` (steps, seeds, workers...).

    >>> at_least(0, 1, "--seeds")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: --seeds: must be at least 1 (got 0)
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise error(where, f"must be at least {low}", value)
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

    >>> engine("fast", "task.engine")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: task.engine: must be 'interpreted' or 'compiled' (got 'fast')
    """
    if value not in ENGINES:
        raise error(where, "must be 'interpreted' or 'compiled'", value)
    return ENGINES[ENGINES.index(value)]  # typed as an Engine
