"""Funnel selection: real (cheap) training on synthetic tasks, stores built by hand so the
outcome is known: plain SGD scaled down 1000x hardly moves on a quadratic, Adam does."""

from __future__ import annotations

import csv
import functools
import json
import subprocess
import sys

import pytest

from symopt import programs
from symopt.analysis import canonical_hash, remove_dead
from symopt.compile import to_optax
from symopt.lang import parse, parse_file, to_text
from symopt.search.config.loading import FunnelStage, SearchConfig
from symopt.search.execution.executor import evaluate_text
from symopt.search.funnel import run_funnel, unfinished_note
from symopt.search.storage.store import CandidateRecord, RunStore
from symopt.tasks import evaluate, get_task

SLOW_SGD = ("def train(w, g, lr):\n    update = g * lr\n    update = update * 0.001\n"
            "    return update")
SLOW_MOMENTUM = ("def train(w, g, m, lr):\n    m = interp(g, m, 0.5)\n    update = m * lr\n"
                 "    update = update * 0.0001\n    return update, m")
ADAM = to_text(programs.load("adam"), header=False)
MOMENTUM = to_text(programs.load("momentum"), header=False)
STAGE = dict(task="quadratic", overrides={"steps": 30}, seeds=(0,))


def make_run(run_dir, seed_text: str, candidates: list[tuple[str, float]],
             funnel=(), engine: str | None = None) -> RunStore:
    """A stored search: the seed (fitness 1.0) and `candidates` (text, search fitness)."""
    cfg = SearchConfig(funnel=tuple(funnel))
    if engine is not None:
        cfg = SearchConfig.from_dict({**cfg.to_dict(), "task": {"engine": engine}})
    store = RunStore.create(run_dir, cfg.to_dict(), [("seed.prog", seed_text)])

    def add(text, fitness, operator):
        live = remove_dead(parse(text))
        store.add(CandidateRecord(program_text=text, fitness=fitness, operator=operator,
                                  description="seed.prog" if operator == "seed" else "",
                                  hash=canonical_hash(live), live_statements=len(live.body)))

    add(seed_text, 1.0, "seed")
    for text, fitness in candidates:
        add(text, fitness, "insert")
    store.close()
    return run_dir


