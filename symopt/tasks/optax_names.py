"""optax optimizers by name (``optax:NAME`` in ``symopt eval``), as ``make_tx`` factories.

A name is accepted only if ``optax.NAME`` is a function whose first parameter is
``learning_rate``, whose other parameters have defaults, and which returns a
``GradientTransformation`` when given a learning rate; anything else in the optax
namespace (``apply_updates``, ``__class__``, ``chain``...) is a `UserError` listing the
valid names.

>>> tx = optax_factory("adam")(1e-3)
>>> type(tx).__name__
'GradientTransformationExtraArgs'
>>> optax_factory("apply_updates")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
symopt.errors.UserError: optax:apply_updates: not an optax optimizer built from a learning \
rate; use one of: adabelief, ...
"""

from __future__ import annotations

import functools
import inspect
import warnings
from dataclasses import dataclass

from symopt.errors import UserError

#: Build from a learning rate but need more than gradients in `update` (not trainable here).
_NEEDS_MORE = frozenset({"lbfgs"})


@functools.cache
def optax_optimizers() -> tuple[str, ...]:
    """The names `optax_factory` accepts, sorted.

    >>> {"adamw", "lion", "sgd"} <= set(optax_optimizers())
    True
    """
    import optax

    names = []
    for name in sorted(dir(optax)):
        fn = getattr(optax, name)
        if name.startswith("_") or name in _NEEDS_MORE or inspect.isclass(fn) or not callable(fn):
            continue
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            continue
        if not params or params[0].name != "learning_rate" or any(
                p.default is inspect.Parameter.empty
                and p.kind is not inspect.Parameter.VAR_POSITIONAL
                and p.kind is not inspect.Parameter.VAR_KEYWORD for p in params[1:]):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tx = fn(1e-3)
        except Exception:  # noqa: BLE001 - then it is not usable as `NAME(lr)`
            continue
        if isinstance(tx, optax.GradientTransformation):
            names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class OptaxFactory:
    """``make_tx`` for an optax optimizer: ``OptaxFactory("adam")(lr) == optax.adam(lr)``.

    Plain data (picklable), so it can travel to a worker process.
    """

    name: str

    def __call__(self, learning_rate):
        import optax

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(optax, self.name)(learning_rate)


def optax_factory(name: str) -> OptaxFactory:
    """The factory of ``optax.NAME``, or a `UserError` with the valid names."""
    if name not in optax_optimizers():
        raise UserError(f"optax:{name}: not an optax optimizer built from a learning rate; "
                        f"use one of: {', '.join(optax_optimizers())}")
    return OptaxFactory(name)
