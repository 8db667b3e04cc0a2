"""The training loop and :func:`evaluate`: fitness = validation loss after a short run.

A run is cut into ``task.n_evals`` equal chunks; one compiled chunk function
(:func:`train_steps` inside ``jit``) is reused for every chunk, every seed and every
learning-rate multiplier (seed and multiplier are traced arguments). The chunk is a
``lax.while_loop`` that stops at the first bad step (non-finite loss or parameters, or a
training loss above the divergence limit), so a diverging candidate costs the steps up
to its divergence, not a chunk. Between chunks the host (:class:`symopt.tasks.trial.Trial`)
reads the validation loss and checks divergence, hurdles and the wall clock.

A program optimizer (:class:`symopt.tasks.engine.ProgramOptimizer`) with the
``interpreted`` engine runs in the compiled interpreter of its size class: the runner
is keyed by the size class, and the encoded program is a traced argument, so no program
compiles on its own. Nothing the optimizer does can raise out of :func:`evaluate`:
failures become a status (``diverged``, ``hurdle``, ``timeout``, ``error``) with fitness
``inf``.
"""

from __future__ import annotations

import functools
import math
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from symopt import checks
from symopt.tasks.base import EvalResult, Status, Task
from symopt.tasks.engine import ProgramOptimizer, interpreter_factory
from symopt.tasks.trial import BAD_EXPLODED, BAD_LOSS, BAD_PARAMS, Trial, failed_record, summarize

MakeTx = Callable[[Any], optax.GradientTransformation]


class TrainState(NamedTuple):
    params: Any
    opt_state: Any
    step: jax.Array
    key: jax.Array


