"""Mutation operators (the life of a candidate: docs/architecture.md): a parent program
in, one valid, new child out.

Operators (the paper's three, constant perturbation, and a cheap extra):

- ``insert``: a random call of a random allowed function, with arguments drawn
  from the variables defined at a random position (or new constants), chosen
  so that the statement type-checks. Its target is usually an existing variable
  of the same kind whose value reaches an output (so the change matters, e.g.
  ``m = sign(m)``); with probability ``fresh_target_prob`` a fresh name
  (``v1``, ``v2``, ...), which is dead code until a later mutation reads it.
- ``delete``: remove one statement, drawn among those whose removal keeps
  the later statements well-kinded (`_Parent.deletable`), so that the
  configured weight is the real rate of deletions.
- ``modify_arg``: replace one argument by another variable (of a kind that
  keeps the statement's result kind) or, with probability ``constant_prob``,
  by a new constant.
- ``perturb_constant``: multiply one constant by ``2 ** z``, ``z ~ N(0, 1)``;
  magnitudes are clamped to ``[MIN_ABS_CONSTANT, MAX_ABS_CONSTANT]``.
- ``replace_function``: swap a statement's function for another allowed one
  that accepts the same argument kinds and gives the same result kind.

A mutation is retried (a fresh operator each try) until the child type-checks
(`symopt.lang.typecheck.infer`), differs from the parent and passes the
caller's optional ``accept`` predicate; at most ``max_tries`` tries. If none
succeeds, `Mutator.mutate` returns the parent unchanged with operator
``"none"`` (it never raises for that: a search must go on). `Mutation.tries`
counts the tries (``tries - 1`` of them were rejected). Children carry no
header comment and no source positions.

Children have at most ``max_statements`` statements (``insert`` is not chosen
at the bound; a parent already over it only shrinks or stays the same size).
The `[mutation]` config (`MutationConfig`) and the draws of new calls and constants
(`CallSampler`) are in `symopt.search.evolution.sampling`.

>>> from symopt.lang import is_valid, parse_file
>>> from symopt import programs
>>> parent = programs.load("lion")
>>> mutator = Mutator(MutationConfig(), rng=0)
>>> children = [mutator.mutate(parent) for _ in range(20)]
>>> all(is_valid(c.program) and c.program != parent for c in children)
True
>>> MutationConfig.from_dict({"insert": -1})
Traceback (most recent call last):
...
symopt.errors.UserError: mutation.insert: must be a non-negative number (got -1.0)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from symopt.errors import UserError
from symopt.lang.kinds import Kind
from symopt.lang.model import Arg, Program, Stmt
from symopt.lang.printer import format_constant, format_stmt
from symopt.lang.registry import KIND_TABLES
from symopt.lang.typecheck import check, infer, typed
from symopt.search.config.sections import MAX_ABS_CONSTANT as MAX_ABS_CONSTANT
from symopt.search.config.sections import MIN_ABS_CONSTANT as MIN_ABS_CONSTANT
from symopt.search.config.sections import OPERATORS, MutationConfig
from symopt.search.evolution.sampling import CallSampler, as_random, clamp_constant

_S = Kind.SCALAR


@dataclass(frozen=True)
class Mutation:
    """One mutation's result: the child, which operator made it, what changed, tries used."""

    program: Program
    operator: str
    description: str
    tries: int


def _first_problem(program: Program) -> str:
    return check(program)[0].message


class _Parent:
    """Facts about the parent computed once per `mutate` call and shared by its tries."""

    def __init__(self, program: Program):
        self.program = program
        self.body = body = program.body
        self.n = len(body)
        t = typed(program)
        if t is None:
            raise UserError("mutate: the parent program does not type-check "
                            f"({_first_problem(program)})")
        self.params = t.params
        self.result_kinds: tuple[Kind, ...] = t.kinds
        self.constants = [(j, k) for j, s in enumerate(body)  # (statement, argument)
                          for k, a in enumerate(s.args) if a.__class__ is not str]
        self.with_args = [j for j, s in enumerate(body) if s.args]  # statements with arguments
        self._envs: dict[int, dict[str, Kind]] = {}
        self._fresh: str | None = None
        self._deletable: list[int] | None = None

    def env_before(self, i: int) -> dict[str, Kind]:
        """Kinds of the variables defined before statement `i` (do not mutate the result)."""
        env = self._envs.get(i)
        if env is None:
            env = dict(self.params)
            for s, kind in zip(self.body[:i], self.result_kinds[:i], strict=True):
                env[s.target] = kind
            self._envs[i] = env
        return env

    def live_before(self, i: int) -> set[str]:
        """Variables whose value just before statement `i` reaches a returned output."""
        live = set(self.program.returns)
        for s in reversed(self.body[i:]):
            if s.target in live:
                live.discard(s.target)
                live.update(a for a in s.args if a.__class__ is str)
        return live

    def deletable(self) -> list[int]:
        """Statements whose removal leaves every later read of their target well-kinded.

        That holds when the target had the same kind before the statement, or is
        not read (nor returned) before it is assigned again. A sufficient test:
        the type check of the child still decides.
        """
        if self._deletable is None:
            body, returns = self.body, self.program.returns
            self._deletable = []
            env = dict(self.params)
            for j, s in enumerate(body):
                t, kind = s.target, self.result_kinds[j]
                if env.get(t) is kind:
                    self._deletable.append(j)
                else:
                    for later in body[j + 1:]:
                        if t in later.args:
                            break
                        if later.target == t:
                            self._deletable.append(j)
                            break
                    else:
                        if t not in returns:
                            self._deletable.append(j)
                env[t] = kind
        return self._deletable

    def fresh_name(self) -> str:
        """The first of ``v1, v2, ...`` not used anywhere in the program."""
        if self._fresh is None:
            p = self.program
            taken = set(p.params) | set(p.returns) | {s.target for s in p.body}
            k = 1
            while f"v{k}" in taken:
                k += 1
            self._fresh = f"v{k}"
        return self._fresh


