"""The design card's command as a newcomer types it: `symopt search --seed adamw`, no
config, no run directory (the default nanogpt-tiny config and its funnel, a few short
runs), from a directory that is not the checkout."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symopt.analysis import canonical_hash
from symopt.commands.search import default_run_dir
from symopt.lang import parse_file, remove_dead
from symopt.search.evolution.progress import SearchStats

# The default config with its runs shortened on the command line (`--set`, as a user trying
# it out would): 3 training runs of nanogpt-tiny (a budget in runs), then the default
# funnel (nanogpt-small, then vit-tiny) with one candidate, one learning rate and 10 steps
# per stage. For so few and so short runs one compile per program (`engine = "compiled"`,
# same fitness) costs about half the CPU of the default interpreter's compile per task and
# worker (measured: 76 s against 128 s of CPU for this command); the funnel uses the run's
# engine too.
SHRINK = ["--budget", "3", "--set", "search.budget_unit=runs",
          "--set", "task.overrides.steps=20", "--set", "funnel.*.overrides.steps=10",
          "--set", "funnel.*.lr_multipliers=[1.0]",
          "--set", "funnel.*.top_k=1", "--set", "task.engine=compiled"]


@pytest.mark.slow
def test_default_search_runs_the_proxy_and_the_default_funnel_into_a_dated_run_dir(tmp_path):
    # From an empty directory, a built-in seed name and no --config: nothing of the
    # checkout is needed (the default config ships with the package).
    proc = subprocess.run([sys.executable, "-m", "symopt", "search", "--seed", "adamw",
                           *SHRINK, "--progress", "plain"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and re.fullmatch(r"adamw-\d{8}-\d{6}", runs[0].name)
    run = runs[0]
    rel = str(Path("runs") / run.name)
    lines = proc.stdout.splitlines()
    assert rel in lines[0] and "task nanogpt-tiny" in lines[0] and rel in lines[-1]
    assert "funnel.csv" in lines[-1]
    assert "ETA" in proc.stderr

    con = sqlite3.connect(run / "run.sqlite")
    cands = con.execute("SELECT id, operator, hash, fitness, status, cache_hit "
                        "FROM candidates").fetchall()
    stored = con.execute("SELECT stage, task, spec, program_hash, fitness FROM funnel "
                         "ORDER BY id").fetchall()
    con.close()
    assert sum(1 for c in cands if not c[5]) == 3 and "ok" in {c[4] for c in cands}
    seed = next(c for c in cands if c[1] == "seed")
    # the search summary: the seed's fitness and the best found
    best_fit = min(c[3] for c in cands if c[3] is not None)  # NULL: no fitness (inf)
    assert f"seed fitness {seed[3]:.6g}, best {best_fit:.6g}" in proc.stdout

    with (run / "funnel.csv").open() as f:
        rows = list(csv.DictReader(f))
    stages = sorted({int(r["stage"]) for r in rows})
    tasks = {int(r["stage"]): r["task"] for r in rows}
    assert stages[0] == 1 and tasks[1] == "nanogpt-small"
    survivors = None
    for stage in stages:
        at = [r for r in rows if int(r["stage"]) == stage]
        seed_rows = [r for r in at if r["is_seed"] == "1"]
        assert len(seed_rows) == 1 and seed_rows[0]["program_hash"] == seed[2]
        seed_fit = float(seed_rows[0]["fitness"])
        others = [r for r in at if r["is_seed"] == "0"]
        assert len(others) == 1  # top_k = 1
        for r in others:
            assert float(r["seed_fitness"]) == seed_fit
            assert r["passed"] == ("1" if float(r["fitness"]) < seed_fit else "0")
        if survivors is not None:  # a later stage takes only what passed the one before
            assert {r["program_hash"] for r in others} <= survivors
        survivors = {r["program_hash"] for r in others if r["passed"] == "1"}
        # the stage line of the summary agrees with the file
        assert (f"funnel stage {stage} ({tasks[stage]}): {len(survivors)}/{len(others)} "
                f"candidate(s) beat the seed ({seed_fit:.6g})") in proc.stdout
        if not survivors:
            break
    assert stages == list(range(1, stage + 1))  # no stage after the one nobody passed
    assert stage == 2 or not survivors  # what passed nanogpt-small goes on to vit-tiny
    assert stage == 1 or tasks[2] == "vit-tiny"
    # every row of funnel.csv is in run.sqlite, each stage trained as set on the command line
    assert [(int(r["stage"]), r["task"], r["program_hash"], float(r["fitness"]))
            for r in rows] == [(s, t, h, fit) for s, t, _, h, fit in stored]
    for _, _, spec, _, _ in stored:
        spec = json.loads(spec)
        assert spec["overrides"] == {"steps": 10} and spec["lr_multipliers"] == [1.0]

    best = parse_file(run / "best.prog")
    if survivors:  # passed both stages: best.prog is that candidate
        assert "passed every funnel stage (2)" in best.header
        assert canonical_hash(remove_dead(best)) in survivors
        assert "passed every stage; it is best.prog" in proc.stdout
    else:  # the seed stayed, and best.prog says which stage nobody passed
        assert (f"no candidate passed stage {stage} ({tasks[stage]}" in best.header
                and "this is the seed program (adamw)" in best.header)
        assert canonical_hash(remove_dead(best)) == seed[2]
        assert (f"funnel: no candidate passed stage {stage} ({tasks[stage]}); best.prog is "
                f"the seed program (adamw)") in proc.stdout


def test_default_run_dir_is_named_after_the_seed_and_the_time():
    now = time.mktime((2026, 12, 1, 21, 5, 9, 0, 0, -1))
    assert default_run_dir("programs/lion.prog", now=now) == str(Path("runs/lion-20261201-210509"))


def test_eta_is_the_remaining_budget_at_the_session_rate():
    stats = SearchStats(budget=10, started=time.monotonic() - 20.0)
    assert stats.eta_seconds == float("inf")
    for _ in range(4):
        stats.record(cache_hit=False, tries=1, redundant=0.0)
    stats.record(cache_hit=True, tries=1, redundant=0.0)  # cache hits cost no budget
    assert stats.eta_seconds == pytest.approx(6 * 20.0 / 4, rel=0.05)


def test_the_readme_seed_path_means_the_built_in_outside_a_checkout(tmp_path, monkeypatch):
    from symopt import programs

    monkeypatch.chdir(tmp_path)  # no programs/ folder here
    assert programs.resolve("programs/adamw.prog") == programs.path("adamw")
    (tmp_path / "programs").mkdir()
    mine = tmp_path / "programs" / "adamw.prog"  # a file of the user's wins
    mine.write_text("def train(w, g, lr):\n    update = g * lr\n    return update\n")
    assert programs.resolve("programs/adamw.prog") == Path("programs/adamw.prog")
    assert programs.resolve("programs/nope.prog") == Path("programs/nope.prog")
