"""The program model: a list of single-operation statements.

A program is what a `.prog` file holds, after parsing and flattening:

- `params`: parameter names by position: weight, gradient, state slots,
  the learning rate, and optionally `step` (1-based step count);
- `body`: statements `target = fn(arg, ...)`, each argument either a
  variable name (`str`) or a numeric constant (`float`);
- `returns`: the names returned: `update` first, then the new value of every
  state slot in order.

Programs are immutable and hashable; equality ignores source positions and
the header comment. Mutation builds new programs with `Program.replace`.

>>> p = Program(params=("w", "g", "lr"), body=(Stmt("u", "mul", ("g", "lr")),),
...             returns=("u",))
>>> p.n_state, p.has_step, p.lr_name
(0, False, 'lr')
>>> p.constants()
[]
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

Arg = str | float  # a variable name or a numeric constant


@dataclass(frozen=True)
class Stmt:
    """`target = fn(*args)`; `line`/`col` locate it in its source (0 when generated)."""

    target: str
    fn: str
    args: tuple[Arg, ...]
    line: int = field(default=0, compare=False)
    col: int = field(default=0, compare=False)

    def uses(self) -> tuple[str, ...]:
        """The variable names this statement reads."""
        return tuple(a for a in self.args if isinstance(a, str))


@dataclass(frozen=True)
class Program:
    params: tuple[str, ...]
    body: tuple[Stmt, ...]
    returns: tuple[str, ...]
    name: str = "train"
    header: str = field(default="", compare=False)
    return_line: int = field(default=0, compare=False)
    return_col: int = field(default=0, compare=False)

    @property
    def has_step(self) -> bool:
        return len(self.params) >= 4 and self.params[-1] == "step"

    @property
    def lr_name(self) -> str:
        return self.params[-2] if self.has_step else self.params[-1]

    @property
    def state_names(self) -> tuple[str, ...]:
        end = len(self.params) - (2 if self.has_step else 1)
        return self.params[2:end]

    @property
    def n_state(self) -> int:
        return len(self.state_names)

    def param_roles(self) -> dict[str, str]:
        """The role of every parameter: weight, gradient, state<i>, lr, step.

        >>> from symopt import programs
        >>> programs.load("adam").param_roles()
        {'w': 'weight', 'g': 'gradient', 'm': 'state0', 'v': 'state1', 'lr': 'lr', 'step': 'step'}
        """
        roles = {self.params[0]: "weight", self.params[1]: "gradient"}
        for i, name in enumerate(self.state_names):
            roles[name] = f"state{i}"
        roles[self.lr_name] = "lr"
        if self.has_step:
            roles["step"] = "step"
        return roles

    def constants(self) -> list[float]:
        """The numeric constants in statement order: the program's hyperparameters."""
        return [a for s in self.body for a in s.args if not isinstance(a, str)]

    def with_constants(self, values: list[float]) -> Program:
        """The same program with its constants replaced, in `constants()` order."""
        it = iter(values)
        body = tuple(
            replace(s, args=tuple(a if isinstance(a, str) else float(next(it)) for a in s.args))
            for s in self.body
        )
        return replace(self, body=body)

    def replace(self, **changes) -> Program:
        """A copy with some fields changed (see `dataclasses.replace`)."""
        return replace(self, **changes)

    def __str__(self) -> str:
        """The program's `.prog` text (`print(program)` shows what it computes)."""
        from symopt.lang.printer import to_text  # the printer imports this module

        return to_text(self)
