"""What a search knows, as its store holds it: the population, the counters, the best so
far, the seeds and the operators' credit.

Every candidate with a fitness goes through `SearchState.add`: it is committed to
`run.sqlite`, counted, credited to its operator, joins the population (a periodic
snapshot every `[search] snapshot_every`), restarts the population after `[search]
restart_after` children without improvement, and rewrites `best.prog` and
`hall_of_fame.csv` when the best or the hall of fame changes. On resume, `load` replays
the stored candidates through the same counting and credit, and restores the population
from the last snapshot, so a resumed search goes on as the interrupted one would have.

>>> import tempfile
>>> from symopt.search.config.loading import SearchConfig
>>> from symopt.search.evolution.loop import run_search, statement_count_fitness
>>> from symopt.search.evolution.start import open_run
>>> cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 6}})
>>> d = tempfile.mkdtemp()
>>> res = run_search(cfg, d, seeds=["sgd"], evaluate_fn=statement_count_fitness)
>>> run = open_run(cfg, d, seeds=None, resume=True)
>>> state = SearchState(run.store, run.config, Path(d), OperatorCredit(cfg.mutation),
...                     HurdleKeeper(cfg.hurdles))
>>> state.load()
>>> state.best.id == res.best.id, len(state.population), state.stats.evaluations
(True, 4, 6)
>>> run.close()
"""

from __future__ import annotations

import math
from pathlib import Path

from symopt.analysis import simplify, to_nested_text
from symopt.errors import SymoptError
from symopt.lang import Program, parse, remove_dead
from symopt.lang.dead_code import state_values
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.hurdles import HurdleKeeper
from symopt.search.evolution.operators import OperatorCredit
from symopt.search.evolution.population import AgingPopulation, Member
from symopt.search.evolution.progress import SearchStats
from symopt.search.storage.outputs import write_outputs
from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import RunStore


