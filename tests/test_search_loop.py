"""run_search and `symopt search`: cache, executors, resume after SIGKILL, CLI errors."""

import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from paths import builtin_file

from symopt.cli import main
from symopt.errors import UserError
from symopt.lang import is_valid, parse_file
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search, statement_count_fitness
from symopt.search.execution.executor import EvalJob, ProcessExecutor
from symopt.search.storage.store import RunStore


def _crash(program_text, task_spec):
    os._exit(1)


def test_no_program_is_trained_twice_and_hits_reuse_fitness(tmp_path):
    trained = []

    def fitness(text, spec):
        trained.append(text)
        return statement_count_fitness(text, spec)

    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 15, "random_seed": 2}})
    res = run_search(cfg, tmp_path / "r", seeds=[builtin_file("momentum")], evaluate_fn=fitness)
    store = RunStore.open(tmp_path / "r")
    recs = store.candidates()
    assert len(trained) == res.stats.evaluations == 15
    assert len(set(trained)) == 15
    misses = [r for r in recs if not r.cache_hit]
    assert len({r.hash for r in misses}) == len(misses)
    by_hash = {r.hash: r.fitness for r in misses}
    hits = [r for r in recs if r.cache_hit]
    assert hits, "a 15-evaluation search from momentum should revisit some program"
    assert all(by_hash[r.hash] == r.fitness for r in hits if r.hash in by_hash)
    assert res.stats.cache_hits == len(hits)


@pytest.mark.slow
def test_hall_of_fame_and_best_prog_are_current_at_every_candidate(tmp_path):
    """Outputs are rewritten only when a candidate enters the hall of fame (many ties
    here): at every point they equal what the store says."""
    checked = []

    def fitness(text, spec):  # before each training run, the outputs match the store
        run = tmp_path / "r"
        if (run / "hall_of_fame.csv").exists():
            store = RunStore.open(run)
            ids = [r.id for r in store.best(5)]
            best = store.best(1)[0]
            store.close()
            rows = (run / "hall_of_fame.csv").read_text().splitlines()[1:]
            assert [int(row.split(",")[5]) for row in rows] == ids
            assert f"fitness {best.fitness:.6g} " in (run / "best.prog").read_text()
            checked.append(len(ids))
        return statement_count_fitness(text, spec)

    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 25, "random_seed": 4,
                                             "hall_of_fame": 5}})
    run_search(cfg, tmp_path / "r", seeds=[builtin_file("adamw")], evaluate_fn=fitness)
    assert len(checked) >= 20 and max(checked) == 5


def test_shared_cache_between_runs_means_no_training(tmp_path):
    cache = str(tmp_path / "shared.sqlite")
    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 6},
                                  "cache": {"path": cache}})
    run_search(cfg, tmp_path / "a", seeds=[builtin_file("sgd")],
               evaluate_fn=statement_count_fitness)
    trained = []

    def fitness(text, spec):
        trained.append(text)
        return statement_count_fitness(text, spec)

    run_search(cfg.with_search(budget=1), tmp_path / "b", seeds=[builtin_file("sgd")],
               evaluate_fn=fitness)
    store = RunStore.open(tmp_path / "b")
    seed_rec = store.candidates()[0]
    assert seed_rec.operator == "seed" and seed_rec.cache_hit  # from run a's cache file
    assert len(trained) == 1  # the budget of one training run went to a new child


@pytest.mark.slow
def test_process_executor_runs_jobs_and_survives_a_worker_crash():
    ex = ProcessExecutor(2, statement_count_fitness)
    try:
        text = open(builtin_file("adam")).read()
        ok = ex.outcome(ex.submit(EvalJob(text, {})))
        assert ok.status == "ok" and ok.fitness == len(parse_file(builtin_file("adam")).body)
        crashing = ProcessExecutor(1, _crash)
        out = crashing.outcome(crashing.submit(EvalJob(text, {})))
        assert (out.status, out.crashed, out.fitness) == ("error", True, math.inf)
        assert "retried once after a transient failure" in out.message  # a fresh worker, once
        crashing._evaluate = statement_count_fitness  # the pool was replaced: it works again
        assert crashing.outcome(crashing.submit(EvalJob(text, {}))).status == "ok"
        crashing.shutdown()
    finally:
        ex.shutdown()


