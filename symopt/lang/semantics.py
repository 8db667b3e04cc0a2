"""What a program computes: its live statements as operations over lists of leaves.

`statement_ops(program, xp)` turns each live statement into a closure
``op(env, dtypes)`` that reads and writes `env` (variable name -> value), for any array
namespace `xp` following the array API that `numpy` and `jax.numpy` share: the compiler
runs programs with `jax.numpy` (`symopt.compile.compiler`), the fingerprint with `numpy`
(`symopt.analysis.fingerprinting`). Both therefore run the registry's one implementation
of every function (`Function.impl`).

Values during a run:

- a `Scalar` is a Python float (constants, and `lr`/`step` when given as
  Python numbers) or a 0-d float32 array;
- a `LeafScalar` is a list of 0-d arrays, one per leaf;
- a `Tensor` is a list of arrays, one per leaf.

Python-float scalars stay Python floats through the functions that have a `fold` (`+ - * /`,
`negative`, `copy`, the constants), so constants are combined in double precision and enter
array arithmetic as weakly typed numbers, exactly as optax's own code does. Other functions
on Python floats get them through `lift` (JAX: as they are, weakly typed; NumPy:
`numpy.float32`, so both compute in float32). Array scalars are cast to a leaf's dtype when
combined with it uncast, and the result is cast back to the leaf's dtype (bfloat16 params
give bfloat16 state and updates; a float32 scalar is not rounded to bfloat16 first).

>>> import numpy as np
>>> from symopt.lang import parse, typed
>>> p = parse("def train(w, g, m, lr):\\n    m = m * 0.9 + g\\n    return m * lr, m")
>>> env = {"g": [np.ones(2, np.float32)], "m": [np.ones(2, np.float32)], "lr": 0.5}
>>> for op in statement_ops(typed(p), np, lift=np.float32):
...     op(env, [np.float32])
>>> env["m"][0].tolist()
[1.899999976158142, 1.899999976158142]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from symopt.lang.dead_code import live_mask
from symopt.lang.kinds import Kind
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS, Function
from symopt.lang.typecheck import TypedProgram

_S = Kind.SCALAR

#: ``op(env, dtypes)``: one live statement; `dtypes` holds each leaf's dtype.
Op = Callable[[dict[str, Any], list[Any]], None]


def _same(x: Any) -> Any:
    return x


def tree_arg_positions(fn: Function) -> tuple[int, ...]:
    """The argument positions of a global function that take a whole tree.

    >>> tree_arg_positions(FUNCTIONS["clip_by_global_norm"])
    (0,)
    """
    return tuple(
        i for i in range(fn.arity)
        if any(k[i] != _S and r is not None for k, r in fn.kind_table.items())
    )


def _elementwise(fn: Function, xp: Any, lift: Callable, target: str, args: tuple,
                 kinds: list, out_kind: Kind) -> Op:
    impl, fold = fn.impl, fn.fold
    if out_kind == _S:
        def scalar_op(env, dtypes):
            vals = [env[a] if k is not None else a for a, k in zip(args, kinds, strict=True)]
            if all(v.__class__ is float for v in vals):
                if fold is not None:
                    env[target] = fold(*vals)
                else:
                    env[target] = impl(xp, *[lift(v) for v in vals])
            else:
                env[target] = impl(xp, *vals)
        return scalar_op

    def op(env, dtypes):
        # Scalars combine uncast and the result is cast back to the leaf's dtype: a float32
        # hyperparameter meeting a bfloat16 leaf computes `1 - b2` in float32, not as 1.
        cols = []
        for a, k in zip(args, kinds, strict=True):
            if k is None:
                cols.append([a] * len(dtypes))
            elif k == _S:
                cols.append([env[a]] * len(dtypes))
            else:
                cols.append(env[a])
        out = []
        for dt, xs in zip(dtypes, zip(*cols, strict=True), strict=True):
            x = impl(xp, *xs)
            out.append(x if x.dtype == dt else x.astype(dt))
        env[target] = out
    return op


def _global(fn: Function, xp: Any, lift: Callable, target: str, args: tuple, kinds: list,
            out_kind: Kind) -> Op:
    impl = fn.impl
    tree_pos = tree_arg_positions(fn)

    def op(env, dtypes):
        vals = []
        for i, (a, k) in enumerate(zip(args, kinds, strict=True)):
            v = env[a] if k is not None else a
            if i in tree_pos and (k is None or k == _S):
                v = [xp.asarray(v, xp.float32)]
            elif v.__class__ is float:
                v = lift(v)
            vals.append(v)
        out = impl(xp, *vals)
        if out_kind == _S and isinstance(out, list):
            out = out[0]
        env[target] = out
    return op


def _constant_op(target: str, value: float) -> Op:
    def op(env, dtypes):
        env[target] = value
    return op


def statement_ops(typed: TypedProgram, xp: Any, lift: Callable[[float], Any] = _same, *,
                  program: Program | None = None) -> list[Op]:
    """One closure per live statement of a type-checked program, in order.

    `program` (default ``typed.program``) may be the same program with some constants
    replaced by names bound at run time (traced constants): they keep the constants' kind.
    """
    program = typed.program if program is None else program
    ops: list[Op] = []
    for stmt, live, out_kind, kinds in zip(program.body, live_mask(program), typed.kinds,
                                           typed.arg_kinds, strict=True):
        if not live:
            continue
        fn = FUNCTIONS[stmt.fn]
        args = tuple(stmt.args)
        arg_kinds = [k if a.__class__ is str else None for a, k in zip(args, kinds, strict=True)]
        if fn.arity == 0:
            ops.append(_constant_op(stmt.target, fn.constant()))
        elif fn.scope == "global":
            ops.append(_global(fn, xp, lift, stmt.target, args, arg_kinds, out_kind))
        else:
            ops.append(_elementwise(fn, xp, lift, stmt.target, args, arg_kinds, out_kind))
    return ops
