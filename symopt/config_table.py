"""Config tables: a TOML table read into a frozen dataclass, and the one format of an error
about a setting.

Every config symopt reads (search, tune, the sweep's `--vary` and the search's `--set`)
goes through `read_table`, and every bad setting, in a config or on the command line,
reads the same (`error`)::

    {source}: {section}.{key}: {problem} (got {value})

The source is the file (or `--set ...`, `--vary ...`), the key a dotted path
(`search.population`, `funnel.2.top_k`, `tune.pbt.iterations`, `tune.space.c0`), the
value shortened to 80 characters (`short`); a problem without a value (an unknown key, a
count over its limit) has no `(got ...)`.

`read_table(cls, data, source, path)` checks a parsed table against a dataclass's fields:

- an unknown key is an error with a "did you mean" hint (`hint`);
- a field may have another TOML name, or an old spelling still read with a deprecation
  message: `field(metadata=toml_key(name=..., old=...))`;
- each value is checked and converted by the field's annotation: `bool`, `int`, `float`
  (an integer becomes a float), `str`, `X | None`, `tuple[X, ...]` and `tuple[X, X]` (a
  list), `dict[...]` (a table), a dataclass (a table read the same way, its path one
  level deeper) and `tuple[Dataclass, ...]` (an array of tables, numbered from 1:
  `funnel.2.top_k`);
- a dataclass that checks its own values when built (`MutationConfig`) names the key by
  its whole path (`mutation.insert: ...`); the reader puts the source in front.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Section:
...     budget: int = 10
...     rate: float = 0.5
>>> read_table(Section, {"budget": 3, "rate": 1}, "c.toml", "demo")
Section(budget=3, rate=1.0)
>>> read_table(Section, {"budjet": 3}, "c.toml", "demo")
Traceback (most recent call last):
...
symopt.errors.UserError: c.toml: demo.budjet: unknown key (did you mean 'budget'?)
>>> read_table(Section, {"budget": "many"}, "c.toml", "demo")
Traceback (most recent call last):
...
symopt.errors.UserError: c.toml: demo.budget: expected an integer (got 'many')
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from symopt.errors import UserError, deprecated

T = TypeVar("T")


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


#: `error`'s value when the problem has none to show (no `(got ...)`).
NO_VALUE: Any = _NoValue()

#: The metadata key of `toml_key`.
_KEY = "symopt.toml"


def short(value: object, limit: int = 80) -> str:
    """`repr(value)`, cut to `limit` characters.

    >>> short("abc"), short(list(range(100)), 20)
    ("'abc'", '[0, 1, 2, 3, 4, 5...')
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def at(source: str, *path: str | int) -> str:
    """Where a setting is, as every message names it: `source: dotted.path` (either part
    may be empty).

    >>> at("c.toml", "funnel", 2, "top_k"), at("", "mutation", "insert"), at("--seeds")
    ('c.toml: funnel.2.top_k', 'mutation.insert', '--seeds')
    """
    key = ".".join(str(part) for part in path if part != "")
    return ": ".join(part for part in (source, key) if part)


def error(where: str, problem: str, value: Any = NO_VALUE) -> UserError:
    """The error about one setting: `{where}: {problem} (got {value})` (`where` from `at`,
    or a command-line flag); no `(got ...)` without a value.

    >>> print(error(at("c.toml", "search", "population"), "must be at least 1", 0))
    c.toml: search.population: must be at least 1 (got 0)
    >>> print(error("--seeds", "101 seeds; at most 100"))
    --seeds: 101 seeds; at most 100
    """
    got = "" if value is NO_VALUE else f" (got {short(value)})"
    return UserError(f"{where}: {problem}{got}")


def hint(key: str, known) -> str:
    """The end of an unknown-key message: the closest known key, else all of them.

    >>> hint("populaton", ["population", "budget"]), hint("zzz", ["b", "a"])
    (" (did you mean 'population'?)", ' (known: a, b)')
    """
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"


