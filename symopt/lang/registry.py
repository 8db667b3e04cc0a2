"""The function library: one entry per function holds everything about it.

An entry says how many arguments the function takes, which kinds it accepts
and returns (for the type checker), how it computes (``impl(xp, *args)``, the same
code for NumPy and JAX; ``fold`` on Python floats), how it prints in `.prog` text, in
exported Python and in LaTeX.

Functions come in three scopes:

- ``elementwise``: ``impl(xp, *arrays) -> array``, applied leaf by leaf, with
  `Scalar`/`LeafScalar` arguments broadcast.
- ``leaf``: ``impl(xp, *arrays) -> 0-d array``, a reduction over each leaf
  (``norm``, ``dot``, ``cosine_sim``).
- ``global``: a reduction over the whole parameter tree. ``impl`` takes each
  tree-valued argument as a list of arrays (one per leaf) and each `Scalar`
  argument as a 0-d array; it returns a list of arrays or a 0-d array.

Protected forms keep programs finite where a user would expect: ``sqrt`` and
``log`` take ``abs`` of their argument, ``x / 0`` and ``reciprocal(0)`` are 0,
and the inverse trigonometric functions clip their argument into the domain.

>>> FUNCTIONS["interp"].arity
3
>>> FUNCTIONS["norm"].result_kind((Kind.TENSOR,)).label
'LeafScalar'
>>> FUNCTIONS["global_norm"].result_kind((Kind.LEAF_SCALAR,)).label
'Scalar'
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from symopt.lang.kinds import Kind

S, L, T = Kind.SCALAR, Kind.LEAF_SCALAR, Kind.TENSOR

#: `get_eps()` and the epsilon of `cosine_sim`.
EPS = 1e-8
_LOG_TINY = 1e-30
_UNIT_OPEN = 1.0 - 1e-6


def _broadcast(*kinds: Kind) -> Kind | None:
    return max(kinds, default=S)


def _reduce_leaf(*kinds: Kind) -> Kind | None:
    k = max(kinds)
    return L if k == T else k


def _to_scalar(*kinds: Kind) -> Kind | None:
    return S


def _tree_with_scalar_bound(x: Kind, c: Kind) -> Kind | None:
    return x if c == S else None


@dataclass(frozen=True)
class Function:
    """Everything about one library function.

    `impl(xp, *args)` is the implementation, written once against the array API that
    `numpy` and `jax.numpy` share (`xp` is either module): the compiler runs it with
    `jax.numpy`, the fingerprint with `numpy`. `fold(*floats)`, where present, is the
    function on Python floats in double precision: Scalar arithmetic on constants (`+ - * /`,
    `negative`, `copy`, the nullary constants) runs through it, in the compiler and in the
    simplifier's constant folding alike.

    How it is written: ``infix`` (``x + y``, binding as tight as ``precedence``: 1 for
    sums, 2 for products), ``prefix`` (``-x`` for a name), ``identity`` (the function whose
    value is its argument: ``x = y``), else a call ``name(x, ...)``. For the simplifier's
    readable names: ``value_name`` names its result (``sum``, ``ema``); ``scales`` marks
    multiplication, whose product with a constant is named after the other argument
    (``lr_scaled``).

    `py` and `latex` are format templates over the argument texts `{0}`,
    `{1}`, ...; `py` is an expression over `jnp` arrays (elementwise and leaf
    scopes) or over pytrees (global scope). Where `py` calls ``_NAME(...)``, `py_helper`
    is the source of that export helper (``def _NAME(...)`` over ``_xp``, the array
    namespace of the generated module, and ``_builtins``), the same computation as `impl`;
    a helper may call other entries' helpers.

    ``bounded`` says when its value is bounded, for the sign-like hint
    (`symopt.analysis.hints`): ``"always"`` (whatever its finite arguments), ``"if_args"``
    (when every argument is), ``"if_any_arg"`` (when one is), ``"if_constant_divisor"``
    (the first argument is and the last is a nonzero constant), ``""`` (not known to be).

    ``hyper_roles``: what a constant argument of it is as a hyperparameter of an export
    (`symopt.compile.hyper`), as ``(condition, role)`` pairs tried in order; the conditions
    and roles are listed there (``("third", "b")``: interp's third argument is a decay).

    How it simplifies: ``rewrites``, algebraic identities tried in order by the simplifier
    (`symopt.analysis.rewrite`), as ``"pattern -> result"`` in call form over the
    registry's names, e.g. ``"sqrt(square(x)) -> abs(x)"``. In a pattern a number matches
    that constant, ``c1``/``c2`` any constant, ``v`` any value but a constant, any other
    name any value (a name used twice: the same value); the arguments of a `commutative`
    function match in either order. Each keeps the value under the protected semantics
    (``tests/test_registry.py`` checks them numerically).

    >>> import numpy as np, jax.numpy as jnp
    >>> div = FUNCTIONS["div"]
    >>> div.impl(np, np.float32([1, 2]), np.float32([0, 4])).tolist(), div.fold(1.0, 0.0)
    ([0.0, 0.5], 0.0)
    >>> float(div.impl(jnp, jnp.float32(3), jnp.float32(4)))
    0.75
    """

    name: str
    arity: int
    impl: Callable
    fold: Callable[..., float] | None = None
    scope: str = "elementwise"
    kind_rule: Callable[..., Kind | None] = _broadcast
    infix: str | None = None
    prefix: str | None = None
    precedence: int = 0
    identity: bool = False
    value_name: str = ""
    scales: bool = False
    commutative: bool = False
    py: str = ""
    py_helper: str = ""
    latex: str = ""
    rewrites: tuple[str, ...] = ()
    bounded: str = ""
    hyper_roles: tuple[tuple[str, str], ...] = ()
    doc: str = ""
    _table: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        for kinds in itertools.product(Kind, repeat=self.arity):
            self._table[kinds] = self.kind_rule(*kinds)

    def result_kind(self, arg_kinds: tuple[Kind, ...]) -> Kind | None:
        """The kind of the result, or None if the arguments' kinds are not accepted."""
        return self._table.get(tuple(arg_kinds))

    @property
    def kind_table(self) -> dict:
        """`{arg kinds: result kind or None}` for every combination of argument kinds."""
        return self._table

    def constant(self) -> float:
        """The value of a nullary function (``get_pi``...), as the compiler uses it.

        >>> FUNCTIONS["get_eps"].constant() == float(np.float32(1e-8))
        True
        """
        if self.arity != 0 or self.fold is None:
            raise TypeError(f"{self.name}() is not a constant")
        return self.fold()

    def written(self) -> str:
        """How a call is written in program text, for the table of functions.

        >>> FUNCTIONS["sub"].written(), FUNCTIONS["negative"].written(), FUNCTIONS["copy"].written()
        ('x - y', '-x', 'x')
        """
        if self.infix:
            return f"x {self.infix} y"
        if self.prefix:
            return f"{self.prefix}x"
        return "x" if self.identity else ""

    def signature(self) -> str:
        """A human-readable signature, e.g. ``norm(Tensor) -> LeafScalar``."""
        args = ", ".join("xyz"[i] for i in range(self.arity))
        results = sorted({k.label for k in self._table.values() if k is not None})
        return f"{self.name}({args}) -> {'|'.join(results)}"


def _xp(name: str) -> Callable:
    """``impl(xp, *args)`` calling the array-API function `name` of `xp` (numpy or jax.numpy)."""
    def impl(xp, *args):
        return getattr(xp, name)(*args)
    impl.__name__ = impl.__qualname__ = name
    return impl


def _safe_div(xp, x, y):
    # Python-scalar fills (weakly typed: the dtype follows x and y) keep eager calls cheap.
    zero = y == 0
    return xp.where(zero, 0.0, x / xp.where(zero, 1.0, y))


def _norm(xp, x):
    return xp.sqrt(xp.sum(xp.square(x)))


def _cosine_sim(xp, x, y):
    return xp.sum(x * y) / (_norm(xp, x) * _norm(xp, y) + EPS)


def _global_norm(xp, leaves):
    return xp.sqrt(sum(xp.sum(xp.square(x)) for x in leaves))


def _clip_by_global_norm(xp, leaves, c):
    scale = xp.minimum(1.0, _safe_div(xp, xp.abs(c), _global_norm(xp, leaves)))
    return [x * scale.astype(x.dtype) for x in leaves]


# Export helpers (`Function.py_helper`): the implementations above as generated source.
_DIV_PY = '''
def _div(x, y):
    """x / y, and 0 where y == 0 (protected division)."""
    number = (_builtins.int, _builtins.float)
    if _builtins.isinstance(y, number):
        if y != 0:
            return x / y
        return 0.0 if _builtins.isinstance(x, number) else _xp.zeros_like(x)
    zero = y == 0
    ratio = x / _xp.where(zero, _xp.ones_like(y), y)
    return _xp.where(zero, _xp.zeros_like(ratio), ratio)
'''
_COSINE_SIM_PY = f'''
def _cosine_sim(x, y):
    """Cosine similarity of two tensors (epsilon {EPS!r} in the denominator)."""
    nx = _xp.sqrt(_xp.sum(_xp.square(x)))
    ny = _xp.sqrt(_xp.sum(_xp.square(y)))
    return _xp.sum(x * y) / (nx * ny + {EPS!r})
'''
_GLOBAL_NORM_PY = '''
def _global_norm(leaves):
    """L2 norm over every leaf of a tree (a list of leaves)."""
    return _xp.sqrt(_builtins.sum(_xp.sum(_xp.square(x)) for x in leaves))
'''
_CLIP_BY_GLOBAL_NORM_PY = '''
def _clip_by_global_norm(leaves, c):
    """The leaves scaled so that their global norm is at most |c|."""
    scale = _xp.minimum(1.0, _div(_xp.abs(c), _global_norm(leaves)))
    return [x * _xp.astype(scale, x.dtype) for x in leaves]
'''


def _py_div(x: float, y: float) -> float:
    return 0.0 if y == 0 else x / y


def _f(name, arity, impl, py, latex, doc, **kw) -> Function:
    return Function(name=name, arity=arity, impl=impl, py=py, latex=latex, doc=doc, **kw)


def _unary(name, impl, py, latex, doc, **kw) -> Function:
    return _f(name, 1, impl, py, latex, doc, **kw)


def _constant(name, value, latex, doc, value_name) -> Function:
    # The value as a float32 would hold it: what the compiler and the exporter use.
    f32 = float(np.float32(value))
    return _f(name, 0, lambda xp: xp.float32(value), repr(value), latex, doc, fold=lambda: f32,
              value_name=value_name, bounded="always")


_ENTRIES = [
    # binary arithmetic
    _f("add", 2, _xp("add"), "{0} + {1}", "{0} + {1}", "x + y", infix="+", precedence=1,
       commutative=True, fold=operator.add, value_name="sum",
       rewrites=("add(x, 0.0) -> x", "add(add(c1, x), c2) -> add(x, add(c1, c2))",
                 "add(x, negative(y)) -> sub(x, y)"), bounded="if_args",
       hyper_roles=(("small", "eps"),)),
    _f("sub", 2, _xp("subtract"), "{0} - {1}", "{0} - {1}", "x - y", infix="-", precedence=1,
       fold=operator.sub, value_name="diff",
       rewrites=("sub(x, 0.0) -> x", "sub(0.0, y) -> negative(y)",
                 "sub(x, negative(y)) -> add(x, y)"), bounded="if_args",
       hyper_roles=(("one_minus_step_power", "form"),)),
    _f("mul", 2, _xp("multiply"), "{0} * {1}", "{0} \\cdot {1}", "x * y", infix="*", precedence=2,
       commutative=True, fold=operator.mul, value_name="prod", scales=True,
       rewrites=("mul(x, 1.0) -> x", "mul(x, -1.0) -> negative(x)",
                 "mul(mul(c1, x), c2) -> mul(x, mul(c1, c2))",
                 "mul(x, reciprocal(y)) -> div(x, y)", "mul(v, v) -> square(v)"),
       bounded="if_args", hyper_roles=(("times_slot", "b"), ("times_weight", "weight_decay"),
                                       ("times_lr", "lr_scale"))),
    _f("div", 2, _safe_div, "_div({0}, {1})", "\\frac{{{0}}}{{{1}}}",
       "x / y, with x / 0 = 0 (protected)", infix="/", precedence=2, fold=_py_div,
       value_name="ratio", py_helper=_DIV_PY,
       rewrites=("div(x, 1.0) -> x", "div(x, abs(x)) -> sign(x)"), bounded="if_constant_divisor"),
    _f("maximum", 2, _xp("maximum"), "jnp.maximum({0}, {1})", "\\max({0}, {1})",
       "elementwise maximum", commutative=True, value_name="hi",
       rewrites=("maximum(x, x) -> x",), bounded="if_args"),
    _f("minimum", 2, _xp("minimum"), "jnp.minimum({0}, {1})", "\\min({0}, {1})",
       "elementwise minimum", commutative=True, value_name="lo",
       rewrites=("minimum(x, x) -> x",), bounded="if_args"),
    _f("power", 2, _xp("power"), "jnp.power({0}, {1})", "{{{0}}}^{{{1}}}", "x ** y",
       value_name="pow", hyper_roles=(("base_of_step", "bias_base"),)),
    # unary
    _unary("abs", _xp("abs"), "jnp.abs({0})", "|{0}|", "absolute value",
           rewrites=("abs(negative(x)) -> abs(x)", "abs(abs(x)) -> abs(x)",
                     "abs(square(x)) -> square(x)", "abs(sqrt(x)) -> sqrt(x)"), bounded="if_args"),
    _unary("cos", _xp("cos"), "jnp.cos({0})", "\\cos({0})", "cosine", bounded="always"),
    _unary("sin", _xp("sin"), "jnp.sin({0})", "\\sin({0})", "sine", bounded="always"),
    _unary("tan", _xp("tan"), "jnp.tan({0})", "\\tan({0})", "tangent"),
    _unary("arcsin", lambda xp, x: xp.arcsin(xp.clip(x, -1.0, 1.0)),
           "jnp.arcsin(jnp.clip({0}, -1.0, 1.0))", "\\arcsin({0})",
           "arcsine, argument clipped to [-1, 1]", bounded="always"),
    _unary("arccos", lambda xp, x: xp.arccos(xp.clip(x, -1.0, 1.0)),
           "jnp.arccos(jnp.clip({0}, -1.0, 1.0))", "\\arccos({0})",
           "arccosine, argument clipped to [-1, 1]", bounded="always"),
    _unary("arctan", _xp("arctan"), "jnp.arctan({0})", "\\arctan({0})", "arctangent",
           bounded="always"),
    _unary("sinh", _xp("sinh"), "jnp.sinh({0})", "\\sinh({0})", "hyperbolic sine",
           bounded="if_args"),
    _unary("cosh", _xp("cosh"), "jnp.cosh({0})", "\\cosh({0})", "hyperbolic cosine",
           bounded="if_args"),
    _unary("tanh", _xp("tanh"), "jnp.tanh({0})", "\\tanh({0})", "hyperbolic tangent",
           bounded="always"),
    _unary("arcsinh", _xp("arcsinh"), "jnp.arcsinh({0})", "\\operatorname{{arsinh}}({0})",
           "inverse hyperbolic sine", bounded="if_args"),
    _unary("arccosh", lambda xp, x: xp.arccosh(xp.maximum(x, 1.0)),
           "jnp.arccosh(jnp.maximum({0}, 1.0))", "\\operatorname{{arcosh}}({0})",
           "inverse hyperbolic cosine, argument raised to at least 1", bounded="if_args"),
    _unary("arctanh", lambda xp, x: xp.arctanh(xp.clip(x, -_UNIT_OPEN, _UNIT_OPEN)),
           f"jnp.arctanh(jnp.clip({{0}}, {-_UNIT_OPEN!r}, {_UNIT_OPEN!r}))",
           "\\operatorname{{artanh}}({0})", "inverse hyperbolic tangent, argument clipped",
           bounded="always"),
    _unary("exp", _xp("exp"), "jnp.exp({0})", "e^{{{0}}}", "e ** x", bounded="if_args"),
    _unary("exp2", _xp("exp2"), "jnp.exp2({0})", "2^{{{0}}}", "2 ** x", bounded="if_args"),
    _unary("exp10", lambda xp, x: xp.power(10.0, x), "jnp.power(10.0, {0})", "10^{{{0}}}",
           "10 ** x", bounded="if_args"),
    _unary("expm1", _xp("expm1"), "jnp.expm1({0})", "(e^{{{0}}} - 1)", "e ** x - 1",
           bounded="if_args"),
    _unary("log", lambda xp, x: xp.log(xp.abs(x) + _LOG_TINY),
           f"jnp.log(jnp.abs({{0}}) + {_LOG_TINY!r})", "\\log|{0}|",
           "natural log of |x| (protected)"),
    _unary("log10", lambda xp, x: xp.log10(xp.abs(x) + _LOG_TINY),
           f"jnp.log10(jnp.abs({{0}}) + {_LOG_TINY!r})", "\\log_{{10}}|{0}|",
           "log base 10 of |x| (protected)"),
    _unary("log2", lambda xp, x: xp.log2(xp.abs(x) + _LOG_TINY),
           f"jnp.log2(jnp.abs({{0}}) + {_LOG_TINY!r})", "\\log_2|{0}|",
           "log base 2 of |x| (protected)"),
    _unary("log1p", _xp("log1p"), "jnp.log1p({0})", "\\log(1 + {0})", "log(1 + x)"),
    _unary("square", _xp("square"), "jnp.square({0})", "{{{0}}}^2", "x ** 2",
           rewrites=("square(sqrt(x)) -> abs(x)", "square(negative(x)) -> square(x)",
                     "square(abs(x)) -> square(x)"), bounded="if_args"),
    _unary("sqrt", lambda xp, x: xp.sqrt(xp.abs(x)), "jnp.sqrt(jnp.abs({0}))",
           "\\sqrt{{|{0}|}}", "square root of |x| (protected)",
           rewrites=("sqrt(square(x)) -> abs(x)",), bounded="if_args"),
    _unary("cube", lambda xp, x: x * x * x, "{0} * {0} * {0}", "{{{0}}}^3", "x ** 3",
           bounded="if_args"),
    _unary("cbrt", _xp("cbrt"), "jnp.cbrt({0})", "\\sqrt[3]{{{0}}}", "cube root",
           bounded="if_args"),
    _unary("sign", _xp("sign"), "jnp.sign({0})", "\\operatorname{{sign}}({0})",
           "-1, 0 or 1", rewrites=("sign(sign(x)) -> sign(x)",), bounded="always"),
    _unary("reciprocal", lambda xp, x: _safe_div(xp, xp.ones_like(x), x), "_div(1.0, {0})",
           "\\frac{{1}}{{{0}}}", "1 / x, with 1 / 0 = 0 (protected)",
           rewrites=("reciprocal(reciprocal(x)) -> x",), bounded="if_constant_divisor"),
    _unary("negative", _xp("negative"), "-{0}", "-{0}", "-x", fold=operator.neg, prefix="-",
           rewrites=("negative(negative(x)) -> x",), bounded="if_args"),
    _f("norm", 1, _norm, "jnp.sqrt(jnp.sum(jnp.square({0})))", "\\lVert {0} \\rVert",
       "L2 norm of each parameter tensor", scope="leaf", kind_rule=_reduce_leaf),
    # n-ary
    _f("interp", 3, lambda xp, x, y, a: (1 - a) * x + a * y, "(1 - {2}) * {0} + {2} * {1}",
       "(1 - {2}) {0} + {2} {1}", "(1 - a) * x + a * y", value_name="ema",
       rewrites=("interp(x, y, 0.0) -> x", "interp(x, y, 1.0) -> y", "interp(x, x, a) -> x"),
       bounded="if_args", hyper_roles=(("third", "b"),)),
    _f("clip", 2, lambda xp, x, c: xp.clip(x, -xp.abs(c), xp.abs(c)),
       "jnp.clip({0}, -jnp.abs({1}), jnp.abs({1}))", "\\operatorname{{clip}}({0}, {1})",
       "x clipped to [-|c|, |c|]", bounded="if_any_arg"),
    _f("dot", 2, lambda xp, x, y: xp.sum(x * y), "jnp.sum({0} * {1})",
       "\\langle {0}, {1} \\rangle", "inner product within each parameter tensor",
       scope="leaf", kind_rule=_reduce_leaf, commutative=True),
    _f("cosine_sim", 2, _cosine_sim, "_cosine_sim({0}, {1})",
       "\\cos\\angle({0}, {1})", "cosine similarity within each parameter tensor",
       scope="leaf", kind_rule=_reduce_leaf, commutative=True, py_helper=_COSINE_SIM_PY,
       bounded="always"),
    _f("global_norm", 1, _global_norm, "_global_norm({0})", "\\lVert {0} \\rVert_{{global}}",
       "L2 norm over the whole parameter tree", scope="global", kind_rule=_to_scalar,
       py_helper=_GLOBAL_NORM_PY),
    _f("clip_by_global_norm", 2, _clip_by_global_norm, "_clip_by_global_norm({0}, {1})",
       "\\operatorname{{clip}}_{{\\lVert\\cdot\\rVert}}({0}, {1})",
       "x scaled so that its global norm is at most |c| (c a Scalar)", scope="global",
       kind_rule=_tree_with_scalar_bound, py_helper=_CLIP_BY_GLOBAL_NORM_PY, bounded="always"),
    # assignment of a name or a constant (`x = y`, `x = 0.5`)
    _f("copy", 1, lambda xp, x: x, "{0}", "{0}", "the value itself: `x = y` or `x = 0.5`",
       fold=lambda x: x, identity=True, bounded="if_args"),
    # nullary
    _constant("get_pi", math.pi, "\\pi", "pi", "pi"),
    _constant("get_e", math.e, "e", "Euler's number", "e_const"),
    _constant("get_eps", EPS, "\\epsilon", f"{EPS!r}", "eps"),
]

#: Every library function by name.
FUNCTIONS: dict[str, Function] = {f.name: f for f in _ENTRIES}

#: Each function's kind table (`Function.kind_table`), by name: the type checker's one table.
KIND_TABLES: dict[str, dict] = {f.name: f.kind_table for f in _ENTRIES}

#: Names of the functions written with an infix operator, by operator.
INFIX: dict[str, str] = {f.infix: f.name for f in _ENTRIES if f.infix}

#: Names of the functions written with a prefix operator (``-x``), by operator.
PREFIX: dict[str, str] = {f.prefix: f.name for f in _ENTRIES if f.prefix}

#: The name of the function whose value is its argument (``x = y``, ``x = 0.5``).
(IDENTITY,) = (f.name for f in _ENTRIES if f.identity)


def get(name: str) -> Function:
    """The entry for `name`; KeyError if there is none.

    >>> get("sqrt").doc
    'square root of |x| (protected)'
    """
    return FUNCTIONS[name]