class Mutator:
    """Makes valid children of programs; deterministic for a given seed.

    `rng` is a `random.Random` (used as is), a numpy Generator or an int seed
    (see `as_random`).

    >>> m = Mutator(MutationConfig(insert=0, modify_arg=0, perturb_constant=0,
    ...                            replace_function=0), rng=1)
    >>> from symopt import programs
    >>> child = m.mutate(programs.load("momentum"))
    >>> child.operator, len(child.program.body)
    ('delete', 2)
    """

    def __init__(self, config: MutationConfig | None = None,
                 rng: random.Random | np.random.Generator | int = 0):
        self.config = config = config if config is not None else MutationConfig()
        self.rng = as_random(rng)
        self.sampler = CallSampler(config)
        self._weights = config.weights()
        allowed: dict[tuple, list[str]] = {}
        for name in config.functions:
            for kinds, result in KIND_TABLES[name].items():
                if result is not None:
                    allowed.setdefault((kinds, result), []).append(name)
        self._same_signature = allowed

    def set_weights(self, weights: dict[str, float]) -> None:
        """Use these operator weights from now on (adaptive weights,
        `symopt.search.evolution.operators`); an operator configured at 0 stays off."""
        self._weights = {op: (float(weights.get(op, 0.0)) if self.config.weights()[op] > 0
                              else 0.0) for op in OPERATORS}

    @property
    def rng(self) -> random.Random:
        """The generator every draw comes from; assigning converts with `as_random`."""
        return self._rng

    @rng.setter
    def rng(self, value: random.Random | np.random.Generator | int) -> None:
        self._rng = as_random(value)

    def mutate(self, program: Program,
               accept: Callable[[Program], bool] | None = None) -> Mutation:
        """A child of `program` that type-checks, differs from it and passes `accept`.

        After ``max_tries`` failed tries, the parent itself with operator ``"none"``.
        A parent that does not type-check is a `UserError`.
        """
        parent = _Parent(program)
        ops, cum = self._applicable(parent)
        tries = 0
        if ops:
            rng = self.rng
            for tries in range(1, self.config.max_tries + 1):
                op = rng.choices(ops, cum_weights=cum)[0]
                made = getattr(self, "_" + op)(parent)
                if made is None:
                    continue
                body, description = made
                if body == program.body:
                    continue
                child = Program(program.params, body, program.returns, program.name)
                if infer(child) is None or (accept is not None and not accept(child)):
                    continue
                return Mutation(child, op, description, tries)
        return Mutation(program, "none", f"no valid new child in {tries} tries", tries)

    def check_can_mutate(self, program: Program, name: str = "the program") -> None:
        """`UserError` naming the `[mutation]` keys when no operator with a positive weight
        applies to `program`: a search seeded with it could never make a child.

        >>> from symopt.lang import parse
        >>> m = Mutator(MutationConfig(delete=0, modify_arg=0, perturb_constant=0,
        ...                            replace_function=0, max_statements=2))
        >>> seed = parse("def train(w, g, lr):\\n    u = sign(g)\\n    u = u * lr\\n    return u")
        >>> m.check_can_mutate(seed, "s.prog")
        Traceback (most recent call last):
        ...
        symopt.errors.UserError: [mutation]: no mutation can change s.prog: insert: it has \
2 statements, max_statements is 2; the other operators have weight 0
        """
        parent = _Parent(program)
        if self._applicable(parent)[0]:
            return
        why = {"insert": f"it has {parent.n} statements, max_statements is "
                         f"{self.config.max_statements}",
               "delete": "it has no statement", "modify_arg": "no statement takes arguments",
               "perturb_constant": "it has no constant", "replace_function": "it has no statement"}
        used = [op for op in OPERATORS if self._weights[op] > 0]
        unused = "; the other operators have weight 0" if len(used) < len(OPERATORS) else ""
        raise UserError(f"[mutation]: no mutation can change {name}: "
                        + "; ".join(f"{op}: {why[op]}" for op in used) + unused)

    def _applicable(self, parent: _Parent) -> tuple[list[str], list[float]]:
        usable = {
            "insert": parent.n < self.config.max_statements,
            "delete": parent.n > 0,
            "modify_arg": bool(parent.with_args),
            "perturb_constant": bool(parent.constants),
            "replace_function": parent.n > 0,
        }
        ops, cum, total = [], [], 0.0
        for op in OPERATORS:
            w = self._weights[op]
            if w > 0 and usable[op]:
                total += w
                ops.append(op)
                cum.append(total)
        return ops, cum

    # Each operator returns (new body, description), or None when this try failed.

    def _insert(self, parent: _Parent):
        rng = self.rng
        i = rng.randrange(parent.n + 1)
        env = parent.env_before(i)
        call = self.sampler.sample(rng, env)
        if call is None:
            return None
        fn, args, kind = call
        target = None
        if rng.random() >= self.config.fresh_target_prob:
            live = parent.live_before(i)
            candidates = [v for v, k in env.items() if k is kind and v in live]
            if candidates:
                target = rng.choice(candidates)
        if target is None:
            target = parent.fresh_name()
        stmt = Stmt(target, fn, args)
        body = parent.body[:i] + (stmt,) + parent.body[i:]
        return body, f"insert `{format_stmt(stmt)}` as statement {i + 1}"

    def _delete(self, parent: _Parent):
        candidates = parent.deletable()
        if not candidates:
            return None
        j = self.rng.choice(candidates)
        return (parent.body[:j] + parent.body[j + 1:],
                f"delete `{format_stmt(parent.body[j])}` (statement {j + 1})")

    def _modify_arg(self, parent: _Parent):
        rng = self.rng
        j = rng.choice(parent.with_args)
        s = parent.body[j]
        k = rng.randrange(len(s.args))
        env = parent.env_before(j)
        table, want = KIND_TABLES[s.fn], parent.result_kinds[j]
        kinds = [env[a] if a.__class__ is str else _S for a in s.args]
        old = s.args[k]
        if rng.random() < self.config.constant_prob:
            kinds[k] = _S
            if table.get(tuple(kinds)) is not want:
                return None
            new: Arg = self.sampler.constant(rng)
            if new == old:
                return None
        else:
            candidates = []
            for name, kind in env.items():
                if name != old:
                    kinds[k] = kind
                    if table.get(tuple(kinds)) is want:
                        candidates.append(name)
            if not candidates:
                return None
            new = rng.choice(candidates)
        stmt = Stmt(s.target, s.fn, s.args[:k] + (new,) + s.args[k + 1:])
        return (parent.body[:j] + (stmt,) + parent.body[j + 1:],
                f"modify_arg `{format_stmt(s)}` -> `{format_stmt(stmt)}` (statement {j + 1})")

    def _perturb_constant(self, parent: _Parent):
        rng = self.rng
        j, k = rng.choice(parent.constants)
        s = parent.body[j]
        old = s.args[k]
        if isinstance(old, str):  # not met: `constants` holds the places of constants only
            return None
        z = rng.gauss(0.0, 1.0)
        new = clamp_constant(old * 2.0 ** z)
        if new == old:
            return None
        stmt = Stmt(s.target, s.fn, s.args[:k] + (new,) + s.args[k + 1:])
        return (parent.body[:j] + (stmt,) + parent.body[j + 1:],
                f"perturb_constant {format_constant(old)} -> {format_constant(new)} "
                f"(x2^{z:.3f}) in `{format_stmt(s)}` (statement {j + 1})")

    def _replace_function(self, parent: _Parent):
        rng = self.rng
        j = rng.randrange(parent.n)
        s = parent.body[j]
        env = parent.env_before(j)
        kinds = tuple(env[a] if a.__class__ is str else _S for a in s.args)
        options = self._same_signature.get((kinds, parent.result_kinds[j]), ())
        candidates = [f for f in options if f != s.fn]
        if not candidates:
            return None
        stmt = Stmt(s.target, rng.choice(candidates), s.args)
        return (parent.body[:j] + (stmt,) + parent.body[j + 1:],
                f"replace_function `{format_stmt(s)}` -> `{format_stmt(stmt)}` "
                f"(statement {j + 1})")
