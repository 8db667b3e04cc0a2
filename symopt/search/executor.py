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
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Protocol

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


def make_executor(workers: int,
                  evaluate_fn: Callable[[str, dict], EvalOutcome] = evaluate_text) -> Executor:
    """`InlineExecutor` for one worker, else a `ProcessExecutor`.

    >>> type(make_executor(1)).__name__
    'InlineExecutor'
    """
    return InlineExecutor(evaluate_fn) if workers == 1 else ProcessExecutor(workers, evaluate_fn)
