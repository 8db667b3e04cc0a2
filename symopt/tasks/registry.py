"""The task registry: built-in tasks by name, and ``register_task`` for your own."""

from __future__ import annotations

import dataclasses
import importlib
import math
import threading
from collections.abc import Callable
from typing import Any

from symopt import checks
from symopt.config_table import error
from symopt.errors import UserError
from symopt.tasks.base import Task

#: The built-in tasks: name -> (module under `symopt.tasks`, class, fields). The task modules
#: are imported on first use (they pull in flax); they do not import this registry.
BUILTIN_TASKS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "quadratic": ("synthetic", "Quadratic", {}),
    "rosenbrock": ("synthetic", "Rosenbrock", {}),
    "logreg": ("synthetic", "LogisticRegression", {}),
    "mlp": ("synthetic", "MLPRegression", {}),
    "nanogpt-tiny": ("nanogpt", "NanoGPT", {"name": "nanogpt-tiny"}),
    "nanogpt-small": ("nanogpt", "NanoGPT", {
        "name": "nanogpt-small", "width": 96, "layers": 4, "heads": 4, "steps": 500,
        "warmup_steps": 50, "base_lr": 2e-3, "n_evals": 5}),
    "vit-tiny": ("vit", "DigitsViT", {}),
}

_REGISTRY: dict[str, Task | Callable[..., Task]] = {}
_LOCK = threading.Lock()
_BUILTINS_LOADED = False


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    with _LOCK:
        if _BUILTINS_LOADED:
            return
        for name, (module, cls, fields) in BUILTIN_TASKS.items():
            task_cls = getattr(importlib.import_module(f"symopt.tasks.{module}"), cls)
            _REGISTRY.setdefault(name, task_cls(**fields))
        _BUILTINS_LOADED = True


def register_task(name: str, task_or_factory: Task | Callable[..., Task], *,
                  replace: bool = False) -> None:
    """Register a task under ``name``: a :class:`Task` instance, or a factory
    ``(**overrides) -> Task``. Re-registering a name needs ``replace=True``.

    >>> from symopt.tasks.synthetic import Quadratic
    >>> register_task("my-quadratic", Quadratic(dim=4, name="my-quadratic"), replace=True)
    >>> get_task("my-quadratic", steps=10).steps
    10
    """
    if not isinstance(name, str) or not name:
        raise UserError(f"a task name must be a non-empty string, got {name!r}")
    if not (isinstance(task_or_factory, Task) or callable(task_or_factory)):
        raise UserError(f"register_task({name!r}, ...) needs a Task or a factory returning one")
    _load_builtins()
    with _LOCK:
        if name in _REGISTRY and not replace:
            raise UserError(f"task {name!r} is already registered (pass replace=True)")
        _REGISTRY[name] = task_or_factory


def list_tasks() -> list[str]:
    """Names of all registered tasks, sorted.

    >>> {"nanogpt-tiny", "quadratic", "vit-tiny"} <= set(list_tasks())
    True
    """
    _load_builtins()
    return sorted(_REGISTRY)


def get_task(name: str, **overrides: Any) -> Task:
    """A fresh task by name, with fields overridden (e.g. ``steps=50``).

    >>> get_task("rosenbrock", steps=30).steps
    30
    >>> get_task("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: unknown task 'nope'; known tasks: ...
    """
    _load_builtins()
    entry = _REGISTRY.get(name)
    if entry is None:
        raise UserError(f"unknown task {name!r}; known tasks: {', '.join(list_tasks())}")
    try:
        if isinstance(entry, Task):
            task = dataclasses.replace(entry, **overrides)
        else:
            task = entry(**overrides)
    except TypeError as err:
        fields = ""
        if isinstance(entry, Task):
            fields = "; fields: " + ", ".join(
                f.name for f in dataclasses.fields(entry) if f.init
            )
        raise UserError(f"bad override for task {name!r}: {err}{fields}") from None
    if not isinstance(task, Task):
        raise UserError(f"the factory of task {name!r} returned {type(task).__name__}, not a Task")
    _check_overrides(name, task, overrides)
    return task


_KINDS = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _check_overrides(name: str, task: Task, overrides: dict[str, Any]) -> None:
    """Overridden fields of the simple kinds (int, float, str, bool) hold that kind, and the
    common ones a usable value: a typo must not turn every evaluation into an error.

    >>> get_task("quadratic", steps="50")
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: bad override for task 'quadratic': steps: expected int (got '50')
    """
    types = {f.name: f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
             for f in dataclasses.fields(task)}

    def bad(key: str, why: str, value: Any) -> UserError:
        return error(f"bad override for task {name!r}: {key}", why, value)

    for key, value in overrides.items():
        kinds = _KINDS.get(types.get(key, ""))
        if kinds and (isinstance(value, bool) != (kinds == (bool,))
                      or not isinstance(value, kinds)):
            raise bad(key, f"expected {types[key]}", value)
        if key == "lr_multipliers":  # the one list a task has
            checks.lr_multipliers(value, f"bad override for task {name!r}: {key}")
        if types.get(key) == "int":
            checks.task_int(key, value, f"bad override for task {name!r}: {key}")
        if key == "base_lr" and not 0 < value < math.inf:
            raise bad(key, "must be a positive finite number", value)
