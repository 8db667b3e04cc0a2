"""Training runs in flight: candidates go to the executor, their twins wait for them.

A candidate that misses the cache is trained, unless a program with the same canonical
hash or fingerprint is training right now: then it waits for that run's result (its
*twin*) instead of training the same program twice. `Dispatcher.finished` hands back each
finished run with the twins that waited for it.

>>> from symopt.lang import parse
>>> from symopt.search.execution.executor import EvalOutcome, InlineExecutor
>>> from symopt.search.storage.schema import CandidateRecord
>>> d = Dispatcher(InlineExecutor(lambda text, spec: EvalOutcome(2.0, "ok")), {"name": "t"})
>>> p = parse("def train(w, g, lr):\\n    u = g * lr\\n    return u")
>>> a = CandidateRecord(program_text="a", hash="h1")
>>> b = CandidateRecord(program_text="b", hash="h1")
>>> d.submit(a, p), d.submit(b, p), len(d)
(True, False, 1)
>>> [(done.record is a, done.outcome.fitness, [t.record is b for t in done.twins])
...  for done in d.finished(timeout=0)]
[(True, 2.0, [True])]
"""

from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass, field
from typing import Any

from symopt.lang import Program
from symopt.search.execution.executor import EvalJob, EvalOutcome, Executor
from symopt.search.storage.outputs import remove_dead_text
from symopt.search.storage.schema import CandidateRecord


@dataclass
class Waiting:
    """A candidate and its program, until it has a fitness and is stored."""

    record: CandidateRecord
    program: Program


@dataclass
class Finished:
    """A finished training run: the candidate, its outcome, and the twins that waited."""

    record: CandidateRecord
    program: Program
    outcome: EvalOutcome
    twins: list[Waiting] = field(default_factory=list)


class Dispatcher:
    """Submits candidates to `executor` as `EvalJob`s of `task_spec`; tracks twins."""

    def __init__(self, executor: Executor, task_spec: dict[str, Any]):
        self.executor = executor
        self.task_spec = task_spec
        self._in_flight: dict[cf.Future, Waiting] = {}
        self._twins: dict[str, list[Waiting]] = {}  # hash/fingerprint → waiting

    def __len__(self) -> int:
        """The number of training runs in flight."""
        return len(self._in_flight)

    def is_training(self, key: str) -> bool:
        """Whether a program with this hash or fingerprint is training now."""
        return key in self._twins

    def submit(self, rec: CandidateRecord, program: Program,
               extra_spec: dict[str, Any] | None = None) -> bool:
        """Train `program` (True), or queue it behind its twin in flight (False).
        `extra_spec` is added to this run's task spec (its hurdles)."""
        for key in (rec.hash, rec.fingerprint):
            if key and key in self._twins:  # its twin is training now: wait for its result
                self._twins[key].append(Waiting(rec, program))
                return False
        for key in (rec.hash, rec.fingerprint):
            if key:
                self._twins[key] = []
        job = EvalJob(remove_dead_text(program), {**self.task_spec, **(extra_spec or {})})
        self._in_flight[self.executor.submit(job)] = Waiting(rec, program)
        return True

    def finished(self, timeout: float | None) -> list[Finished]:
        """The runs that finish within `timeout` seconds (all in flight when None), in the
        order the candidates were generated."""
        done: set[cf.Future] | list[cf.Future]
        if timeout is None:
            done = list(self._in_flight)
        else:
            done, _ = cf.wait(list(self._in_flight), timeout=timeout,
                              return_when=cf.FIRST_COMPLETED)
        out = []
        for future in sorted(done, key=lambda f: self._in_flight[f].record.gen_index):
            w = self._in_flight.pop(future)
            out.append(Finished(w.record, w.program, self.executor.outcome(future),
                                self._pop_twins(w.record)))
        return out

    def _pop_twins(self, rec: CandidateRecord) -> list[Waiting]:
        twins = []
        for key in (rec.hash, rec.fingerprint):
            twins.extend(self._twins.pop(key, []) if key else [])
        return twins

    def shutdown(self) -> None:
        self.executor.shutdown(cancel=True)
