"""Dead code: statements whose value never reaches a returned output.

A statement is dead when nothing returned depends on it: its target is never
read afterwards, or is overwritten before it is read. Dead statements stay in
the genome (they are stepping stones for mutation) but are dropped before
hashing, compiling and training.

>>> from symopt.lang import parse
>>> p = parse('''
... def train(w, g, m, lr):
...     x = g * 2.0
...     x = sign(g)
...     unused = exp(m)
...     m = interp(g, m, 0.9)
...     update = x * lr
...     return update, m
... ''')
>>> live_mask(p)
(False, True, False, True, True)
>>> round(redundant_fraction(p), 2)
0.4
"""

from __future__ import annotations

from symopt.lang.model import Program


def live_mask(program: Program) -> tuple[bool, ...]:
    """For each statement, whether a returned output depends on it."""
    needed = set(program.returns)
    mask = []
    for s in reversed(program.body):
        if s.target in needed:
            needed.discard(s.target)
            needed.update(a for a in s.args if a.__class__ is str)
            mask.append(True)
        else:
            mask.append(False)
    return tuple(reversed(mask))


def remove_dead(program: Program) -> Program:
    """The program without its dead statements (the same object if there are none)."""
    mask = live_mask(program)
    if all(mask):
        return program
    body = tuple(s for s, live in zip(program.body, mask, strict=True) if live)
    return program.replace(body=body)


def redundant_fraction(program: Program) -> float:
    """The fraction of statements that are dead (0.0 for an empty body)."""
    mask = live_mask(program)
    return (len(mask) - sum(mask)) / len(mask) if mask else 0.0
