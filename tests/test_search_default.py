"""The design card's command as a newcomer types it: `symopt search --seed adamw.prog`,
no config, no run directory (the default nanogpt-tiny config, a few runs)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symopt.commands.search import default_run_dir
from symopt.lang import parse_file
from symopt.search.progress import SearchStats

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_default_search_runs_the_nanogpt_proxy_into_a_dated_run_dir(tmp_path):
    seed = ROOT / "programs" / "adamw.prog"
    proc = subprocess.run([sys.executable, "-m", "symopt", "search", "--seed", str(seed),
                           "--budget", "3", "--no-funnel", "--progress", "plain"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and re.fullmatch(r"adamw-\d{8}-\d{6}", runs[0].name)
    rel = str(Path("runs") / runs[0].name)
    first, last = proc.stdout.splitlines()[0], proc.stdout.splitlines()[-1]
    assert rel in first and "task nanogpt-tiny" in first and rel in last  # start and end
    assert "ETA" in proc.stderr
    con = sqlite3.connect(runs[0] / "run.sqlite")
    trained = con.execute("SELECT COUNT(*) FROM candidates WHERE cache_hit = 0").fetchone()[0]
    statuses = {s for (s,) in con.execute("SELECT status FROM candidates")}
    con.close()
    assert trained == 3 and "ok" in statuses
    best = parse_file(runs[0] / "best.prog")
    assert "on task nanogpt-tiny" in best.header
    # the funnel is configured but skipped on request, and says how to run it
    assert f"symopt funnel {rel}" in proc.stdout


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
