"""Funnel selection (meta-validation, paper §2.3): does the search's best survive bigger
and other tasks?

Each `[[funnel]]` stage (`symopt.search.config.sections.FunnelStage`) takes the `top_k` best
*distinct* candidates (by canonical hash; ties go to fewer live statements) and trains
them on its task **together with the seed program, under the same task spec** (seeds,
learning-rate grid, overrides, time limit; the run's `[task] engine`): the seed's
fitness is measured by exactly the runs the candidates get. Only candidates that beat
the seed (strictly lower fitness) move on to the next stage, best first.

Every evaluation is stored in `run.sqlite` (table `funnel`) as soon as it is known, so
an interrupted funnel keeps what it measured and a rerun reuses it (same stage, spec
and program hash). The outputs: `funnel.csv` (a row per program and stage), the summary
(`FunnelResult.summary`, also kept as the store's `funnel` meta entry) and `best.prog`:
among the candidates that passed every stage, the one with the lowest mean ratio of
its fitness to the seed's (the largest average improvement); with none, the seed
program itself, with a header saying which stage no candidate passed.

>>> import tempfile
>>> from symopt.search import SearchConfig, run_search
>>> from symopt.search.evolution.loop import statement_count_fitness
>>> run = tempfile.mkdtemp()
>>> _ = run_search(SearchConfig.from_dict({"search": {"population": 4, "budget": 8}}), run,
...                seeds=["adam"], evaluate_fn=statement_count_fitness)
>>> stage = FunnelStage(task="quadratic", top_k=2, lr_multipliers=(1.0,))
>>> res = run_funnel(run, stages=[stage], evaluate_fn=statement_count_fitness)
>>> len(res.stages[0].rows), res.best is not None   # shorter programs "win" this stand-in
(2, True)
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from symopt import checks
from symopt.errors import UserError
from symopt.lang import parse, remove_dead, to_text
from symopt.lang.printer import one_line
from symopt.search.config.loading import SearchConfig
from symopt.search.config.sections import FunnelStage
from symopt.search.execution.executor import (
    EvalFn,
    EvalJob,
    Executor,
    evaluate_text,
    make_executor,
)
from symopt.search.storage.runlock import run_lock
from symopt.search.storage.schema import CandidateRecord, FunnelRecord
from symopt.search.storage.store import STORE_NAME, RunStore, write_atomic

__all__ = ["FunnelResult", "FunnelStage", "StageResult", "funnel_csv", "run_funnel",
           "unfinished_note"]

CSV_NAME = "funnel.csv"


@dataclass
class StageResult:
    """One stage: the seed's fitness and a record per candidate (`passed` set)."""

    stage: int
    task: str
    seed: FunnelRecord
    rows: list[FunnelRecord] = field(default_factory=list)

    @property
    def passed(self) -> list[FunnelRecord]:
        return [r for r in self.rows if r.passed]


@dataclass
class FunnelResult:
    """How a funnel ended: its stages, the winner (None: best.prog is the seed), and
    whether it was interrupted (then best.prog and funnel.csv are left as they were)."""

    run_dir: Path
    stages: list[StageResult]
    best: CandidateRecord | None
    seed_path: str
    failed_stage: StageResult | None = None
    interrupted: bool = False
    note: str = ""  # e.g. the search stopped before its budget (`unfinished_note`)

    def summary(self) -> str:
        """A few lines for the end of a search or of `symopt funnel`."""
        lines = [self.note] if self.note else []
        for st in self.stages:
            if not math.isfinite(st.seed.fitness):  # nothing beats an infinite seed
                lines.append(f"funnel stage {st.stage} ({st.task}): the seed did not train "
                             f"({st.seed.status}"
                             f"{': ' + st.seed.message if st.seed.message else ''}); no "
                             "candidate was compared with it")
                continue
            lines.append(f"funnel stage {st.stage} ({st.task}): {len(st.passed)}/{len(st.rows)} "
                         f"candidate(s) beat the seed ({_fmt(st.seed.fitness)})"
                         + (f"; best {_fmt(min(r.fitness for r in st.rows))}" if st.rows else ""))
        if self.interrupted:
            lines.append("funnel interrupted: best.prog unchanged; rerun `symopt funnel "
                         f"{self.run_dir}` to finish (measured runs are kept)")
        elif self.best is not None:
            lines.append(f"funnel: candidate {self.best.id} passed every stage; it is best.prog")
        else:
            why = ("no candidate to check" if self.failed_stage is None else
                   f"no candidate passed stage {self.failed_stage.stage} "
                   f"({self.failed_stage.task})")
            lines.append(f"funnel: {why}; best.prog is the seed program ({self.seed_path})")
        return "\n".join(lines)


