"""Population Based Training on Ray Tune (``ray.tune.schedulers.PopulationBasedTraining``).

Each member is a Ray Tune function trainable that trains one run of the task chunk by
chunk (``[tune.pbt] iterations`` reports) and reports the validation loss with a
checkpoint of its parameters *and* optimizer state after every chunk. At every
``perturbation_interval`` the scheduler lets a member of the bottom quantile copy the
checkpoint and hyperparameters of one of the top quantile (exploit), then perturbs them
×1.2 / ×0.8 or resamples them (explore); the member restarts from that checkpoint and
keeps training. The program's constants, the lr multiplier and the warmup are traced
values of one compiled chunk (:mod:`symopt.tune.trainer`), so they change without
recompiling. Task fields (layers, heads, width) are drawn once per member and travel
with the weights on exploit; they are never perturbed.

Ray runs locally, started on free ports with its own temp dir (``address="local"``:
never another user's cluster) by `symopt.ray_local`: it listens on 127.0.0.1 only and is
torn down with the driver, even a SIGKILLed one, leaving no process behind. Each member
takes one CPU (``resources_per_trial``, default ``{cpu = 1}``), so at most as many
members train at once as the machine has CPUs, and Ray Tune reuses their actors
(``reuse_actors``): the others wait, paused at a checkpoint, instead of piling up idle
Ray workers. Ray Tune's storage is ``DIR/pbt``, and ``--resume`` continues with
``Tuner.restore``. Perturbed values live in the Ray config as
*coordinates* (``1 − x`` for a β), so ×1.2 never pushes a β past 1.

``tuner.fit()`` has an overall time bound (`time_bound`, Ray Tune's ``time_budget_s``):
the members train in rounds of as many as run at once, each round at most ``[tune]
time_limit_s`` (one training run), plus `STARTUP_S` for Ray and the compiles. A run that
reaches it stops with a `SearchFailedError` naming the bound and how it was derived.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from symopt import ray_local
from symopt.errors import SearchFailedError
from symopt.tune.config import TuneConfig
from symopt.tune.pbt_files import (
    raise_member_errors,
    read_meta,
    read_records,
    read_state,
    records_limit,
)
from symopt.tune.space import Gene, Space, build_space

EXPERIMENT = "pbt"
_BAD = 1e30  # the loss reported for a diverged member (finite, so Ray can rank it)


class _Resample:
    """Ray's resample function of one gene: a fresh coordinate (uses ``random`` as Ray)."""

    def __init__(self, gene: Gene):
        self.gene = gene

    def __call__(self) -> float:
        rng = np.random.default_rng(random.getrandbits(32))
        return self.gene.to_coord(self.gene.sample(rng))


class _Explore:
    """After Ray's perturbation: back into range (and integers rounded)."""

    def __init__(self, space: Space):
        self.space = space

    def __call__(self, config: dict) -> dict:
        config["hp"] = to_coords(self.space, from_coords(self.space, config["hp"]))
        return config


def to_coords(space: Space, values: Mapping[str, float]) -> dict[str, float]:
    return {g.key: g.to_coord(values[g.key]) for g in space.genes}


def from_coords(space: Space, coords: Mapping[str, float]) -> dict[str, float]:
    return space.repair({g.key: g.from_coord(coords[g.key]) for g in space.genes})


def _spec_space(spec: Mapping[str, Any]):
    from symopt.lang import parse
    from symopt.tasks import get_task

    program = parse(spec["program"])
    task = get_task(spec["task"], **spec["task_overrides"])
    return program, task, build_space(program, task, spec["space"], tie_equal=spec["tie"])


