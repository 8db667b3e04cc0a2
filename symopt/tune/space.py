"""The search space of a tuning run: genes, their ranges, sampling, crossover, mutation.

A *gene* is one hyperparameter: a constant of the program (``c0``, ``c1``, ... in
``program.constants()`` order; constants of equal value share the gene of the first by
default, so AdamW's ``0.9`` in ``interp`` and in its bias correction move together), the
learning-rate multiplier ``lr_multiplier``, the ``warmup_steps`` of the schedule, and
fields of the task (for nanoGPT: ``layers``, ``heads``, ``width``, ``dropout``; each
value is a model of its own, compiled once, so they are searched over a few choices).

Default ranges (`WIDTH` = 100): tuners in this field search learning-rate-like constants
log-uniformly over decades, and a constant set 100× off must be reachable, so a constant
``v`` moves over ``[v/100, 100v]`` on a log scale (a factor of the step, a weight decay,
an epsilon); a decay-like constant in ``[0.5, 1)`` (a β) over
``1 − x ∈ [(1−v)/100, min(100(1−v), 0.5)]`` on a log scale (scale ``log1m``: β = 0.9 over
[0.5, 0.999], β = 0.999 over [0.9, 0.99999]), which never reaches 1; constants ``0`` and
``±1`` are structural and stay fixed unless ``[tune.space]`` gives them a range. The GA's
samples and mutations and PBT's resamples all draw from these ranges.
``[tune.space]`` maps a key to a number (fix it), ``[low, high]`` (a range;
the scale is the gene's default one when it fits, else log for same-signed bounds, else
linear), a list of 3+ numbers or ``{choices = [...]}``, or ``{low, high, scale}``.

>>> from symopt.tasks import get_task
>>> from symopt import programs
>>> space = build_space(programs.load("lion"), get_task("quadratic"))
>>> [(g.key, g.scale, round(g.low, 4), round(g.high, 4)) for g in space.searched][:3]
[('c0', 'log1m', 0.5, 0.999), ('c1', 'log', 0.001, 10.0), ('c3', 'log1m', 0.5, 0.9999)]
>>> build_space(programs.load("lion"), get_task("quadratic"), {"c9": 1.0})
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
symopt.errors.UserError: tune.space.c9: unknown key (known: c0, c1, c3, lr_multiplier, ...
>>> build_space(programs.load("lion"), get_task("quadratic"), {"c1": [0.5, 0.1]})
Traceback (most recent call last):
...
symopt.errors.UserError: tune.space.c1: low must be below high (got [0.5, 0.1])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from symopt import checks
from symopt.config_table import NO_VALUE, at, error, hint
from symopt.errors import UserError
from symopt.lang.model import Program
from symopt.tasks.base import Task

#: Task fields searched, per task class name: key -> choices.
#: Other fields set the compute, the data or the metric and are never tuned.
TASK_SPACES: dict[str, dict[str, tuple[float, ...]]] = {
    "NanoGPT": {"layers": (1, 2, 3, 4), "heads": (1, 2, 4, 8), "width": (32, 48, 64, 96, 128),
                "dropout": (0.0, 0.1, 0.2)},
}
SCALES = ("log", "log1m", "linear", "int", "choice")
#: How far (×, on a log scale) a constant's default range reaches each way.
WIDTH = 100.0


@dataclass(frozen=True)
class Gene:
    """One hyperparameter: its key, scale, range (or choices) and untuned value.

    ``group`` is ``"constant"`` (``targets``: indices into ``program.constants()``),
    ``"schedule"`` (``lr_multiplier``, ``warmup_steps``) or ``"task"`` (a task field,
    which changes the model: one compile per value, never changed during a PBT run).
    """

    key: str
    group: str
    scale: str
    default: float
    low: float = math.nan
    high: float = math.nan
    choices: tuple[float, ...] = ()
    fixed: bool = False
    targets: tuple[int, ...] = ()
    describe: str = ""

    def sample(self, rng: np.random.Generator) -> float:
        """A value drawn uniformly on the gene's scale (the default when fixed)."""
        if self.fixed:
            return self.default
        if self.scale == "choice":
            return self.choices[int(rng.integers(len(self.choices)))]
        if self.scale == "int":
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.scale == "linear":
            return float(rng.uniform(self.low, self.high))
        lo, hi = sorted(abs(self.to_coord(x)) for x in (self.low, self.high))
        u = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        return self.from_coord(math.copysign(u, self.to_coord(self.low)))

    def to_coord(self, value: float) -> float:
        """The coordinate that PBT multiplies by 1.2 / 0.8 (``1 − x`` for ``log1m``)."""
        return 1.0 - value if self.scale == "log1m" else value

    def from_coord(self, coord: float) -> float:
        return 1.0 - coord if self.scale == "log1m" else coord

    def clip(self, value: float) -> float:
        """The nearest value inside the gene's range (nearest choice for choices)."""
        if self.fixed:
            return self.default
        if self.scale == "choice":
            return min(self.choices, key=lambda c: (abs(c - value), c))
        v = min(max(value, self.low), self.high)
        return int(round(v)) if self.scale == "int" else float(v)