def run_funnel(run_dir: str | os.PathLike[str], *, stages: Sequence[FunnelStage] | None = None,
               workers: int | None = None, executor: Executor | None = None,
               evaluate_fn: EvalFn | None = None,
               log: Callable[[str], None] = lambda line: None,
               stop_requested: Callable[[], bool] = lambda: False) -> FunnelResult:
    """Run the funnel on the search stored in `run_dir` (see the module docstring).

    `stages` default to the run's `[[funnel]]` config; `workers` to its `[search]
    workers`. `evaluate_fn` replaces training (tests), `executor` the default one
    (`make_executor`; a given executor is not shut down). `log` receives a line per
    evaluation. The run directory has one owner (`symopt.search.storage.runlock.run_lock`; a
    search that runs its funnel already holds it).
    """
    run_dir = Path(run_dir)
    if not (run_dir / STORE_NAME).is_file():
        raise UserError(f"{run_dir}: no search run here ({STORE_NAME} not found)")
    owner = run_lock(run_dir)
    owner.__enter__()
    try:
        store = RunStore.open(run_dir)
    except BaseException:
        owner.__exit__(None, None, None)
        raise
    own_executor = None
    try:
        config = SearchConfig.from_dict(store.config, source=f"{run_dir}/run.sqlite")
        stages = list(config.funnel if stages is None else stages)
        if not stages:
            raise UserError(f"{run_dir}: the run's config has no [[funnel]] stages; give some "
                            f"with --config TOML (e.g. --config default: nanogpt-small, then "
                            f"vit-tiny)")
        funnel = _Funnel(store, executor, log, stop_requested)
        # a damaged stored program is named (store, candidate) before any worker starts
        funnel.check_programs(max(stage.top_k for stage in stages))
        if executor is None:
            executor = own_executor = make_executor(config.executor,
                                                    workers or config.search.workers,
                                                    evaluate_fn or evaluate_text, run_dir=run_dir)
            funnel.executor = executor
        funnel.engine = config.task.engine  # the run's engine trains the funnel too
        funnel.note = unfinished_note(store, config.search.budget)
        if funnel.note:
            log(funnel.note)
        return funnel.run(stages)
    finally:
        if own_executor is not None:
            own_executor.shutdown(cancel=True)
        store.close()
        owner.__exit__(None, None, None)


def unfinished_note(store: RunStore, budget: int) -> str:
    """A line saying the search stopped before its budget ("" if it spent it), so that a
    funnel on an interrupted or killed run says it checks only the candidates so far."""
    cands = store.candidates()
    trained = sum(1 for r in cands if not r.cache_hit)
    if trained >= budget:
        return ""
    sessions = store.sessions()
    how = (sessions[-1]["end_reason"] if sessions else None) or "killed or still running"
    return (f"note: the search in {store.run_dir} stopped after {trained} of its {budget} "
            f"training runs ({how}); the funnel checks the {len(cands)} candidate(s) found so "
            f"far (`symopt search --resume {store.run_dir}` finishes the search)")


