"""The task interface (:class:`Task`) and the result of one evaluation (:class:`EvalResult`).

A task is a proxy training problem: it inits parameters from a PRNG key, draws a training
batch from a key, computes the training loss, and computes a validation loss on fixed
held-out data. All four must be traceable by JAX: the training loop
(:mod:`symopt.tasks.train`) runs them inside one jitted ``lax.scan``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import jax
import jax.numpy as jnp
import optax

#: How a training run ended: trained to the end, diverged, out of time, failed, or stopped
#: at a hurdle (`symopt.search.evolution.hurdles`).
Status = Literal["ok", "diverged", "timeout", "error", "hurdle"]


@dataclass(eq=False, kw_only=True)
class Task:
    """Base class of a proxy task; subclass it and fill in the five methods.

    Fields (all overridable with :func:`symopt.tasks.get_task` ``(name, **overrides)``):

    - ``base_lr``: peak learning rate of the schedule at multiplier 1 — the real learning
      rate for AdamW on this task.
    - ``steps``, ``warmup_steps``, ``schedule`` (``"cosine"``: linear warmup then cosine
      decay to ``end_lr_fraction * peak``; ``"constant"``: warmup then flat).
    - ``n_evals``: validation points along the run (the run is scanned in that many chunks).
    - ``lr_multipliers``: multipliers of ``base_lr`` tried by default; the best is kept.
    - ``diverge_ratio``: a validation loss above ``diverge_ratio ×`` the initial one counts as
      divergence (as does any NaN/Inf).

    Methods: :meth:`load_data` (host arrays, called once), :meth:`init_params`,
    :meth:`train_batch`, :meth:`loss`, :meth:`val_loss`.

    >>> import jax, jax.numpy as jnp
    >>> @dataclasses.dataclass(eq=False, kw_only=True)
    ... class Line(Task):
    ...     name: str = "line"
    ...     def load_data(self):
    ...         return {"x": jnp.linspace(-1, 1, 16)}
    ...     def init_params(self, key):
    ...         return {"a": jnp.zeros(())}
    ...     def train_batch(self, data, key):
    ...         return data["x"]
    ...     def loss(self, params, batch):
    ...         return jnp.mean((params["a"] * batch - 2 * batch) ** 2)
    ...     def val_loss(self, params, data):
    ...         return self.loss(params, data["x"])
    >>> task = Line(steps=20, base_lr=0.1)
    >>> round(float(task.lr_schedule(1.0)(0)), 4), task.steps
    (0.1, 20)
    """

    name: str = "task"
    base_lr: float = 1e-3
    steps: int = 100
    warmup_steps: int = 0
    schedule: str = "cosine"
    end_lr_fraction: float = 0.1
    n_evals: int = 4
    lr_multipliers: tuple[float, ...] = (1.0,)
    diverge_ratio: float = 10.0
    _data_cache: Any = field(default=None, init=False, repr=False, compare=False)

    # -- to implement ---------------------------------------------------------------
    def load_data(self) -> Any:
        """Everything the task needs on device, as a pytree of arrays (loaded once)."""
        return {}

    def init_params(self, key: jax.Array) -> Any:
        """Initial parameters (a pytree of float arrays) from a PRNG key."""
        raise NotImplementedError

    def train_batch(self, data: Any, key: jax.Array) -> Any:
        """One training batch drawn with ``key`` (traceable; ``data`` is ``load_data()``)."""
        raise NotImplementedError

    def loss(self, params: Any, batch: Any) -> jax.Array:
        """Scalar training loss of ``params`` on ``batch``."""
        raise NotImplementedError

    def val_loss(self, params: Any, data: Any) -> jax.Array:
        """Scalar validation loss on fixed held-out data (the fitness; lower is better)."""
        raise NotImplementedError

    # -- provided -------------------------------------------------------------------
    @property
    def data(self) -> Any:
        """``load_data()``, computed once per task object."""
        if self._data_cache is None:
            self._data_cache = self.load_data()
        return self._data_cache

    def replace(self, **overrides: Any) -> Task:
        """A copy with some fields changed (unknown field → ``TypeError``)."""
        return dataclasses.replace(self, **overrides)

    def lr_schedule(self, multiplier: Any = 1.0) -> optax.Schedule:
        """The learning-rate schedule at ``multiplier × base_lr`` (multiplier may be traced)."""
        steps = max(int(self.steps), 1)
        warmup = min(int(self.warmup_steps), steps - 1)
        if self.schedule == "cosine":
            shape = optax.warmup_cosine_decay_schedule(
                0.0, 1.0, max(warmup, 0), steps, end_value=self.end_lr_fraction
            ) if warmup > 0 else optax.cosine_decay_schedule(1.0, steps, self.end_lr_fraction)
        elif self.schedule == "constant":
            shape = (
                optax.linear_schedule(0.0, 1.0, warmup) if warmup > 0
                else optax.constant_schedule(1.0)
            )
        else:
            raise ValueError(f"unknown schedule {self.schedule!r} (cosine or constant)")
        peak = self.base_lr
        return lambda count: peak * multiplier * shape(count)

    def describe(self) -> str:
        return (
            f"{self.name}: {self.steps} steps, base_lr {self.base_lr:g}, "
            f"{self.schedule} schedule (warmup {self.warmup_steps}), {self.n_evals} evals"
        )


def _json_float(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass(frozen=True)
class EvalResult:
    """The outcome of training once on a task with one optimizer (best lr multiplier).

    ``fitness`` is the final validation loss of the best multiplier when ``status == "ok"``,
    else ``inf``. ``curve`` holds the validation loss at ``eval_steps`` (the first point is
    at step 0); ``train_curve`` the training loss of every step. ``trials`` maps each
    multiplier tried to its fitness (``trial_steps``: the steps each trained). ``steps``
    counts the training steps done over all multipliers, ``planned_steps`` those full runs
    would have done (fewer were done when a run stopped early). In :meth:`to_dict`,
    non-finite floats become ``None`` (JSON ``null``).
    """

    fitness: float
    status: Status
    message: str = ""
    final_loss: float = math.inf
    best_loss: float = math.inf
    curve: tuple[float, ...] = ()
    eval_steps: tuple[int, ...] = ()
    train_curve: tuple[float, ...] = ()
    lr_multiplier: float = 1.0
    lr: float = math.nan
    compile_s: float = 0.0
    run_s: float = 0.0
    steps: int = 0
    planned_steps: int = 0
    steps_per_s: float = 0.0
    seed: int = 0
    task: str = ""
    trials: tuple[tuple[float, float], ...] = ()
    trial_steps: tuple[int, ...] = ()  # the steps each multiplier of `trials` trained

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict; inf/NaN become ``None``.

        >>> EvalResult(fitness=float("inf"), status="diverged").to_dict()["fitness"] is None
        True
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float):
                v = _json_float(v)
            elif f.name in ("curve", "train_curve"):
                v = [_json_float(float(x)) for x in v]
            elif f.name == "trials":
                v = [[m, _json_float(fit)] for m, fit in v]
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy (nats) of integer ``labels``.

    >>> round(float(cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3]))), 4)  # ln 4
    1.3863
    """
    return optax.softmax_cross_entropy_with_integer_labels(
        logits.astype(jnp.float32), labels
    ).mean()