@dataclass(frozen=True)
class Space:
    """All genes of a tuning run (fixed ones included) and how to apply them."""

    genes: tuple[Gene, ...]
    n_constants: int

    @property
    def searched(self) -> tuple[Gene, ...]:
        return tuple(g for g in self.genes if not g.fixed)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(g.key for g in self.genes)

    def gene(self, key: str) -> Gene:
        return next(g for g in self.genes if g.key == key)

    def defaults(self) -> dict[str, float]:
        """The untuned point: the program's own constants and the task's settings."""
        return self.repair({g.key: g.default for g in self.genes})

    def sample(self, rng: np.random.Generator) -> dict[str, float]:
        return self.repair({g.key: g.sample(rng) for g in self.genes})

    def crossover(self, a: Mapping[str, float], b: Mapping[str, float],
                  rng: np.random.Generator) -> dict[str, float]:
        """Uniform crossover: each gene from `a` or `b` with probability 1/2."""
        return self.repair({g.key: (a if rng.random() < 0.5 else b)[g.key] for g in self.genes})

    def mutate(self, values: Mapping[str, float], rng: np.random.Generator,
               rate: float) -> dict[str, float]:
        """Each searched gene resampled with probability `rate`."""
        out = dict(values)
        for g in self.searched:
            if rng.random() < rate:
                out[g.key] = g.sample(rng)
        return self.repair(out)

    def repair(self, values: Mapping[str, float]) -> dict[str, float]:
        """Clip into range; make ``heads`` divide ``width`` (largest allowed divisor).

        >>> from symopt.tasks import get_task
        >>> from symopt import programs
        >>> s = build_space(programs.load("sgd"), get_task("nanogpt-tiny"),
        ...                 {"width": [24, 40]})
        >>> v = s.repair({**s.defaults(), "heads": 8, "width": 36})
        >>> v["heads"], v["width"]
        (4, 36)
        """
        out = {k: self.gene(k).clip(v) for k, v in values.items()}
        if "heads" in out and "width" in out and out["width"] % out["heads"]:
            gene = self.gene("heads")
            allowed = gene.choices or range(1, int(out["heads"]) + 1)
            divisors = [h for h in allowed if h <= out["heads"] and out["width"] % h == 0]
            out["heads"] = int(max(divisors, default=1))
        return out

    def constants(self, values: Mapping[str, float]) -> list[float]:
        """The program's constant vector for `values` (in ``program.constants()`` order)."""
        consts = [math.nan] * self.n_constants
        for g in self.genes:
            for i in g.targets:
                consts[i] = float(values[g.key])
        return consts

    def task_overrides(self, values: Mapping[str, float]) -> dict[str, Any]:
        return {g.key: values[g.key] for g in self.genes if g.group == "task"}

    def apply(self, program: Program, values: Mapping[str, float]) -> Program:
        """`program` with the constants of `values` written in."""
        return program.with_constants(self.constants(values))


