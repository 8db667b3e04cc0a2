"""How a program runs as an optimizer: the `interpreted` or the `compiled` engine.

A `ProgramOptimizer` is what `symopt.tasks.evaluate` trains with when the optimizer is a
program. With the ``compiled`` engine it is the program compiled to optax
(`symopt.compile.to_optax`): one XLA compile per program. With ``interpreted`` (the
default) the program is encoded as arrays (`symopt.compile.interpreter`) and run by one
compiled interpreter per task and size class, so a new program, a changed constant or
another learning-rate multiplier never recompiles. Both give the same fitness (within
float32 rounding; see the README's benchmarks and ``tests/test_engine.py``).

>>> from symopt import programs
>>> from symopt.tasks import evaluate
>>> opt = ProgramOptimizer(programs.load("adam"))
>>> opt.engine
'interpreted'
>>> r = evaluate(opt, "quadratic")
>>> r.status, r.fitness < 0.1 * r.curve[0]
('ok', True)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import optax

from symopt import checks
from symopt.compile.interpreter import Encoded, SizeClass, encode, interpreted_tx
from symopt.compile.transform import to_optax
from symopt.lang.model import Program


class ProgramOptimizer:
    """A program as the optimizer of `symopt.tasks.evaluate`, run by one of `symopt.checks.ENGINES`.

    Called like a ``make_tx`` (``opt(learning_rate)``) it gives the compiled optax
    optimizer; `evaluate` recognises it and, with the ``interpreted`` engine, runs the
    encoded program in the compiled interpreter of its size class instead.
    """

    def __init__(self, program: Program, engine: checks.Engine = checks.DEFAULT_ENGINE):
        self.program, self.engine = program, checks.engine(engine, "engine")
        self._encoded: Encoded | None = None

    def __call__(self, learning_rate: Any) -> optax.GradientTransformation:
        return to_optax(self.program, learning_rate)

    def encoded(self) -> Encoded:
        """The program as arrays (encoded once; `ProgramError` if it does not type-check)."""
        if self._encoded is None:
            self._encoded = encode(self.program)
        return self._encoded


_FACTORIES: dict[SizeClass, Callable] = {}


def interpreter_factory(size: SizeClass) -> Callable:
    """``make_tx(schedule, arrays)`` for one size class; the same object every time, so the
    compiled runner built for it (keyed by the factory) serves every program of the class."""
    fn = _FACTORIES.get(size)
    if fn is None:
        fn = _FACTORIES[size] = functools.partial(_interpreted, size=size)
    return fn


def _interpreted(schedule, arrays, size):
    return interpreted_tx(schedule, arrays, size)
