"""A program's hyperparameters: one per role, with readable names where the role is known.

A program's constants are its hyperparameters, but one constant can play one
role in several places: in AdamW, β1 is the decay of the first moment *and*
the base of its bias correction ``1 - β1^step``. Exports and `to_optax` expose
one hyperparameter per role, so that changing it (by hand or with
`optax.inject_hyperparams`) changes every place it plays. Roles, over the live
program (`symopt.lang.dead_code.remove_dead`):

- ``b1``, ``b2``, ...: the decay of a moving average, ``interp(x, y, c)``, or a
  slot scaled by a constant, ``m * c`` (momentum); the same value again in a
  bias correction ``power(c, step)``, or scaling the same slot, is the same
  hyperparameter;
- ``weight_decay``: ``w * c``, decoupled weight decay;
- ``eps``: a small constant (at most 1e-3) added to a value, ``x + c``;
- ``lr_scale``: the learning rate scaled by a constant, ``lr * c``;
- ``c1``, ``c2``, ...: every other constant, one per occurrence.

The ``1`` of a bias correction ``1 - power(b, step)`` is part of its form, not
a hyperparameter: it keeps its value.

A second, different value in one named role gets a number (``weight_decay2``).

Which function's constant plays which role is the registry's (`Function.hyper_roles`,
``(condition, role)`` pairs): conditions ``third`` (the third argument), ``times_slot`` /
``times_weight`` / ``times_lr`` (the other argument holds a state slot / is the weight / is
the learning rate), ``small`` (at most `EPS_MAX` in magnitude, not 0), ``base_of_step``
(the first argument, the second being ``step``: the call is a power of ``step``),
``one_minus_step_power`` (1.0 as the first argument, the other a power of ``step``); roles
``b``, ``weight_decay``, ``eps``, ``lr_scale``, ``bias_base`` (a base of a bias
correction, the same hyperparameter as the decay of equal value), ``form`` (not a
hyperparameter).

>>> from symopt import programs
>>> [(h.name, h.value) for h in hyperparameters(programs.load("adamw"))]
[('b1', 0.9), ('b2', 0.999), ('eps', 1e-08), ('weight_decay', 0.01)]
>>> [(h.name, h.value) for h in hyperparameters(programs.load("lion"))]
[('b1', 0.9), ('weight_decay', 0.1), ('lr_scale', 0.1), ('b2', 0.99)]
"""

from __future__ import annotations

from dataclasses import dataclass

from symopt.lang.dead_code import remove_dead
from symopt.lang.model import Program
from symopt.lang.registry import FUNCTIONS, IDENTITY

#: Largest constant added to a value that is read as an epsilon.
EPS_MAX = 1e-3
#: The conditions and roles a registry entry's `hyper_roles` may name (module docstring).
CONDITIONS = ("third", "times_slot", "times_weight", "times_lr", "small", "base_of_step",
              "one_minus_step_power")
ROLES = ("b", "weight_decay", "eps", "lr_scale", "bias_base", "form")


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter: its name, default value and where its constant occurs.

    `positions` index `remove_dead(program).constants()`.
    """

    name: str
    value: float
    positions: tuple[int, ...]


def _slot_values(p: Program) -> dict[str, str]:
    """Which slot each variable holds the old or new value of (by slot name)."""
    holds = {name: name for name in p.state_names}
    for s in p.body:
        holds.pop(s.target, None)
        if s.fn == IDENTITY and s.args[0].__class__ is str and s.args[0] in holds:
            holds[s.target] = holds[s.args[0]]
    for name, r in zip(p.state_names, p.returns[1:], strict=True):
        holds.setdefault(r, name)
    return holds


def hyperparameters(program: Program) -> tuple[Hyperparameter, ...]:
    """The hyperparameters of `program` in order of first occurrence (module docstring)."""
    p = remove_dead(program)
    holds = _slot_values(p)
    w, lr = p.params[0], p.lr_name
    step = "step" if p.has_step else None
    # (role key, value) -> positions; the role key groups occurrences of one role
    groups: dict[tuple, list[int]] = {}
    named: list[tuple[str, tuple]] = []  # (base name, group key) in order of first occurrence
    betas: dict[float, tuple] = {}
    bases: list[tuple[int, float]] = []  # power(c, step) occurrences, tied to a beta later
    k = -1
    power_of_step: set[str] = set()
    for s in p.body:
        roles = FUNCTIONS[s.fn].hyper_roles
        if ("base_of_step", "bias_base") in roles and step is not None and s.args[-1] == step:
            power_of_step.add(s.target)
        else:
            power_of_step.discard(s.target)
        for i, arg in enumerate(s.args):
            if isinstance(arg, str):
                continue
            a = float(arg)
            k += 1
            others = [x for j, x in enumerate(s.args) if j != i]
            other = others[0] if others else None
            met = {
                "third": i == 2,
                "times_slot": other.__class__ is str and other in holds,
                "times_weight": other == w,
                "times_lr": other == lr,
                "small": 0.0 < abs(a) <= EPS_MAX,
                "base_of_step": i == 0 and step is not None and s.args[-1] == step,
                "one_minus_step_power": i == 0 and a == 1.0 and other in power_of_step,
            }
            condition, role = next(((c, r) for c, r in roles if met[c]), ("", "c"))
            if role == "form":
                continue  # the 1 of a bias correction
            if role == "bias_base":
                bases.append((k, a))
                continue
            if role == "b":
                slot = (holds[other] if condition == "times_slot" and isinstance(other, str)
                        else k)
                key: tuple = ("beta", slot, a)
                betas.setdefault(a, key)
            elif role == "c":
                key = ("const", k)
            else:
                key = (role, a)
            base = role
            if key not in groups:
                groups[key] = []
                named.append((base, key))
            groups[key].append(k)
    for k, a in bases:
        key = betas.get(a, ("const", k))
        if key not in groups:
            groups[key] = []
            named.append(("c", key))
        groups[key].append(k)
    counts: dict[str, int] = {}
    out = []
    constants = p.constants()
    for base, key in named:
        counts[base] = counts.get(base, 0) + 1
        n = counts[base]
        if base in ("b", "c"):
            name = f"{base}{n}"
        else:
            name = base if n == 1 else f"{base}{n}"
        positions = tuple(sorted(groups[key]))
        out.append(Hyperparameter(name, float(constants[positions[0]]), positions))
    return tuple(out)


def constant_values(program: Program, hyper: tuple[Hyperparameter, ...], values: dict) -> list:
    """Every constant of `remove_dead(program)`, in order, from hyperparameter `values`.

    >>> from symopt import programs
    >>> p = programs.load("adam")
    >>> constant_values(p, hyperparameters(p), {"b1": 0.5, "b2": 0.9, "eps": 0.0})
    [0.5, 0.9, 0.5, 1.0, 0.9, 1.0, 0.0]
    """
    out = list(remove_dead(program).constants())
    for h in hyper:
        for k in h.positions:
            out[k] = values.get(h.name, h.value)
    return out
