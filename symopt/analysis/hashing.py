"""The canonical hash: one value per dataflow, cheap enough for every mutation.

A Merkle-style hash computed bottom-up over the live statements. Each value
gets a key: a parameter by its role (``weight``, ``gradient``, ``state<i>``,
``lr``, ``step``), a constant by its exact value (``repr`` of the float), a
statement by ``blake2b(fn(key, key, ...))`` with the keys of commutative
functions sorted; ``x = y`` (``copy``) takes the key of ``y``. The program's
hash digests the keys of its returned values.

So the hash ignores variable names, the order of independent statements, the
argument order of commutative functions and dead code, and differs whenever
the dataflow differs (up to blake2b collisions). It is stable across processes
(hashlib, never Python's randomized ``hash``). It does not see algebra:
``x + x`` and ``2 * x`` hash differently; the numeric fingerprint
(`symopt.analysis.fingerprinting`) catches those.

>>> from symopt.lang import parse
>>> a = parse("def train(w, g, lr):\\n    u = g * lr\\n    return u")
>>> b = parse("def train(w, g, lr):\\n    dead = exp(w)\\n    x = lr * g\\n    return x")
>>> canonical_hash(a) == canonical_hash(b), len(canonical_hash(a))
(True, 32)
"""

from __future__ import annotations

from hashlib import blake2b

from symopt.lang.dead_code import live_mask
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS

_COMMUTATIVE = frozenset(f.name for f in FUNCTIONS.values() if f.commutative)


def value_keys(program: Program) -> dict[str, str]:
    """The canonical key of every variable's final value, over live statements only.

    Parameters keep their role as key; a dead statement's target keeps
    whatever key it had before (dead values are never hashed).

    >>> from symopt.lang import parse
    >>> p = parse("def train(w, g, lr):\\n    u = g\\n    return u")
    >>> value_keys(p)["u"]
    'gradient'
    """
    env = program.param_roles()
    commutative = _COMMUTATIVE
    for s, live in zip(program.body, live_mask(program), strict=True):
        if not live:
            continue
        keys = [env[a] if a.__class__ is str else "#" + repr(a) for a in s.args]
        if FUNCTIONS[s.fn].identity:
            env[s.target] = keys[0]
            continue
        if s.fn in commutative:
            keys.sort()
        text = s.fn + "(" + ",".join(keys) + ")"
        env[s.target] = blake2b(text.encode(), digest_size=12).hexdigest()
    return env


def canonical_hash(program: Program) -> str:
    """The canonical hash of `program`'s dataflow: 32 hex digits (see module docstring).

    >>> from symopt import programs
    >>> canonical_hash(programs.load("sgd"))[:8]
    '08bb28e4'
    """
    env = value_keys(program)
    top = f"{program.n_state}|" + "|".join(env[r] for r in program.returns)
    return blake2b(top.encode(), digest_size=16).hexdigest()
