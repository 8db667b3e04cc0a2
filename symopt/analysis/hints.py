"""Hyperparameter transfer hints: is a program's update sign-like, as Lion's is?

Lion's update is ``sign(...)`` plus decoupled weight decay, times the learning
rate: every element of ``update / lr`` is bounded by a constant (apart from the
weight-decay term), where Adam's ratio ``m / sqrt(v)`` is not bounded by the
program's form. The Lion paper (Chen et al. 2023, section 3.2) reports that
such updates, having a larger norm than AdamW's, want a learning rate 3-10x
smaller and a weight decay 3-10x larger than AdamW's for the same effective
strength. `transfer_hint` says so in words; nothing is changed silently.

`sign_like` is a conservative bound analysis over the live statements: a value
is bounded when it is a constant or the weight or learning rate (the user's
own scale), a function that is bounded whatever its input (``sign``, ``tanh``,
``sin``, ``cos``, ``arctan``, clipped inverse trigonometry, ``clip`` by a
bounded value, ``clip_by_global_norm``, ``cosine_sim``), or a smooth function
of bounded values (``+ - *``, ``interp``, ``maximum``, ``minimum``,
``exp``...; not ``power``, ``log`` or norms, which can blow up or grow with
size); a division is bounded only by a nonzero constant. Which rule a function
follows is its registry entry's `bounded`. The gradient, the
state slots and ``step`` are unbounded. The update is sign-like when it is
bounded and depends on the gradient.

>>> from symopt import programs
>>> sign_like(programs.load("lion")), sign_like(programs.load("adamw"))
(True, False)
"""

from __future__ import annotations

from symopt.lang.dead_code import remove_dead
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS


def sign_like(program: Program) -> bool:
    """Whether every element of the update is bounded per element (see module docstring)."""
    p = remove_dead(program)
    bounded = {p.params[0]: True, p.params[1]: False, p.lr_name: True}
    depends_on_g = {name: name == p.params[1] for name in p.params}
    for name in p.state_names:
        bounded[name] = False
    if p.has_step:
        bounded["step"] = False
    for s in p.body:
        arg_bounded = [bounded[a] if a.__class__ is str else True for a in s.args]
        rule = FUNCTIONS[s.fn].bounded  # the registry says when a function's value is bounded
        if rule == "always":
            ok = True
        elif rule == "if_any_arg":
            ok = any(arg_bounded)
        elif rule == "if_constant_divisor":
            den = s.args[-1]
            ok = arg_bounded[0] and den.__class__ is float and den != 0.0
        else:
            ok = rule == "if_args" and all(arg_bounded)
        bounded[s.target] = ok
        depends_on_g[s.target] = any(depends_on_g.get(a, False) for a in s.uses())
    u = p.returns[0]
    return bounded[u] and depends_on_g[u]


def transfer_hint(program: Program) -> str | None:
    """The hint `symopt export` and `symopt eval` print for a sign-like update, else None.

    >>> from symopt import programs
    >>> print(transfer_hint(programs.load("signum"))[:63])
    hint: the update is sign-like (each element bounded, as in Lion
    >>> transfer_hint(programs.load("adam")) is None
    True
    """
    if not sign_like(program):
        return None
    return ("hint: the update is sign-like (each element bounded, as in Lion); the Lion paper "
            "reports that such optimizers want a learning rate 3-10x smaller and a weight decay "
            "3-10x larger than AdamW's (nothing was changed)")