def pbt_trainable(config: dict, spec: dict) -> None:
    """The Ray Tune function trainable of one PBT member (runs in a Ray worker)."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    from ray import tune

    from symopt.tune.trainer import Hyper, state_from_arrays, state_to_arrays, trainer_for

    program, task, space = _spec_space(spec)
    values = from_coords(space, config["hp"])
    overrides = space.task_overrides(values)
    task = task.replace(**overrides) if overrides else task
    trainer = trainer_for(program, task, chunk_steps=spec["chunk_steps"])
    hyper = Hyper.of(space.constants(values), values["lr_multiplier"], values["warmup_steps"])
    me = tune.get_context().get_trial_id()
    origin, restored_val, source_val = "", math.nan, math.nan
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            meta = read_meta(Path(d) / "meta.json")
            state = read_state(trainer, Path(d) / "state.npz", state_from_arrays)
        origin, source_val, val0 = meta["trial_id"], meta["val_loss"], meta["val0"]
        restored_val = trainer.val(state)
    else:
        state = trainer.init(spec["train_seed"])
        val0 = trainer.val(state)
    # divergence as in an evaluation; a member that went bad goes on reporting it (with
    # its bad loss) until the scheduler replaces it
    trial = trainer.trial(state, val0, hyper)
    first = True
    while first or int(state.step) < task.steps:  # report at least once after a restart
        if int(state.step) < task.steps:
            state, _ = trainer.advance(state, hyper, trial)
        else:  # restored from a finished member: nothing left to train
            trial.after_chunk([], 0, 0, functools.partial(trainer.val, state), None)
        why = trial.message if trial.status == "diverged" else ""
        val = trainer.val(state) if why else trial.curve[-1]  # a bad step skips validation
        metrics = {
            "val_loss": _BAD if why else val, "status": "diverged" if why else "ok",
            "message": why, "step": int(state.step), "values": json.dumps(values),
            "origin": origin if first else "", "restored_val": restored_val if first else math.nan,
            "source_val": source_val if first else math.nan,
        }
        with tempfile.TemporaryDirectory(prefix="symopt-ckpt-") as d:
            np.savez(Path(d) / "state.npz", **state_to_arrays(state))
            (Path(d) / "meta.json").write_text(json.dumps(
                {"trial_id": me, "val_loss": val, "val0": val0, "step": int(state.step)}))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
        first = False


class RecordResults:
    """A Ray Tune callback (in the driver) appending every report to a JSON-lines file."""

    def __new__(cls, path: str):
        from ray.tune import Callback

        class _Recorder(Callback):
            def __init__(self, path: str):
                self.path = path

            def on_trial_result(self, iteration, trials, trial, result, **info):
                row = {k: result.get(k) for k in _FIELDS}
                with open(self.path, "a") as f:
                    f.write(json.dumps(row) + "\n")

        return _Recorder(path)


_FIELDS = ("trial_id", "training_iteration", "step", "val_loss", "status", "message", "values",
           "origin", "restored_val", "source_val", "timestamp")
RESULTS = "pbt_results.jsonl"


#: Seconds added to PBT's time bound for starting Ray, its actors and the first compiles.
STARTUP_S = 300.0


def time_bound(cfg: TuneConfig, cpus: int) -> tuple[float, str]:
    """PBT's overall time bound in seconds, and how it was derived (for the error).

    Members take ``resources_per_trial`` CPUs each, so ``cpus // cpu`` train at once; the
    population trains in ``ceil(population / that)`` rounds of at most ``[tune]
    time_limit_s`` each (PBT's synchronous exploits never make a round longer than one
    whole training run per member).

    >>> from symopt.tune.config import TuneConfig
    >>> cfg = TuneConfig(method="pbt", budget=8, time_limit_s=60.0)
    >>> time_bound(cfg, cpus=2)
    (540.0, '4 rounds (8 members, 2 at once on 2 CPUs) x [tune] time_limit_s 60 s + 300 s start-up')
    """
    population = cfg.n_trials()
    cpu = float((dict(cfg.pbt.resources_per_trial) or {"cpu": 1}).get("cpu", 0))
    at_once = max(1, min(population, int(cpus // cpu))) if cpu > 0 else population
    rounds = math.ceil(population / at_once)
    bound = rounds * cfg.time_limit_s + STARTUP_S
    return bound, (f"{rounds} rounds ({population} members, {at_once} at once on {cpus} CPUs)"
                   f" x [tune] time_limit_s {cfg.time_limit_s:g} s + {STARTUP_S:g} s start-up")


def check_finished(records: list[dict[str, Any]], steps: int, elapsed: float, bound: float,
                   how: str, run_dir: Path) -> None:
    """`SearchFailedError` if the time bound stopped members before their last step.

    >>> check_finished([{"trial": "a", "step": 40}], 60, 541.0, 540.0, "(how)", Path("D"))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symopt.errors.SearchFailedError: PBT reached its time bound of 540 s ((how)) with 1 of 1 ...
    """
    if elapsed < bound:
        return
    last: dict[str, int] = {}
    for r in records:
        last[r["trial"]] = max(last.get(r["trial"], 0), int(r["step"] or 0))
    unfinished = [s for s in last.values() if s < steps]
    if unfinished or not last:
        raise SearchFailedError(
            f"PBT reached its time bound of {bound:.0f} s ({how}) with "
            f"{len(unfinished) if last else 'all'} of {len(last) or '?'} members unfinished"
            + (f" (at step {max(unfinished)} of {steps} at most)" if unfinished else "")
            + f"; raise [tune] time_limit_s (per training run) and tune again; the reports "
              f"so far are in {run_dir / RESULTS}")


def _init_ray(cfg: TuneConfig) -> ray_local.LocalRay | None:
    """Start a private local Ray (`symopt.ray_local`); None if one is running already."""
    import ray

    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if ray.is_initialized():
        return None
    gpus = cfg.pbt.resources_per_trial.get("gpu", 0)
    return ray_local.start(num_cpus=os.cpu_count() or 1, num_gpus=None if gpus else 0,
                           log_to_driver=False, object_store_memory=100 * 1024**2,
                           configure_logging=False)


def _tuner_pieces(spec: dict, space: Space, cfg: TuneConfig, population: int):
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    mutations = {g.key: _Resample(g) for g in space.searched if g.group != "task"}
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration", metric="val_loss", mode="min",
        perturbation_interval=cfg.pbt.perturbation_interval,
        hyperparam_mutations={"hp": mutations},
        quantile_fraction=cfg.pbt.quantile_fraction,
        resample_probability=cfg.pbt.resample_probability,
        perturbation_factors=tuple(cfg.pbt.perturbation_factors),
        custom_explore_fn=_Explore(space), log_config=True, synch=True,
    )
    resources = dict(cfg.pbt.resources_per_trial) or {"cpu": 1}  # at most one per CPU
    trainable = tune.with_resources(tune.with_parameters(pbt_trainable, spec=spec), resources)
    return scheduler, trainable


def run_pbt(spec: dict, space: Space, cfg: TuneConfig, run_dir: Path, *,
            resume: bool = False) -> list[dict[str, Any]]:
    """Run (or with `resume`, continue) PBT; returns one record per member per iteration."""
    from ray import tune

    population = cfg.n_trials()
    local = _init_ray(cfg)
    try:
        scheduler, trainable = _tuner_pieces(spec, space, cfg, population)
        bound, how = time_bound(cfg, os.cpu_count() or 1)
        path = str(run_dir.resolve() / EXPERIMENT)
        if resume and tune.Tuner.can_restore(path):
            tuner = tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True,
                                       resume_errored=True)
        else:
            random.seed(cfg.random_seed)  # Ray's explore draws from `random`
            rng = np.random.default_rng([cfg.random_seed, 12])
            points = [space.defaults()] + [space.sample(rng) for _ in range(population - 1)]
            tuner = tune.Tuner(
                trainable,
                param_space={"hp": tune.grid_search([to_coords(space, p) for p in points])},
                tune_config=tune.TuneConfig(scheduler=scheduler, num_samples=1,
                                            reuse_actors=True, time_budget_s=bound),
                run_config=tune.RunConfig(
                    name=EXPERIMENT, storage_path=str(run_dir.resolve()), verbose=0,
                    # a finished member leaves before the scheduler sees its last report
                    stop={"step": spec["steps"]},
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=4),
                    failure_config=tune.FailureConfig(max_failures=1),
                    callbacks=[RecordResults(str(run_dir.resolve() / RESULTS))]),
            )
        start = time.monotonic()
        grid = tuner.fit()
        raise_member_errors(grid.errors)
        records = read_records(run_dir / RESULTS, records_limit(population, cfg.pbt.iterations))
        check_finished(records, spec["steps"], time.monotonic() - start, bound, how, run_dir)
        return records
    finally:
        if local is not None:  # Ray, its workers and agents: nothing stays behind
            local.shutdown()
            local.remove()


def exploit_events(records: list[dict[str, Any]], space: Space) -> list[dict[str, Any]]:
    """The exploits: a member restarted from another member's checkpoint.

    Each event: time, trial, the exploited trial, the iteration, and the hyperparameters
    before (the member's previous report) and after (its first report from the copy).
    """
    events: list[dict[str, Any]] = []
    last: dict[str, dict[str, Any]] = {}
    for r in records:
        prev = last.get(r["trial"])
        if r["origin"] and r["origin"] != r["trial"]:
            old = prev["values"] if prev else {}
            events.append({"time": r["time"], "trial": r["trial"], "exploited": r["origin"],
                           "iteration": r["generation"], "old": old, "new": r["values"],
                           "restored_val": r["restored_val"], "source_val": r["source_val"],
                           "val_after": r["fitness"]})
        last[r["trial"]] = r
    return events
