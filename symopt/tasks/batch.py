"""Population-parallel training: many runs of the interpreter in one compiled call.

:func:`evaluate_batch` trains several programs, each with several seeds and learning-rate
multipliers, with ``jax.vmap`` over parameters, optimizer states, PRNG keys, multipliers
and (optionally) the encoded programs. The programs are grouped by size class, so one
compiled call serves a whole group. Each member's optimizer state is its program's state
slots only (`symopt.compile.interpreter.InterpState`); programs trained in one call hold
the group's largest slot count (an AdamW child and a Lion child: 2 values per parameter
each).

``vmap_programs`` decides whether *different programs* share a call. Under ``vmap`` the
interpreter's ``lax.switch`` runs every branch for every statement, which costs far more
than it saves on a CPU, so there (the default off accelerators) each program gets its own
call, batched over its seeds x multipliers; on a GPU/TPU the whole group trains at once.

>>> from symopt import programs
>>> from symopt.tasks.engine import ProgramOptimizer
>>> opts = [ProgramOptimizer(programs.load(n)) for n in ("sgd", "lion")]
>>> res = evaluate_batch(opts, "quadratic", seeds=(0, 1))
>>> [[r.status for r in per_seed] for per_seed in res]
[['ok', 'ok'], ['ok', 'ok']]
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from symopt.compile.interpreter import Encoded, SizeClass, encode
from symopt.isolation import untimed
from symopt.tasks.base import EvalResult, Task
from symopt.tasks.engine import ProgramOptimizer, interpreter_factory
from symopt.tasks.train import TrainState, check_multipliers, runner_for
from symopt.tasks.trial import Trial, summarize

_BATCHED: dict[tuple, Any] = {}


def _batched_fns(runner, size: int, vmap_programs: bool, args: Any):
    """jit(vmap(...)) of init, optimizer init, chunk and validation for `size` members,
    compiled ahead of time (as `Runner.compile` does for one run) and `untimed`: in a
    worker, compiling is not the job's time. The runner fixes the shapes of `args` (one
    size class), so the compiled functions are kept per (runner, size, vmap_programs)."""
    key = (id(runner), size, vmap_programs)
    hit = _BATCHED.get(key)
    if hit is not None and hit[0] is runner:
        return hit[1]
    fns = runner.fns
    a = 0 if vmap_programs else None
    init = jax.jit(jax.vmap(fns.init_fn))
    opt_init = jax.jit(jax.vmap(runner.opt_init_fn, in_axes=(0, 0, a)))
    chunk = jax.jit(jax.vmap(runner.chunk_fn, in_axes=(0, 0, None, a, 0, 0)))
    val = jax.jit(jax.vmap(runner.task.val_loss, in_axes=(0, None)))
    seeds = jax.ShapeDtypeStruct((size,), jnp.int32)
    floats = jax.ShapeDtypeStruct((size,), jnp.float32)
    with untimed():
        params, keys = jax.eval_shape(init, seeds)
        opt_state = jax.eval_shape(opt_init, params, floats, args)
        state = TrainState(params, opt_state, seeds, keys)
        out = (init.lower(seeds).compile(), opt_init.lower(params, floats, args).compile(),
               chunk.lower(state, floats, fns.data, args, floats,
                           jax.ShapeDtypeStruct((size,), jnp.bool_)).compile(),
               val.lower(params, fns.data).compile())
    _BATCHED[key] = (runner, out)
    return out


def _train_members(runner, fns, members, args, hurdles, deadline,
                   race_at: int | None = None, race_groups: Sequence[int] = ()) -> list[dict]:
    """One batched training: `members` are (seed, multiplier) pairs, `hurdles` each one's
    hurdles; one trial record each. With `race_at`, at the first validation point at or
    after that step, the members of a race group (one program and seed, its multipliers)
    above the group's best validation loss stop there (status ``hurdle``)."""
    init, opt_init, chunk, val = fns  # `_batched_fns`
    data = runner.fns.data
    t0 = time.perf_counter()
    seeds = jnp.asarray([s for s, _ in members], jnp.int32)
    mults = jnp.asarray([m for _, m in members], jnp.float32)
    params, keys = init(seeds)
    state = TrainState(params, opt_init(params, mults, args),
                       jnp.zeros((len(members),), jnp.int32), keys)
    val0 = np.asarray(val(params, data))
    trials = [Trial(runner.task, float(v), m, h, runner.early_stop)
              for v, (_, m), h in zip(val0, members, hurdles, strict=True)]
    limits = jnp.asarray([t.chunk_limit for t in trials], jnp.float32)
    active = np.ones(len(members), bool)
    for _ in range(runner.n_chunks):
        if not active.any():
            break
        state, losses, done, bad, at = chunk(state, mults, data, args, limits,
                                             jnp.asarray(active))
        losses, done, bad, at = map(np.asarray, (losses, done, bad, at))
        vals = np.asarray(val(state.params, data))
        for b in np.flatnonzero(active):
            if trials[b].after_chunk(losses[b, : done[b]], int(bad[b]), int(at[b]),
                                     lambda b=b, vals=vals: float(vals[b]), deadline):
                active[b] = False
        if race_at is not None and max((trials[b].step for b in np.flatnonzero(active)),
                                       default=0) >= race_at:
            _race(trials, active, vals, race_groups)
            race_at = None
    run_s = (time.perf_counter() - t0) / len(members)
    return [t.record(run_s) for t in trials]


