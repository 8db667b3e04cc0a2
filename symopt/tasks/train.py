"""The training loop and :func:`evaluate`: fitness = validation loss after a short run.

The run is a jitted ``lax.scan`` over training steps, cut into ``task.n_evals`` equal
chunks; one compiled chunk function is reused for every chunk, every seed and every
learning-rate multiplier (seed and multiplier are traced arguments). Between chunks the
host reads the validation loss, checks for divergence and checks the wall clock.
Nothing the optimizer does can raise out of :func:`evaluate`: failures become a status
(``diverged``, ``timeout``, ``error``) with fitness ``inf``.
"""

from __future__ import annotations

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
from symopt.tasks.base import EvalResult, Task

MakeTx = Callable[[Any], optax.GradientTransformation]


class TrainState(NamedTuple):
    params: Any
    opt_state: Any
    step: jax.Array
    key: jax.Array


def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def scan_steps(task: Task, tx: optax.GradientTransformation, state: TrainState, data: Any,
               length: int) -> tuple[tuple[Any, Any, jax.Array], jax.Array]:
    """`length` training steps of `task` with `tx` from `state` as one `lax.scan` (traceable).

    Steps past ``task.steps`` leave parameters and optimizer state unchanged. Returns
    ``((params, opt_state, step), losses)``; shared by the evaluator and `symopt.tune`.
    """
    total = task.steps
    grad_fn = jax.value_and_grad(task.loss)

    def body(carry, _):
        params, opt_state, step = carry
        batch = task.train_batch(data, jax.random.fold_in(state.key, step))
        loss, grads = grad_fn(params, batch)
        updates, new_opt = tx.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        active = step < total
        keep = lambda new, old: jax.tree_util.tree_map(
            lambda a, b: jnp.where(active, a, b), new, old
        )
        return (keep(new_params, params), keep(new_opt, opt_state), step + 1), loss

    return jax.lax.scan(body, (state.params, state.opt_state, state.step), None, length=length)


class _TaskFns:
    """Compiled parameter init and validation of one task (shared by every optimizer)."""

    def __init__(self, task: Task):
        self.task = task
        self.data = jax.device_put(task.data)
        seed = jnp.zeros((), jnp.int32)
        self.init = jax.jit(self._init_fn).lower(seed).compile(compiler_options=_XLA_OPTIONS)
        params = jax.eval_shape(self._init_fn, seed)[0]
        self.val = jax.jit(task.val_loss).lower(params, self.data).compile(
            compiler_options=_XLA_OPTIONS
        )

    def _init_fn(self, seed):
        k_init, k_data = jax.random.split(jax.random.PRNGKey(seed))
        return self.task.init_params(k_init), k_data


_XLA_OPTIONS = {"xla_llvm_disable_expensive_passes": True}
_TASK_FNS: weakref.WeakKeyDictionary[Task, _TaskFns] = weakref.WeakKeyDictionary()


def _task_fns(task: Task) -> _TaskFns:
    with _RUNNERS_LOCK:
        fns = _TASK_FNS.get(task)
    if fns is None:
        fns = _TaskFns(task)
        with _RUNNERS_LOCK:
            _TASK_FNS[task] = fns
    return fns