class _Funnel:
    def __init__(self, store: RunStore, executor: Executor | None, log, stop_requested):
        self.store, self.executor, self.log = store, executor, log
        self.stop_requested = stop_requested
        self.done = {(r.stage, r.spec, r.program_hash): r for r in store.funnel_records()
                     if r.status != "error"}
        seeds = [r for r in store.candidates() if r.operator == "seed"]
        if not seeds:
            raise UserError(f"{store.run_dir}: the run has no evaluated seed program yet")
        seed_rec = min(seeds, key=lambda r: (r.fitness, r.id))
        self.seed_path = next((p for p, _ in store.seeds if p == seed_rec.description),
                              seed_rec.description or store.seeds[0][0])
        self.seed = seed_rec
        self.seed_hashes = {r.hash for r in seeds}
        self.note = ""
        self.engine: str = checks.DEFAULT_ENGINE

    def _executor(self) -> Executor:
        if self.executor is None:
            raise RuntimeError("the funnel's executor is set before its stages run")
        return self.executor

    def check_programs(self, top_k: int) -> None:
        """Parse the seed and the `top_k` best candidates (`ProgramError` naming the store
        and the candidate if one was damaged outside symopt)."""
        for rec in [self.seed] + self.pool()[:top_k]:
            parse(rec.program_text, self.store.source(rec))

    def pool(self) -> list[CandidateRecord]:
        """Distinct non-seed candidates that trained successfully, best first."""
        rows = [r for r in self.store.candidates()
                if r.operator != "seed" and r.status == "ok" and math.isfinite(r.fitness)
                and r.hash not in self.seed_hashes]
        rows.sort(key=lambda r: (r.fitness, r.live_statements, r.id))
        seen, out = set(), []
        for r in rows:
            if r.hash not in seen:
                seen.add(r.hash)
                out.append(r)
        return out

    def run(self, stages: list[FunnelStage]) -> FunnelResult:
        pool = self.pool()
        results: list[StageResult] = []
        failed = None
        for number, stage in enumerate(stages, 1):
            taken = pool[:stage.top_k]
            res = self._stage(number, stage, taken)
            if res is None:
                return self._finish(results, None, None, interrupted=True)
            results.append(res)
            by_id = {r.id: r for r in taken}
            passed = sorted(res.passed, key=lambda r: (r.fitness, by_id[r.candidate_id]
                                                       .live_statements, r.candidate_id))
            pool = [by_id[r.candidate_id] for r in passed]
            if not pool:
                failed = res
                break
        best = None
        if pool:
            best = min(pool, key=lambda c: (_mean_ratio(c.id, results), c.id))
        return self._finish(results, best, failed, interrupted=False)

    # -- one stage -------------------------------------------------------------------
    def _stage(self, number: int, stage: FunnelStage,
               taken: list[CandidateRecord]) -> StageResult | None:
        spec = stage.spec()
        spec_json = json.dumps(spec, sort_keys=True)
        self.log(f"funnel stage {number} ({stage.task}): the seed and {len(taken)} candidate(s),"
                 f" seeds {list(stage.seeds)}, lr x{list(stage.lr_multipliers)}")
        jobs = [(self.seed, True)] + [(c, False) for c in taken]
        records: dict[int, FunnelRecord] = {}  # position in jobs → record
        todo = []
        for pos, (cand, _) in enumerate(jobs):
            hit = self.done.get((number, spec_json, _stored_hash(cand)))
            if hit is not None:
                records[pos] = hit
            else:
                todo.append(pos)
        in_flight: dict[cf.Future, int] = {}
        executor = self._executor()
        while todo or in_flight:
            while todo and len(in_flight) < executor.workers:
                if self.stop_requested():
                    self._cancel(in_flight)
                    return None
                pos = todo.pop(0)
                text = to_text(remove_dead(parse(jobs[pos][0].program_text,
                                                 self.store.source(jobs[pos][0]))),
                               header=False)
                job_spec = {**spec, "engine": self.engine}  # not in the stored spec: the
                in_flight[executor.submit(EvalJob(text, job_spec))] = pos  # same fitness
            done, _ = cf.wait(list(in_flight), timeout=0.5, return_when=cf.FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: in_flight[f]):
                pos = in_flight.pop(future)
                cand, is_seed = jobs[pos]
                out = executor.outcome(future)
                records[pos] = FunnelRecord(
                    stage=number, task=stage.task, spec=spec_json, program_hash=_stored_hash(cand),
                    candidate_id=None if is_seed else cand.id, is_seed=is_seed,
                    fitness=out.fitness if out.status == "ok" else math.inf,
                    status=out.status, message=out.message, seconds=out.seconds)
                self._store_ready(records, jobs)
            if self.stop_requested() and in_flight:
                self._cancel(in_flight)
                return None
        self._store_ready(records, jobs)
        seed = records[0]
        rows = [records[pos] for pos in range(1, len(jobs))]
        return StageResult(number, stage.task, seed, rows)

    def _store_ready(self, records: dict[int, FunnelRecord], jobs) -> None:
        """Store finished evaluations; candidates wait for the seed (they are judged by it)."""
        seed = records.get(0)
        if seed is None:
            return
        for pos, rec in sorted(records.items()):
            if rec.id is not None:
                continue
            if pos:
                rec.seed_fitness = seed.fitness
                rec.passed = rec.fitness < seed.fitness
            self.store.add_funnel(rec)
            what = "seed" if pos == 0 else f"candidate {rec.candidate_id}"
            verdict = "" if pos == 0 else ("  passed" if rec.passed else "  failed")
            self.log(f"  {what}: {_fmt(rec.fitness)} ({rec.status}){verdict}")

    def _cancel(self, in_flight: dict) -> None:
        for future in in_flight:
            future.cancel()

    # -- outputs ---------------------------------------------------------------------
    def _finish(self, results, best, failed, interrupted: bool) -> FunnelResult:
        res = FunnelResult(self.store.run_dir, results, best, self.seed_path, failed,
                           interrupted, self.note)
        if interrupted:
            return res
        run_dir = self.store.run_dir
        write_atomic(run_dir / CSV_NAME, funnel_csv(results))
        passed_lines = [f"#   stage {st.stage} {st.task}: {_fmt(r.fitness)} vs seed "
                        f"{_fmt(st.seed.fitness)}" for st in results for r in st.rows
                        if best is not None and r.candidate_id == best.id]
        if best is not None:
            program = remove_dead(parse(best.program_text))
            header = "\n".join([f"# symopt funnel {one_line(str(run_dir))}: candidate {best.id} "
                                f"(search fitness {_fmt(best.fitness)}) passed every funnel "
                                f"stage ({len(results)}):"] + passed_lines)
        else:
            program = parse(self.seed.program_text, self.store.source(self.seed))
            why = ("no candidate to check" if failed is None else
                   f"no candidate passed stage {failed.stage} ({failed.task}: seed "
                   f"{_fmt(failed.seed.fitness)}, best candidate "
                   f"{_fmt(min((r.fitness for r in failed.rows), default=math.inf))})")
            header = (f"# symopt funnel {one_line(str(run_dir))}: {why}; this is the seed "
                      f"program ({one_line(str(self.seed_path))})")
        write_atomic(run_dir / "best.prog", to_text(program.replace(header=header)))
        self.store.set_meta("funnel", json.dumps({
            "stages": [{"stage": st.stage, "task": st.task, "seed_record": st.seed.id,
                        "records": [r.id for r in st.rows]} for st in results],
            "best_candidate": None if best is None else best.id,
            "summary": res.summary()}))
        return res


