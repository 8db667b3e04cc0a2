"""The classic programs under test, in one table: each program of `programs/`, the optax
optimizer it matches (as its header says), and the learning rate and weight decay each kind
of test runs it at. The contract, convergence and export tests parametrize from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optax


@dataclass(frozen=True)
class Classic:
    #: ``lr -> optax.GradientTransformation``, the matching optax optimizer (None: none)
    optax: Callable[[float], optax.GradientTransformation] | None
    #: learning rate of the step-for-step comparison with `optax` (None without one)
    contract_lr: float | None
    #: learning rate on the convergence problems (one, or one per problem)
    convergence_lr: float | dict[str, float]
    #: decoupled weight decay for the convergence tests (None: the program's own)
    weight_decay: float | None = None


# Learning rates: lion/signum scale lr by 0.1 inside, paper_adamw by 1e-3; signum's
# fixed-size sign steps stall ~lr away from Rosenbrock's minimum, so it gets a smaller one.
# Weight decay: decoupled decay moves the fixed point off the minimum (by ~4% on
# Rosenbrock's flat valley at 0.01); like optax's test, those converge at optax's default.
# adagrad: optax starts the accumulator at 0.1; the program's slot starts at 0 and adds 0.1
# inside the square root, and uses 1/sqrt where optax uses rsqrt: equal up to rounding order.
CLASSICS: dict[str, Classic] = {
    "adamw": Classic(lambda lr: optax.adamw(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01),
                     1e-2, 1e-1, weight_decay=1e-4),
    "adam": Classic(lambda lr: optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8), 1e-2, 1e-1),
    "lion": Classic(lambda lr: optax.lion(0.1 * lr, b1=0.9, b2=0.99, weight_decay=0.1),
                    1e-2, 3e-2, weight_decay=1e-3),
    "sgd": Classic(lambda lr: optax.sgd(lr), 5e-2, 1e-3),
    "momentum": Classic(lambda lr: optax.sgd(lr, momentum=0.9), 2e-2, 1e-3),
    "nesterov": Classic(lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True), 2e-2, 1e-3),
    "rmsprop": Classic(lambda lr: optax.rmsprop(lr, decay=0.9, eps=1e-8), 1e-2, 5e-3),
    "adagrad": Classic(lambda lr: optax.adagrad(lr, initial_accumulator_value=0.1, eps=1e-7),
                       5e-2, 1.0),
    "signum": Classic(None, None, {"parabola": 3e-2, "rosenbrock": 3e-3}),
    "paper_adamw": Classic(None, None, 1e2, weight_decay=1e-4),
}

#: Programs with a matching optax optimizer: name -> (learning rate, optax factory).
MATCHING = {name: (c.contract_lr, c.optax) for name, c in CLASSICS.items() if c.optax}
