"""Executors: where training runs happen, behind one small interface.

An executor takes `EvalJob`s (a program *text* and a task spec, both plain data)
and returns `concurrent.futures.Future`s; `outcome(future)` turns a finished future
into an `EvalOutcome` and never raises, so a crashed worker costs one candidate,
not the search. The algorithm only sees this interface, so a Ray executor is one
more class (Ray object refs convert to futures with `ref.future()`).

- `InlineExecutor`: evaluates in this process, at submit time, in order; with it a
  search is reproducible candidate for candidate.
- `ProcessExecutor`: `workers` persistent `spawn`ed worker processes (JAX is not
  fork-safe; `symopt.isolation`), one job each at a time. Workers re-parse the
  program text (code is never pickled) and keep each task object, so a task's data are
  loaded once per worker. The clock of a job starts when the worker has imported what it
  needs, built the task and compiled the program's runner (`evaluate_text`; that part is
  bounded by the worker's `startup_s`), so a loaded machine slows a search down instead of
  turning every evaluation into a timeout. A job still training `time_limit_s` (times the
  number of seeds) later is killed: a `timeout`. A worker that dies (out of memory,
  `std::bad_alloc`, a crash) costs its job only: an `error` with `crashed=True`; a fresh
  worker takes its place.
- Transient outcomes (`Evaluation.transient`: a timeout, a dead worker) are the machine's,
  not the program's: the job is retried once (a killed or dead worker is replaced by a
  fresh process; a timeout the evaluation measured itself retries on the warm worker), and
  the search never caches them.
- `RayExecutor` (`symopt.search.execution.ray_executor`): a pool of warm Ray actors on this
  machine or a cluster; an evaluation whose worker died is retried.

`make_executor` picks one from the `[executor]` section of a search config; by default
it isolates real training (`evaluate_text`) in worker processes even with one worker, so
a candidate can never hang or take down the search.

>>> ex = InlineExecutor(evaluate_fn=_constant_fitness)
>>> out = ex.outcome(ex.submit(EvalJob("p", {"name": "t"})))
>>> out.fitness, out.status
(1.0, 'ok')
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import math
import queue
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from symopt import checks
from symopt.errors import UserError
from symopt.isolation import IsolatedWorker, untimed
from symopt.search.config.sections import ExecutorSection, parse_address
from symopt.tasks import get_task
from symopt.tasks.seeds import Evaluation, evaluate_seeds


@dataclass(frozen=True)
class EvalJob:
    """One training run to do: a program's text and the task spec (`TaskSection.spec`).
    A batch job (`evaluate_batch_text`, `BatchingExecutor`) carries a tuple of texts."""

    program_text: str | tuple[str, ...]
    task_spec: dict[str, Any]


#: What a training job gives back: the multi-seed `Evaluation` (fitness inf unless ok,
#: status, message, seconds, and `crashed` for failures of the executor, not the program).
EvalOutcome = Evaluation

#: A job's training: one program's text and the task spec to its outcome...
EvalFn = Callable[[str, dict[str, Any]], EvalOutcome]
#: ...or several programs' texts, trained together, to one outcome each.
BatchEvalFn = Callable[[tuple[str, ...], dict[str, Any]], list[EvalOutcome]]


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


def _task(task_spec: dict[str, Any]):
    """The spec's task, built once per process (its data loaded outside the time limit)."""
    key = json.dumps([task_spec["name"], task_spec.get("overrides", {})], sort_keys=True)
    task = _TASKS.get(key)
    if task is None:
        with untimed():  # in a worker: building the task is not the candidate's time
            task = _TASKS[key] = get_task(task_spec["name"], **task_spec.get("overrides", {}))
            task.data  # noqa: B018 - loads the data
    return task


def evaluate_text(program_text: str, task_spec: dict[str, Any]) -> EvalOutcome:
    """Train the task with the program given as text: `evaluate_seeds` over the spec's seeds
    (its rule: the first seed that fails fails the program).

    The spec may name the `engine` (default `symopt.checks.DEFAULT_ENGINE`) and carry
    `hurdles` (``[step, threshold]`` pairs, see `symopt.tasks.trial.Trial`) and `race_at`
    (a step where the learning-rate multipliers race, `symopt.tasks.train.evaluate`)."""
    from symopt.lang import parse
    from symopt.tasks.engine import ProgramOptimizer

    task = _task(task_spec)
    make_tx = ProgramOptimizer(parse(program_text), task_spec.get("engine", checks.DEFAULT_ENGINE))
    _compile_untimed(make_tx, task)
    return evaluate_seeds(make_tx, task, seeds=task_spec.get("seeds", [0]),
                          lr_multipliers=task_spec.get("lr_multipliers"),
                          time_limit_s=task_spec.get("time_limit_s"),
                          hurdles=[tuple(h) for h in task_spec.get("hurdles", ())],
                          race_at=task_spec.get("race_at")).verdict()


