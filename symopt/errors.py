"""The errors symopt raises on purpose: everything a user can cause.

The CLI turns each of them into a short message and exit code 2; any other
exception is a bug in symopt.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass


class SymoptError(Exception):
    """Base of every error a user can cause (bad program, bad config, bad path)."""


class UserError(SymoptError, ValueError):
    """A bad argument, config value or path; the message names the offending thing.

    It is a `ValueError`, so code that catches bad input as Python does catches it too:

    >>> try:
    ...     raise UserError("learning_rate must be a number")
    ... except ValueError as err:
    ...     print(err)
    learning_rate must be a number
    """


class SearchFailedError(SymoptError, RuntimeError):
    """A search in which every evaluation failed: the message names the most common cause
    (an environment problem, say, rather than a bad program), and everything stays stored."""


class SymoptDeprecationWarning(FutureWarning):
    """An old spelling of a setting, still accepted (the CLI prints `symopt: warning: ...`).

    A `FutureWarning`, so Python shows it to users by default.
    """


def deprecated(old: str, new: str, where: str = "") -> None:
    """Warn that `old` is an old spelling of `new` (still accepted).

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     deprecated("search.seed", "search.random_seed", "c.toml")
    >>> print(caught[0].message)
    c.toml: search.seed is deprecated, write search.random_seed (same meaning)
    """
    prefix = f"{where}: " if where else ""
    warnings.warn(f"{prefix}{old} is deprecated, write {new} (same meaning)",
                  SymoptDeprecationWarning, stacklevel=3)


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a program, located at `file:line:col` (1-based line and column)."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ProgramError(SymoptError):
    """A program that does not parse or does not type-check.

    `str(err)` is one `file:line:col: message` line per problem.

    >>> err = ProgramError([Diagnostic("a.prog", 3, 5, "unknown function 'foo'")])
    >>> print(err)
    a.prog:3:5: unknown function 'foo'
    """

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @classmethod
    def at(cls, file: str, line: int, col: int, message: str) -> ProgramError:
        return cls([Diagnostic(file, line, col, message)])
