"""Starting a search: a new run directory, or a stored run resumed.

`open_run` checks everything a user can get wrong before a new run directory is created
(seed programs, task, cache path), so a bad input leaves nothing behind. On resume the
stored config is the run's identity: only how long and how wide (`budget`,
`max_candidates`, `workers`) and where evaluations run (`[executor]`) may change.

The run directory has one owner (`symopt.search.storage.runlock.run_lock`), held from before the
store is created or opened until `OpenedRun.close`. A new run whose seeds no enabled
mutation operator can change is refused before it exists.

>>> import tempfile
>>> from symopt.search.config.loading import SearchConfig
>>> run = open_run(SearchConfig(), tempfile.mkdtemp() + "/r", seeds=["sgd"], resume=False)
>>> [len(p.body) for p in run.seed_programs], run.store.seeds[0][0]
([1], 'sgd')
>>> run.close()
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from symopt import programs
from symopt.errors import UserError
from symopt.files import output_dir
from symopt.lang import Program, parse, parse_file, to_text
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.mutation import Mutator
from symopt.search.execution.executor import check_reachable
from symopt.search.storage.cache import EquivalenceCache, task_namespace
from symopt.search.storage.environment import environment
from symopt.search.storage.runlock import run_lock
from symopt.search.storage.store import STORE_NAME, RunStore


@dataclass
class OpenedRun:
    """A run ready to go: its store, its (effective) config, its cache and seed programs."""

    store: RunStore
    config: SearchConfig
    cache: EquivalenceCache
    seed_programs: list[Program]
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def open_run(config: SearchConfig, run_dir: str | os.PathLike, *,
             seeds: Sequence[Program | str | os.PathLike] | None, resume: bool,
             check_task: bool = True) -> OpenedRun:
    """Create the run in `run_dir` from `seeds` (`Program`s, paths or built-in names), or
    reopen it.

    `check_task=False` skips building the task on resume (a stand-in fitness needs none).
    """
    run_dir = Path(run_dir)
    closers: list[Callable[[], None]] = []
    try:
        cache = None
        if resume:
            if (run_dir / STORE_NAME).is_file():  # else `open` says there is no run here
                _hold(run_dir, closers)
            store = RunStore.open(run_dir)
            closers.append(store.close)
            config = _resumed_config(store, config, run_dir)
            seed_items = store.seeds
            if not seed_items:
                raise UserError(f"{run_dir}/run.sqlite: the stored run has no seed programs")
            if check_task:
                _build_task(config)
        else:
            if not seeds:
                raise UserError("a new search needs at least one --seed program")
            output_dir(run_dir, "--out")  # before any work, and before anything is written
            seed_items = [_seed_item(seed) for seed in seeds]
            mutator = Mutator(config.mutation)
            for path, text in seed_items:
                mutator.check_can_mutate(parse(text, path), f"the seed {path}")
            _build_task(config)
            if config.cache.path:  # a bad cache path must fail before the run exists
                cache = _open_cache(config, run_dir, closers)
            check_reachable(config.executor)  # so must an unreachable Ray cluster
            _hold(run_dir, closers)
            store = RunStore.create(run_dir, config.to_dict(), seed_items)
            closers.append(store.close)
            store.set_meta("environment", json.dumps(environment()))
        if cache is None:
            cache = _open_cache(config, run_dir, closers)
        # stored seeds are named by the store they come from
        where = (lambda path: f"{store.path} (seed {path})") if resume else str
        seed_programs = [parse(text, where(path)) for path, text in seed_items]
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    return OpenedRun(store, config, cache, seed_programs, closers)


def _seed_item(seed: Program | str | os.PathLike) -> tuple[str, str]:
    """(where it came from, program text) of a seed: a `Program`, a path or a built-in name."""
    if isinstance(seed, Program):
        return f"<{seed.name} program>", to_text(seed)
    return str(seed), to_text(parse_file(programs.resolve(seed)))


def _hold(run_dir: Path, closers: list[Callable[[], None]]) -> None:
    """Own `run_dir` until the run is closed (`RunLockedError` if another process does)."""
    lock = run_lock(run_dir)
    lock.__enter__()

    def release() -> None:
        lock.__exit__(None, None, None)

    closers.append(release)


def _resumed_config(store: RunStore, config: SearchConfig, run_dir: Path) -> SearchConfig:
    stored = SearchConfig.from_dict(store.config, source=f"{run_dir}/run.sqlite")
    # Only how long and how wide, and where evaluations run (`--executor`, `--address`),
    # may change on resume; the rest is the run's identity.
    config = dataclasses.replace(
        stored.with_search(budget=config.search.budget,
                           max_candidates=config.search.max_candidates,
                           workers=config.search.workers),
        executor=config.executor)
    steps = config.search.budget_unit == "steps"
    done = sum(r.steps if steps else not r.cache_hit for r in store.candidates())
    # a search in steps may end up to one training job past its budget: resuming it with
    # the same budget finds it done, only a lower one is refused
    if config.search.budget < done and (not steps
                                        or config.search.budget < stored.search.budget):
        raise UserError(f"--budget {config.search.budget} is below the {done} training "
                        f"{'steps' if steps else 'runs'} {run_dir} has already done")
    store.set_meta("config", config.to_json())
    return config


def _build_task(config: SearchConfig) -> None:
    from symopt.tasks import get_task  # JAX: only when a task is really needed

    get_task(config.task.name, **config.task.overrides)  # unknown task/field → UserError now


def _open_cache(config: SearchConfig, run_dir: Path,
                closers: list[Callable[[], None]]) -> EquivalenceCache:
    cache_path = config.cache.path or str(run_dir / "cache.sqlite")
    cache = EquivalenceCache(cache_path, task_namespace(config.task.spec()))
    closers.append(cache.close)
    return cache