def _constant_gene(key: str, value: float, targets: tuple[int, ...]) -> Gene:
    if value == 0 or abs(value) == 1 or not math.isfinite(value):
        return Gene(key, "constant", "linear", value, value, value, fixed=True, targets=targets)
    if 0.5 <= value < 1:  # a decay: 1 - x on a log scale
        lo, hi = (1 - value) / WIDTH, min(WIDTH * (1 - value), 0.5)
        return Gene(key, "constant", "log1m", value, 1 - hi, 1 - lo, targets=targets)
    lo, hi = sorted((value / WIDTH, value * WIDTH))
    return Gene(key, "constant", "log", value, lo, hi, targets=targets)


def default_genes(program: Program, task: Task, *, tie_equal: bool = True) -> list[Gene]:
    """Every gene with its default range (fixed ones included), before ``[tune.space]``."""
    genes: list[Gene] = []
    seen: dict[float, int] = {}
    groups: dict[int, list[int]] = {}
    for i, v in enumerate(program.constants()):
        first = seen.setdefault(v, i) if tie_equal else i
        groups.setdefault(first, []).append(i)
    for first, idx in groups.items():
        genes.append(_constant_gene(f"c{first}", program.constants()[first], tuple(idx)))
    genes.append(Gene("lr_multiplier", "schedule", "log", 1.0, 0.1, 10.0))
    w = min(int(task.warmup_steps), max(task.steps - 1, 0))
    genes.append(Gene("warmup_steps", "schedule", "int", w, 0,
                      max(1, min(max(2 * w, task.steps // 10), task.steps - 1))))
    for name, choices in TASK_SPACES.get(type(task).__name__, {}).items():
        genes.append(Gene(name, "task", "choice", getattr(task, name), choices=choices))
    return genes


def _bad(key: str, why: str, value: Any = NO_VALUE) -> UserError:
    return error(at("", "tune", "space", key), why, value)


def _number(key: str, x: Any) -> float:
    if (isinstance(x, bool) or not isinstance(x, (int, float))
            or (isinstance(x, int) and abs(x) > checks.MAX_TOML_INT) or not math.isfinite(x)):
        raise _bad(key, "expected a finite number", x)
    return x


def _override(gene: Gene, spec: Any) -> Gene:
    key, is_int = gene.key, isinstance(gene.default, int)
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"low", "high", "scale", "choices"}
        if unknown:
            field = sorted(unknown)[0]
            raise _bad(f"{key}.{field}", "unknown key" + hint(field, ("low", "high", "scale",
                                                                     "choices")))
        if "choices" in spec:
            return _choices(gene, spec["choices"])
        if "low" not in spec or "high" not in spec:
            raise _bad(key, "a range needs both low and high")
        return _range(gene, spec["low"], spec["high"], spec.get("scale"), is_int)
    if isinstance(spec, (list, tuple)):
        if len(spec) == 2:
            return _range(gene, spec[0], spec[1], None, is_int)
        return _choices(gene, spec)
    value = _number(key, spec)
    if is_int and value != int(value):
        raise _bad(key, "expected an integer", spec)
    _check_domain(gene, [value])
    return dataclasses.replace(gene, default=int(value) if is_int else float(value), fixed=True)


def _check_domain(gene: Gene, values: list[float]) -> None:
    key = gene.key
    if gene.group == "task" or key == "warmup_steps":
        lowest = 0 if key in ("warmup_steps", "dropout") else 1
        if gene.group == "task" and isinstance(gene.default, float):
            lowest = 0
        if any(v < lowest for v in values):
            raise _bad(key, f"must be at least {lowest}", min(values))
        if key == "dropout" and any(v >= 1 for v in values):
            raise _bad(key, "must be below 1", max(values))
    if key == "lr_multiplier" and any(v <= 0 for v in values):
        raise _bad(key, "must be positive", min(values))


def _choices(gene: Gene, spec: Any) -> Gene:
    if not isinstance(spec, (list, tuple)) or not spec:
        raise _bad(gene.key, "choices must be a non-empty list", spec)
    checks.short_list(spec, checks.MAX_CHOICES, at("", "tune", "space", gene.key))
    values = [_number(gene.key, x) for x in spec]
    _check_domain(gene, values)
    if isinstance(gene.default, int):
        if any(v != int(v) for v in values):
            raise _bad(gene.key, "expected integers", list(spec))
        values = [int(v) for v in values]
    return dataclasses.replace(gene, scale="choice", choices=tuple(sorted(set(values))),
                               fixed=len(set(values)) == 1, default=gene.default
                               if gene.default in values else values[0])


def _range(gene: Gene, low: Any, high: Any, scale: Any, is_int: bool) -> Gene:
    key = gene.key
    lo, hi = _number(key, low), _number(key, high)
    if not lo < hi:
        raise _bad(key, "low must be below high", [low, high])
    _check_domain(gene, [lo, hi])
    if scale is None:
        if is_int:
            scale = "int"
        elif gene.scale in ("log1m",) and 0 < lo and hi < 1:
            scale = "log1m"
        elif lo * hi > 0:
            scale = "log"
        else:
            scale = "linear"
    if scale not in SCALES[:4]:
        raise _bad(key, "unknown scale (log, log1m, linear, int)", scale)
    if scale == "log" and lo * hi <= 0:
        raise _bad(key, "a log scale needs bounds of one sign", [low, high])
    if scale == "log1m" and not (0 <= lo and hi < 1):
        raise _bad(key, "scale log1m needs 0 <= low < high < 1", [low, high])
    if scale == "int":
        if lo != int(lo) or hi != int(hi):
            raise _bad(key, "expected integer bounds", [low, high])
        lo, hi = int(lo), int(hi)
    default = min(max(gene.default, lo), hi)
    return dataclasses.replace(gene, scale=scale, low=lo, high=hi, choices=(),
                               fixed=False, default=int(default) if scale == "int" else default)


def build_space(program: Program, task: Task, overrides: Mapping[str, Any] | None = None, *,
                tie_equal: bool = True) -> Space:
    """The space of `program` on `task`, with ``[tune.space]`` `overrides` applied.

    A bad key or range is a ``UserError`` naming the key (``tune.space.c0: ...``).
    """
    genes = default_genes(program, task, tie_equal=tie_equal)
    by_key = {g.key: g for g in genes}
    overrides = dict(overrides or {})
    for key, spec in overrides.items():
        if key not in by_key:
            known = ", ".join(g.key for g in genes)
            if key.startswith("c") and key[1:].isdigit() and int(key[1:]) < len(
                    program.constants()):
                raise _bad(key, f"unknown key ({key} has the value of an earlier constant and "
                           f"shares its gene; known: {known})")
            raise _bad(key, "unknown key" + hint(key, [g.key for g in genes]))
        by_key[key] = _override(by_key[key], spec)
    g = by_key["warmup_steps"]
    if "warmup_steps" in overrides and (g.default if g.fixed else g.high) >= task.steps:
        raise _bad("warmup_steps", f"must stay below the task's {task.steps} steps")
    return Space(tuple(by_key[g.key] for g in genes), len(program.constants()))


def describe_space(space: Space, program: Program) -> str:
    """One line per gene: key, range or fixed value, and what it is in the program."""
    from symopt.lang.printer import format_stmt

    where: dict[int, str] = {}
    i = 0
    for s in program.body:
        for a in s.args:
            if not isinstance(a, str):
                where[i] = format_stmt(s)
                i += 1
    lines = []
    for g in space.genes:
        rng = (f"fixed {g.default:g}" if g.fixed else
               f"one of {list(g.choices)}" if g.scale == "choice" else
               f"[{g.low:g}, {g.high:g}] {g.scale}")
        what = "; ".join(where[t] for t in g.targets)
        lines.append(f"{g.key:<14} {rng:<32} default {g.default:g}" + (f"  ({what})" if what
                                                                       else ""))
    return "\n".join(lines)
