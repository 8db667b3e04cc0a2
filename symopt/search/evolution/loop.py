"""`run_search`: regularized evolution with an equivalence cache, a durable store and
an executor, steady state (up to `workers` training runs in flight).

The life of a child (docs/architecture.md): tournament → mutate → type check → drop dead
code → canonical hash → (on a miss) fingerprint → cache lookup. A hit (in the cache, or
the twin of a program already in flight) takes the stored fitness, no training; a miss
is trained by the executor. Every candidate is committed to `run.sqlite` as soon as it
has a fitness, so a killed search loses only what was in flight.

The pieces around the loop have their own modules: `start` (a new or resumed run),
`prepare` (a program to a record: hash, fingerprint, cache lookup), `dispatch` (the
executor and in-flight twins), `state` (every stored candidate: counters, best,
population, restarts; the same state rebuilt from the store on resume), `budget` (what
may still be sent to train), `outputs` (`best.prog`, `hall_of_fame.csv`).

Warm start: each seed program is evaluated, then the population is P copies of the
seeds (round-robin), as in the paper. Budget (seeds included): training runs, or with
`[search] budget_unit = "steps"` the training steps actually taken; a search stops
within one training job of it (`symopt.search.evolution.budget`).

Fairness to structure: with `[search] lr_probe`, a child whose structure differs from
its parent's is trained at several learning-rate scales and stored with the best one
folded into its program (`symopt.search.evolution.lr_probe`); operator weights follow
the credit of their children (`symopt.search.evolution.operators`, `[mutation] adapt`),
stored in the `operators` table.

Early stops: each trained candidate's validation curves go into the store's `curves`
table; with `[hurdles]`, a child's run gets thresholds at the hurdle steps from the
curves of the population (or the seed's), `symopt.search.evolution.hurdles`. Seeds never get
hurdles. The summary reports the training time early stops saved.

The seed must train: when every seed's evaluation fails (after the executor's retry of
a transient failure), the search stops at once, before any child, with `seed_failed`
naming the cause (`seed_failure`); `symopt search` exits 3 with it.

Stopping: `stop_requested()` (e.g. set by a Ctrl-C handler) makes the search stop
generating, collect what is in flight, write its outputs and return with
`interrupted=True`.

Guaranteed progress: `[search] stall_after` mutations in a row without a new valid child
(each already bounded by `[mutation] max_tries`) mean the search is stuck: it restarts
from the seeds (`on_stall = "restart"`), and if it is stuck again before any new child,
or with `on_stall = "stop"`, it stops like an interrupt, with `stalled=True` and the
reason in `stats.stop_reason`. A new run whose seeds no mutation operator can change is
refused up front (`UserError` naming the `[mutation]` keys).

>>> import tempfile
>>> from symopt.search.config.loading import SearchConfig
>>> cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 6}})
>>> res = run_search(cfg, tempfile.mkdtemp(), seeds=["sgd"],
...                  evaluate_fn=statement_count_fitness)
>>> res.stats.evaluations, res.best.fitness <= res.stats.seed_fitness
(6, True)
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from symopt.analysis import fingerprint
from symopt.lang import Program, is_valid, parse, remove_dead
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.budget import StepBudget
from symopt.search.evolution.hurdles import HurdleKeeper
from symopt.search.evolution.lr_probe import apply_probe, structure_key, with_scale_statement
from symopt.search.evolution.operators import OperatorCredit
from symopt.search.evolution.population import child_rng
from symopt.search.evolution.prepare import Preparer
from symopt.search.evolution.progress import NoProgress, SearchStats
from symopt.search.evolution.proposals import Proposer
from symopt.search.evolution.start import open_run
from symopt.search.evolution.state import SearchState
from symopt.search.execution.batching import search_executor
from symopt.search.execution.dispatch import Dispatcher, Finished
from symopt.search.execution.executor import EvalOutcome, Executor
from symopt.search.funnel import FunnelResult, run_funnel
from symopt.search.storage.outputs import one_line, remove_dead_text
from symopt.search.storage.schema import CandidateRecord

__all__ = ["SearchResult", "one_line", "remove_dead_text", "run_search",
           "statement_count_fitness"]


@dataclass
class SearchResult:
    """How a search ended: the best candidate, the counters, whether it was interrupted,
    whether it stopped because mutation could make no new valid child (`stalled`; the
    reason is `stats.stop_reason`)."""

    run_dir: Path
    best: CandidateRecord | None
    stats: SearchStats
    interrupted: bool
    funnel: FunnelResult | None = None
    stalled: bool = False
    seed_failed: str = ""  # why no seed trained (then the search stopped at once)


def statement_count_fitness(program_text: str, task_spec: dict) -> EvalOutcome:
    """A stand-in fitness for tests and docs: the number of live statements (no training)."""
    p = remove_dead(parse(program_text))
    return EvalOutcome(float(len(p.body)), "ok")


def run_search(config: SearchConfig, run_dir: str | os.PathLike, *,
               seeds: Sequence[Program | str | os.PathLike] | None = None,
               resume: bool = False, executor: Executor | None = None,
               evaluate_fn: Callable[[str, dict], EvalOutcome] | None = None,
               progress=None, stop_requested: Callable[[], bool] = lambda: False,
               run_funnel_after: bool = True, funnel_log: Callable[[str], None] = lambda s: None,
               from_good_snapshot: bool = False) -> SearchResult:
    """Run (or, with `resume=True`, continue) a search in `run_dir`; see the module doc.

    `seeds` are `.prog` paths or built-in program names (new runs only).
    `evaluate_fn(program_text, task_spec)` replaces training (tests); `executor` replaces
    the default (`make_executor`). When the config has `[[funnel]]` stages and the search
    was not interrupted, the funnel runs next (`symopt.search.funnel`; skip it with
    `run_funnel_after=False`), its result in `SearchResult.funnel` and `best.prog`.
    `from_good_snapshot` resumes from the last good population snapshot when the latest
    is corrupt (`RunStore.population`); otherwise a corrupt store is a `CorruptStoreError`.
    """
    opened = open_run(config, run_dir, seeds=seeds, resume=resume,
                      check_task=evaluate_fn is None)
    try:
        cfg = opened.config
        executor = executor or search_executor(cfg, run_dir, evaluate_fn)
        opened.closers.append(lambda: executor.shutdown(cancel=True))
        spec = {**cfg.task.spec(), "engine": cfg.task.engine}
        search = _Search(opened, Path(run_dir), Dispatcher(executor, spec),
                         progress or NoProgress(), stop_requested,
                         hurdles=evaluate_fn is None)
        search.from_good_snapshot = from_good_snapshot
        result = search.run()
        if cfg.funnel and run_funnel_after and not (result.interrupted or result.stalled
                                                    or result.seed_failed):
            result.funnel = run_funnel(run_dir, executor=executor, log=funnel_log,
                                       stop_requested=stop_requested)
            result.interrupted = result.funnel.interrupted
        return result
    finally:
        opened.close()


class _Search:
    """One search session: the loop that makes children and trains them; what is stored
    is followed by `self.state` (`symopt.search.evolution.state`)."""

    def __init__(self, opened, run_dir: Path, dispatcher: Dispatcher, progress,
                 stop_requested: Callable[[], bool], hurdles: bool = True):
        self.store, self.cache, self.config = opened.store, opened.cache, opened.config
        self.seed_programs = opened.seed_programs
        self.dispatcher = dispatcher
        self.progress = progress
        self.stop_requested = stop_requested
        cfg = self.config
        self.propose = Proposer(cfg.search.method, cfg.mutation, self.seed_programs[0])
        self.prepare = Preparer(self.cache, fingerprint if cfg.cache.fingerprint else None,
                                dispatcher.is_training)
        task = None
        if hurdles:  # only with real training: a stand-in has no curves nor steps
            from symopt.tasks import get_task

            task = get_task(cfg.task.name, **cfg.task.overrides)
        self.budget = StepBudget(cfg, 0 if task is None else task.steps, len(
            cfg.task.lr_multipliers or (task.lr_multipliers if task else ())))
        self.state = SearchState(self.store, cfg, run_dir, OperatorCredit(self.propose.config),
                                 HurdleKeeper(cfg.hurdles, task if cfg.hurdles.at else None))
        self.stats, self.population = self.state.stats, self.state.population
        self.session, self.session_noted = 0, time.monotonic()
        self.invalid_children = self.invalid_tries = 0  # mutations that gave no child
        self.from_good_snapshot = False
        self.failed_in_a_row, self.restarted_when_stuck, self.stalled = 0, False, False

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> SearchResult:
        state = self.state
        state.load(self.from_good_snapshot)
        if not self.store.operator_stats():  # the configured weights, before any child
            state.record_operators(0)
        self.session = self.store.begin_session()
        with self.progress as progress:
            self.progress = progress
            self._warm_start()
            next_index = state.next_index
            seed_failed = self._seed_failed()
            stopped = bool(seed_failed)
            while True:
                stopped = stopped or self.stop_requested() or self.stalled
                while not stopped and self.budget.room(self.stats, len(self.dispatcher)):
                    self._child(next_index)
                    next_index += 1
                    stopped = self.stop_requested() or self.stalled
                if not len(self.dispatcher):
                    break
                for done in self.dispatcher.finished(timeout=0.5):
                    self._trained(done)
                self.stats.workers = _executor_status(self.dispatcher.executor)
                self.progress.update(self.stats)
                self._record_session()
            self.progress.update(self.stats, force=True)
        state.write_outputs()
        state.record_operators()
        self._record_session(end=f"stopped: {seed_failed}" if seed_failed else (
            "stuck: no new valid child" if self.stalled else
            "interrupted" if stopped else
            "budget reached" if self.stats.spent >= self.config.search.budget
            else "candidate limit reached"))
        return SearchResult(state.run_dir, state.best, self.stats,
                            interrupted=stopped and not (self.stalled or seed_failed),
                            stalled=self.stalled, seed_failed=seed_failed)

    def _seed_failed(self) -> str:
        """Why no seed trained ("" when one did): then the search cannot compare anything."""
        seeds = [self.store.get(i) for i in self.state.seed_ids]
        if not seeds or any(math.isfinite(r.fitness) for r in seeds):
            return ""
        why = seed_failure(seeds[0], self.config.task.time_limit_s)
        self.stats.stop_reason = why
        return why

    def _record_session(self, end: str | None = None) -> None:
        """Store this session's wall time and mutation failures (at most every 5 s)."""
        now = time.monotonic()
        if end is None and now - self.session_noted < 5.0:
            return
        self.session_noted = now
        self.store.update_session(self.session, invalid_children=self.invalid_children,
                                  invalid_tries=self.invalid_tries, end_reason=end)

    def _child(self, index: int) -> None:
        """The life of one candidate, up to training (`_trained` takes it from there)."""
        start = time.perf_counter()
        rng = child_rng(self.config.search.random_seed, index)
        self.propose.mutator.set_weights(self.state.operators.weights())
        parent, mutation = self.propose(rng, self.population)      # tournament + mutate
        if mutation.operator == "none" or not is_valid(mutation.program):
            self.stats.record_invalid(mutation.tries)
            self.invalid_children += 1
            self.invalid_tries += mutation.tries
            self._no_child(mutation.tries)
            return
        self.failed_in_a_row, self.restarted_when_stuck = 0, False
        rec = self.prepare(mutation.program, gen_index=index,       # prepare + cache lookup
                           operator=mutation.operator, description=mutation.description,
                           parent_id=None if parent is None else parent.id,
                           tries=mutation.tries, start=start)
        if rec.cache_hit:
            self.state.add(rec, mutation.program)                   # cached: store now
            return
        spec = self._hurdles()
        if self.config.search.lr_probe and parent is not None and (
                structure_key(parent.payload) != structure_key(mutation.program)):
            self.budget.probe(spec)
        if self.dispatcher.submit(rec, mutation.program, spec):    # train (or wait for twin)
            self.budget.sent(index, spec)

    def _no_child(self, tries: int) -> None:
        """Count a mutation without a new valid child; act when `stall_after` are in a row."""
        s = self.config.search
        self.failed_in_a_row += 1
        if self.failed_in_a_row < s.stall_after:
            return
        why = (f"{self.failed_in_a_row} mutations in a row gave no new valid child "
               f"({tries} tries each, [mutation] max_tries)")
        if s.on_stall == "restart" and not self.restarted_when_stuck:
            self.state.reset_population(self.state.seed_ids, f"restart from seed: stuck, {why}")
            self.stats.restarts += 1
            self.state.since_improvement = 0
            self.failed_in_a_row, self.restarted_when_stuck = 0, True
            return
        self.stalled = True
        self.stats.stop_reason = (
            f"stuck: {why}" + (" even right after a restart from the seeds"
                               if self.restarted_when_stuck else "")
            + "; everything is stored. Allow more operators or statements in [mutation] "
              "(e.g. delete, modify_arg, a larger max_statements) or seed with another "
              "program")

    def _trained(self, done: Finished) -> None:
        """A training run finished: cache its fitness, store it and the twins that waited."""
        rec, outcome, program = done.record, done.outcome, done.program
        probed = self.budget.done(rec.gen_index)
        rec.fitness, rec.status, rec.message = outcome.fitness, outcome.status, outcome.message
        rec.eval_seconds, rec.node_id = outcome.seconds, outcome.node
        rec.steps = outcome.steps
        if probed and not outcome.transient:
            program = apply_probe(rec, program, outcome, self.prepare)
        self.stats.record_training(outcome.status, outcome.steps, outcome.planned_steps,
                                   outcome.run_seconds)
        if outcome.transient:  # a timeout, a dead worker: the machine's, not the program's
            self.stats.transient += 1
        else:
            self.cache.put(rec.hash, rec.fingerprint, outcome.fitness, outcome.status)
        self.state.add(rec, program)
        self.state.hurdles.trained(self.store, int(rec.id or 0), outcome.curves)
        for twin in done.twins:
            if outcome.transient:  # says nothing of the program: train the twin
                self.dispatcher.submit(twin.record, twin.program,
                                       {} if twin.record.operator == "seed" else self._hurdles())
                continue
            twin.record.fitness, twin.record.status = rec.fitness, rec.status
            twin.record.cache_hit = True
            twin.record.message = f"same program as candidate {rec.id}"
            if program is not done.program:  # the twin takes the probe's scale too
                twin.record.program_text, twin.record.hash = rec.program_text, rec.hash
                twin.record.fingerprint = rec.fingerprint
                twin.program = program
            self.state.add(twin.record, twin.program)

    def _hurdles(self) -> dict:
        return self.state.hurdles.for_child(self.state.seed_ids,
                                            [m.id for m in self.population])

    # -- warm start ----------------------------------------------------------------------
    def _warm_start(self) -> None:
        seed_ids = self.state.seed_ids
        for i, program in enumerate(self.seed_programs[len(seed_ids):], start=len(seed_ids)):
            if self.config.search.lr_probe:  # its learning-rate scale, a constant to tune
                program = with_scale_statement(program)
            rec = self.prepare(program, gen_index=-1 - i, operator="seed",
                               description=self.store.seeds[i][0])
            self._evaluate_now(rec)
            seed_ids.append(int(rec.id or 0))
            self.stats.seed_fitness = min(self.stats.seed_fitness, rec.fitness)
        if not len(self.population) or self.state.population_is_seed_only():
            self.state.reset_population(seed_ids, "warm start")

    def _evaluate_now(self, rec: CandidateRecord) -> None:
        program = parse(rec.program_text)
        if rec.cache_hit:
            self.state.add(rec, program)
            return
        self.dispatcher.submit(rec, program)
        for done in self.dispatcher.finished(timeout=None):
            self._trained(done)


def seed_failure(rec: CandidateRecord, time_limit_s: float | None) -> str:
    """The cause of a failed seed evaluation, with what to change.

    >>> seed_failure(CandidateRecord(program_text="", status="timeout", message="m"), 120)
    'the seed timed out at 120 s (m): raise [task] time_limit_s'
    """
    what = f"the seed{' ' + os.path.basename(rec.description) if rec.description else ''}"
    said = f" ({rec.message})" if rec.message else ""
    if rec.status == "timeout":
        limit = f" at {time_limit_s:g} s" if time_limit_s else ""
        return f"{what} timed out{limit}{said}: raise [task] time_limit_s"
    if rec.status in ("diverged", "hurdle"):
        return (f"{what} {rec.status}{said}: check its learning rate ([task] lr_multipliers) "
                "with `symopt eval`")
    return f"{what} failed: {rec.status}{said}: check it with `symopt eval`"


def _executor_status(executor: Executor) -> str:
    status = getattr(executor, "status", None)  # optional for executors passed in
    return status() if callable(status) else ""

