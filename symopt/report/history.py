"""What happened in a search, computed from its run store alone (`RunHistory`).

Every number a report prints or plots comes from here: the series over the run (best
and population-median fitness against training runs, cumulative cache-hit rate and
redundant-statement fraction), the summary counters, how the run ended and the
success of each mutation operator. The population of aging evolution is replayed
from the stored snapshots and candidates, exactly as the search kept it.

>>> import tempfile
>>> from symopt.search import SearchConfig, run_search
>>> from symopt.search.evolution.loop import statement_count_fitness
>>> cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 8}})
>>> d = tempfile.mkdtemp()
>>> _ = run_search(cfg, d, seeds=["sgd"], evaluate_fn=statement_count_fitness)
>>> h = RunHistory.load(d)
>>> h.training_runs, h.ended, h.best_fitness <= h.seed_fitness
(8, 'budget reached', True)
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from symopt.search.storage.schema import CandidateRecord
from symopt.search.storage.store import RunStore


@dataclass
class OperatorStats:
    """Children made by one mutation operator: how many, how many trained (not cache
    hits), how many were valid (finite fitness) and how many beat their parent."""

    operator: str
    children: int = 0
    trained: int = 0
    finite: int = 0
    better_than_parent: int = 0

    @property
    def success_rate(self) -> float:
        return self.better_than_parent / self.children if self.children else 0.0


@dataclass
class RunHistory:
    """A run store read into plain data (see the module docstring)."""

    run_dir: Path
    config: dict[str, Any]
    seeds: list[tuple[str, str]]
    candidates: list[CandidateRecord]
    sessions: list[dict[str, Any]]
    snapshots: list[tuple[int, list[int]]]
    created: float
    series: dict[str, list[float]] = field(default_factory=dict)
    funnel_seconds: float = 0.0  # wall time of the funnel's training runs (0: no funnel)

    @classmethod
    def load(cls, run_dir: str | Path) -> RunHistory:
        """Read `run_dir/run.sqlite` (a `UserError` if there is no readable store)."""
        store = RunStore.open(run_dir)
        try:
            h = cls(Path(run_dir), store.config, store.seeds, store.candidates(),
                    store.sessions(), store.snapshot_members(),
                    float(store.meta("created") or 0.0))
            h.funnel_seconds = _span(store.funnel_records())
        finally:
            store.close()
        h.series = h._series()
        return h

    # -- counters ------------------------------------------------------------------------
    @property
    def budget(self) -> int:
        return int(self.config.get("search", {}).get("budget", 0))

    @property
    def budget_unit(self) -> str:
        return str(self.config.get("search", {}).get("budget_unit", "runs"))

    @property
    def training_steps(self) -> int:
        """Training steps charged (all seeds and multipliers; cache hits cost none)."""
        return sum(r.steps for r in self.candidates)

    @property
    def spent(self) -> int:
        """The budget spent, in its unit."""
        return self.training_steps if self.budget_unit == "steps" else self.training_runs

    @property
    def population_size(self) -> int:
        return int(self.config.get("search", {}).get("population", 1))

    @property
    def training_runs(self) -> int:
        return sum(1 for r in self.candidates if not r.cache_hit)

    @property
    def transient_failures(self) -> int:
        """Training runs that met a transient failure (timeout, dead worker, lost actor),
        whether or not their one retry then trained: the machine's trouble, not the
        program's (`symopt.tasks.seeds.Evaluation.transient`)."""
        return sum(1 for r in self.candidates if not r.cache_hit and is_transient(r))

    @property
    def cache_hits(self) -> int:
        return sum(1 for r in self.candidates if r.cache_hit)

    @property
    def cache_hit_rate(self) -> float:
        return self.cache_hits / len(self.candidates) if self.candidates else 0.0

    @property
    def redundant_fraction(self) -> float:
        """Mean fraction of redundant (dead) statements over all candidates."""
        if not self.candidates:
            return 0.0
        return statistics.fmean(r.redundant_fraction for r in self.candidates)

    @property
    def invalid_rate(self) -> float:
        """Mutation tries that gave no valid new child, over all tries (as the search's
        live display counts them; whole failed mutations come from the session records)."""
        tries = sum(max(r.tries, 1) for r in self.candidates)
        rejected = sum(max(r.tries - 1, 0) for r in self.candidates)
        failed = sum(s["invalid_tries"] for s in self.sessions)
        return (rejected + failed) / (tries + failed) if tries + failed else 0.0

    @property
    def seed_records(self) -> list[CandidateRecord]:
        return [r for r in self.candidates if r.operator == "seed"]

    @property
    def seed_fitness(self) -> float:
        return min((r.fitness for r in self.seed_records), default=math.inf)

    @property
    def best(self) -> CandidateRecord | None:
        """The fittest candidate (ties: the earliest), as the search's best.prog."""
        return min(self.candidates, key=lambda r: (r.fitness, r.id), default=None)

    @property
    def best_fitness(self) -> float:
        return self.best.fitness if self.best is not None else math.inf

    @property
    def wall_seconds(self) -> float:
        """Time spent searching: the sum of the recorded sessions; for stores without
        session records, first store creation to the last stored candidate."""
        timed = [s for s in self.sessions if s["ended"] is not None]
        if timed:
            return sum(s["ended"] - s["started"] for s in timed)
        if not self.candidates:
            return 0.0
        return max(r.created for r in self.candidates) - self.created

    @property
    def total_seconds(self) -> float:
        """The search's wall time plus the funnel's: what the whole command took."""
        return self.wall_seconds + self.funnel_seconds

    @property
    def runs_per_minute(self) -> float:
        return 60.0 * self.training_runs / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def ended(self) -> str:
        """How the run ended: the last session's record, else what the counters imply."""
        if self.sessions and self.sessions[-1]["end_reason"]:
            return self.sessions[-1]["end_reason"]
        search = self.config.get("search", {})
        limit = search.get("max_candidates") or 50 * self.budget
        if self.spent >= self.budget:
            return "budget reached"
        if len(self.candidates) >= limit:
            return "candidate limit reached"
        if self.sessions:
            return "killed or still running (the last session recorded no end)"
        return "stopped before the budget (no session record in this store)"

    @property
    def runs_to_beat_seed(self) -> int | None:
        """Training runs done when a candidate first beat the seed (None: never, or the
        seed did not train: nothing beats an infinite seed)."""
        seed = self.seed_fitness
        if not math.isfinite(seed):
            return None
        for r, runs in zip(self.candidates, self.series["training_runs"]):
            if r.operator != "seed" and r.fitness < seed:
                return int(runs)
        return None

    def operators(self) -> list[OperatorStats]:
        """Per mutation operator: children, trained, finite, better than their parent."""
        fitness = {r.id: r.fitness for r in self.candidates}
        stats: dict[str, OperatorStats] = {}
        for r in self.candidates:
            if r.operator == "seed":
                continue
            s = stats.setdefault(r.operator, OperatorStats(r.operator))
            s.children += 1
            s.trained += not r.cache_hit
            s.finite += math.isfinite(r.fitness)
            parent = fitness.get(r.parent_id, math.inf)
            s.better_than_parent += r.fitness < parent
        return sorted(stats.values(), key=lambda s: s.operator)

    # -- series over the run ---------------------------------------------------------------
    def _series(self) -> dict[str, list[float]]:
        """One value per stored candidate, in storage order: training runs so far, the
        best fitness so far, the population median, the cumulative cache-hit rate and
        mean redundant fraction."""
        import pandas as pd

        c = pd.DataFrame({"candidate": [r.stored_id for r in self.candidates],
                          "cache_hit": [bool(r.cache_hit) for r in self.candidates],
                          "fitness": [r.fitness for r in self.candidates],
                          "redundant": [r.redundant_fraction for r in self.candidates]},
                         columns=["candidate", "cache_hit", "fitness", "redundant"])
        n = pd.RangeIndex(1, len(c) + 1)
        return {"candidate": c["candidate"].tolist(),
                "training_runs": (~c["cache_hit"]).cumsum().tolist(),
                "fitness": c["fitness"].tolist(),
                "best": c["fitness"].astype(float).cummin().tolist(),
                "median": self._medians(),
                "cache_hit_rate": (c["cache_hit"].cumsum() / n).tolist(),
                "redundant_fraction": (c["redundant"].astype(float).cumsum() / n).tolist()}

    def _medians(self) -> list[float]:
        """The population's median fitness after each stored candidate: aging evolution
        replayed (a child joins, the oldest leaves; a stored snapshot resets it)."""
        fitness = {r.id: r.fitness for r in self.candidates}
        resets: dict[int, list[list[int]]] = defaultdict(list)
        for after, members in self.snapshots:
            resets[after].append(members)
        first = self.candidates[0].stored_id if self.candidates else 0
        population: list[int] = next(
            (m for a in sorted(resets) if a < first for m in resets[a][-1:]), [])
        out = []
        for r in self.candidates:
            if r.operator != "seed":
                population = (population + [r.stored_id])[-self.population_size:]
            if r.id in resets:
                population = list(resets[r.id][-1])
            values = [fitness.get(i, math.inf) for i in population]
            out.append(statistics.median(values) if values else math.nan)
        return out


#: How an executor's transient failures begin their message (`symopt.search.execution`).
TRANSIENT_PREFIXES = ("worker crashed", "worker died", "Ray:", "RayTaskError", "cancelled")


def is_transient(rec: CandidateRecord) -> bool:
    """Whether a stored training run met a transient failure (see `transient_failures`).

    >>> is_transient(CandidateRecord(program_text="", status="timeout"))
    True
    >>> is_transient(CandidateRecord(program_text="", status="diverged", message="at step 3"))
    False
    """
    return (rec.status == "timeout" or rec.message.startswith(TRANSIENT_PREFIXES)
            or "retried once after a transient failure" in rec.message
            or "retried after" in rec.message)


def _span(records) -> float:
    """Wall time covered by funnel evaluations: first start to last end (they may overlap).

    >>> from types import SimpleNamespace as R
    >>> _span([R(created=110.0, seconds=10.0), R(created=130.0, seconds=25.0)])
    30.0
    """
    if not records:
        return 0.0
    return max(r.created for r in records) - min(r.created - r.seconds for r in records)
