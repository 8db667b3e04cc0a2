"""Training for tuning: hyperparameters as traced values, state you can checkpoint.

A :class:`Trainer` compiles once per (program structure, task): the program's constants,
the learning-rate multiplier and the warmup steps are traced arguments of the compiled
chunk (:func:`symopt.compile.traced.to_optax_traced`), so a GA trial with new constants
and a PBT member whose constants change mid-run reuse the same executable. Training is
driven chunk by chunk on a :class:`TrainState` (parameters, optimizer state, step, data
key) that :func:`state_to_arrays` / :func:`state_from_arrays` turn into plain arrays for a
checkpoint. The task is used through its ``init_params``, ``train_batch``, ``loss`` and
``val_loss`` only.

>>> from symopt.tasks import get_task
>>> from symopt import programs
>>> adam = programs.load("adam")
>>> tr = trainer_for(adam, get_task("quadratic", steps=40))
>>> r = tr.run(Hyper.of(adam.constants(), 1.0, 5))
>>> r.status, r.fitness < 0.5 * r.curve[0]
('ok', True)
"""

from __future__ import annotations

import math
import threading
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from symopt.compile.traced import to_optax_traced
from symopt.lang.model import Program
from symopt.lang.printer import to_text
from symopt.tasks.base import Task
from symopt.tasks.train import TrainState, train_steps

_XLA_OPTIONS = {"xla_llvm_disable_expensive_passes": True}


class Hyper(NamedTuple):
    """The traced hyperparameters: constants vector, lr multiplier, warmup steps."""

    consts: jax.Array
    lr_mult: jax.Array
    warmup: jax.Array

    @classmethod
    def of(cls, consts, lr_mult: float, warmup: float) -> Hyper:
        return cls(jnp.asarray(np.asarray(consts, np.float32).reshape(-1)),
                   jnp.asarray(lr_mult, jnp.float32), jnp.asarray(warmup, jnp.float32))


class RunResult(NamedTuple):
    fitness: float  # final validation loss if status == "ok", else inf
    status: str  # ok | diverged | error
    message: str
    curve: tuple[float, ...]  # validation loss at step 0 and after every chunk
    seconds: float


def schedule(task: Task, count, lr_mult, warmup):
    """``task.lr_schedule(lr_mult)`` with the warmup steps a traced value.

    >>> from symopt.tasks import get_task
    >>> t = get_task("quadratic", steps=50, warmup_steps=7)
    >>> all(abs(float(schedule(t, c, 2.0, 7.0)) - float(t.lr_schedule(2.0)(c))) < 1e-6
    ...     for c in range(0, 60, 3))
    True
    """
    steps = max(int(task.steps), 1)
    count = jnp.asarray(count, jnp.float32)
    w = jnp.clip(jnp.round(jnp.asarray(warmup, jnp.float32)), 0, steps - 1)
    warm = count / jnp.maximum(w, 1.0)
    if task.schedule == "cosine":
        progress = jnp.clip((count - w) / jnp.maximum(steps - w, 1.0), 0.0, 1.0)
        end = task.end_lr_fraction
        after = end + (1 - end) * 0.5 * (1 + jnp.cos(jnp.pi * progress))
    elif task.schedule == "constant":
        after = jnp.ones_like(count)
    else:
        raise ValueError(f"unknown schedule {task.schedule!r} (cosine or constant)")
    return task.base_lr * lr_mult * jnp.where(count < w, warm, after)