class Recorder:
    """evaluate_text, recording every (program text, task spec) it was asked to train."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, text, spec):
        self.calls.append((text, spec))
        return evaluate_text(text, spec)


@pytest.mark.slow
def test_a_stage_no_candidate_passes_leaves_the_seed_as_best_prog(tmp_path):
    run = make_run(tmp_path / "run", ADAM, [(SLOW_SGD, 0.1), (SLOW_MOMENTUM, 0.2)])
    (run / "best.prog").write_text(SLOW_SGD)  # what the search had written
    stage = FunnelStage(**STAGE, top_k=5, lr_multipliers=(1.0,))
    res = run_funnel(run, stages=[stage])
    st = res.stages[0]
    assert len(st.rows) == 2 and not st.passed
    assert all(r.fitness > st.seed.fitness for r in st.rows)
    assert res.best is None and res.failed_stage is st
    best = parse_file(run / "best.prog")
    assert best == parse(ADAM)
    assert "no candidate passed stage 1 (quadratic" in best.header
    assert "best.prog is the seed program" in res.summary()
    rows = list(csv.DictReader((run / "funnel.csv").open()))
    assert [r["passed"] for r in rows if r["is_seed"] == "0"] == ["0", "0"]
    stored = RunStore.open(run)
    assert sorted(r.passed for r in stored.funnel_records() if not r.is_seed) == [False, False]
    stored.close()


@pytest.mark.slow
def test_seed_is_trained_under_exactly_the_candidates_lr_grid(tmp_path):
    grid = (0.25, 1.0, 4.0)
    stages = [FunnelStage(**STAGE, top_k=2, lr_multipliers=grid),
              FunnelStage(task="quadratic", overrides={"steps": 20}, top_k=1,
                          lr_multipliers=(2.0,))]
    run = make_run(tmp_path / "run", SLOW_SGD, [(ADAM, 0.3), (MOMENTUM, 0.5), (ADAM, 0.4)],
                   funnel=stages)
    rec = Recorder()
    res = run_funnel(run, evaluate_fn=rec)
    first = [(t, s) for t, s in rec.calls if s["overrides"] == {"steps": 30}]
    seed_text = to_text(remove_dead(parse(SLOW_SGD)), header=False)
    # The seed and the two distinct candidates (ADAM twice is one program), one spec.
    assert sorted(t for t, _ in first) == sorted([seed_text, ADAM, MOMENTUM])
    assert all({k: v for k, v in s.items() if k != "engine"} == stages[0].spec()
               and s["engine"] == "interpreted" for _, s in first)  # the run's engine
    assert first[0][1]["lr_multipliers"] == list(grid)
    # Independent reference: the seed's stage fitness is tasks.evaluate under that grid.
    ref = evaluate(functools.partial(to_optax, parse(SLOW_SGD)), get_task("quadratic", steps=30),
                   seed=0, lr_multipliers=grid)
    assert res.stages[0].seed.fitness == pytest.approx(ref.fitness, rel=1e-6)
    assert all(r.passed and r.seed_fitness == res.stages[0].seed.fitness
               for r in res.stages[0].rows)
    # Stage 2: only the stage-1 winner (top_k=1) and the seed, under stage 2's own grid.
    second = [(t, s) for t, s in rec.calls if s["overrides"] == {"steps": 20}]
    assert len(second) == 2 and all(s["lr_multipliers"] == [2.0] for _, s in second)
    winner = min(res.stages[0].rows, key=lambda r: r.fitness)
    assert [r.candidate_id for r in res.stages[1].rows] == [winner.candidate_id]
    assert res.best is not None and res.best.id == winner.candidate_id
    header = parse_file(run / "best.prog").header
    assert "passed every funnel stage (2)" in header and "stage 2 quadratic" in header
    # A rerun reuses every stored evaluation: no training at all.
    again = Recorder()
    res2 = run_funnel(run, evaluate_fn=again)
    assert again.calls == [] and res2.best.id == res.best.id


def test_top_k_takes_distinct_candidates_ties_to_fewer_live_statements(tmp_path):
    longer = ADAM.replace("    update = t8 * lr", "    update = t8 * lr\n    update = update * 1.0")
    run = make_run(tmp_path / "run", ADAM, [(longer, 0.5), (MOMENTUM, 0.5), (MOMENTUM, 0.5),
                                             (SLOW_SGD, 0.7)])
    rec = Recorder()
    res = run_funnel(run, stages=[FunnelStage(**STAGE, top_k=1, lr_multipliers=(1.0,))],
                     evaluate_fn=lambda t, s: rec(t, s))
    assert [t for t, _ in rec.calls][1:] == [MOMENTUM]  # 2 live statements beat ADAM's 14
    assert len(res.stages[0].rows) == 1


@pytest.mark.slow
def test_funnel_command_needs_stages_and_a_run(tmp_path):
    run = make_run(tmp_path / "run", ADAM, [(MOMENTUM, 0.5)])
    cmd = [sys.executable, "-m", "symopt", "funnel"]
    no_stages = subprocess.run(cmd + [str(run)], capture_output=True, text=True)
    assert no_stages.returncode == 2 and "no [[funnel]] stages" in no_stages.stderr
    no_run = subprocess.run(cmd + [str(tmp_path)], capture_output=True, text=True)
    assert no_run.returncode == 2 and "run.sqlite not found" in no_run.stderr
    assert "Traceback" not in no_stages.stderr + no_run.stderr


@pytest.mark.slow
def test_a_funnel_on_an_unfinished_search_says_it_checks_the_candidates_so_far(tmp_path):
    stage = FunnelStage(**STAGE, top_k=1, lr_multipliers=(1.0,))
    run = make_run(tmp_path / "run", SLOW_SGD, [(ADAM, 0.3)], funnel=[stage])
    store = RunStore.open(run)
    budget = SearchConfig.from_dict(store.config).search.budget
    session = store.begin_session()  # Ctrl-C'ed after 2 training runs
    store.update_session(session, invalid_children=0, invalid_tries=0, end_reason="interrupted")
    store.close()
    lines = []
    res = run_funnel(run, log=lines.append)
    note = (f"note: the search in {run} stopped after 2 of its {budget} training runs "
            f"(interrupted); the funnel checks the 2 candidate(s) found so far "
            f"(`symopt search --resume {run}` finishes the search)")
    assert lines[0] == note and res.summary().splitlines()[0] == note
    assert res.best is not None  # ADAM beats the slowed-down SGD: the funnel still ran
    stored = RunStore.open(run)
    assert note in json.loads(stored.meta("funnel"))["summary"]
    stored.close()
    # a search that spent its budget (here 2 training runs) gets no note
    stored = RunStore.open(run)
    assert unfinished_note(stored, budget=2) == "" and unfinished_note(stored, budget=3)
    stored.close()


@pytest.mark.slow
def test_the_funnel_trains_with_the_runs_engine(tmp_path):
    stage = FunnelStage(**STAGE, top_k=1, lr_multipliers=(1.0,))
    run = make_run(tmp_path / "run", SLOW_SGD, [(ADAM, 0.3)], funnel=[stage], engine="compiled")
    rec = Recorder()
    res = run_funnel(run, evaluate_fn=rec)
    assert [s["engine"] for _, s in rec.calls] == ["compiled", "compiled"]
    assert res.best is not None
