"""The numeric fingerprint: functional equivalence, as in AutoML-Zero.

The program runs with NumPy, in float32, through the registry's implementations
(`symopt.lang.semantics`, the same code the JAX compiler runs), for `STEPS` steps on
fixed random inputs: a parameter tree of
two leaves shaped (2, 3) and () — a scalar leaf, so per-leaf reductions
(`norm`, `dot`) and global ones (`global_norm`) all differ —, a fresh
gradient each step, state slots starting at zero, a learning rate that
changes every step (never 0, 0.5 or 1, so ``lr * lr`` is not ``lr``), and
``w <- w - update`` between steps, as in training. Values are drawn with
magnitudes log-uniform in [0.2, 5] and both signs, so `abs`, `sign` and the
protected operations are exercised away from their kinks (state slots start
at exactly zero, which exercises ``x / 0 = 0``).

Cost: a NumPy operation on these tiny arrays takes about a microsecond, so a
fingerprint costs about 300 µs for AdamW and preparing a child about 340 µs on a loaded
2-core VM; eager JAX (``trace(program, jax.numpy)``), at 10-20 µs per operation, costs
3 ms and 1.9 ms (``bench/bench_analysis.py``, README).

Every returned value at every step is rounded, then all of it is hashed
with blake2b:

- values smaller than ``1e-5`` times the largest magnitude of that output
  (over leaves and steps) become 0, so cancellation noise around zero
  (``x - x`` computed two ways) does not count;
- the rest keep `DIGITS` (4) significant decimal digits.

Algebraically equivalent programs (``x + x`` and ``2 * x``, ``sqrt(square(x))``
and ``abs(x)``) compute the same numbers up to float32 rounding, about 1e-7
relative, far below the fourth digit: they get the same fingerprint unless a
value falls within that noise of a rounding boundary. That happens rarely
(about 2e-7 / 1e-3 per value; ``g / reciprocal(lr)`` against ``g * lr`` is
such a case, see the tests) and only ever splits one equivalence class in
two; it never merges different programs. Programs whose outputs differ in
the fourth digit or more get different fingerprints. Where a split matters
(the simplifier's own check), `same_behaviour` compares the unrounded
outputs with a tolerance instead.

A program with a NaN or infinite output gets ``"nonfinite:"`` followed by a
hash of where the non-finite values are and of the finite rest.

>>> from symopt.lang import parse
>>> a = parse("def train(w, g, lr):\\n    u = (g + g) * lr\\n    return u")
>>> b = parse("def train(w, g, lr):\\n    u = g * (2.0 * lr)\\n    return u")
>>> fingerprint(a) == fingerprint(b), len(fingerprint(a))
(True, 32)
>>> fingerprint(parse("def train(w, g, lr):\\n    u = exp(g * 1000.0) * lr\\n    return u"))[:10]
'nonfinite:'
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import blake2b
from typing import Any

import numpy as np

from symopt.errors import ProgramError
from symopt.lang.model import Program
from symopt.lang.semantics import statement_ops
from symopt.lang.typecheck import check, typed

#: Steps the program runs for.
STEPS = 2
#: Significant decimal digits kept of every output value.
DIGITS = 4
#: Values below this fraction of their output's largest magnitude count as 0.
ZERO_FLOOR = 1e-5
#: Leaf shapes of the parameter tree, including a scalar leaf.
SHAPES = ((2, 3), ())
#: The learning rate passed at each step.
LRS = (0.37, 0.61)


def _signed(rng: np.random.Generator, shape) -> np.ndarray:
    magnitude = np.exp(rng.uniform(np.log(0.2), np.log(5.0), size=shape))
    x = magnitude * rng.choice([-1.0, 1.0], size=shape)
    return x.astype(np.float32)


@lru_cache(maxsize=1)
def fixed_inputs():
    """``(weights, [gradient per step])``: lists of leaves, the same in every process."""
    rng = np.random.default_rng(20230213)
    weights = [_signed(rng, s) for s in SHAPES]
    grads = [[_signed(rng, s) for s in SHAPES] for _ in range(STEPS)]
    return weights, grads


def trace(program: Program, xp: Any = np) -> list[np.ndarray]:
    """Every returned value of `program` on the fixed inputs: one float64 array per output.

    Output j holds, for every step, the returned value number j (update, then
    state slots) over all leaves, flattened. `xp` is the array namespace the registry's
    implementations run with: `numpy`, or `jax.numpy` (run eagerly, the fingerprint's
    former engine, which ``bench/bench_analysis.py`` measures against).

    >>> from symopt import programs
    >>> [a.shape for a in trace(programs.load("lion"))]
    [(14,), (14,)]
    """
    typed_program = typed(program)
    if typed_program is None:
        raise ProgramError(check(program))
    ops = statement_ops(typed_program, xp, lift=xp.float32)
    weights, grads = fixed_inputs()
    if xp is not np:
        weights = [xp.asarray(x) for x in weights]
        grads = [[xp.asarray(x) for x in step] for step in grads]
    params = program.params
    dtypes = [np.dtype(np.float32)] * len(SHAPES)
    state = [[xp.zeros(s, xp.float32) for s in SHAPES] for _ in range(program.n_state)]
    w = weights
    per_output: list[list] = [[] for _ in program.returns]
    with np.errstate(all="ignore"):
        for t in range(STEPS):
            env = {params[0]: w, params[1]: grads[t], program.lr_name: LRS[t]}
            env.update(zip(program.state_names, state, strict=True))
            if program.has_step:
                env["step"] = float(t + 1)
            for op in ops:
                op(env, dtypes)
            values = [env[r] for r in program.returns]
            outs = [[np.asarray(x, np.float32) for x in v] for v in values]
            for j, value in enumerate(outs):
                per_output[j].extend(value)
            if xp is np:
                values = outs
            state = values[1:]
            w = [a - b for a, b in zip(w, values[0], strict=True)]
    return [np.concatenate([x.astype(np.float64).ravel() for x in leaves])
            for leaves in per_output]


def round_output(x: np.ndarray) -> np.ndarray:
    """`x` rounded as the module docstring says (non-finite values are kept).

    >>> round_output(np.array([1.23456, -0.000987654, 1e-9, 0.0])).tolist()
    [1.235, -0.0009877, 0.0, 0.0]
    """
    x = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(x)
    ax = np.abs(np.where(finite, x, 0.0))
    top = ax.max(initial=0.0)
    keep = finite & (ax > ZERO_FLOOR * top)
    exp = np.floor(np.log10(np.where(keep, ax, 1.0)))
    quantum = 10.0 ** (exp - (DIGITS - 1))
    rounded = np.round(np.where(keep, x, 0.0) / quantum) * quantum
    # `float('%.4g')`-like values: one canonical float per rounded number.
    rounded = np.array([float(f"{v:.{DIGITS}g}") for v in rounded.tolist()])
    return np.where(finite, rounded, x)


def fingerprint(program: Program, xp: Any = np) -> str:
    """The numeric fingerprint of `program` (see the module docstring).

    Raises `ProgramError` if the program does not type-check. `xp`: as in `trace`.

    >>> from symopt import programs
    >>> fingerprint(programs.load("sgd")) == fingerprint(programs.load("sgd"))
    True
    """
    outputs = [round_output(x) for x in trace(program, xp)]
    h = blake2b(digest_size=16)
    finite = True
    for x in outputs:
        finite &= bool(np.isfinite(x).all())
        h.update(b"|")
        h.update(np.ascontiguousarray(x, dtype="<f8").tobytes())
    if not finite:
        return "nonfinite:" + h.hexdigest()[:24]
    return h.hexdigest()


#: Relative tolerance of `same_behaviour`: float32 rounding of a few dozen operations.
RTOL = 1e-5


def same_behaviour(a: Program, b: Program) -> bool:
    """Whether `a` and `b` compute the same outputs on the fingerprint inputs.

    True when the fingerprints are equal, or when every output agrees within
    `RTOL` (relative) or below the zero floor, with non-finite values in the
    same places: the tolerant form of the fingerprint, immune to rounding
    boundaries.

    >>> from symopt.lang import parse
    >>> a = parse("def train(w, g, lr):\\n    u = g / reciprocal(lr)\\n    return u")
    >>> b = parse("def train(w, g, lr):\\n    u = g * lr\\n    return u")
    >>> fingerprint(a) == fingerprint(b), same_behaviour(a, b)
    (False, True)
    """
    if fingerprint(a) == fingerprint(b):
        return True
    ta, tb = trace(a), trace(b)
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb, strict=True):
        if x.shape != y.shape:
            return False
        fx, fy = np.isfinite(x), np.isfinite(y)
        if not (fx == fy).all() or not np.array_equal(x[~fx], y[~fy], equal_nan=True):
            return False
        floor = ZERO_FLOOR * max(np.abs(x[fx]).max(initial=0.0), np.abs(y[fy]).max(initial=0.0))
        if not np.allclose(x[fx], y[fy], rtol=RTOL, atol=floor):
            return False
    return True
