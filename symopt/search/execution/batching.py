"""Population-parallel training in a search: up to `batch` candidates trained together.

`BatchingExecutor` wraps an executor whose jobs run `evaluate_batch_text`: it collects
the jobs the search submits and sends up to `batch` of them as one job (one compiled
call trains them all, `symopt.tasks.batch`), then hands each candidate its own outcome.
The search keeps up to ``workers x batch`` candidates in flight and stays steady-state:
when a group finishes, its places are refilled at once. A group smaller than `batch`
goes out `WAIT_S` seconds after its first candidate came (or at `flush()`), so nothing
ever waits on a group that cannot fill (the end of the budget, the funnel). A group
that times out or whose worker dies gives that outcome to each of its candidates.
A candidate whose outcome is transient (a timeout, a dead worker) is trained once more,
in a group of the group's transient candidates, as a single job is (`ProcessExecutor`):
never a second time, and the search never caches it.

>>> from symopt.search.execution.executor import EvalJob, InlineExecutor
>>> def sizes(texts, spec):
...     return [EvalOutcome(float(len(t)), "ok") for t in texts]
>>> ex = BatchingExecutor(InlineExecutor(sizes), batch=2)
>>> futures = [ex.submit(EvalJob(t, {"name": "q"})) for t in ("a", "bb", "ccc")]
>>> futures[0].done(), futures[2].done()  # the first group went at once; c waits a moment
(True, False)
>>> [ex.outcome(f).fitness for f in futures]  # c's group of one went after WAIT_S
[1.0, 2.0, 3.0]
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import json
import os
import threading
from pathlib import Path

from symopt.search.config.loading import SearchConfig
from symopt.search.execution.executor import (
    RETRIED,
    EvalFn,
    EvalJob,
    EvalOutcome,
    Executor,
    evaluate_batch_text,
    evaluate_text,
    make_executor,
    mark_retried,
)


def search_executor(config: SearchConfig, run_dir: str | os.PathLike[str],
                    evaluate_fn: EvalFn | None = None) -> Executor:
    """The executor a search runs on: `make_executor` for the config's `[executor]` and
    workers (`evaluate_fn` replaces training, tests), grouped by `[search] batch`."""
    workers, batch = config.search.workers, config.search.batch
    if batch > 1 and evaluate_fn is None:
        inner = make_executor(config.executor, workers, evaluate_batch_text,
                              run_dir=Path(run_dir))
        return BatchingExecutor(inner, batch)
    return make_executor(config.executor, workers, evaluate_fn or evaluate_text,
                         run_dir=Path(run_dir))


#: A job waiting for its group, and the future its outcome goes to.
_Waiting = tuple[EvalJob, cf.Future]


def _one_text(job: EvalJob) -> str:
    if not isinstance(job.program_text, str):
        raise TypeError("BatchingExecutor takes jobs of one program each")
    return job.program_text


#: Seconds a group smaller than `batch` waits for more candidates (a search prepares a
#: child in well under a millisecond, so a group normally fills at once).
WAIT_S = 0.05


class BatchingExecutor:
    """Groups jobs by up to `batch` into jobs of `inner` (see the module docstring)."""

    def __init__(self, inner: Executor, batch: int):
        self.inner, self.batch = inner, batch
        self.workers = inner.workers * batch
        self._pending: list[_Waiting] = []
        self._lock = threading.Lock()

    def submit(self, job: EvalJob) -> cf.Future:
        future: cf.Future = cf.Future()
        with self._lock:
            self._pending.append((job, future))
            full = len(self._pending) >= self.batch
            first = len(self._pending) == 1
        if full:
            self.flush()
        elif first:
            timer = threading.Timer(WAIT_S, self.flush)
            timer.daemon = True
            timer.start()
        return future

    def flush(self) -> None:
        """Send the candidates waiting for a group now, as one (smaller) group."""
        with self._lock:
            group, self._pending = self._pending, []
        # jobs with different specs apart the hurdles (a learning-rate probe's multipliers)
        # train in different groups
        by_spec: dict[str, list[_Waiting]] = {}
        for job, future in group:
            spec = {k: v for k, v in job.task_spec.items() if k != "hurdles"}
            by_spec.setdefault(json.dumps(spec, sort_keys=True), []).append((job, future))
        for part in by_spec.values():
            self._send(part)

    def _send(self, part: list[_Waiting], firsts: list[EvalOutcome] | None = None) -> None:
        spec = {k: v for k, v in part[0][0].task_spec.items() if k != "hurdles"}
        spec["batch_hurdles"] = [job.task_spec.get("hurdles", []) for job, _ in part]
        texts = tuple(_one_text(job) for job, _ in part)
        inner_future = self.inner.submit(EvalJob(texts, spec))
        inner_future.add_done_callback(
            functools.partial(self._hand_out, group=part, firsts=firsts))

    def _hand_out(self, inner_future: cf.Future, group: list[_Waiting],
                  firsts: list[EvalOutcome] | None = None) -> None:
        out = self.inner.outcome(inner_future)
        outcomes = out if isinstance(out, list) and len(out) == len(group) else [out] * len(
            group)  # a timeout, a dead worker: each candidate of the group gets it
        if firsts is not None:  # the retry: it says what came before, and is final
            outcomes = [mark_retried(o, first) for o, first in zip(outcomes, firsts,
                                                                    strict=True)]
        again = [k for k, o in enumerate(outcomes) if firsts is None and o.transient
                 and RETRIED not in o.message]  # (the inner executor may have retried)
        if again:
            try:
                self._send([group[k] for k in again], [outcomes[k] for k in again])
            except Exception:  # noqa: BLE001 - shut down meanwhile: the first outcome stays
                again = []
        for k, ((_, future), outcome) in enumerate(zip(group, outcomes, strict=True)):
            if k not in again:
                future.set_result(outcome)

    def outcome(self, future: cf.Future) -> EvalOutcome:
        return future.result()

    def shutdown(self, cancel: bool = False) -> None:
        with self._lock:
            group, self._pending = self._pending, []
        for _, future in group:
            future.cancel()
        self.inner.shutdown(cancel)

    def status(self) -> str:
        inner = getattr(self.inner, "status", None)
        return f"{inner() if callable(inner) else ''}, groups of up to {self.batch}"
