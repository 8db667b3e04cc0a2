"""Executors: where training runs happen, behind one small interface.

An executor takes `EvalJob`s (a program *text* and a task spec, both plain data)
and returns `concurrent.futures.Future`s; `outcome(future)` turns a finished future
into an `EvalOutcome` and never raises, so a crashed worker costs one candidate,
not the search. The algorithm only sees this interface, so a Ray executor is one
more class (Ray object refs convert to futures with `ref.future()`).

- `InlineExecutor`: evaluates in this process, at submit time, in order; with it a
  search is reproducible candidate for candidate.
- `ProcessExecutor`: a `ProcessPoolExecutor` of `spawn`ed workers (JAX is not
  fork-safe). Workers re-parse the program text (code is never pickled) and keep
  each task object, so a task's data are loaded once per worker.
- `RayExecutor` (`symopt.search.ray_executor`): a pool of warm Ray actors on this
  machine or a cluster; an evaluation whose worker died is retried.

`make_executor` picks one from the `[executor]` section of a search config.

>>> ex = InlineExecutor(evaluate_fn=_constant_fitness)
>>> out = ex.outcome(ex.submit(EvalJob("p", {"name": "t"})))
>>> out.fitness, out.status
(1.0, 'ok')
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import json
import math
import multiprocessing
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from symopt.errors import UserError
from symopt.search.config import ExecutorSection, parse_address
from symopt.tasks import get_task
from symopt.tasks.seeds import Evaluation, evaluate_seeds


@dataclass(frozen=True)
class EvalJob:
    """One training run to do: a program's text and the task spec (`TaskSection.spec`)."""

    program_text: str
    task_spec: dict[str, Any]


#: What a training job gives back: the multi-seed `Evaluation` (fitness inf unless ok,
#: status, message, seconds, and `crashed` for failures of the executor, not the program).
EvalOutcome = Evaluation


class Executor(Protocol):
    """The interface the search uses; see the module docstring."""

    workers: int

    def submit(self, job: EvalJob) -> cf.Future: ...

    def outcome(self, future: cf.Future) -> EvalOutcome: ...

    def shutdown(self, cancel: bool = False) -> None: ...

    def status(self) -> str:
        """A short line on the workers (for the progress display)."""
        ...


_TASKS: dict[str, Any] = {}


def evaluate_text(program_text: str, task_spec: dict[str, Any]) -> EvalOutcome:
    """Train the task with the program given as text: `evaluate_seeds` over the spec's seeds
    (its rule: the first seed that fails fails the program)."""
    from symopt.compile import to_optax
    from symopt.lang import parse

    key = json.dumps(task_spec, sort_keys=True)
    task = _TASKS.get(key)
    if task is None:
        task = _TASKS[key] = get_task(task_spec["name"], **task_spec.get("overrides", {}))
    make_tx = functools.partial(to_optax, parse(program_text))
    return evaluate_seeds(make_tx, task, seeds=task_spec.get("seeds", [0]),
                          lr_multipliers=task_spec.get("lr_multipliers"),
                          time_limit_s=task_spec.get("time_limit_s")).verdict()


def _constant_fitness(program_text: str, task_spec: dict[str, Any]) -> EvalOutcome:
    return EvalOutcome(1.0, "ok")


def _guarded(evaluate_fn: Callable, job: EvalJob) -> EvalOutcome:
    start = time.perf_counter()
    try:
        return evaluate_fn(job.program_text, job.task_spec)
    except Exception as err:  # noqa: BLE001 - any failure is this candidate's, not the search's
        return EvalOutcome(math.inf, "error", f"{type(err).__name__}: {err}",
                           time.perf_counter() - start)


class InlineExecutor:
    """Evaluates each job in this process when it is submitted (deterministic order)."""

    workers = 1

    def __init__(self, evaluate_fn: Callable[[str, dict], EvalOutcome] = evaluate_text):
        self._evaluate = evaluate_fn

    def submit(self, job: EvalJob) -> cf.Future:
        future: cf.Future = cf.Future()
        future.set_result(_guarded(self._evaluate, job))
        return future

    def outcome(self, future: cf.Future) -> EvalOutcome:
        return future.result()

    def shutdown(self, cancel: bool = False) -> None:
        pass

    def status(self) -> str:
        return "in this process"


def _init_worker() -> None:
    # Ctrl-C goes to the whole process group; the search decides what happens, not workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessExecutor:
    """A pool of `workers` spawned processes; a broken pool is replaced, never fatal."""

    def __init__(self, workers: int,
                 evaluate_fn: Callable[[str, dict], EvalOutcome] = evaluate_text):
        self.workers = workers
        self._evaluate = evaluate_fn
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_init_worker)

    def submit(self, job: EvalJob) -> cf.Future:
        try:
            return self._pool.submit(_guarded, self._evaluate, job)
        except BrokenProcessPool:
            self._restart()
            return self._pool.submit(_guarded, self._evaluate, job)

    def outcome(self, future: cf.Future) -> EvalOutcome:
        try:
            return future.result()
        except BrokenProcessPool as err:
            self._restart()
            return EvalOutcome(math.inf, "error", f"worker crashed: {err}", crashed=True)
        except cf.CancelledError:
            return EvalOutcome(math.inf, "error", "cancelled", crashed=True)
        except Exception as err:  # noqa: BLE001 - e.g. an unpicklable result
            return EvalOutcome(math.inf, "error", f"{type(err).__name__}: {err}", crashed=True)

    def _restart(self) -> None:
        if getattr(self._pool, "_broken", False):
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    def shutdown(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)

    def status(self) -> str:
        return f"{self.workers} local processes"


def check_reachable(executor: ExecutorSection) -> None:
    """`UserError` naming `[executor] address` if a Ray cluster's address does not answer
    (a quick TCP check, without starting Ray); nothing to check for other executors.

    >>> check_reachable(ExecutorSection(kind="ray", address="127.0.0.1:1"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: [executor] address: cannot reach '127.0.0.1:1' (Connection ...
    """
    target = parse_address(executor.address) if executor.kind == "ray" else None
    if target is None:
        return
    host, port = target
    try:
        socket.create_connection((host, port), timeout=5.0).close()
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise UserError(f"[executor] address: cannot reach {executor.address!r} ({why}); is the "
                        "cluster up (`ray start --head`)?") from None


def make_executor(executor: ExecutorSection | None = None, workers: int = 1,
                  evaluate_fn: Callable[[str, dict], EvalOutcome] = evaluate_text,
                  run_dir: str | Path | None = None) -> Executor:
    """The executor an `[executor]` section asks for, with `workers` evaluations in flight.

    Kind `"auto"` (the default) is an `InlineExecutor` for one worker, else a
    `ProcessExecutor`; `"ray"` connects to (or starts) Ray and may raise `UserError`
    naming `[executor] address`. Ray keeps its logs under `run_dir/ray_logs`.

    >>> type(make_executor()).__name__, type(make_executor(workers=1)).__name__
    ('InlineExecutor', 'InlineExecutor')
    """
    if not isinstance(executor, ExecutorSection | None):
        raise TypeError(f"make_executor takes the [executor] section first, then workers; "
                        f"got {executor!r}")
    section = executor or ExecutorSection()
    kind = section.kind
    if kind == "auto":
        kind = "inline" if workers == 1 else "process"
    if kind == "inline":
        return InlineExecutor(evaluate_fn)
    if kind == "process":
        return ProcessExecutor(workers, evaluate_fn)
    from symopt.search.ray_executor import RayExecutor

    return RayExecutor(workers, section, evaluate_fn, run_dir=run_dir)