class Runner:
    """Compiled optimizer init and training chunk for one (optimizer factory, task) pair."""

    def __init__(self, make_tx: MakeTx, task: Task):
        self.make_tx, self.task = make_tx, task
        self.chunk_len = max(1, math.ceil(task.steps / max(1, task.n_evals)))
        self.n_chunks = math.ceil(task.steps / self.chunk_len)
        self._opt_init = self._chunk = None
        self.compile_s = 0.0

    def _tx(self, multiplier):
        return self.make_tx(self.task.lr_schedule(multiplier))

    def _opt_init_fn(self, params, multiplier):
        return self._tx(multiplier).init(params)

    def _chunk_fn(self, state, multiplier, data):
        (params, opt_state, step), losses = scan_steps(
            self.task, self._tx(multiplier), state, data, self.chunk_len)
        return TrainState(params, opt_state, step, state.key), losses, _all_finite(params)

    def compile(self) -> float:
        """Trace and compile (once); returns the seconds it took (task parts included)."""
        if self._chunk is None:
            t0 = time.perf_counter()
            fns = self.fns = _task_fns(self.task)
            seed = jnp.zeros((), jnp.int32)
            mult = jnp.ones((), jnp.float32)
            params, key = jax.eval_shape(fns._init_fn, seed)
            self._opt_init = jax.jit(self._opt_init_fn).lower(params, mult).compile(
                compiler_options=_XLA_OPTIONS
            )
            opt_state = jax.eval_shape(self._opt_init_fn, params, mult)
            state = TrainState(params, opt_state, jax.ShapeDtypeStruct((), jnp.int32), key)
            self._chunk = jax.jit(self._chunk_fn, donate_argnums=(0,)).lower(
                state, mult, fns.data
            ).compile(compiler_options=_XLA_OPTIONS)
            self.compile_s = time.perf_counter() - t0
        return self.compile_s

    def run(self, seed: int, multiplier: float, deadline: float | None) -> dict[str, Any]:
        """Train once; returns the raw trial record (status, curves, seconds)."""
        task = self.task
        seed_a = jnp.asarray(seed, jnp.int32)
        mult_a = jnp.asarray(multiplier, jnp.float32)
        fns = self.fns
        t0 = time.perf_counter()
        params, key = fns.init(seed_a)
        state = TrainState(params, self._opt_init(params, mult_a), jnp.zeros((), jnp.int32), key)
        val0 = float(fns.val(params, fns.data))
        curve, steps_at, train = [val0], [0], []
        status, message = "ok", ""
        for _ in range(self.n_chunks):
            state, losses, finite = self._chunk(state, mult_a, fns.data)
            losses = np.asarray(losses)[: max(0, task.steps - len(train))]
            val, finite = float(fns.val(state.params, fns.data)), bool(finite)
            train.extend(float(x) for x in losses)
            curve.append(val)
            steps_at.append(len(train))
            if not (finite and np.all(np.isfinite(losses)) and math.isfinite(val)):
                status, message = "diverged", f"non-finite loss or parameters by step {len(train)}"
                break
            if math.isfinite(val0) and val > task.diverge_ratio * abs(val0) and val0 != 0:
                status = "diverged"
                message = (
                    f"validation loss {val:.4g} above {task.diverge_ratio:g}x the initial "
                    f"{val0:.4g} at step {len(train)}"
                )
                break
            if deadline is not None and time.perf_counter() > deadline and len(train) < task.steps:
                status, message = "timeout", f"time limit reached at step {len(train)}"
                break
        run_s = time.perf_counter() - t0
        return dict(
            status=status, message=message, curve=curve, eval_steps=steps_at, train=train,
            run_s=run_s, steps=len(train), multiplier=float(multiplier),
        )


_RUNNERS: OrderedDict[tuple[int, int], tuple[Any, Task, Runner]] = OrderedDict()
_RUNNERS_LOCK = threading.Lock()
_RUNNERS_MAX = 4


def _runner(make_tx: MakeTx, task: Task) -> Runner:
    """Reuse the compiled runner of the same (factory, task) objects (small LRU)."""
    key = (id(make_tx), id(task))
    with _RUNNERS_LOCK:
        hit = _RUNNERS.get(key)
        if hit is not None and hit[0] is make_tx and hit[1] is task:
            _RUNNERS.move_to_end(key)
            return hit[2]
    runner = Runner(make_tx, task)
    with _RUNNERS_LOCK:
        _RUNNERS[key] = (make_tx, task, runner)
        while len(_RUNNERS) > _RUNNERS_MAX:
            _RUNNERS.popitem(last=False)
    return runner