@pytest.mark.slow
def test_parallel_search_stores_every_evaluation(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 10, "workers": 2}})
    res = run_search(cfg, tmp_path / "r", seeds=[builtin_file("sgd")],
                     evaluate_fn=statement_count_fitness)
    store = RunStore.open(tmp_path / "r")
    assert sum(not r.cache_hit for r in store.candidates()) == res.stats.evaluations == 10


def test_cli_errors_are_clean(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[search]\npopulaton = 3\n")
    assert main(["search", "--seed", builtin_file("sgd"), "--config", str(bad),
                 "--out", str(tmp_path / "r")]) == 2
    assert "populaton: unknown key (did you mean 'population'?)" in capsys.readouterr().err
    assert main(["search", "--resume", str(tmp_path / "none")]) == 2
    assert "no run to resume" in capsys.readouterr().err
    broken = tmp_path / "broken.prog"
    broken.write_text("def train(w, g, lr):\n    return foo(g)\n")
    assert main(["search", "--seed", str(broken), "--out", str(tmp_path / "r2")]) == 2
    assert "broken.prog:2:" in capsys.readouterr().err


SEARCH_CMD = [sys.executable, "-m", "symopt", "search", "--progress", "plain"]


def start_search(tmp_path, *, budget: int, seed: int, output=subprocess.DEVNULL):
    """A real `symopt search` process from sgd.prog on the quadratic task; (process, run dir)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[search]\npopulation = 6\nbudget = {budget}\nrandom_seed = {seed}\n'
                   '[task]\nname = "quadratic"\noverrides = { steps = 20 }\n')
    run = tmp_path / "run"
    proc = subprocess.Popen(SEARCH_CMD + ["--seed", builtin_file("sgd"), "--config", str(cfg),
                                          "--out", str(run)],
                            stdout=output, stderr=output, text=True)
    return proc, run


def stored_rows(run) -> list:
    """(id, hash, fitness) of every stored candidate; [] while the store does not exist yet."""
    try:
        con = sqlite3.connect(run / "run.sqlite")
        rows = con.execute("SELECT id, hash, fitness FROM candidates ORDER BY id").fetchall()
        con.close()
        return rows
    except sqlite3.Error:
        return []


def wait_for_rows(proc, run, n: int) -> None:
    deadline = time.monotonic() + 120
    while len(stored_rows(run)) < n and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)


@pytest.mark.slow
def test_resume_after_sigkill_loses_nothing_and_completes(tmp_path):
    proc, run = start_search(tmp_path, budget=16, seed=3)
    db = run / "run.sqlite"

    def stored():
        return stored_rows(run)

    wait_for_rows(proc, run, 4)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = stored()
    assert len(before) >= 4
    out = subprocess.run(SEARCH_CMD + ["--resume", str(run)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    after = stored()
    assert after[: len(before)] == before  # nothing stored was lost or changed
    con = sqlite3.connect(db)
    trained = con.execute("SELECT COUNT(*) FROM candidates WHERE cache_hit = 0").fetchone()[0]
    assert trained == 16
    best = parse_file(run / "best.prog")
    assert is_valid(best)
    best_fitness = min(f for _, _, f in after if f is not None)
    assert f"fitness {best_fitness:.6g}" in (run / "best.prog").read_text()


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_a_summary_and_the_run_resumes(tmp_path):
    proc, run = start_search(tmp_path, budget=200, seed=1, output=subprocess.PIPE)

    def count():
        return len(stored_rows(run))

    wait_for_rows(proc, run, 3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "seed fitness" in out + err and "best program" in out + err
    stopped = count()
    assert 3 <= stopped < 200
    assert is_valid(parse_file(run / "best.prog"))
    resumed = subprocess.run(SEARCH_CMD + ["--resume", str(run), "--budget", str(stopped + 3)],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert count() > stopped


@pytest.mark.parametrize("cache", ["adir", "afile/c.sqlite"])
def test_bad_cache_path_fails_before_the_run_exists(tmp_path, capsys, cache):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[search]\npopulation = 2\nbudget = 2\n[cache]\npath = "{tmp_path / cache}"\n')
    run = tmp_path / "run"
    assert main(["search", "--seed", builtin_file("sgd"), "--config", str(cfg),
                 "--out", str(run), "--progress", "none"]) == 2
    err = capsys.readouterr().err
    assert f"symopt: error: [cache] path {tmp_path / cache}: cannot use it as a cache" in err
    assert not (run / "run.sqlite").exists()  # so the same --out works once the path is fixed


def _foreign_store(run):
    db = sqlite3.connect(run / "run.sqlite")
    with db:
        db.execute("CREATE TABLE x (a)")
    db.close()


def _no_seeds_store(run):
    RunStore.create(run, {"search": {}}, []).close()


@pytest.mark.parametrize("make, message", [
    (lambda run: (run / "run.sqlite").write_bytes(b""), "not a symopt run store (no table"),
    (lambda run: (run / "run.sqlite").write_bytes(os.urandom(4096)), "not a usable run store"),
    (_foreign_store, "not a symopt run store (no table"),
    (_no_seeds_store, "the stored run has no seed programs"),
])
def test_resume_of_a_corrupt_or_foreign_store_is_a_clean_error(tmp_path, capsys, make, message):
    run = tmp_path / "run"
    run.mkdir()
    make(run)
    before = (run / "run.sqlite").read_bytes()
    assert main(["search", "--resume", str(run), "--progress", "none"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symopt: error:") and message in err and "Traceback" not in err
    if message.startswith("not a"):
        assert (run / "run.sqlite").read_bytes() == before  # refused, not modified


def test_search_stops_with_exit_3_when_the_seed_does_not_train(tmp_path, capsys):
    seed = tmp_path / "boom.prog"
    seed.write_text("def train(w, g, lr):\n    return g * 1e30\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[search]\npopulation = 2\nbudget = 2\n'
                   '[task]\nname = "quadratic"\noverrides = { steps = 20 }\n')
    assert main(["search", "--seed", str(seed), "--config", str(cfg), "--out",
                 str(tmp_path / "run"), "--progress", "none"]) == 3
    err = capsys.readouterr().err
    assert "search stopped: the seed boom.prog diverged (non-finite" in err
    assert len(RunStore.open(tmp_path / "run").candidates()) == 1  # no child was made


@pytest.mark.slow
def test_resume_refuses_a_budget_below_what_is_done(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[search]\npopulation = 2\nbudget = 4\n'
                   '[task]\nname = "quadratic"\noverrides = { steps = 20 }\n')
    run = tmp_path / "run"
    assert main(["search", "--seed", builtin_file("sgd"), "--config", str(cfg), "--out",
                 str(run), "--progress", "none"]) == 0
    capsys.readouterr()
    assert main(["search", "--resume", str(run), "--budget", "2"]) == 2
    assert "--budget 2 is below the 4 training runs" in capsys.readouterr().err
    store = RunStore.open(run)
    assert store.config["search"]["budget"] == 4  # the stored run is unchanged


# -- guaranteed progress (issue 16) ----------------------------------------------------------

STUCK_MUTATION = {"insert": 0, "delete": 0, "modify_arg": 0, "perturb_constant": 0,
                  "replace_function": 1, "functions": ["sign"]}


def _sign_seed(tmp_path):
    seed = tmp_path / "signsgd.prog"
    seed.write_text("def train(w, g, lr):\n    u = sign(g)\n    update = u * lr\n"
                    "    return update\n")
    return seed


@pytest.mark.parametrize("on_stall, restarts", [("restart", 1), ("stop", 0)])
def test_a_search_no_mutation_can_advance_stops_with_the_reason(tmp_path, on_stall, restarts):
    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 10, "stall_after": 30,
                                             "on_stall": on_stall},
                                  "mutation": STUCK_MUTATION})
    t0 = time.monotonic()
    res = run_search(cfg, tmp_path / "r", seeds=[str(_sign_seed(tmp_path))],
                     evaluate_fn=statement_count_fitness)
    assert time.monotonic() - t0 < 30
    assert res.stalled and not res.interrupted
    assert res.stats.restarts == restarts
    assert "stuck: 30 mutations in a row gave no new valid child" in res.stats.stop_reason
    assert "stopped: stuck" in res.stats.summary()
    store = RunStore.open(tmp_path / "r")
    assert [r.operator for r in store.candidates()] == ["seed"]  # kept
    reasons = [reason for _, reason in store.snapshots()]
    assert reasons == ["warm start"] + ["restart from seed: stuck, 30 mutations in a row gave "
                                        "no new valid child (50 tries each, [mutation] "
                                        "max_tries)"] * restarts
    assert (tmp_path / "r" / "best.prog").exists()


@pytest.mark.slow
def test_cli_exits_3_when_the_search_is_stuck(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[search]\npopulation = 2\nbudget = 5\nstall_after = 10\n'
                   '[task]\nname = "quadratic"\noverrides = { steps = 10 }\n'
                   '[mutation]\ninsert = 0\ndelete = 0\nmodify_arg = 0\nperturb_constant = 0\n'
                   'functions = ["sign"]\n')
    run = tmp_path / "r"
    assert main(["search", "--seed", str(_sign_seed(tmp_path)), "--config", str(cfg),
                 "--out", str(run), "--progress", "none"]) == 3
    out, err = capsys.readouterr()
    assert "symopt: search stopped: stuck: 10 mutations in a row" in err
    assert "even right after a restart from the seeds" in err and "Traceback" not in err
    assert "stopped: stuck" in out
    # resuming the stuck run is stuck again, says so, and stores nothing twice
    assert main(["search", "--resume", str(run), "--progress", "none"]) == 3
    assert len(stored_rows(run)) == 1


def test_a_seed_no_operator_can_change_is_refused_before_the_run_exists(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 2, "budget": 3},
                                  "mutation": {"insert": 1, "delete": 0, "modify_arg": 0,
                                               "perturb_constant": 0, "replace_function": 0,
                                               "max_statements": 2}})
    with pytest.raises(UserError, match=r"\[mutation\]: no mutation can change .*signsgd.prog: "
                                        r"insert: it has 2 statements, max_statements is 2"):
        run_search(cfg, tmp_path / "r", seeds=[str(_sign_seed(tmp_path))],
                   evaluate_fn=statement_count_fitness)
    assert not (tmp_path / "r" / "run.sqlite").exists()


def test_insert_only_search_reaching_max_statements_still_ends(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 3, "budget": 15, "stall_after": 20},
                                  "mutation": {"insert": 1, "delete": 0, "modify_arg": 0,
                                               "perturb_constant": 0, "replace_function": 0,
                                               "max_statements": 4},
                                  "cache": {"fingerprint": False}})
    t0 = time.monotonic()
    res = run_search(cfg, tmp_path / "r", seeds=[str(_sign_seed(tmp_path))],
                     evaluate_fn=statement_count_fitness)
    assert time.monotonic() - t0 < 60
    assert res.stats.evaluations == 15 or res.stalled or (
        res.stats.candidates >= cfg.search.candidate_limit)
    assert res.stats.restarts >= 1  # children at the bound could not grow: back to the seed


# -- corrupt stores on resume (issue 16): a clear message naming the file, never a traceback --

def _small_run(tmp_path):
    cfg = SearchConfig.from_dict({"search": {"population": 3, "budget": 6, "snapshot_every": 2},
                                  "cache": {"fingerprint": False}})
    run = tmp_path / "run"
    run_search(cfg, run, seeds=["momentum"], evaluate_fn=statement_count_fitness)
    return run


def _sql(run, statement, *params):
    con = sqlite3.connect(run / "run.sqlite")
    with con:
        con.execute(statement, params)
    con.close()


def _latest_snapshot(run) -> int:
    con = sqlite3.connect(run / "run.sqlite")
    (n,) = con.execute("SELECT MAX(id) FROM snapshots").fetchone()
    con.close()
    return n


@pytest.mark.parametrize("members, problem", [
    ("[1, 2,", "its members are not JSON"),
    ('{"a": 1}', "its members are not a JSON list of candidate ids"),
    ("[1, 999]", "it names candidate id(s) 999 that are not in the store"),
])
def test_resume_with_a_corrupt_snapshot_names_it_and_resumes_from_the_last_good_one(
        tmp_path, capsys, members, problem):
    run = _small_run(tmp_path)
    snap = _latest_snapshot(run)
    assert snap >= 2  # a good one is kept before it
    _sql(run, "UPDATE snapshots SET members = ? WHERE id = ?", members, snap)
    before = stored_rows(run)
    assert main(["search", "--resume", str(run), "--budget", "8", "--progress", "none"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"symopt: error: {run / 'run.sqlite'}: population snapshot {snap} ")
    assert problem in err and "--from-good-snapshot" in err and "Traceback" not in err
    assert stored_rows(run) == before  # refused, nothing written
    cfg = SearchConfig.from_dict(RunStore.open(run).config).with_search(budget=8)
    res = run_search(cfg, run, resume=True, evaluate_fn=statement_count_fitness,
                     from_good_snapshot=True)
    assert res.stats.evaluations == 8 and stored_rows(run)[: len(before)] == before


@pytest.mark.parametrize("column, value, message", [
    ("fitness", "abc", "column fitness holds 'abc', expected a number or NULL"),
    ("gen_index", "x", "column gen_index holds 'x', expected a number"),
    ("hash", b"\x01", "column hash holds b'\\x01', expected text or NULL"),
])
def test_resume_with_a_corrupt_candidate_row_names_the_row(tmp_path, capsys, column, value,
                                                           message):
    run = _small_run(tmp_path)
    _sql(run, f"UPDATE candidates SET {column} = ? WHERE id = 3", value)
    assert main(["search", "--resume", str(run), "--progress", "none"]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'run.sqlite'}: candidate 3: {message}" in err and "Traceback" not in err


def test_a_corrupt_program_text_is_reported_with_the_store_and_candidate_id(tmp_path, capsys):
    run = _small_run(tmp_path)
    population = RunStore.open(run).population(3)
    victim = population[-1]
    _sql(run, "UPDATE candidates SET program_text = ? WHERE id = ?",
         "def train(w, g, lr):\n    return g +", victim)
    assert main(["search", "--resume", str(run), "--budget", "8", "--progress", "none"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{run / 'run.sqlite'} (candidate {victim}):2:")
    assert "syntax error" in err and "Traceback" not in err


@pytest.mark.parametrize("key, value, message", [
    ("config", "{not json", "meta 'config' is not JSON"),
    ("seeds", '[{"path": 1}]', "meta 'seeds' is not a list of {path, text} seed programs"),
])
def test_resume_with_corrupt_meta_names_the_field(tmp_path, capsys, key, value, message):
    run = _small_run(tmp_path)
    _sql(run, "UPDATE meta SET value = ? WHERE key = ?", value, key)
    assert main(["search", "--resume", str(run), "--progress", "none"]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'run.sqlite'}: {message}" in err and "Traceback" not in err


# -- chaos (issue 16): random SIGKILLs of a 2-worker search, each followed by --resume ------

@pytest.mark.slow
def test_chaos_random_sigkills_of_a_two_worker_search_then_resume(tmp_path):
    """Reduced size (3 kills, budget 24); the chaos runs of the issue used 20 kills."""
    import random

    rng = random.Random(16)
    budget, kills = 24, 3
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[search]\npopulation = 6\nbudget = {budget}\nrandom_seed = 7\nworkers = 2\n'
                   '[task]\nname = "quadratic"\noverrides = { steps = 60 }\n')
    run = tmp_path / "run"
    cmd = SEARCH_CMD + ["--seed", "sgd", "--config", str(cfg), "--out", str(run)]
    seen: list = []
    killed = 0
    for _ in range(kills):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_rows(proc, run, len(seen) + 1 + rng.randrange(3))
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:  # a fast search may have finished on its own
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        rows = stored_rows(run)
        assert rows[: len(seen)] == seen  # nothing stored was lost or changed
        seen = rows
        con = sqlite3.connect(run / "run.sqlite")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        cmd = SEARCH_CMD + ["--resume", str(run)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = stored_rows(run)
    assert rows[: len(seen)] == seen
    con = sqlite3.connect(run / "run.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    trained = con.execute("SELECT COUNT(*) FROM candidates WHERE cache_hit = 0").fetchone()[0]
    n, distinct = con.execute("SELECT COUNT(gen_index), COUNT(DISTINCT gen_index) "
                              "FROM candidates").fetchone()
    con.close()
    assert killed >= 2  # the search really was killed mid-run
    assert trained == budget  # exactly the budget, after every kill
    assert n == distinct  # no candidate stored twice
