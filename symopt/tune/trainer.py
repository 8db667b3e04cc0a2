"""Training for tuning: hyperparameters as traced values, state you can checkpoint.

A :class:`Trainer` compiles once per (program structure, task): the program's constants,
the learning-rate multiplier and the warmup steps are traced arguments of the compiled
chunk (:func:`symopt.compile.traced.to_optax_traced`), so a GA trial with new constants
and a PBT member whose constants change mid-run reuse the same executable. Training is
driven chunk by chunk on a :class:`TrainState` (parameters, optimizer state, step, data
key) that :func:`state_to_arrays` / :func:`state_from_arrays` turn into plain arrays for a
checkpoint. The training steps, the task's compiled init and validation and the rules of
divergence are the evaluator's (`symopt.tasks.train.train_steps`, `task_fns`,
`symopt.tasks.trial.Trial`): a tuned run fails exactly when an evaluated one would.

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
from symopt.tasks.train import XLA_OPTIONS, TrainState, task_fns, train_steps
from symopt.tasks.trial import Trial


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


class Chunk(NamedTuple):
    """What :meth:`Trainer.chunk` gives back (the `Trial.after_chunk` arguments)."""

    state: TrainState
    losses: np.ndarray  # the training loss of each step done
    bad: int  # 0, or why a step went bad (`symopt.tasks.trial.BAD_LOSS`, ...)
    at: int  # the first bad step


class Trainer:
    """Compiled init / training chunk / validation of one program structure on one task.

    Chunks never stop early (``early_stop=False``): a PBT member that went bad trains on
    and reports its bad loss until the scheduler replaces it; `run` stops at the chunk
    where a step went bad and names that step, as `symopt.tasks.evaluate` does.
    """

    def __init__(self, program: Program, task: Task, chunk_steps: int | None = None):
        self.program, self.task = program, task
        n_evals = max(1, task.n_evals)
        self.chunk_len = int(chunk_steps or max(1, math.ceil(task.steps / n_evals)))
        self.n_chunks = math.ceil(task.steps / self.chunk_len)
        self.fns = fns = task_fns(task)
        seed = jax.ShapeDtypeStruct((), jnp.int32)
        params, key = jax.eval_shape(fns.init_fn, seed)
        self._opt_init = jax.jit(self._opt_init_fn).lower(params).compile(
            compiler_options=XLA_OPTIONS)
        state = TrainState(params, jax.eval_shape(self._opt_init_fn, params), seed, key)
        hyper = Hyper.of(np.zeros(len(program.constants())), 1.0, 0.0)
        limit = jax.ShapeDtypeStruct((), jnp.float32)
        self._chunk = jax.jit(self._chunk_fn).lower(state, hyper, fns.data, limit).compile(
            compiler_options=XLA_OPTIONS)
        self.state_shape = state

    def _tx(self, hyper: Hyper) -> optax.GradientTransformation:
        lr = lambda count: schedule(self.task, count, hyper.lr_mult, hyper.warmup)
        return to_optax_traced(self.program, lr, hyper.consts)

    def _opt_init_fn(self, params):
        return self._tx(Hyper.of(np.zeros(len(self.program.constants())), 1.0, 0.0)).init(params)

    def _chunk_fn(self, state: TrainState, hyper: Hyper, data, limit):
        return train_steps(self.task, self._tx(hyper), state, data, self.chunk_len, limit,
                           early_stop=False)

    def init(self, seed: int = 0) -> TrainState:
        params, key = self.fns.init(jnp.asarray(seed, jnp.int32))
        return TrainState(params, self._opt_init(params), jnp.zeros((), jnp.int32), key)

    def chunk(self, state: TrainState, hyper: Hyper, limit: float = math.inf) -> Chunk:
        """Train one chunk; a training loss above `limit` counts as a bad step."""
        out = self._chunk(state, hyper, self.fns.data, jnp.asarray(limit, jnp.float32))
        return Chunk(out.state, np.asarray(out.losses)[: int(out.done)], int(out.bad),
                     int(out.bad_at))

    def val(self, state: TrainState) -> float:
        return float(self.fns.val(state.params, self.fns.data))

    def trial(self, state: TrainState, val0: float, hyper: Hyper) -> Trial:
        """The bookkeeping of a run at `state` that started at validation loss `val0`."""
        return Trial(self.task, val0, float(hyper.lr_mult), step0=int(state.step))

    def advance(self, state: TrainState, hyper: Hyper, trial: Trial) -> tuple[TrainState, bool]:
        """One chunk from `state` accounted in `trial`; True when the run has ended."""
        out = self.chunk(state, hyper, trial.limit)
        ended = trial.after_chunk(out.losses, out.bad, out.at, lambda: self.val(out.state),
                                  None)
        return out.state, ended

    def run(self, hyper: Hyper, seed: int = 0) -> RunResult:
        """Train a whole run from scratch; divergence as in ``symopt.tasks.evaluate``."""
        t0 = time.perf_counter()
        state = self.init(seed)
        trial = self.trial(state, self.val(state), hyper)
        ended = False
        while not ended:
            state, ended = self.advance(state, hyper, trial)
        fitness = trial.curve[-1] if trial.status == "ok" else math.inf
        return RunResult(fitness, trial.status, trial.message, tuple(trial.curve),
                         time.perf_counter() - t0)


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