class Trainer:
    """Compiled init / training chunk / validation of one program structure on one task."""

    def __init__(self, program: Program, task: Task, chunk_steps: int | None = None):
        self.program, self.task = program, task
        n_evals = max(1, task.n_evals)
        self.chunk_len = int(chunk_steps or max(1, math.ceil(task.steps / n_evals)))
        self.n_chunks = math.ceil(task.steps / self.chunk_len)
        self.data = jax.device_put(task.data)
        seed = jax.ShapeDtypeStruct((), jnp.int32)
        self._init = jax.jit(self._init_fn).lower(seed).compile(compiler_options=_XLA_OPTIONS)
        state = jax.eval_shape(self._init_fn, seed)
        hyper = Hyper.of(np.zeros(len(program.constants())), 1.0, 0.0)
        self._chunk = jax.jit(self._chunk_fn).lower(state, hyper, self.data).compile(
            compiler_options=_XLA_OPTIONS)
        self._val = jax.jit(task.val_loss).lower(state.params, self.data).compile(
            compiler_options=_XLA_OPTIONS)
        self.state_shape = state

    def _tx(self, hyper: Hyper) -> optax.GradientTransformation:
        lr = lambda count: schedule(self.task, count, hyper.lr_mult, hyper.warmup)
        return to_optax_traced(self.program, lr, hyper.consts)

    def _init_fn(self, seed):
        k_init, k_data = jax.random.split(jax.random.PRNGKey(seed))
        params = self.task.init_params(k_init)
        opt_state = self._tx(Hyper.of(np.zeros(len(self.program.constants())), 1.0, 0.0)).init(
            params)
        return TrainState(params, opt_state, jnp.zeros((), jnp.int32), k_data)

    def _chunk_fn(self, state: TrainState, hyper: Hyper, data):
        out = train_steps(self.task, self._tx(hyper), state, data, self.chunk_len,
                          early_stop=False)
        return out.state, out.losses, out.done, out.bad == 0

    def init(self, seed: int = 0) -> TrainState:
        return self._init(jnp.asarray(seed, jnp.int32))

    def chunk(self, state: TrainState, hyper: Hyper) -> tuple[TrainState, np.ndarray, bool]:
        """Train one chunk; returns the new state, the training losses, all-finite."""
        state, losses, done, finite = self._chunk(state, hyper, self.data)
        return state, np.asarray(losses)[: int(done)], bool(finite)

    def val(self, state: TrainState) -> float:
        return float(self._val(state.params, self.data))

    def run(self, hyper: Hyper, seed: int = 0) -> RunResult:
        """Train a whole run from scratch; divergence as in ``symopt.tasks.evaluate``."""
        t0 = time.perf_counter()
        state = self.init(seed)
        val0 = self.val(state)
        curve = [val0]
        while int(state.step) < self.task.steps:
            state, losses, finite = self.chunk(state, hyper)
            val = self.val(state)
            curve.append(val)
            why = divergence(self.task, val0, val, finite and bool(np.all(np.isfinite(losses))))
            if why:
                return RunResult(math.inf, "diverged", f"{why} at step {int(state.step)}",
                                 tuple(curve), time.perf_counter() - t0)
        return RunResult(curve[-1], "ok", "", tuple(curve), time.perf_counter() - t0)


def divergence(task: Task, val0: float, val: float, finite: bool) -> str:
    """Why a run counts as diverged ('' if it does not): NaN/Inf, or loss far above start."""
    if not (finite and math.isfinite(val)):
        return "non-finite loss or parameters"
    if math.isfinite(val0) and val0 != 0 and val > task.diverge_ratio * abs(val0):
        return f"validation loss {val:.4g} above {task.diverge_ratio:g}x the initial {val0:.4g}"
    return ""


def state_to_arrays(state: TrainState) -> dict[str, np.ndarray]:
    """The state as named host arrays (for ``np.savez``; no pickle)."""
    leaves = jax.tree_util.tree_leaves(state)
    return {f"a{i}": np.asarray(jax.device_get(x)) for i, x in enumerate(leaves)}


def state_from_arrays(trainer: Trainer, arrays: dict[str, np.ndarray]) -> TrainState:
    """The inverse of :func:`state_to_arrays`, checked against the trainer's state shapes."""
    leaves, treedef = jax.tree_util.tree_flatten(trainer.state_shape)
    if len(arrays) != len(leaves):
        raise ValueError(f"checkpoint has {len(arrays)} arrays, the model {len(leaves)}")
    out = []
    for i, ref in enumerate(leaves):
        a = arrays[f"a{i}"]
        if a.shape != ref.shape:
            raise ValueError(f"checkpoint array {i} has shape {a.shape}, expected {ref.shape}")
        out.append(jnp.asarray(a, ref.dtype))
    return jax.tree_util.tree_unflatten(treedef, out)


_CACHE: dict[tuple[str, str, int | None], Trainer] = {}
_LOCK = threading.Lock()


def trainer_for(program: Program, task: Task, chunk_steps: int | None = None) -> Trainer:
    """The trainer of `program`'s structure on `task` (cached: constants do not matter)."""
    shape = program.with_constants([0.0] * len(program.constants()))
    key = (to_text(shape, header=False), repr(task), chunk_steps)
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is None:
        hit = Trainer(program, task, chunk_steps)
        with _LOCK:
            if len(_CACHE) >= 32:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = hit
    return hit
