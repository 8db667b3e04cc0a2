"""Random programs with a given signature: the random-search baseline.

The paper compares evolution with random search over "random programs of
similar length"; `random_program` draws one. Statements are random calls
(the same draw as the ``insert`` mutation, `CallSampler`), each assigned to
an existing variable of the same kind (so the dataflow stays connected) or,
with probability ``fresh_target_prob``, to a fresh name. The last statements
are reserved, when needed, to define returned values the body has not yet
defined (``update`` in particular), so the result always type-checks.

>>> import random
>>> from symopt.lang import is_valid, parse_file
>>> from symopt import programs
>>> adamw = programs.load("adamw")
>>> p = random_program(random.Random(0), adamw, 12)
>>> p.params == adamw.params and p.returns == adamw.returns, len(p.body), is_valid(p)
(True, 12, True)
"""

from __future__ import annotations

import random

import numpy as np

from symopt.errors import UserError
from symopt.lang.kinds import Kind
from symopt.lang.model import Program, Stmt
from symopt.lang.typecheck import infer, param_kinds
from symopt.search.config.sections import MutationConfig
from symopt.search.evolution.sampling import CallSampler, as_random

_T = Kind.TENSOR
_DRAWS = 200  # call draws per statement; a Tensor-valued call needs about two


def random_program(rng: random.Random | np.random.Generator | int, template: Program,
                   n_statements: int, config: MutationConfig | None = None) -> Program:
    """A random valid program with `template`'s name, parameters and returned names.

    It has `n_statements` statements, or more if the template returns more
    names than that which its parameters do not already define (each needs
    one). Functions, constants and the chance of a constant argument follow
    `config` (default `MutationConfig()`); `n_statements` may not exceed its
    ``max_statements``.

    >>> from symopt import programs
    >>> sgd = programs.load("sgd")
    >>> len(random_program(1, sgd, 1).body)
    1
    """
    config = config if config is not None else MutationConfig()
    if isinstance(n_statements, bool) or not isinstance(n_statements, int) or n_statements < 1:
        raise UserError(f"n_statements: must be an integer of at least 1, got {n_statements!r}")
    if n_statements > config.max_statements:
        raise UserError(f"n_statements: {n_statements} exceeds mutation.max_statements "
                        f"({config.max_statements})")
    if infer(template) is None:
        raise UserError("random_program: the template program does not type-check")
    rng = as_random(rng)
    sampler = CallSampler(config)
    env = param_kinds(template)
    returns = list(dict.fromkeys(template.returns))
    taken = set(template.params) | set(returns)
    body: list[Stmt] = []
    fresh = 0

    def missing() -> list[str]:
        return [r for r in returns if env.get(r) is not _T]

    n = max(n_statements, len(missing()))
    while len(body) < n:
        undefined = missing()
        forced = undefined[0] if len(undefined) >= n - len(body) else None
        for _ in range(_DRAWS):
            call = sampler.sample(rng, env)
            if call is not None and (forced is None or call[2] is _T):
                break
        else:  # pragma: no cover - w and g are always Tensors, so a Tensor call turns up
            raise AssertionError("random_program: could not draw a statement")
        fn, args, kind = call
        target = forced
        if target is None and rng.random() >= config.fresh_target_prob:
            same_kind = [v for v, k in env.items() if k is kind]
            if kind is _T:
                same_kind += [r for r in undefined if r not in env]
            target = rng.choice(same_kind) if same_kind else None
        if target is None:
            fresh += 1
            while f"v{fresh}" in taken:
                fresh += 1
            target = f"v{fresh}"
            taken.add(target)
        body.append(Stmt(target, fn, args))
        env[target] = kind
    program = Program(params=template.params, body=tuple(body), returns=template.returns,
                      name=template.name)
    if infer(program) is None:  # pragma: no cover - guaranteed by construction
        raise AssertionError("random_program built an invalid program")
    return program