def all_finite(tree: Any) -> jax.Array:
    """Whether every leaf of `tree` is finite (a traced boolean)."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


class Steps(NamedTuple):
    """What :func:`train_steps` gives back."""

    state: TrainState
    losses: jax.Array  # (length,): the training loss of each step done, NaN after
    done: jax.Array  # steps done
    bad: jax.Array  # 0, or why it stopped: BAD_LOSS, BAD_PARAMS, BAD_EXPLODED
    bad_at: jax.Array  # the (1-based) step that went bad


def train_steps(task: Task, tx: optax.GradientTransformation, state: TrainState, data: Any,
                length: int, limit: Any = math.inf, early_stop: bool = True,
                active: Any = None) -> Steps:
    """Up to `length` training steps of `task` with `tx` from `state` (traceable).

    Stops at ``task.steps``. With `early_stop`, stops at the first step whose loss or new
    parameters are not finite or whose loss exceeds `limit` (that step's parameters are
    not kept); without, runs on and only reports the first bad step. `active` (a traced
    boolean, batched runs) keeps a stopped member where it is. Shared by the evaluator
    and `symopt.tune`.
    """
    total = task.steps
    grad_fn = jax.value_and_grad(task.loss)

    def cond(c):
        _, _, step, i, bad, _, _ = c
        go = (i < length) & (step < total)
        if active is not None:
            go = go & active
        return go & (bad == 0) if early_stop else go

    def body(c):
        params, opt_state, step, i, bad, bad_at, losses = c
        batch = task.train_batch(data, jax.random.fold_in(state.key, step))
        loss, grads = grad_fn(params, batch)
        updates, new_opt = tx.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        now = jnp.where(~jnp.isfinite(loss), BAD_LOSS,
                        jnp.where(loss > limit, BAD_EXPLODED,
                                  jnp.where(all_finite(new_params), 0, BAD_PARAMS)))
        first = (bad == 0) & (now != 0)
        bad, bad_at = jnp.where(first, now, bad), jnp.where(first, step + 1, bad_at)
        if early_stop:
            keep = lambda new, old: jax.tree_util.tree_map(
                lambda a, b: jnp.where(now == 0, a, b), new, old)
            new_params, new_opt = keep(new_params, params), keep(new_opt, opt_state)
        return new_params, new_opt, step + 1, i + 1, bad, bad_at, losses.at[i].set(loss)

    zero = jnp.zeros((), jnp.int32)
    init = (state.params, state.opt_state, state.step, zero, zero, zero,
            jnp.full((length,), jnp.nan, jnp.float32))
    params, opt_state, step, done, bad, bad_at, losses = jax.lax.while_loop(cond, body, init)
    return Steps(TrainState(params, opt_state, step, state.key), losses, done, bad, bad_at)


#: XLA flags of every training compile (shared with `symopt.tune`).
XLA_OPTIONS = {"xla_llvm_disable_expensive_passes": True}


def _val_loss(fns: TaskFns, state: Any) -> float:
    return float(fns.val(state.params, fns.data))


class TaskFns:
    """Compiled parameter init and validation of one task (shared by every optimizer)."""

    def __init__(self, task: Task):
        self.task = task
        self.data = jax.device_put(task.data)
        seed = jnp.zeros((), jnp.int32)
        self.init = jax.jit(self.init_fn).lower(seed).compile(compiler_options=XLA_OPTIONS)
        params = jax.eval_shape(self.init_fn, seed)[0]
        self.val = jax.jit(task.val_loss).lower(params, self.data).compile(
            compiler_options=XLA_OPTIONS)

    def init_fn(self, seed):
        k_init, k_data = jax.random.split(jax.random.PRNGKey(seed))
        return self.task.init_params(k_init), k_data


_TASK_FNS: weakref.WeakKeyDictionary[Task, TaskFns] = weakref.WeakKeyDictionary()


def task_fns(task: Task) -> TaskFns:
    """The compiled init and validation of `task` (one per equal task, shared)."""
    with _RUNNERS_LOCK:
        fns = _TASK_FNS.get(task)
    if fns is None:
        fns = TaskFns(task)
        with _RUNNERS_LOCK:
            _TASK_FNS[task] = fns
    return fns


class Runner:
    """Compiled optimizer init and training chunk for one (optimizer factory, task) pair.

    With ``with_args`` the factory is called as ``make_tx(schedule, opt_args)``, where
    ``opt_args`` is a pytree of arrays traced by the compiled functions (the interpreter's
    encoded program), so one compile serves every value of ``opt_args`` of the same shapes
    (tests count the interpreter's traces, `symopt.compile.interpreter.TRACES`).
    """

    def __init__(self, make_tx: Callable, task: Task, with_args: bool = False,
                 early_stop: bool = True):
        self.make_tx, self.task, self.with_args = make_tx, task, with_args
        self.early_stop = early_stop
        self.chunk_len = max(1, math.ceil(task.steps / max(1, task.n_evals)))
        self.n_chunks = math.ceil(task.steps / self.chunk_len)
        self._opt_init: Callable[..., Any] | None = None  # both set by `compile`
        self._chunk: Callable[..., Any] | None = None
        self.compile_s = 0.0

    def _tx(self, multiplier, opt_args):
        schedule = self.task.lr_schedule(multiplier)
        return self.make_tx(schedule, opt_args) if self.with_args else self.make_tx(schedule)

    def opt_init_fn(self, params, multiplier, opt_args):
        return self._tx(multiplier, opt_args).init(params)

    def chunk_fn(self, state, multiplier, data, opt_args, limit, active=None) -> Steps:
        return train_steps(self.task, self._tx(multiplier, opt_args), state, data,
                           self.chunk_len, limit, self.early_stop, active)

    @property
    def compiled(self) -> bool:
        return self._chunk is not None

    def compile(self, opt_args: Any = ()) -> float:
        """Trace and compile (once); returns the seconds it took (task parts included)."""
        if self._chunk is None:
            t0 = time.perf_counter()
            fns = self.fns = task_fns(self.task)
            seed = jnp.zeros((), jnp.int32)
            mult = jnp.ones((), jnp.float32)
            args = jax.tree_util.tree_map(jnp.asarray, opt_args)
            params, key = jax.eval_shape(fns.init_fn, seed)
            self._opt_init = jax.jit(self.opt_init_fn).lower(params, mult, args).compile(
                compiler_options=XLA_OPTIONS)
            opt_state = jax.eval_shape(self.opt_init_fn, params, mult, args)
            state = TrainState(params, opt_state, jax.ShapeDtypeStruct((), jnp.int32), key)
            self._chunk = jax.jit(self.chunk_fn, donate_argnums=(0,)).lower(
                state, mult, fns.data, args, mult).compile(compiler_options=XLA_OPTIONS)
            self.compile_s = time.perf_counter() - t0
        return self.compile_s

    def run(self, seed: int, multiplier: float, deadline: float | None, opt_args: Any = (),
            hurdles: Sequence[tuple[int, float]] = ()) -> dict[str, Any]:
        """Train once; returns the raw trial record (see `symopt.tasks.trial.Trial`)."""
        seed_a = jnp.asarray(seed, jnp.int32)
        mult_a = jnp.asarray(multiplier, jnp.float32)
        args = jax.tree_util.tree_map(jnp.asarray, opt_args)
        fns, opt_init, chunk = self.fns, self._opt_init, self._chunk
        if opt_init is None or chunk is None:
            raise RuntimeError("Runner.run needs Runner.compile first")
        t0 = time.perf_counter()
        params, key = fns.init(seed_a)
        state = TrainState(params, opt_init(params, mult_a, args),
                           jnp.zeros((), jnp.int32), key)
        trial = Trial(self.task, float(fns.val(params, fns.data)), multiplier, hurdles,
                      self.early_stop)
        limit_a = jnp.asarray(trial.chunk_limit, jnp.float32)
        for _ in range(self.n_chunks):
            state, losses, done, bad, at = chunk(state, mult_a, fns.data, args, limit_a)
            if trial.after_chunk(np.asarray(losses)[: int(done)], int(bad), int(at),
                                 functools.partial(_val_loss, fns, state), deadline):
                break
        return trial.record(time.perf_counter() - t0)


_RUNNERS: OrderedDict[tuple[int, int, bool], tuple[Any, Task, Runner]] = OrderedDict()
_RUNNERS_LOCK = threading.Lock()
_RUNNERS_MAX = 8


def runner_for(make_tx: Callable, task: Task, with_args: bool = False,
               early_stop: bool = True) -> Runner:
    """The compiled runner of the same (factory, task) objects, reused (a small LRU)."""
    key = (id(make_tx), id(task), early_stop)
    with _RUNNERS_LOCK:
        hit = _RUNNERS.get(key)
        if hit is not None and hit[0] is make_tx and hit[1] is task:
            _RUNNERS.move_to_end(key)
            return hit[2]
    runner = Runner(make_tx, task, with_args, early_stop)
    with _RUNNERS_LOCK:
        _RUNNERS[key] = (make_tx, task, runner)
        while len(_RUNNERS) > _RUNNERS_MAX:
            _RUNNERS.popitem(last=False)
    return runner


def runner_and_args(make_tx: MakeTx, task: Task, early_stop: bool = True) -> tuple[Runner, Any]:
    """The runner that trains `make_tx` on `task`, and the traced arguments it takes: an
    interpreted program runs in its size class's runner with its arrays as arguments."""
    if isinstance(make_tx, ProgramOptimizer) and make_tx.engine == "interpreted":
        encoded = make_tx.encoded()
        return (runner_for(interpreter_factory(encoded.size), task, True, early_stop),
                encoded.arrays())
    return runner_for(make_tx, task, False, early_stop), ()


def _fail(task: Task, seed: int, status: Status, message: str, **kw: Any) -> EvalResult:
    return EvalResult(fitness=math.inf, status=status, message=message, seed=seed,
                      task=task.name, **kw)


def check_multipliers(mults: Sequence[float]) -> tuple[float, ...]:
    return checks.lr_multipliers(mults, "lr_multipliers")


def race_hurdle(trials: Sequence[dict], race_at: int | None) -> list[tuple[int, float]]:
    """The hurdle a later multiplier must pass to stay in the race: the best validation
    loss earlier trials had at their first validation point at or after ``race_at``.

    >>> race_hurdle([dict(eval_steps=[0, 25, 50], curve=[2.0, 1.0, 0.5])], 20)
    [(20, 1.0)]
    """
    if race_at is None:
        return []
    at = [next((v for s, v in zip(t["eval_steps"], t["curve"], strict=True) if s >= race_at),
               math.inf) for t in trials]
    best = min((v for v in at if math.isfinite(v)), default=math.inf)
    return [(int(race_at), float(best))] if math.isfinite(best) else []


def evaluate(
    make_tx: MakeTx,
    task: Task | str,
    *,
    seed: int = 0,
    lr_multipliers: Sequence[float] | None = None,
    time_limit_s: float | None = None,
    hurdles: Sequence[tuple[int, float]] = (),
    early_stop: bool = True,
    race_at: int | None = None,
) -> EvalResult:
    """Train ``task`` with the optimizer ``make_tx(learning_rate)``; fitness = val loss.

    ``make_tx`` receives the task's schedule (a callable ``step -> lr``) scaled by each of
    ``lr_multipliers`` (default: ``task.lr_multipliers``); the multiplier with the lowest
    final validation loss is kept. A `ProgramOptimizer` runs on its engine. ``hurdles``
    are ``(step, threshold)`` pairs (see `symopt.tasks.trial.Trial`): a run stopped at one
    has status ``hurdle``. ``early_stop=False`` trains a diverging run to the end of its
    chunk (benchmarks). ``race_at`` (a step) races the multipliers: a multiplier whose
    validation loss at the first validation point at or after that step is above the best
    of the multipliers trained before it stops there (status ``hurdle``); the first one
    always trains to the end (the batched engine races them side by side,
    `symopt.tasks.batch`). ``time_limit_s`` bounds the wall clock of the whole call (the
    compile of a program's own runner included; a shared interpreter's compile is not the
    program's), checked between chunks. Never raises for anything the optimizer does; an
    unknown task name or bad multipliers raise ``UserError``.

    >>> import optax
    >>> r = evaluate(lambda lr: optax.adam(lr), "quadratic", seed=0)
    >>> r.status, r.fitness < 0.1 * r.curve[0]
    ('ok', True)
    >>> bad = evaluate(lambda lr: optax.sgd(lambda c: 1e9 * lr(c)), "quadratic")
    >>> bad.status, bad.message.endswith("at step 3"), bad.steps  # stopped where it went bad
    ('diverged', True, 3)
    """
    from symopt.tasks.registry import get_task

    if not isinstance(task, Task):
        task = get_task(task)
    mults = check_multipliers(task.lr_multipliers if lr_multipliers is None else lr_multipliers)
    start = time.perf_counter()
    deadline = None if time_limit_s is None else start + float(time_limit_s)
    try:
        runner, opt_args = runner_and_args(make_tx, task, early_stop)
        compile_s = 0.0 if runner.compiled else runner.compile(opt_args)
        if opt_args != () and deadline is not None:  # a shared compile is not this program's
            deadline += compile_s
    except Exception as err:  # noqa: BLE001 - the optimizer may fail in any way
        return _fail(task, seed, "error", f"{type(err).__name__}: {err}",
                     compile_s=time.perf_counter() - start)
    if deadline is not None and time.perf_counter() > deadline:
        return _fail(task, seed, "timeout", f"time limit reached while compiling "
                     f"({compile_s:.1f}s)", compile_s=compile_s)
    trials: list[dict] = []
    for m in mults:
        raced = list(hurdles) + race_hurdle(trials, race_at)
        try:
            trial = runner.run(seed, m, deadline, opt_args, raced)
        except Exception as err:  # noqa: BLE001
            trial = failed_record(m, f"{type(err).__name__}: {err}")
        trials.append(trial)
        if trial["status"] == "timeout":
            break
    return summarize(task, seed, mults, trials, compile_s)