def _compile_untimed(make_tx: Any, task: Any) -> None:
    """Compile the runner that will train `make_tx` before the job's clock starts (in a
    worker: against its `startup_s`). A failure is left for `evaluate` to report as the
    program's error."""
    from symopt.tasks.train import runner_and_args

    try:
        with untimed():
            runner, opt_args = runner_and_args(make_tx, task)
            if not runner.compiled:
                runner.compile(opt_args)
    except Exception:  # noqa: BLE001, S110 - `evaluate` meets it again and reports it
        pass


def evaluate_batch_text(program_texts: tuple[str, ...],
                        task_spec: dict[str, Any]) -> list[EvalOutcome]:
    """Train several programs together (`symopt.tasks.batch.evaluate_batch`): the spec's
    `batch_hurdles` are their hurdles. One outcome
    per program, by the multi-seed rule of `evaluate_text`."""
    from symopt.lang import parse
    from symopt.tasks.batch import evaluate_batch
    from symopt.tasks.engine import ProgramOptimizer
    from symopt.tasks.seeds import combine

    start = time.perf_counter()
    task = _task(task_spec)
    texts = list(program_texts)
    hurdles = [[tuple(h) for h in hs] for hs in task_spec.get("batch_hurdles", [[]] * len(texts))]
    per_program = evaluate_batch([ProgramOptimizer(parse(t), "interpreted") for t in texts], task,
                                 seeds=task_spec.get("seeds", [0]),
                                 lr_multipliers=task_spec.get("lr_multipliers"),
                                 hurdles=hurdles, time_limit_s=job_time_limit(task_spec),
                                 race_at=task_spec.get("race_at"))
    seconds = (time.perf_counter() - start) / max(1, len(texts))
    return [combine(results, seconds).verdict() for results in per_program]


def _constant_fitness(program_text: str, task_spec: dict[str, Any]) -> EvalOutcome:
    return EvalOutcome(1.0, "ok")


def _guarded(evaluate_fn: EvalFn | BatchEvalFn, job: EvalJob) -> Any:
    start = time.perf_counter()
    try:
        # the job's text(s) are of the kind its executor's function takes (one text, or
        # a batch's tuple from `BatchingExecutor`)
        return evaluate_fn(job.program_text, job.task_spec)  # type: ignore[arg-type]
    except Exception as err:  # noqa: BLE001 - any failure is this candidate's, not the search's
        return EvalOutcome(math.inf, "error", f"{type(err).__name__}: {err}",
                           time.perf_counter() - start)


class InlineExecutor:
    """Evaluates each job in this process when it is submitted (deterministic order)."""

    workers = 1

    def __init__(self, evaluate_fn: EvalFn | BatchEvalFn = evaluate_text):
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


#: Seconds per seed a job may train when the task sets no `time_limit_s`: no wait on a
#: worker is without a bound, even when the config gives none.
UNSET_TIME_LIMIT_S = 3600.0


def job_time_limit(task_spec: dict[str, Any]) -> float:
    """Seconds a job may train (after the worker's compile): the spec's `time_limit_s`
    (`UNSET_TIME_LIMIT_S` when it has none) per seed and per program of a batch.

    >>> job_time_limit({"time_limit_s": 2.0, "seeds": [0, 1, 2]})
    6.0
    >>> job_time_limit({"time_limit_s": 2.0, "batch_hurdles": [[], []]})
    4.0
    >>> job_time_limit({})
    3600.0
    """
    limit = task_spec.get("time_limit_s")
    members = len(task_spec.get("seeds", [0])) * len(task_spec.get("batch_hurdles", [[]]))
    return float(UNSET_TIME_LIMIT_S if limit is None else limit) * max(1, members)


