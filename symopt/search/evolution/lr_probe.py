"""A learning-rate scale per candidate, carried in its program, and the probe that sets it.

The scale is a constant on ``lr``: a first statement ``lr = lr * c`` (absent means 1), so
``best.prog``, ``simplify`` and every export train exactly what the search measured.
With the probe on, seeds get the statement (``lr = lr * 1.0``, `with_scale_statement`:
the same optimizer), so constant perturbation tunes the learning rate too, in evolution
and in the constants-only baseline alike.
The rule (`[search] lr_probe`, docs/architecture.md):

- a child with its parent's *structure* (the same canonical hash once every constant is
  set aside, i.e. only constants moved) keeps the scale its program inherited: it is
  trained once, as any child;
- a child with a new structure is *probed*: trained at the multipliers `lr_probe`
  (default x1, x1/4, x4 of the scale it inherited) in one job (the executor's seeds x
  multipliers training); at the first hurdle (or a quarter of the run) the multipliers
  race, and those behind the best stop. The chosen multiplier is the one with the lowest
  mean final validation loss over the task seeds, among those that ended ok on every
  seed; it is folded into the program's scale (`with_lr_scale`), and the candidate's
  fitness is that mean: the fitness of one full run of the scaled program. Every step of
  the probe counts against the budget; the steps of the multipliers not chosen are the
  probe's cost: two quarter runs when the race settles it (1.5 runs in all), up to two
  more full runs when the sequential engine finds a later multiplier ahead.

>>> from symopt import programs
>>> sgd = programs.load("sgd")
>>> lr_scale(sgd), lr_scale(with_lr_scale(with_lr_scale(sgd, 0.25), 4.0))
(1.0, 1.0)
>>> print(to_text(with_lr_scale(sgd, 0.25), header=False).splitlines()[1])
    lr = lr * 0.25
>>> structure_key(with_lr_scale(sgd, 4.0)) == structure_key(sgd)
True
>>> choose(((1.0, 2.0, 100), (0.25, 1.5, 100), (4.0, math.inf, 25)))
(0.25, 1.5, 100)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from symopt.analysis import canonical_hash
from symopt.lang import Program, to_text
from symopt.lang.model import Stmt
from symopt.search.storage.schema import CandidateRecord

__all__ = ["DEFAULT_PROBE", "ProbeVerdict", "apply_probe", "choose", "lr_scale",
           "structure_key", "to_text", "verdict", "with_lr_scale", "with_scale_statement"]

#: The multipliers a probe tries, the inherited scale first (the sequential engine races
#: the others against it).
DEFAULT_PROBE = (1.0, 0.25, 4.0)


def _scale_stmt(program: Program) -> Stmt | None:
    """The leading ``lr = lr * c`` statement, if the program starts with one."""
    if not program.body:
        return None
    s, lr = program.body[0], program.lr_name
    if (s.target == lr and s.fn == "mul" and len(s.args) == 2 and s.args[0] == lr
            and isinstance(s.args[1], float)):
        return s
    return None


def lr_scale(program: Program) -> float:
    """The learning-rate scale a program carries (1.0 without a scale statement)."""
    s = _scale_stmt(program)
    return 1.0 if s is None else float(s.args[1])


def with_lr_scale(program: Program, factor: float) -> Program:
    """`program` with its learning-rate scale multiplied by `factor` (exact for powers of
    two); the same program when `factor` is 1."""
    if factor == 1.0:
        return program
    s = _scale_stmt(program)
    lr = program.lr_name
    if s is None:
        return program.replace(body=(Stmt(lr, "mul", (lr, float(factor))),) + program.body)
    new = Stmt(lr, "mul", (lr, float(s.args[1]) * float(factor)))
    return program.replace(body=(new,) + program.body[1:])


def with_scale_statement(program: Program) -> Program:
    """`program` starting with its scale statement (``lr = lr * 1.0`` added when it has
    none): the same optimizer, with its learning-rate scale a constant that constant
    perturbation can tune (a seed, when `lr_probe` is on).

    >>> from symopt import programs
    >>> print(to_text(with_scale_statement(programs.load("sgd")), header=False).splitlines()[1])
        lr = lr * 1.0
    """
    if _scale_stmt(program) is not None:
        return program
    lr = program.lr_name
    return program.replace(body=(Stmt(lr, "mul", (lr, 1.0)),) + program.body)


def structure_key(program: Program) -> str:
    """The canonical hash of the program's structure: constants set aside, and the scale
    statement dropped (two programs with one key differ only in constants)."""
    s = _scale_stmt(program)
    body = program.body[1:] if s is not None else program.body
    plain = tuple(Stmt(t.target, t.fn, tuple(1.0 if isinstance(a, float) else a
                                            for a in t.args)) for t in body)
    return canonical_hash(program.replace(body=plain))


def choose(by_multiplier: Sequence[tuple[float, float, int]]
           ) -> tuple[float, float, int] | None:
    """The `(multiplier, fitness, steps)` a probe keeps: the lowest finite mean final
    loss (ties: the earlier multiplier); None when no multiplier ended ok on every seed."""
    ok = [m for m in by_multiplier if math.isfinite(m[1])]
    return min(ok, key=lambda m: m[1]) if ok else None


@dataclass(frozen=True)
class ProbeVerdict:
    """What a probe's training run says about a child: the program to store (its scale
    folded in), its fitness, status and message, and the probe's cost in steps."""

    program: Program
    multiplier: float
    fitness: float
    status: str
    message: str
    probe_steps: int


