"""`run_search`: regularized evolution with an equivalence cache, a durable store and
an executor, steady state (up to `workers` training runs in flight).

The life of a child (DESIGN §3): tournament → mutate → type check → drop dead code →
canonical hash → (on a miss) fingerprint → cache lookup. A hit (in the cache, or the
twin of a program already in flight) takes the stored fitness, no training; a miss is
trained by the executor. Every candidate is committed to `run.sqlite` as soon as it
has a fitness, so a killed search loses only what was in flight.

Warm start: each seed program is evaluated, then the population is P copies of the
seeds (round-robin), as in the paper. Budget = training runs (seeds included).

Stopping: `stop_requested()` (e.g. set by a Ctrl-C handler) makes the search stop
generating, collect what is in flight, write its outputs and return with
`interrupted=True`.

>>> import tempfile
>>> from symopt.search.config import SearchConfig
>>> cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 6}})
>>> res = run_search(cfg, tempfile.mkdtemp(), seeds=["programs/sgd.prog"],
...                  evaluate_fn=statement_count_fitness)
>>> res.stats.evaluations, res.best.fitness <= res.stats.seed_fitness
(6, True)
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from symopt.analysis import (
    canonical_hash,
    fingerprint,
    redundant_fraction,
    remove_dead,
    simplify,
    to_nested_text,
)
from symopt.errors import SymoptError, UserError
from symopt.lang import Program, is_valid, parse, parse_file, to_text
from symopt.search.cache import EquivalenceCache, task_namespace
from symopt.search.config import SearchConfig
from symopt.search.evolution import AgingPopulation, Member, child_rng
from symopt.search.executor import EvalJob, EvalOutcome, Executor, evaluate_text, make_executor
from symopt.search.progress import NoProgress, SearchStats
from symopt.search.store import CandidateRecord, RunStore, hall_of_fame_csv, write_atomic


@dataclass
class SearchResult:
    """How a search ended: the best candidate, the counters, whether it was interrupted."""

    run_dir: Path
    best: CandidateRecord
    stats: SearchStats
    interrupted: bool


def statement_count_fitness(program_text: str, task_spec: dict) -> EvalOutcome:
    """A stand-in fitness for tests and docs: the number of live statements (no training)."""
    p = remove_dead(parse(program_text))
    return EvalOutcome(float(len(p.body)), "ok")


def run_search(config: SearchConfig, run_dir: str | Path, *, seeds: list[str] | None = None,
               resume: bool = False, executor: Executor | None = None,
               evaluate_fn: Callable[[str, dict], EvalOutcome] | None = None,
               progress=None, stop_requested: Callable[[], bool] = lambda: False
               ) -> SearchResult:
    """Run (or, with `resume=True`, continue) a search in `run_dir`; see the module doc.

    `seeds` are `.prog` paths (new runs only). `evaluate_fn(program_text, task_spec)`
    replaces training (tests); `executor` replaces the default (`make_executor`).
    """
    search = _Search(config, Path(run_dir), seeds, resume, executor, evaluate_fn,
                     progress or NoProgress(), stop_requested)
    try:
        return search.run()
    finally:
        search.close()


class _Search:
    def __init__(self, config, run_dir, seeds, resume, executor, evaluate_fn, progress,
                 stop_requested):
        from symopt.search.mutation import MutationConfig, Mutator
        from symopt.tasks import get_task

        self.run_dir = run_dir
        self.progress = progress
        self.stop_requested = stop_requested
        self._closers = []
        self.cache: EquivalenceCache | None = None
        if resume:
            self.store = RunStore.open(run_dir)
            stored = SearchConfig.from_dict(self.store.config, source=f"{run_dir}/run.sqlite")
            # Only how long and how wide may change on resume; the rest is the run's identity.
            config = stored.with_search(budget=config.search.budget,
                                        max_candidates=config.search.max_candidates,
                                        workers=config.search.workers)
            done = sum(1 for r in self.store.candidates() if not r.cache_hit)
            if config.search.budget < done:
                raise UserError(f"--budget {config.search.budget} is below the {done} training "
                                f"runs {run_dir} has already done")
            self.store.set_meta("config", config.to_json())
            seed_items = self.store.seeds
            if not seed_items:
                raise UserError(f"{run_dir}/run.sqlite: the stored run has no seed programs")
        else:
            if not seeds:
                raise UserError("a new search needs at least one --seed program")
            seed_items = [(str(p), to_text(parse_file(p))) for p in seeds]
            mutation_check = MutationConfig.from_dict(config.mutation)  # fail before creating
            del mutation_check
            get_task(config.task.name, **config.task.overrides)
            if config.cache.path:  # a bad cache path must fail before the run exists
                self._open_cache(config, run_dir)
            self.store = RunStore.create(run_dir, config.to_dict(), seed_items)
        self._closers.append(self.store.close)
        self.config = cfg = config
        self.seed_programs = [parse(text, path) for path, text in seed_items]
        self.mutator = Mutator(MutationConfig.from_dict(cfg.mutation))
        self.task_spec = cfg.task.spec()
        if evaluate_fn is None:
            get_task(cfg.task.name, **cfg.task.overrides)  # unknown task/field → UserError now
        if self.cache is None:
            self._open_cache(cfg, run_dir)
        self.executor = executor or make_executor(cfg.search.workers,
                                                  evaluate_fn or evaluate_text)
        self._closers.append(lambda: self.executor.shutdown(cancel=True))
        self.hash_fn, self.fingerprint_fn = canonical_hash, fingerprint
        if not cfg.cache.fingerprint:
            self.fingerprint_fn = None
        self.population = AgingPopulation(cfg.search.population, cfg.search.tournament)
        self.stats = SearchStats(budget=cfg.search.budget)
        self.programs: dict[int, Program] = {}
        self.in_flight: dict[cf.Future, CandidateRecord] = {}
        self.twins: dict[str, list[CandidateRecord]] = {}  # hash/fingerprint → waiting
        self.programs_waiting: dict[int, Program] = {}  # id(record) → program, until stored
        self.hof_threshold = math.inf
        self.since_improvement = 0
        self.best: CandidateRecord | None = None
        self.seed_ids: list[int] = []

    def _open_cache(self, cfg: SearchConfig, run_dir: Path) -> None:
        cache_path = cfg.cache.path or str(run_dir / "cache.sqlite")
        self.cache = EquivalenceCache(cache_path, task_namespace(cfg.task.spec()))
        self._closers.append(self.cache.close)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> SearchResult:
        s = self.config.search
        self._load_history()
        with self.progress as progress:
            self.progress = progress
            self._warm_start()
            next_index = self._next_gen_index()
            stopped = False
            while True:
                stopped = stopped or self.stop_requested()
                while (not stopped and len(self.in_flight) < s.workers
                       and self.stats.evaluations + len(self.in_flight) < s.budget
                       and self.stats.candidates + len(self.in_flight) < s.candidate_limit):
                    self._propose(next_index)
                    next_index += 1
                    stopped = self.stop_requested()
                if not self.in_flight:
                    break
                done, _ = cf.wait(list(self.in_flight), timeout=0.5,
                                  return_when=cf.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: self.in_flight[f].gen_index):
                    self._finish(self.in_flight.pop(future), self.executor.outcome(future))
                self.progress.update(self.stats)
            self.progress.update(self.stats, force=True)
        self._write_outputs()
        return SearchResult(self.run_dir, self.best, self.stats, interrupted=stopped)

    def _load_history(self) -> None:
        for rec in self.store.candidates():
            self._account(rec, session=False)
            if rec.operator == "seed":
                self.seed_ids.append(rec.id)
                self.stats.seed_fitness = min(self.stats.seed_fitness, rec.fitness)
        ids = self.store.population(self.config.search.population)
        self.population.reset([self._member(i) for i in ids])
        restarts = [after for after, reason in self.store.snapshots()
                    if reason.startswith("restart")]
        self.stats.restarts = len(restarts)
        if self.best is not None:
            last = max([self.best.id] + restarts)
            self.since_improvement = sum(1 for r in self.store.candidates()
                                         if r.id > last and r.operator != "seed")

    def _warm_start(self) -> None:
        for i, program in enumerate(self.seed_programs[len(self.seed_ids):],
                                    start=len(self.seed_ids)):
            rec = self._prepare(program, gen_index=-1 - i, operator="seed",
                                description=self.store.seeds[i][0])
            if rec is not None:
                self._evaluate_now(rec)
                self.seed_ids.append(rec.id)
                self.stats.seed_fitness = min(self.stats.seed_fitness, rec.fitness)
        if not len(self.population) or self.population_is_seed_only():
            self._reset_population(self.seed_ids, "warm start")

    def population_is_seed_only(self) -> bool:
        return all(m.id in self.seed_ids for m in self.population) and (
            len(self.population) < self.config.search.population)

    def _next_gen_index(self) -> int:
        return max([r.gen_index for r in self.store.candidates()] + [-1]) + 1

    def _reset_population(self, ids: list[int], reason: str) -> None:
        size = self.config.search.population
        members = [ids[k % len(ids)] for k in range(size)]
        self.store.add_snapshot(members, reason)
        self.population.reset([self._member(i) for i in members])

    def _member(self, candidate_id: int) -> Member:
        rec = self.store.get(candidate_id)
        if candidate_id not in self.programs:
            self.programs[candidate_id] = parse(rec.program_text)
        return Member(candidate_id, rec.fitness, self.programs[candidate_id])

    # -- one child -----------------------------------------------------------------------
    def _propose(self, index: int) -> None:
        start = time.perf_counter()
        rng = child_rng(self.config.search.seed, index)
        parent = self.population.select(rng)
        self.mutator.rng = rng
        mutation = self.mutator.mutate(parent.payload)
        if mutation.operator == "none" or not is_valid(mutation.program):
            self.stats.record_invalid(mutation.tries)
            return
        rec = self._prepare(mutation.program, gen_index=index, operator=mutation.operator,
                            description=mutation.description, parent_id=parent.id,
                            tries=mutation.tries, start=start)
        self._dispatch(rec, mutation.program)

    def _prepare(self, program: Program, *, gen_index: int, operator: str, description: str,
                 parent_id: int | None = None, tries: int = 0,
                 start: float | None = None) -> CandidateRecord:
        start = time.perf_counter() if start is None else start
        live = remove_dead(program)
        rec = CandidateRecord(
            program_text=to_text(program, header=False), gen_index=gen_index,
            parent_id=parent_id, operator=operator, description=description, tries=tries,
            hash=self.hash_fn(live), statements=len(program.body),
            live_statements=len(live.body), redundant_fraction=redundant_fraction(program))
        hit = self.cache.get("hash", rec.hash)
        if hit is None and self.fingerprint_fn is not None and rec.hash not in self.twins:
            rec.fingerprint = self._fingerprint(live)
            hit = self.cache.get("fingerprint", rec.fingerprint)
        if hit is not None:
            rec.fitness, rec.status, rec.cache_hit = hit.fitness, hit.status, True
        rec.prepare_seconds = time.perf_counter() - start
        return rec

    def _fingerprint(self, live: Program) -> str | None:
        try:
            return self.fingerprint_fn(live)
        except Exception:  # noqa: BLE001 - no fingerprint only means no algebraic match
            return None

    def _dispatch(self, rec: CandidateRecord, program: Program) -> None:
        if rec.cache_hit:
            self._store(rec, program)
            return
        for key in (rec.hash, rec.fingerprint):
            if key and key in self.twins:  # its twin is training now: wait for its result
                self.twins[key].append(rec)
                self.programs_waiting[id(rec)] = program
                return
        for key in (rec.hash, rec.fingerprint):
            if key:
                self.twins[key] = []
        self.programs_waiting[id(rec)] = program
        job = EvalJob(remove_dead_text(program), self.task_spec)
        self.in_flight[self.executor.submit(job)] = rec

    def _evaluate_now(self, rec: CandidateRecord) -> None:
        program = parse(rec.program_text)
        self._dispatch(rec, program)
        for future in list(self.in_flight):
            self._finish(self.in_flight.pop(future), self.executor.outcome(future))

    def _finish(self, rec: CandidateRecord, outcome: EvalOutcome) -> None:
        rec.fitness, rec.status, rec.message = outcome.fitness, outcome.status, outcome.message
        rec.eval_seconds = outcome.seconds
        if not outcome.crashed:
            self.cache.put(rec.hash, rec.fingerprint, outcome.fitness, outcome.status)
        self._store(rec, self.programs_waiting.pop(id(rec)))
        for key in (rec.hash, rec.fingerprint):
            for twin in self.twins.pop(key, []) if key else []:
                twin.fitness, twin.status, twin.cache_hit = rec.fitness, rec.status, True
                twin.message = f"same program as candidate {rec.id}"
                self._store(twin, self.programs_waiting.pop(id(twin)))

    def _store(self, rec: CandidateRecord, program: Program) -> None:
        self.store.add(rec)
        self.programs[rec.id] = program
        improved = self._account(rec, session=True)
        if rec.operator != "seed":
            self.population.add(Member(rec.id, rec.fitness, program))
            s = self.config.search
            if rec.id % s.snapshot_every == 0:
                self.store.add_snapshot([m.id for m in self.population], "periodic")
            self.since_improvement = 0 if improved else self.since_improvement + 1
            if s.restart_after and self.since_improvement >= s.restart_after:
                self._restart()
        if math.isfinite(rec.fitness) and rec.fitness <= self.hof_threshold:
            self._write_outputs()

    def _account(self, rec: CandidateRecord, session: bool) -> bool:
        self.stats.record(cache_hit=rec.cache_hit, tries=rec.tries,
                          redundant=rec.redundant_fraction, session=session,
                          prepare_seconds=rec.prepare_seconds)
        if self.best is None or rec.fitness < self.best.fitness:
            self.best = rec
            self.stats.best_fitness = rec.fitness
            self.stats.best_text = self._display(rec)
            return True
        return False

    def _display(self, rec: CandidateRecord) -> str:
        program = remove_dead(parse(rec.program_text))
        try:
            program = simplify(program)
        except SymoptError:  # display only; the stored text is what counts
            pass
        return to_nested_text(program, header=False)

    def _restart(self) -> None:
        s = self.config.search
        ids = self.seed_ids if s.restart_from == "seed" else [self.best.id]
        self._reset_population(ids, f"restart from {s.restart_from}")
        self.stats.restarts += 1
        self.since_improvement = 0

    # -- outputs -------------------------------------------------------------------------
    def _write_outputs(self) -> None:
        if self.best is None:
            return
        k = self.config.search.hall_of_fame
        top = self.store.best(k)
        self.hof_threshold = top[-1].fitness if len(top) == k else math.inf
        write_atomic(self.run_dir / "hall_of_fame.csv",
                     hall_of_fame_csv(top, lambda r: one_line(r.program_text)))
        best = self.best
        live = remove_dead(parse(best.program_text))
        header = (f"# symopt search {self.run_dir}: fitness {best.fitness:.6g} "
                  f"({best.status}) on task {self.config.task.name}, candidate {best.id}"
                  f" ({best.operator}); seed fitness {self.stats.seed_fitness:.6g}")
        write_atomic(self.run_dir / "best.prog", to_text(live.replace(header=header)))


def remove_dead_text(program: Program) -> str:
    """The canonical text of a program without its dead statements (what is trained)."""
    return to_text(remove_dead(program), header=False)


def one_line(program_text: str) -> str:
    """A program's live statements on one line, `;`-separated (for the CSV).

    >>> text = "def train(w, g, lr):\\n    x = sign(g)\\n    update = g * lr\\n    return update"
    >>> one_line(text)
    'update = g * lr; return update'
    """
    text = remove_dead_text(parse(program_text))
    body = [ln.strip() for ln in text.splitlines()[1:]]
    return "; ".join(body)