def toml_key(name: str | None = None, *, old: str | None = None) -> dict[str, Any]:
    """Field metadata: the key's TOML `name` when it differs from the field's, and an `old`
    spelling still read (with a deprecation message).

    >>> @dataclasses.dataclass(frozen=True)
    ... class Section:
    ...     random_seed: int = dataclasses.field(default=0, metadata=toml_key(old="seed"))
    ...     task_overrides: dict = dataclasses.field(default_factory=dict,
    ...                                              metadata=toml_key("overrides"))
    >>> read_table(Section, {"overrides": {"steps": 5}}, "c.toml", "demo")
    Section(random_seed=0, task_overrides={'steps': 5})
    """
    return {_KEY: (name, old)}


def _names(cls: type) -> tuple[dict[str, str], dict[str, str]]:
    """TOML name -> field name, and old spelling -> TOML name."""
    names, old = {}, {}
    for f in dataclasses.fields(cls):
        name, was = f.metadata.get(_KEY, (None, None))
        names[name or f.name] = f.name
        if was:
            old[was] = name or f.name
    return names, old


#: The annotations of each dataclass read so far, evaluated once.
_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def read_table(cls: type[T], data: Any, source: str, path: str = "") -> T:
    """`data` (a parsed TOML table) read into the dataclass `cls`; see the module docstring.
    `path` is the table's dotted key (empty for a whole file, whose keys are sections).
    """
    if not isinstance(data, dict):
        raise error(at(source, path), "expected a table", data)
    names, old = _names(cls)
    keys = {}
    for key in data:
        if key in old:
            new = old[key]
            if new in data:
                raise error(at(source, path, key), f"the old spelling of {new}; give only {new}")
            deprecated(at("", path, key), at("", path, new), source)
            name = new
        else:
            name = key
        if name not in names:
            what = "unknown key" if path else "unknown section"
            raise error(at(source, path, key), what + hint(key, names))
        keys[key] = name
    hints = _hints(cls)
    values = {names[name]: _coerce(data[key], hints[names[name]], source, at("", path, name))
              for key, name in keys.items()}
    try:
        return cls(**values)
    except UserError as err:  # its own check named the key by its whole path
        raise UserError(at(source, str(err))) from None


def _coerce(value: Any, kind: Any, source: str, path: str) -> Any:
    def bad(problem: str, shown: Any = value) -> UserError:
        return error(at(source, path), problem, shown)

    args = typing.get_args(kind)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)]  # X | None is the only union
        return _coerce(value, kind, source, path)
    if kind is Any:
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise bad("expected true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("expected an integer")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("expected a number")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise bad("expected a string")
        return value
    if dataclasses.is_dataclass(kind):
        return read_table(typing.cast(type, kind), value, source, path)
    if origin is tuple:
        return _sequence(value, args, source, path)
    if origin is dict or kind is dict:
        if not isinstance(value, Mapping):
            raise bad("expected a table")
        return dict(value)
    raise AssertionError(f"unhandled annotation {kind}")  # a bug, not a user error


def _sequence(value: Any, args: tuple, source: str, path: str) -> tuple:
    variable = len(args) == 2 and args[1] is Ellipsis
    if variable and dataclasses.is_dataclass(args[0]):  # an array of tables: [[funnel]]
        if not isinstance(value, list | tuple):
            name = path.rsplit(".", 1)[-1]
            raise error(at(source, path), f"expected an array of tables ([[{name}]])", value)
        return tuple(read_table(typing.cast(type, args[0]), item, source, at("", path, i))
                     for i, item in enumerate(value, 1))
    if not isinstance(value, list | tuple):
        raise error(at(source, path), "expected a list", value)
    if not variable and len(value) != len(args):
        raise error(at(source, path), f"expected a list of {len(args)}", value)
    kinds = [args[0]] * len(value) if variable else list(args)
    return tuple(_coerce(v, k, source, path) for v, k in zip(value, kinds))
