"""The classic optimizers as programs, shipped with the package (`programs/` in a checkout).

A built-in program is named by its file stem: ``adamw``, ``lion``, ``sgd``, ... Commands
and `symopt.search` accept a name wherever they take a `.prog` path (`resolve`), so
``symopt search --seed adamw`` works from any directory.

>>> from symopt import programs
>>> programs.load("lion").n_state
1
>>> "adamw" in programs.names()
True
>>> programs.resolve("sgd").name
'sgd.prog'
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from symopt.errors import UserError
from symopt.files import builtin_or_path, is_file
from symopt.lang.model import Program
from symopt.lang.parser import parse_file

_SUFFIX = ".prog"


def _folder() -> Path:
    return Path(str(resources.files(__name__)))


def names() -> list[str]:
    """The names of the built-in programs, sorted."""
    return sorted(p.stem for p in _folder().glob("*" + _SUFFIX))


def path(name: str) -> Path:
    """The file of built-in program `name` (``"lion"`` or ``"lion.prog"``).

    >>> path("nope")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: no built-in program 'nope' (built-in: adagrad, adam, adamw, \
lion, momentum, nesterov, paper_adamw, rmsprop, sgd, signum)
    """
    stem = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name
    file = _folder() / (stem + _SUFFIX)
    if os.sep in stem or "/" in stem or not is_file(file):
        raise UserError(f"no built-in program {name!r} (built-in: {', '.join(names())})")
    return file


def load(name: str) -> Program:
    """The built-in program `name`, parsed and type-checked."""
    return parse_file(path(name))


def as_program(spec: Program | str | os.PathLike) -> Program:
    """`spec` as a `Program`: a `Program` as it is, else a `.prog` path or a built-in name
    (`resolve`), parsed and type-checked; `UserError` naming it if it is neither.

    >>> as_program("lion").n_state, as_program(as_program("sgd")).n_state
    (1, 0)
    >>> as_program("nope")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: 'nope' is neither a .prog file nor a built-in program (built-in: \
adagrad, adam, adamw, lion, momentum, nesterov, paper_adamw, rmsprop, sgd, signum)
    """
    if isinstance(spec, Program):
        return spec
    if not isinstance(spec, str | os.PathLike):
        raise UserError(f"expected a Program, a .prog path or a built-in name, got "
                        f"{type(spec).__name__}")
    file = resolve(spec)
    if not file.is_file():
        raise UserError(f"{os.fspath(spec)!r} is neither a .prog file nor a built-in program "
                        f"(built-in: {', '.join(names())})")
    return parse_file(file)


def resolve(spec: str | os.PathLike) -> Path:
    """Where a program named on a command line lives: an existing file wins, then a built-in
    name, then ``programs/NAME.prog`` as the docs write it (the checkout's `programs/`
    links to the built-ins, so outside a checkout it means the same file); anything else is
    returned as given (reading it then reports the missing file).

    >>> resolve("programs/adamw.prog").resolve() == path("adamw").resolve()  # from any dir
    True
    >>> resolve("mine/adamw.prog")
    PosixPath('mine/adamw.prog')
    """
    return builtin_or_path(spec, _folder(), _SUFFIX, checkout_dir="programs")