def funnel_csv(stages: list[StageResult]) -> str:
    """CSV text of a funnel: a row per program and stage (the seed's row has no verdict).

    >>> seed = FunnelRecord(1, "t", "{}", "h0", None, True, fitness=2.0)
    >>> row = FunnelRecord(1, "t", "{}", "h1", 7, False, fitness=1.5, seed_fitness=2.0,
    ...                    passed=True)
    >>> print(funnel_csv([StageResult(1, "t", seed, [row])]).strip())
    stage,task,program_hash,candidate_id,is_seed,fitness,seed_fitness,passed,status
    1,t,h0,,1,2.0,2.0,,ok
    1,t,h1,7,0,1.5,2.0,1,ok
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["stage", "task", "program_hash", "candidate_id", "is_seed", "fitness",
                "seed_fitness", "passed", "status"])
    for st in stages:
        for r in [st.seed] + st.rows:
            w.writerow([st.stage, st.task, r.program_hash,
                        "" if r.candidate_id is None else r.candidate_id, int(r.is_seed),
                        _csv_float(r.fitness), _csv_float(st.seed.fitness),
                        "" if r.is_seed else int(bool(r.passed)), r.status])
    return buf.getvalue()


def _stored_hash(cand: CandidateRecord) -> str:
    if cand.hash is None:  # not met: the store writes every candidate with its hash
        raise RuntimeError(f"candidate {cand.id} has no program hash")
    return cand.hash


def _mean_ratio(candidate_id: int | None, results: list[StageResult]) -> float:
    """Mean over stages of the candidate's fitness relative to the seed's (lower is better);
    a stage whose seed fitness is not positive and finite counts by the difference."""
    ratios = []
    for st in results:
        row = next(r for r in st.rows if r.candidate_id == candidate_id)
        s = st.seed.fitness
        if 0 < s < math.inf:
            ratios.append(row.fitness / s)
        else:  # a diverged seed (every finite candidate passed) or a non-positive loss
            ratios.append(row.fitness - s if math.isfinite(s) else -1.0)
    return sum(ratios) / len(ratios)


def _fmt(x: float) -> str:
    return f"{x:.6g}" if math.isfinite(x) else "inf"


def _csv_float(x: float | None) -> str:
    return "inf" if x is None or not math.isfinite(x) else repr(x)