def _fail(task: Task, seed: int, status: str, message: str, **kw: Any) -> EvalResult:
    return EvalResult(fitness=math.inf, status=status, message=message, seed=seed,
                      task=task.name, **kw)


def _check_multipliers(mults: Sequence[float]) -> tuple[float, ...]:
    return checks.lr_multipliers(mults, "lr_multipliers")


def evaluate(
    make_tx: MakeTx,
    task: Task | str,
    *,
    seed: int = 0,
    lr_multipliers: Sequence[float] | None = None,
    time_limit_s: float | None = None,
) -> EvalResult:
    """Train ``task`` with the optimizer ``make_tx(learning_rate)``; fitness = val loss.

    ``make_tx`` receives the task's schedule (a callable ``step -> lr``) scaled by each of
    ``lr_multipliers`` (default: ``task.lr_multipliers``); the multiplier with the lowest
    final validation loss is kept. ``time_limit_s`` bounds the wall clock of the whole
    call (compile included), checked between chunks. Never raises for anything the
    optimizer does; an unknown task name or bad multipliers raise ``UserError``.

    >>> import optax
    >>> r = evaluate(lambda lr: optax.adam(lr), "quadratic", seed=0)
    >>> r.status, r.fitness < 0.1 * r.curve[0]
    ('ok', True)
    >>> evaluate(lambda lr: optax.sgd(lambda c: 1e9 * lr(c)), "quadratic").status
    'diverged'
    """
    from symopt.tasks.registry import get_task

    if not isinstance(task, Task):
        task = get_task(task)
    mults = _check_multipliers(task.lr_multipliers if lr_multipliers is None else lr_multipliers)
    start = time.perf_counter()
    deadline = None if time_limit_s is None else start + float(time_limit_s)
    try:
        runner = _runner(make_tx, task)
        cached = runner._chunk is not None
        compile_s = 0.0 if cached else runner.compile()
    except Exception as err:  # noqa: BLE001 - the optimizer may fail in any way
        return _fail(task, seed, "error", f"{type(err).__name__}: {err}",
                     compile_s=time.perf_counter() - start)
    if deadline is not None and time.perf_counter() > deadline:
        return _fail(task, seed, "timeout", f"time limit reached while compiling "
                     f"({compile_s:.1f}s)", compile_s=compile_s)
    trials = []
    for m in mults:
        try:
            trial = runner.run(seed, m, deadline)
        except Exception as err:  # noqa: BLE001
            trial = dict(status="error", message=f"{type(err).__name__}: {err}", curve=[],
                         eval_steps=[], train=[], run_s=0.0, steps=0, multiplier=m)
        trials.append(trial)
        if trial["status"] == "timeout":
            break
    ok = [t for t in trials if t["status"] == "ok"]
    if ok:
        best = min(ok, key=lambda t: (t["curve"][-1], mults.index(t["multiplier"])))
    else:  # report the most telling failure
        rank = {"error": 0, "timeout": 1, "diverged": 2}
        best = min(trials, key=lambda t: rank[t["status"]])
    run_s = sum(t["run_s"] for t in trials)
    steps = sum(t["steps"] for t in trials)
    curve = tuple(best["curve"])
    good = best["status"] == "ok"
    final = curve[-1] if curve else math.inf
    return EvalResult(
        fitness=final if good else math.inf,
        status=best["status"],
        message=best["message"],
        final_loss=final,
        best_loss=min(curve) if curve else math.inf,
        curve=curve,
        eval_steps=tuple(best["eval_steps"]),
        train_curve=tuple(best["train"]),
        lr_multiplier=best["multiplier"],
        lr=task.base_lr * best["multiplier"],
        compile_s=compile_s,
        run_s=run_s,
        steps=steps,
        steps_per_s=steps / run_s if run_s > 0 else 0.0,
        seed=int(seed),
        task=task.name,
        trials=tuple(
            (t["multiplier"], t["curve"][-1] if t["status"] == "ok" else math.inf) for t in trials
        ),
    )