class ProcessExecutor:
    """`workers` killable worker processes (see the module docstring); never fatal."""

    def __init__(self, workers: int,
                 evaluate_fn: EvalFn | BatchEvalFn = evaluate_text):
        self.workers = workers
        self._evaluate = evaluate_fn
        self._all = [IsolatedWorker() for _ in range(workers)]
        self._idle: queue.SimpleQueue[IsolatedWorker] = queue.SimpleQueue()
        for worker in self._all:
            self._idle.put(worker)
        self._threads = cf.ThreadPoolExecutor(workers, thread_name_prefix="symopt-eval")

    def submit(self, job: EvalJob) -> cf.Future:
        return self._threads.submit(self._run, self._evaluate, job)

    def _run(self, evaluate_fn: EvalFn | BatchEvalFn, job: EvalJob) -> EvalOutcome:
        first = self._attempt(evaluate_fn, job)
        if not _is_transient(first):
            return first
        again = self._attempt(evaluate_fn, job)  # once, on a fresh (or a warm) worker
        return _retried(again, first)

    def _attempt(self, evaluate_fn: EvalFn | BatchEvalFn, job: EvalJob) -> Any:
        worker = self._idle.get()
        try:
            out = worker.call(_guarded, (evaluate_fn, job), limit_s=job_time_limit(job.task_spec))
        finally:
            self._idle.put(worker)
        if out.kind == "ok":
            return out.value
        if out.kind == "timeout":
            return EvalOutcome(math.inf, "timeout", out.message, out.seconds)
        return EvalOutcome(math.inf, "error", f"worker crashed: {out.message}", out.seconds,
                           crashed=True)

    def outcome(self, future: cf.Future) -> EvalOutcome:
        try:
            return future.result()
        except cf.CancelledError:
            return EvalOutcome(math.inf, "error", "cancelled", crashed=True)
        except Exception as err:  # noqa: BLE001 - a bug here must not end the search
            return EvalOutcome(math.inf, "error", f"{type(err).__name__}: {err}", crashed=True)

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:  # busy workers are killed; their jobs end as "died"
            for worker in self._all:
                worker.close()
        self._threads.shutdown(wait=not cancel, cancel_futures=cancel)
        for worker in self._all:
            worker.close()

    def status(self) -> str:
        return f"{self.workers} local processes"


def _is_transient(out: Any) -> bool:
    """A transient outcome of the whole job (a batch's members that time out on their own
    clock are retried by `symopt.search.execution.batching.BatchingExecutor`)."""
    return isinstance(out, Evaluation) and out.transient


#: The mark of an outcome retried once after a transient failure (`mark_retried`).
RETRIED = "retried once after a transient failure"


def _retried(again: Any, first: EvalOutcome) -> Any:
    """The retry's outcome(s), saying that a transient failure came before."""
    if isinstance(again, list):
        return [mark_retried(o, first) for o in again]
    return mark_retried(again, first)


def mark_retried(again: EvalOutcome, first: EvalOutcome) -> EvalOutcome:
    """The outcome of a retry, its message saying which transient failure came before.

    >>> mark_retried(EvalOutcome(1.0, "ok"), EvalOutcome(math.inf, "timeout", "at 2s")).message
    '(retried once after a transient failure: timeout: at 2s)'
    """
    note = f" ({RETRIED}: {first.status}: {first.message})"
    return dataclasses.replace(again, message=(again.message + note).strip())


def check_reachable(executor: ExecutorSection) -> None:
    """`UserError` naming `executor.address` if a Ray cluster's address does not answer
    (a quick TCP check, without starting Ray); nothing to check for other executors.

    >>> check_reachable(ExecutorSection(kind="ray", address="127.0.0.1:1"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symopt.errors.UserError: executor.address: cannot reach '127.0.0.1:1' (Connection ...
    """
    target = parse_address(executor.address) if executor.kind == "ray" else None
    if target is None:
        return
    host, port = target
    try:
        socket.create_connection((host, port), timeout=5.0).close()
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise UserError(f"executor.address: cannot reach {executor.address!r} ({why}); is the "
                        "cluster up (`ray start --head`)?") from None


def make_executor(executor: ExecutorSection | None = None, workers: int = 1,
                  evaluate_fn: EvalFn | BatchEvalFn = evaluate_text,
                  run_dir: str | Path | None = None) -> Executor:
    """The executor an `[executor]` section asks for, with `workers` evaluations in flight.

    Kind `"auto"` (the default) runs real training (`evaluate_text`) in killable worker
    processes (`ProcessExecutor`), even with one worker, and a custom `evaluate_fn` with one
    worker inline; `"ray"` connects to (or starts) Ray and may raise `UserError`
    naming `executor.address`. Ray keeps its logs under `run_dir/ray_logs`.

    >>> type(make_executor(workers=1, evaluate_fn=_constant_fitness)).__name__
    'InlineExecutor'
    >>> type(make_executor(workers=1)).__name__
    'ProcessExecutor'
    """
    if not isinstance(executor, ExecutorSection | None):
        raise TypeError(f"make_executor takes the [executor] section first, then workers; "
                        f"got {executor!r}")
    section = executor or ExecutorSection()
    kind = section.kind
    if kind == "auto":
        training = evaluate_fn in (evaluate_text, evaluate_batch_text)
        kind = "inline" if workers == 1 and not training else "process"
    if kind == "inline":
        return InlineExecutor(evaluate_fn)
    if kind == "process":
        return ProcessExecutor(workers, evaluate_fn)
    from symopt.search.execution.ray_executor import RayExecutor

    return RayExecutor(workers, section, evaluate_fn, run_dir=run_dir)
