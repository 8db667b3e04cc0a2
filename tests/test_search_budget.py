"""`[search] budget_unit = "steps"`: the budget counts training steps actually taken, from
the stored candidates (so a resumed run charges nothing twice)."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from paths import builtin_file

from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search
from symopt.search.execution.executor import evaluate_text
from symopt.search.storage.store import RunStore

STEPS = 20


def _config(budget: int, **search) -> SearchConfig:
    return SearchConfig.from_dict({
        "search": {"population": 4, "budget": budget, "budget_unit": "steps", **search},
        "task": {"name": "quadratic", "overrides": {"steps": STEPS}},
        "executor": {"kind": "inline"}})


def test_step_budget_stops_within_one_run_of_it(tmp_path):
    res = run_search(_config(10 * STEPS + 7), tmp_path, seeds=[builtin_file("sgd")])
    store = RunStore.open(tmp_path)
    rows = store.candidates()
    store.close()
    charged = sum(r.steps for r in rows)
    assert res.stats.spent_steps == charged
    assert 10 * STEPS + 7 <= charged < 10 * STEPS + 7 + STEPS  # within one run
    assert all(r.steps == 0 for r in rows if r.cache_hit)  # cache hits are free
    assert all(0 < r.steps <= STEPS for r in rows if not r.cache_hit)
    assert f"steps {charged}/{10 * STEPS + 7}" in res.stats.line()
    assert "compute: " in res.stats.summary()


# An SGD that diverges within a few steps; its constants-only children mostly do too
EXPLODING = "def train(w, g, lr):\n    u = g * lr\n    u = u * 3000.0\n    return u\n"


def test_a_diverged_child_is_charged_the_steps_it_trained(tmp_path):
    seed = tmp_path / "exploding.prog"
    seed.write_text(EXPLODING)
    cfg = _config(2 * STEPS, method="constants")
    # with a seed that trains beside it (a search whose every seed fails stops at once)
    res = run_search(cfg, tmp_path / "run", seeds=[builtin_file("sgd"), str(seed)])
    store = RunStore.open(tmp_path / "run")
    rows = [r for r in store.candidates() if not r.cache_hit]
    store.close()
    diverged = [r for r in rows if r.status == "diverged"]
    assert diverged and all(0 < r.steps < STEPS for r in diverged)
    r = diverged[0]  # the steps a separate evaluation trains before it stops
    again = evaluate_text(r.program_text, {**cfg.task.spec(), "engine": "compiled"})
    assert again.status == "diverged" and again.steps == r.steps
    assert res.stats.spent_steps == sum(r.steps for r in rows)
    assert len(rows) > 2  # more runs than a budget of 2 runs counted in runs would allow


SEARCH_CMD = [sys.executable, "-m", "symopt", "search", "--progress", "plain"]


@pytest.mark.slow
def test_resume_after_sigkill_charges_nothing_twice(tmp_path):
    cfg = tmp_path / "c.toml"
    budget = 40 * STEPS
    cfg.write_text(f'[search]\npopulation = 6\nbudget = {budget}\nbudget_unit = "steps"\n'
                   f'seed = 4\n[task]\nname = "quadratic"\noverrides = {{ steps = {STEPS} }}\n')
    run = tmp_path / "run"
    proc = subprocess.Popen(SEARCH_CMD + ["--seed", builtin_file("sgd"), "--config", str(cfg),
                                          "--out", str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def rows():
        try:
            con = sqlite3.connect(run / "run.sqlite")
            out = con.execute("SELECT id, steps FROM candidates ORDER BY id").fetchall()
            con.close()
            return out
        except sqlite3.Error:
            return []

    deadline = time.monotonic() + 120
    while len(rows()) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = rows()
    assert 0 < sum(s for _, s in before) < budget
    done = subprocess.run(SEARCH_CMD + ["--resume", str(run)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    after = rows()
    assert after[:len(before)] == before  # what was stored stays, charged once
    charged = sum(s for _, s in after)
    assert budget <= charged < budget + STEPS
    # the resumed session's summary counts each stored row once
    spent = re.findall(r"steps (\d+)/" + str(budget), done.stderr)
    assert spent and int(spent[-1]) == charged


def test_resuming_a_finished_search_past_its_step_budget_is_done(tmp_path):
    from symopt.errors import UserError

    cfg = _config(3 * STEPS + 1)
    first = run_search(cfg, tmp_path, seeds=[builtin_file("sgd")])
    assert first.stats.spent_steps > cfg.search.budget  # ended one run past it
    again = run_search(cfg, tmp_path, resume=True)
    assert again.stats.spent_steps == first.stats.spent_steps  # nothing more trained
    with pytest.raises(UserError, match="below the"):
        run_search(cfg.with_search(budget=STEPS), tmp_path, resume=True)