class SearchState:
    """A search's population, counters and best, kept in step with its store (see the
    module docstring)."""

    def __init__(self, store: RunStore, config: SearchConfig, run_dir: Path,
                 operators: OperatorCredit, hurdles: HurdleKeeper):
        self.store, self.config, self.run_dir = store, config, run_dir
        self.operators, self.hurdles = operators, hurdles
        s = config.search
        self.population = AgingPopulation(s.population, s.tournament)
        self.stats = SearchStats(budget=s.budget, unit=s.budget_unit)
        self.best: CandidateRecord | None = None
        self.seed_ids: list[int] = []
        self.next_index = 0  # the generation index of the next child (resume: after the stored)
        self.hof_threshold = math.inf
        self.since_improvement = 0

    # -- every stored candidate --------------------------------------------------------
    def add(self, rec: CandidateRecord, program: Program) -> None:
        """Store a candidate that has its fitness, and follow it (see the module doc)."""
        rec_id = self.store.add(rec)
        improved = self._account(rec, session=True)
        if rec.operator != "seed":
            self.population.add(Member(rec_id, rec.fitness, program))
            s = self.config.search
            if rec_id % s.snapshot_every == 0:
                self.store.add_snapshot([m.id for m in self.population], "periodic")
            self.since_improvement = 0 if improved else self.since_improvement + 1
            if s.restart_after and self.since_improvement >= s.restart_after:
                self._restart()
        if improved or (math.isfinite(rec.fitness) and rec.fitness < self.hof_threshold):
            self.write_outputs()

    def _account(self, rec: CandidateRecord, session: bool) -> bool:
        """Count a stored candidate (`session`: in this session's rates); True if it is
        the new best."""
        self.stats.record(cache_hit=rec.cache_hit, tries=rec.tries,
                          redundant=rec.redundant_fraction, session=session,
                          prepare_seconds=rec.prepare_seconds, steps=rec.steps,
                          probe_steps=rec.probe_steps, status=rec.status)
        self._credit(rec)
        if self.best is None or self._better(rec, self.best):
            self.best = rec
            self.stats.best_fitness = rec.fitness
            self.stats.best_text = self._display(rec)
            return True
        return False

    def _credit(self, rec: CandidateRecord) -> None:
        """The operator's credit for a stored child (replayed in order on resume)."""
        best = self.best.fitness if self.best is not None else math.inf
        if self.operators.stored(int(rec.id or 0), rec.operator, rec.parent_id, rec.fitness,
                                 best):
            self.stats.operators = self.operators.stats()
            if (rec.id or 0) % 10 == 0:
                self.record_operators(int(rec.id or 0))

    def record_operators(self, after_id: int | None = None) -> None:
        """Store the operators' counts and weights as of candidate `after_id`."""
        after = max(self.operators.fitness, default=0) if after_id is None else after_id
        self.store.set_operator_stats(after, self.operators.stats())

    def _display(self, rec: CandidateRecord) -> str:
        program = remove_dead(self.parse_stored(rec))
        try:
            program = simplify(program)
        except SymoptError:  # display only; the stored text is what counts
            pass
        return to_nested_text(program, header=False)

    def _better(self, rec: CandidateRecord, best: CandidateRecord) -> bool:
        """Lower fitness wins; a tie goes to the program with fewer state slots."""
        if rec.fitness != best.fitness:
            return rec.fitness < best.fitness
        return (state_values(self.parse_stored(rec))
                < state_values(self.parse_stored(best)))

    def write_outputs(self) -> None:
        """Rewrite `best.prog` and `hall_of_fame.csv` (nothing before the first candidate)."""
        if self.best is not None:
            cfg = self.config
            self.hof_threshold = write_outputs(
                self.run_dir, self.store, self.best, hall_of_fame=cfg.search.hall_of_fame,
                task_name=cfg.task.name, seed_fitness=self.stats.seed_fitness)

    # -- the population ------------------------------------------------------------------
    def _restart(self) -> None:
        s = self.config.search
        assert self.best is not None and self.best.id is not None
        ids = self.seed_ids if s.restart_from == "seed" else [self.best.id]
        self.reset_population(ids, f"restart from {s.restart_from}")
        self.stats.restarts += 1
        self.since_improvement = 0

    def reset_population(self, ids: list[int], reason: str) -> None:
        """The population becomes `ids` repeated round-robin to its size (a stored snapshot
        with `reason`)."""
        size = self.config.search.population
        members = [ids[k % len(ids)] for k in range(size)]
        self.store.add_snapshot(members, reason)
        self.population.reset(self.members(members))

    def population_is_seed_only(self) -> bool:
        return all(m.id in self.seed_ids for m in self.population) and (
            len(self.population) < self.config.search.population)

    def members(self, ids: list[int]) -> list[Member]:
        """Population members for stored candidates `ids`: programs the population holds are
        reused, the others (seeds at a restart, a resumed population) parsed from the store."""
        known = {m.id: m for m in self.population}
        for i in dict.fromkeys(ids):
            if i not in known:
                rec = self.store.get(i)
                known[i] = Member(i, rec.fitness, self.parse_stored(rec))
        return [known[i] for i in ids]

    def parse_stored(self, rec: CandidateRecord) -> Program:
        """A stored candidate's program; errors name the store and the candidate id."""
        return parse(rec.program_text, self.store.source(rec))

    # -- resume --------------------------------------------------------------------------
    def load(self, from_good_snapshot: bool = False) -> None:
        """Resume: the counters, the best, the seeds and the population, reading the store
        once (`from_good_snapshot`: the last good population snapshot if the latest is
        corrupt, `RunStore.population`)."""
        children: list[int] = []  # ids of the stored non-seed candidates, in order
        for rec in self.store.candidates():
            self._account(rec, session=False)
            self.next_index = max(self.next_index, rec.gen_index + 1)
            if rec.id is not None:
                self.hurdles.reload(self.store, rec.id)
            if rec.operator == "seed":
                self.seed_ids.append(int(rec.id or 0))
                self.stats.seed_fitness = min(self.stats.seed_fitness, rec.fitness)
            else:
                children.append(int(rec.id or 0))
        ids = self.store.population(self.config.search.population,
                                    skip_corrupt=from_good_snapshot)
        self.population.reset(self.members(ids))
        restarts = [after for after, reason in self.store.snapshots()
                    if reason.startswith("restart")]
        self.stats.restarts = len(restarts)
        if self.best is not None:
            last = max([int(self.best.id or 0)] + restarts)
            self.since_improvement = sum(1 for i in children if i > last)