def verdict(program: Program, status: str, message: str, steps: int,
            by_multiplier: Sequence[tuple[float, float, int]]) -> ProbeVerdict:
    """The probed child from its training outcome (`Evaluation` fields): the chosen
    multiplier folded into `program`, the fitness of its full run; a probe where no
    multiplier ended ok keeps the outcome's failure (every step counted by its status).

    >>> from symopt import programs
    >>> v = verdict(programs.load("sgd"), "ok", "", 250,
    ...             ((1.0, 2.0, 100), (0.25, 1.5, 100), (4.0, math.inf, 50)))
    >>> v.multiplier, v.fitness, v.probe_steps, lr_scale(v.program)
    (0.25, 1.5, 150, 0.25)
    """
    chosen = choose(by_multiplier)
    if chosen is None:
        if status == "ok":  # each seed had an ok multiplier, but not one for all seeds
            status, message = "hurdle", "no learning-rate multiplier of the probe ended ok " \
                                        "on every task seed"
        return ProbeVerdict(program, 1.0, math.inf, status, message, 0)
    mult, fitness, chosen_steps = chosen
    return ProbeVerdict(with_lr_scale(program, mult), mult, fitness, "ok", "",
                        max(steps - chosen_steps, 0))


def apply_probe(rec: CandidateRecord, program: Program, outcome,
                prepare: Callable[..., CandidateRecord]) -> Program:
    """Turn a probed child's record into the candidate it becomes (in place): the kept
    multiplier folded in (its text, hash and fingerprint from `prepare`), the fitness of
    that one run, the probe's cost in `probe_steps`; returns the program to store."""
    v = verdict(program, outcome.status, outcome.message, outcome.steps,
                outcome.by_multiplier)
    if v.multiplier != 1.0:  # another program: its own hash, fingerprint and text
        scaled = prepare(v.program, gen_index=rec.gen_index, operator=rec.operator,
                         description=rec.description, parent_id=rec.parent_id, tries=rec.tries)
        rec.program_text, rec.hash, rec.fingerprint = (
            scaled.program_text, scaled.hash, scaled.fingerprint)
        rec.statements, rec.live_statements = scaled.statements, scaled.live_statements
        rec.redundant_fraction = scaled.redundant_fraction
    rec.description += (f"; lr probe: x{v.multiplier:g} kept" if v.status == "ok"
                        else "; lr probe: no multiplier ended ok")
    rec.fitness, rec.status, rec.message = v.fitness, v.status, v.message
    rec.probe_steps = v.probe_steps
    return v.program
