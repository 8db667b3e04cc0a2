"""The sections of a search config: one frozen dataclass per TOML table, with its defaults.

`symopt.config_table.read_table` reads a parsed table into one: an unknown key is a
`UserError` naming the source and the key (`c.toml: search.populaton: unknown key (did
you mean 'population'?)`), a value of the wrong type one naming the expected type. What
the keys mean, and the checks across keys, are `symopt.search.config.loading`'s.

>>> read_table(ExecutorSection, {"kind": "ray", "cpus_per_eval": 2}, "c.toml", "executor")
ExecutorSection(kind='ray', address='', cpus_per_eval=2.0, gpus_per_eval=0.0, max_retries=2)
>>> read_table(CacheSection, {"fingerprint": "yes"}, "c.toml", "cache")
Traceback (most recent call last):
...
symopt.errors.UserError: c.toml: cache.fingerprint: expected true or false (got 'yes')
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any

from symopt import checks
from symopt.config_table import at, error, read_table, toml_key
from symopt.errors import UserError
from symopt.lang.parser import MAX_STATEMENTS
from symopt.lang.registry import FUNCTIONS


@dataclass(frozen=True)
class SearchSection:
    population: int = 100
    tournament: int = 2
    budget: int = 200
    max_candidates: int = 0
    random_seed: int = field(default=0, metadata=toml_key(old="seed"))  # `seed` still read
    workers: int = 1
    restart_after: int = 0
    restart_from: str = "best"
    hall_of_fame: int = 20
    snapshot_every: int = 100
    method: str = "evolution"
    stall_after: int = 100
    on_stall: str = "restart"
    batch: int = 1
    budget_unit: str = "runs"
    lr_probe: tuple[float, ...] = ()

    @property
    def candidate_limit(self) -> int:
        return self.max_candidates or 50 * self.budget


@dataclass(frozen=True)
class TaskSection:
    name: str = "quadratic"
    seeds: tuple[int, ...] = (0,)
    lr_multipliers: tuple[float, ...] | None = None
    time_limit_s: float | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    engine: str = checks.DEFAULT_ENGINE

    def spec(self) -> dict[str, Any]:
        """A JSON-able description of the task: what an evaluation depends on. The engine
        is not part of it (both give the same fitness), so caches are shared."""
        return {"name": self.name, "seeds": list(self.seeds),
                "lr_multipliers": (None if self.lr_multipliers is None
                                   else list(self.lr_multipliers)),
                "time_limit_s": self.time_limit_s,
                "overrides": dict(sorted(self.overrides.items()))}


@dataclass(frozen=True)
class FunnelStage:
    """One `[[funnel]]` stage: re-evaluate the best `top_k` candidates and the seed on
    `task`, each trained under every multiplier of `lr_multipliers` (best kept)."""

    task: str = "nanogpt-small"
    top_k: int = 5
    seeds: tuple[int, ...] = (0,)
    lr_multipliers: tuple[float, ...] = (0.5, 1.0, 2.0)
    time_limit_s: float | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        """The task spec of this stage (same shape as `TaskSection.spec`)."""
        return {"name": self.task, "seeds": list(self.seeds),
                "lr_multipliers": list(self.lr_multipliers), "time_limit_s": self.time_limit_s,
                "overrides": dict(sorted(self.overrides.items()))}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["seeds"], out["lr_multipliers"] = list(self.seeds), list(self.lr_multipliers)
        if self.time_limit_s is None:
            del out["time_limit_s"]
        return out


@dataclass(frozen=True)
class CacheSection:
    path: str = ""
    fingerprint: bool = True


@dataclass(frozen=True)
class ExecutorSection:
    kind: str = "auto"
    address: str = ""
    cpus_per_eval: float = 1.0
    gpus_per_eval: float = 0.0
    max_retries: int = 2


EXECUTOR_KINDS = ("auto", "inline", "process", "ray")


def parse_address(address: str) -> tuple[str, int] | None:
    """`(host, port)` of a Ray address, `None` for `""` / `"auto"`; `ValueError` if malformed.

    >>> parse_address("ray://10.0.0.5:10001"), parse_address("head:6379"), parse_address("")
    (('10.0.0.5', 10001), ('head', 6379), None)
    """
    if address in ("", "auto"):
        return None
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    if not sep or not host or "/" in rest or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(address)
    return host, int(port)


# -- [hurdles] -----------------------------------------------------------------------

RULES = ("quantile", "seed")


@dataclass(frozen=True)
class HurdlesSection:
    """The `[hurdles]` section of a search config (off unless `at` is set)."""

    at: tuple[float, ...] = ()
    rule: str = "quantile"
    quantile: float = 0.75
    margin: float = 0.1
    min_members: int = 4

    def problems(self) -> list[tuple[str, str]]:
        """``(key, why)`` for each bad value (empty when the section is valid); the value
        is ``getattr(self, key)``.

        >>> HurdlesSection(at=(0.5, 1.0), rule="median").problems()
        [('at', 'fractions of the run must lie strictly between 0 and 1'), \
('rule', "must be 'quantile' or 'seed'")]
        """
        out = []
        if any(not 0 < f < 1 for f in self.at):
            out.append(("at", "fractions of the run must lie strictly between 0 and 1"))
        if self.rule not in RULES:
            out.append(("rule", "must be 'quantile' or 'seed'"))
        if not 0 < self.quantile <= 1:
            out.append(("quantile", "must lie in (0, 1]"))
        if not self.margin >= 0:
            out.append(("margin", "must be 0 or more"))
        if self.min_members < 1:
            out.append(("min_members", "must be at least 1"))
        return out

    def to_dict(self) -> dict:
        return {"at": list(self.at), "rule": self.rule, "quantile": self.quantile,
                "margin": self.margin, "min_members": self.min_members}


# -- [mutation] ----------------------------------------------------------------------

#: The operators, in the order their weights appear in `MutationConfig`.
OPERATORS = ("insert", "delete", "modify_arg", "perturb_constant", "replace_function")
#: Constants never get smaller (in magnitude) than this, nor larger than `MAX_ABS_CONSTANT`.
MIN_ABS_CONSTANT = 1e-8
MAX_ABS_CONSTANT = 1e8
#: Every library function but ``copy`` (plain assignment adds nothing a mutation needs).
DEFAULT_FUNCTIONS = tuple(name for name, f in FUNCTIONS.items() if not f.identity)

#: Upper bound of ``max_tries`` (``max_statements`` is bounded by the parser's limit).
MAX_TRIES = 100_000


@dataclass(frozen=True)
class MutationConfig:
    """How to mutate: operator weights, bounds, and how new statements are drawn.

    Weights are relative (they need not sum to 1). ``constant_prob`` is the
    chance that a new argument is a constant rather than a variable; new
    constants are log-uniform in ``[constant_min, constant_max]``, rounded to
    two significant digits. ``functions`` are those ``insert`` and
    ``replace_function`` may use. ``adapt`` lets the weights follow what pays off in the
    run (`symopt.search.evolution.operators`; ``adapt_floor``: the least weight an
    operator keeps); ``adapt = false`` keeps the configured mix.

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
    adapt: bool = True
    adapt_floor: float = 0.05

    def __post_init__(self):
        if isinstance(self.functions, list):
            object.__setattr__(self, "functions", tuple(self.functions))
        _validate(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "") -> MutationConfig:
        """A config from plain data (a TOML ``[mutation]`` table, read from `source`);
        `UserError` names a bad key.

        >>> MutationConfig.from_dict({"max_statements": 12, "functions": ["sign", "mul"]}).functions
        ('sign', 'mul')
        >>> MutationConfig.from_dict({"delet": 1}, "c.toml")
        Traceback (most recent call last):
        ...
        symopt.errors.UserError: c.toml: mutation.delet: unknown key (did you mean 'delete'?)
        """
        return read_table(cls, data, source, "mutation")

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
        return error(at("", "mutation", key), why, getattr(cfg, key))

    def is_number(x) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

    for key in OPERATORS:
        if not is_number(getattr(cfg, key)) or getattr(cfg, key) < 0:
            raise bad(key, "must be a non-negative number")
    if sum(getattr(cfg, key) for key in OPERATORS) <= 0:
        raise error(at("", "mutation", OPERATORS[0]), f"at least one operator weight "
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
            raise error(at("", "mutation", "functions"), f"unknown function {name!r}")
    for key in ("constant_min", "constant_max"):
        value = getattr(cfg, key)
        if not is_number(value) or not MIN_ABS_CONSTANT <= value <= MAX_ABS_CONSTANT:
            raise bad(key, f"must be a number in [{MIN_ABS_CONSTANT}, {MAX_ABS_CONSTANT}]")
    if not isinstance(cfg.adapt, bool):
        raise bad("adapt", "must be true or false")
    if not is_number(cfg.adapt_floor) or not 0 <= cfg.adapt_floor <= 0.2:
        raise bad("adapt_floor", "must be a number in [0, 0.2]")
    if cfg.constant_min > cfg.constant_max:
        raise bad("constant_min", f"must not exceed constant_max ({cfg.constant_max!r})")
