"""Algebraic rewriting over an expression DAG built from a program's live statements.

`build_dag(program)` replays the statements into a `Dag`: a list of nodes
``(fn, args)`` where an argument is a parameter name (`str`), a constant
(`float`) or an earlier node (`int`). Every node passes through `Dag.make`,
which applies the rules below, then interns the node so that equal
subexpressions are shared (commutative arguments compared in sorted order).

Rules (each keeps the value under the registry's protected semantics, up to
float rounding; none changes the kind of a value — a rule whose result would
have another kind, e.g. ``interp(lr, g, 0.0) -> lr``, is not applied):

- copies vanish: ``x = y`` makes ``x`` another name for ``y``;
- constant folding: an elementwise function of constants becomes a constant,
  computed as the compiler computes it (``+ - *`` ``/`` and pure-Python
  implementations in double precision, written with the fewest digits within
  rounding, `tidy`; JAX implementations in float32, folded only when the exact
  float32 value has a short decimal form, e.g. ``sqrt(4.0)``), kept only when finite;
- ``x * 1``, ``x + 0``, ``x - 0``, ``x / 1`` -> ``x``; ``0 - x`` -> ``-x``;
  ``x * -1`` -> ``-x``; ``x * x`` -> ``square(x)``;
- ``(x * c1) * c2`` -> ``x * (c1 * c2)``: chained constant factors merged;
  likewise ``(x + c1) + c2`` -> ``x + (c1 + c2)``;
- ``-(-x)`` -> ``x``; ``x + (-y)`` -> ``x - y``; ``x - (-y)`` -> ``x + y``;
- ``sqrt(square(x))`` -> ``abs(x)``; ``square(sqrt(x))`` -> ``abs(x)``;
  ``x / abs(x)`` -> ``sign(x)`` (so ``x / sqrt(x * x)`` -> ``sign(x)``: protected
  division makes ``0 / 0 = 0 = sign(0)``);
- ``abs``/``square``/``sign`` of values that are already so, e.g.
  ``abs(-x)`` -> ``abs(x)``, ``sign(sign(x))`` -> ``sign(x)``;
- ``x * reciprocal(y)`` -> ``x / y``; ``reciprocal(reciprocal(x))`` -> ``x``;
- ``interp(x, y, 0)`` -> ``x``; ``interp(x, y, 1)`` -> ``y``; ``interp(x, x, a)``,
  ``maximum(x, x)``, ``minimum(x, x)`` -> ``x``.

>>> from symopt.lang import parse
>>> p = parse('''
... def train(w, g, m, lr):
...     m2 = m * m
...     a = sqrt(m2)
...     u = m / a
...     k = lr * 0.5
...     k = k * 0.2
...     update = u * k
...     return update, m
... ''')
>>> dag = build_dag(p)
>>> [dag.describe(v) for v in dag.outputs]
['mul(sign(m), mul(lr, 0.1))', 'm']
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from symopt.lang.dead_code import live_mask
from symopt.lang.kinds import Kind
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS
from symopt.lang.typecheck import param_kinds

Value = "str | float | int"  # a parameter name, a constant, or a node id

_S = Kind.SCALAR

def tidy(value: float, rel: float) -> float:
    """The number with the fewest significant digits within relative distance `rel`.

    Folding ``0.1 * 0.1`` in double precision gives 0.010000000000000002; the
    program then carries 0.01, which differs by less than the rounding already
    in the computation.

    >>> tidy(0.1 * 0.1, 1e-12), tidy(0.099999994, 5e-7), tidy(0.123456, 1e-12)
    (0.01, 0.1, 0.123456)
    """
    if value == 0 or not math.isfinite(value):
        return float(value)
    for digits in range(1, 18):
        candidate = float(f"{value:.{digits}g}")
        if abs(candidate - value) <= rel * abs(value):
            return candidate
    return float(value)


def fold(fn: str, consts: list[float]) -> float | None:
    """`fn` applied to constants, or None when it cannot be folded (or is not finite).

    >>> fold("sub", [1.0, 0.1]), fold("sqrt", [-4.0]), fold("exp", [1000.0])
    (0.9, 2.0, None)
    >>> fold("power", [0.999, 0.0051]) is None  # float32 0.99999487400054931640625: kept
    True
    """
    f = FUNCTIONS[fn]
    if f.scope != "elementwise" or f.arity == 0 or f.identity:
        return None
    if f.fold is not None:
        return _finite(tidy(f.fold(*consts), 1e-12))
    # As the compiler runs it on Python floats: a pure-Python impl (`interp`, `cube`)
    # stays in double; a JAX one gives a float32 value, which later Scalar arithmetic
    # uses as float32. Replacing that by a nearby double (tidied, or its own decimal
    # text) can move a later cancellation (``1 - power(0.999, 0.0051)``) by percents,
    # so it is folded only when its exact value has a short decimal form.
    value = f.impl(jnp, *[float(c) for c in consts])
    if value.__class__ is float:
        return _finite(tidy(value, 1e-12))
    value = float(np.asarray(value))
    short = float(f"{value:.{_SHORT_DIGITS}g}") if math.isfinite(value) else value
    return _finite(value) if short == value else None


#: A float32 value is folded only when it is exactly a number of this many digits.
_SHORT_DIGITS = 8


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _is_const(v) -> bool:
    return v.__class__ is float


def _same(x, y) -> bool:
    """The same value: node ids and constants must not compare equal (``2 == 2.0``)."""
    return x.__class__ is y.__class__ and x == y


class Dag:
    """Nodes ``(fn, args)`` with their kinds; `make` rewrites and interns."""

    def __init__(self, param_kind: dict[str, Kind]):
        self.param_kind = param_kind
        self.nodes: list[tuple[str, tuple]] = []
        self.kinds: list[Kind | None] = []
        self.index: dict[tuple, int] = {}
        self.outputs: list = []

    def kind(self, v) -> Kind:
        if v.__class__ is str:
            return self.param_kind[v]
        if v.__class__ is float:
            return _S
        return self.kinds[v]

    def op(self, v):
        """``(fn, args)`` of a node, or None for parameters and constants."""
        return self.nodes[v] if v.__class__ is int else None

    def is_op(self, v, fn: str) -> bool:
        return v.__class__ is int and self.nodes[v][0] == fn

    def intern(self, fn: str, args: tuple) -> int:
        f = FUNCTIONS[fn]
        key_args = tuple(sorted(args, key=_sort_key)) if f.commutative else args
        key = (fn, key_args)
        node = self.index.get(key)
        if node is None:
            node = len(self.nodes)
            self.nodes.append((fn, args))
            self.kinds.append(f.result_kind(tuple(self.kind(a) for a in args)))
            self.index[key] = node
        return node

    def make(self, fn: str, args: tuple):
        """The value of ``fn(*args)``, simplified by the rules in the module docstring."""
        if FUNCTIONS[fn].identity:
            return args[0]
        if args and all(_is_const(a) for a in args):
            folded = fold(fn, list(args))
            if folded is not None:
                return folded
        out_kind = FUNCTIONS[fn].result_kind(tuple(self.kind(a) for a in args))
        rule: Callable[..., Any] | None = _RULES.get(fn)
        if rule is not None:
            result = rule(self, *args)
            if result is not None and self.kind(result) == out_kind:
                return result
        return self.intern(fn, tuple(args))

    def describe(self, v) -> str:
        """A nested text of a value, for tests and messages."""
        if v.__class__ is str:
            return v
        if v.__class__ is float:
            return repr(v)
        fn, args = self.nodes[v]
        return f"{fn}({', '.join(self.describe(a) for a in args)})"


def _sort_key(v):
    return (0, v) if v.__class__ is str else (1, repr(v)) if v.__class__ is float else (2, v)


# --- rules: each returns the simplified value, or None to keep the node as is ---

def _mul(d: Dag, x, y):
    for a, b in ((x, y), (y, x)):
        if _same(b, 1.0):
            return a
        if _same(b, -1.0):
            return d.make("negative", (a,))
        if _is_const(b) and d.is_op(a, "mul"):
            inner = d.nodes[a][1]
            for i in (0, 1):
                if _is_const(inner[i]):
                    return d.make("mul", (inner[1 - i], d.make("mul", (inner[i], b))))
        if d.is_op(b, "reciprocal"):
            return d.make("div", (a, d.nodes[b][1][0]))
    if _same(x, y) and not _is_const(x):
        return d.make("square", (x,))
    return None


def _add(d: Dag, x, y):
    for a, b in ((x, y), (y, x)):
        if _same(b, 0.0):
            return a
        if _is_const(b) and d.is_op(a, "add"):
            inner = d.nodes[a][1]
            for i in (0, 1):
                if _is_const(inner[i]):
                    return d.make("add", (inner[1 - i], d.make("add", (inner[i], b))))
        if d.is_op(b, "negative"):
            return d.make("sub", (a, d.nodes[b][1][0]))
    return None


def _sub(d: Dag, x, y):
    if _same(y, 0.0):
        return x
    if _same(x, 0.0):
        return d.make("negative", (y,))
    if d.is_op(y, "negative"):
        return d.make("add", (x, d.nodes[y][1][0]))
    return None


def _div(d: Dag, x, y):
    if _same(y, 1.0):
        return x
    if d.is_op(y, "abs") and _same(d.nodes[y][1][0], x):
        return d.make("sign", (x,))
    return None


def _negative(d: Dag, x):
    if d.is_op(x, "negative"):
        return d.nodes[x][1][0]
    return None


def _sqrt(d: Dag, x):
    if d.is_op(x, "square"):
        return d.make("abs", (d.nodes[x][1][0],))
    return None


def _square(d: Dag, x):
    if d.is_op(x, "sqrt"):
        return d.make("abs", (d.nodes[x][1][0],))
    if d.is_op(x, "negative") or d.is_op(x, "abs"):
        return d.make("square", (d.nodes[x][1][0],))
    return None


def _abs(d: Dag, x):
    if d.is_op(x, "negative"):
        return d.make("abs", (d.nodes[x][1][0],))
    if d.is_op(x, "abs") or d.is_op(x, "square") or d.is_op(x, "sqrt"):
        return x
    return None


def _sign(d: Dag, x):
    if d.is_op(x, "sign"):
        return x
    return None


def _reciprocal(d: Dag, x):
    if d.is_op(x, "reciprocal"):
        return d.nodes[x][1][0]
    return None


def _interp(d: Dag, x, y, a):
    if _same(a, 0.0):
        return x
    if _same(a, 1.0):
        return y
    if _same(x, y):
        return x
    return None


def _idempotent(d: Dag, x, y):
    return x if _same(x, y) else None


_RULES = {
    "mul": _mul, "add": _add, "sub": _sub, "div": _div, "negative": _negative,
    "sqrt": _sqrt, "square": _square, "abs": _abs, "sign": _sign,
    "reciprocal": _reciprocal, "interp": _interp, "maximum": _idempotent, "minimum": _idempotent,
}


def build_dag(program: Program) -> Dag:
    """Replay the live statements of `program` into a simplified, shared `Dag`."""
    dag = Dag(param_kinds(program))
    env: dict = {p: p for p in program.params}
    for s, live in zip(program.body, live_mask(program), strict=True):
        if live:
            args = tuple(env[a] if a.__class__ is str else float(a) for a in s.args)
            env[s.target] = dag.make(s.fn, args)
    dag.outputs = [env[r] for r in program.returns]
    return dag