def _race(trials: list[Trial], active: np.ndarray, vals: np.ndarray,
          groups: Sequence[int]) -> None:
    """Stop the members of each group that are behind the group's best right now."""
    best: dict[int, float] = {}
    for b in np.flatnonzero(active):
        if math.isfinite(vals[b]):
            best[groups[b]] = min(best.get(groups[b], math.inf), float(vals[b]))
    for b in np.flatnonzero(active):
        if float(vals[b]) > best.get(groups[b], math.inf):
            trials[b].status = "hurdle"
            trials[b].message = (f"validation loss {float(vals[b]):.4g} behind another "
                                 f"learning-rate multiplier ({best[groups[b]]:.4g}) at step "
                                 f"{trials[b].step}")
            active[b] = False


def evaluate_batch(
    optimizers: Sequence[ProgramOptimizer],
    task: Task | str,
    *,
    seeds: Sequence[int] = (0,),
    lr_multipliers: Sequence[float] | None = None,
    hurdles: Sequence[Sequence[tuple[int, float]]] | None = None,
    time_limit_s: float | None = None,
    vmap_programs: bool | None = None,
    race_at: int | None = None,
) -> list[list[EvalResult]]:
    """Train every program with every seed; ``results[i][j]`` = program i, seed j.

    Each result is what :func:`symopt.tasks.evaluate` gives for that program and seed
    (best multiplier kept). ``hurdles[i]`` are program i's hurdles (see
    `symopt.tasks.trial.Trial`; default none). ``compile_s`` is charged to the first
    program of a size class that needed a compile. A program that cannot be encoded gets
    status ``error``. Each compile runs `untimed` (in a worker, outside the job's clock)
    and moves `time_limit_s`'s deadline by its duration. ``race_at``: each program and
    seed races its multipliers (`_train_members`).
    """
    from symopt.tasks.registry import get_task

    if not isinstance(task, Task):
        task = get_task(task)
    per_program = [()] * len(optimizers) if hurdles is None else list(hurdles)
    if len(per_program) != len(optimizers):
        raise ValueError("hurdles: one list per program")
    mults = check_multipliers(task.lr_multipliers if lr_multipliers is None else lr_multipliers)
    if vmap_programs is None:
        vmap_programs = jax.default_backend() != "cpu"
    deadline = None if time_limit_s is None else time.perf_counter() + float(time_limit_s)
    results: list[list[EvalResult | None]] = [[None] * len(seeds) for _ in optimizers]
    groups: dict[Any, list[int]] = {}
    for i, opt in enumerate(optimizers):
        try:
            size = opt.encoded().size
            groups.setdefault(size.statements if vmap_programs else size, []).append(i)
        except Exception as err:  # noqa: BLE001 - a bad program is its own error
            for j, seed in enumerate(seeds):
                results[i][j] = EvalResult(fitness=math.inf, status="error", seed=int(seed),
                                           message=f"{type(err).__name__}: {err}",
                                           task=task.name)
    members = list(itertools.product(seeds, mults))
    for key, idx in groups.items():
        # Programs that share a call share its state slots: the group's most (padded
        # slots stay zero), never more than its largest member needs alone.
        size = key if not vmap_programs else SizeClass(
            key, max(optimizers[i].encoded().size.slots for i in idx))
        encoded = {i: _encoded(optimizers[i], size) for i in idx}
        runner = runner_for(interpreter_factory(size), task, True, True)
        with untimed():  # in a worker, the compile is not the job's time (as `evaluate_text`)
            compile_s = 0.0 if runner.compiled else runner.compile(encoded[idx[0]].arrays())
        if deadline is not None:
            deadline += compile_s
        batches = [idx] if vmap_programs else [[i] for i in idx]
        for batch in batches:
            real = list(batch)
            if vmap_programs:
                # a call of n programs compiles for n: padding n to a power of two (copies
                # of the last, results dropped) bounds the compiles per size class to
                # log2 of the largest batch, however the groups of a search fall
                batch = batch + [batch[-1]] * ((1 << (len(batch) - 1).bit_length())
                                               - len(batch))
                arrays = [encoded[i].arrays() for i in batch]
                args = jax.tree_util.tree_map(
                    lambda *xs: jnp.asarray(np.stack([np.repeat(x[None], len(members), 0)
                                                      for x in xs]).reshape(
                        (-1,) + np.shape(xs[0]))), *arrays)
            else:
                args = jax.tree_util.tree_map(jnp.asarray, encoded[batch[0]].arrays())
            flat = [m for _ in batch for m in members]
            member_hurdles = [per_program[i] for i in batch for _ in members]
            t0 = time.perf_counter()
            fns = _batched_fns(runner, len(flat), vmap_programs, args)
            spent = time.perf_counter() - t0  # a compile (if any), not training time
            compile_s += spent
            if deadline is not None:
                deadline += spent
            trials = _train_members(runner, fns, flat, args, member_hurdles, deadline,
                                    race_at, [k // len(mults) for k in range(len(flat))])
            for k, i in enumerate(real):
                mine = trials[k * len(members):(k + 1) * len(members)]
                for j, seed in enumerate(seeds):
                    per_seed = mine[j * len(mults):(j + 1) * len(mults)]
                    results[i][j] = summarize(task, seed, mults, per_seed, compile_s)
                    compile_s = 0.0
    return cast(list[list[EvalResult]], results)  # every slot is filled above


def _encoded(opt: ProgramOptimizer, size: SizeClass) -> Encoded:
    own = opt.encoded()
    return own if own.size == size else encode(opt.program, size)
