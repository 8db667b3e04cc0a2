"""Algebraic rewriting over an expression DAG built from a program's live statements.

`build_dag(program)` replays the statements into a `Dag`: a list of nodes
``(fn, args)`` where an argument is a parameter name (`str`), a constant
(`float`) or an earlier node (`int`). Every node passes through `Dag.make`,
which applies the rules below, then interns the node so that equal
subexpressions are shared (commutative arguments compared in sorted order).

The rules are the registry's (`Function.rewrites`, e.g. ``"sqrt(square(x)) -> abs(x)"``
on the ``sqrt`` entry), parsed once by `parse_rule` and matched here. Each keeps the
value under the registry's protected semantics, up to float rounding. Besides them:

- copies vanish: ``x = y`` makes ``x`` another name for ``y`` (the registry's identity);
- constant folding: an elementwise function of constants becomes a constant,
  computed as the compiler computes it (``+ - *`` ``/`` and pure-Python
  implementations in double precision, written with the fewest digits within
  rounding, `tidy`; JAX implementations in float32, folded only when the exact
  float32 value has a short decimal form, e.g. ``sqrt(4.0)``), kept only when finite;
- no rule changes the kind of a value: one whose result would have another kind, e.g.
  ``interp(x, y, 0.0) -> x`` on ``interp(lr, g, 0.0)``, is not applied.

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
import re
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from symopt.errors import ProgramError
from symopt.lang.dead_code import live_mask
from symopt.lang.kinds import Kind
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS
from symopt.lang.typecheck import check, typed

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
    """Nodes ``(fn, args)`` with their kinds; `make` rewrites and interns.

    Kinds are not inferred here: `build_dag` passes each statement's kind from the type
    checker's `TypedProgram`; a node a rule builds gets its kind from its function's kind
    table (`Function.result_kind`), and a rule applies only if its result keeps the kind.
    """

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

    def intern(self, fn: str, args: tuple, kind: Kind | None = None) -> int:
        """The node of ``fn(*args)`` (of kind `kind`, by default its kind-table entry)."""
        f = FUNCTIONS[fn]
        key_args = tuple(sorted(args, key=_sort_key)) if f.commutative else args
        key = (fn, key_args)
        node = self.index.get(key)
        if node is None:
            node = len(self.nodes)
            self.nodes.append((fn, args))
            self.kinds.append(kind if kind is not None else self._result_kind(fn, args))
            self.index[key] = node
        return node

    def _result_kind(self, fn: str, args: tuple) -> Kind | None:
        return FUNCTIONS[fn].result_kind(tuple(self.kind(a) for a in args))

    def make(self, fn: str, args: tuple, kind: Kind | None = None):
        """The value of ``fn(*args)``, simplified by the rules in the module docstring.

        `kind`: the value's kind when known (a statement's, from the type checker)."""
        if FUNCTIONS[fn].identity:
            return args[0]
        if args and all(_is_const(a) for a in args):
            folded = fold(fn, list(args))
            if folded is not None:
                return folded
        out_kind = kind if kind is not None else self._result_kind(fn, args)
        result = _apply_rules(self, fn, args)
        if result is not None and self.kind(result) == out_kind:
            return result
        return self.intern(fn, tuple(args), out_kind)

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


# --- rules: the registry's patterns, parsed once, matched against the DAG ---

#: A pattern: a variable name, a constant, or ``(fn, (sub-patterns...))``.
Pattern = "str | float | tuple[str, tuple]"


class Rule(NamedTuple):
    """``fn(*args) -> result``: `args` are the sub-patterns of the left side."""

    fn: str
    args: tuple
    result: object
    text: str


_TOKEN = re.compile(r"\s*(?:(-?\d+\.\d*(?:e-?\d+)?)|([A-Za-z_]\w*)|(->|[(),]))")


def parse_rule(text: str) -> Rule:
    """A registry rewrite ``"pattern -> result"`` (see `Function`), checked against the registry.

    >>> parse_rule("mul(x, reciprocal(y)) -> div(x, y)")[:3]
    ('mul', ('x', ('reciprocal', ('y',))), ('div', ('x', 'y')))
    """
    tokens = []
    pos = 0
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"rewrite {text!r}: cannot read {text[pos:]!r}")
        number, name, punct = m.groups()
        tokens.append(float(number) if number is not None else name or punct)
        pos = m.end()
    tokens.reverse()

    def term():
        tok = tokens.pop()
        if tok.__class__ is float or tok in ("->", "(", ")", ","):
            return tok
        if not tokens or tokens[-1] != "(":
            return tok
        tokens.pop()
        subs = [term()]
        while tokens.pop() == ",":
            subs.append(term())
        if tok not in FUNCTIONS or FUNCTIONS[tok].arity != len(subs):
            raise ValueError(f"rewrite {text!r}: {tok}() with {len(subs)} arguments")
        return (tok, tuple(subs))

    lhs = term()
    arrow, rhs = tokens.pop() if tokens else None, term() if tokens else None
    if arrow != "->" or tokens or lhs.__class__ is not tuple or rhs is None:
        raise ValueError(f"rewrite {text!r} is not 'fn(...) -> result'")
    unbound = _variables(rhs) - _variables(lhs)
    if unbound:
        raise ValueError(f"rewrite {text!r}: {sorted(unbound)} not on the left side")
    return Rule(lhs[0], lhs[1], rhs, text)


def _variables(pattern) -> set[str]:
    if pattern.__class__ is str:
        return {pattern}
    if pattern.__class__ is tuple:
        return set().union(*map(_variables, pattern[1]))
    return set()


_CONSTANT_VAR = re.compile(r"c\d*")
_NODE_VAR = re.compile(r"v\d*")


def _match(d: Dag, pattern, value, bound: dict) -> bool:
    if pattern.__class__ is float:
        return _same(value, pattern)
    if pattern.__class__ is str:
        if _CONSTANT_VAR.fullmatch(pattern) and not _is_const(value):
            return False
        if _NODE_VAR.fullmatch(pattern) and _is_const(value):
            return False
        if pattern in bound:
            return _same(bound[pattern], value)
        bound[pattern] = value
        return True
    fn, subs = pattern
    if not d.is_op(value, fn):
        return False
    args = d.nodes[value][1]
    for order in _orders(fn, args):
        trial = dict(bound)
        if all(_match(d, p, a, trial) for p, a in zip(subs, order, strict=True)):
            bound.update(trial)
            return True
    return False


def _orders(fn: str, args: tuple) -> tuple[tuple, ...]:
    """The argument orders a pattern of `fn` is matched in: both for a commutative pair."""
    return (args, args[::-1]) if FUNCTIONS[fn].commutative and len(args) == 2 else (args,)


def _build(d: Dag, pattern, bound: dict):
    if pattern.__class__ is str:
        return bound[pattern]
    if pattern.__class__ is float:
        return pattern
    fn, subs = pattern
    return d.make(fn, tuple(_build(d, p, bound) for p in subs))


def _apply_rules(d: Dag, fn: str, args: tuple):
    """The result of the first of `fn`'s rules that matches ``fn(*args)``, or None.

    A commutative pair is tried as written with every rule, then swapped with every rule.
    """
    rules = _RULES.get(fn)
    if not rules:
        return None
    for order in _orders(fn, args):
        for rule in rules:
            bound: dict = {}
            if all(_match(d, p, a, bound) for p, a in zip(rule.args, order, strict=True)):
                return _build(d, rule.result, bound)
    return None


def _compile_rules() -> dict[str, tuple[Rule, ...]]:
    rules = {}
    for f in FUNCTIONS.values():
        parsed = tuple(parse_rule(text) for text in f.rewrites)
        wrong = [r.text for r in parsed if r.fn != f.name]
        if wrong:
            raise ValueError(f"{f.name}: rewrites of another function: {wrong}")
        if parsed:
            rules[f.name] = parsed
    return rules


#: Every function's rewrite rules, by function, from the registry.
_RULES: dict[str, tuple[Rule, ...]] = _compile_rules()


def build_dag(program: Program) -> Dag:
    """Replay the live statements of `program` into a simplified, shared `Dag`.

    Raises `ProgramError` if `program` does not type-check.
    """
    typed_program = typed(program)
    if typed_program is None:
        raise ProgramError(check(program))
    dag = Dag(typed_program.params)
    env: dict = {p: p for p in program.params}
    for s, live, kind in zip(program.body, live_mask(program), typed_program.kinds,
                             strict=True):
        if live:
            args = tuple(env[a] if a.__class__ is str else float(a) for a in s.args)
            env[s.target] = dag.make(s.fn, args, kind)
    dag.outputs = [env[r] for r in program.returns]
    return dag
