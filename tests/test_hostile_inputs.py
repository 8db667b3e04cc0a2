"""Hostile input (issue 25, points 2, 7 and 9): every file, count, output path and store a
user gives is checked up front. Each case runs the real CLI in process and asserts exit 2,
no traceback, a message naming the input, and (where it matters) that nothing was written.

`HOSTILE` names every hostile input tried here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from symopt.cli import main
from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.loop import run_search, statement_count_fitness

LONG = "a" * 300  # one path component longer than the system allows (ENAMETOOLONG)
DEEP = "[" * 3000 + "]" * 3000
HUGE = "9" * 5000
HOSTILE: list[str] = []  # names of the hostile inputs the tests below try (for counting by hand)


@contextlib.contextmanager
def _deadline(seconds: int = 10):
    """Fail, instead of hanging the suite, if the block takes longer than `seconds`."""
    def boom(signum, frame):
        raise AssertionError(f"hung for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def refused(capsys, argv: list[str], *expected: str) -> str:
    """Run `symopt ARGV`: exit 2, no traceback, every `expected` text in the message."""
    case = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]  # e.g. which damage
    HOSTILE.append(f"{case}: " + " ".join(a[:60] for a in argv))
    with _deadline():
        code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert "Traceback" not in err
    for text in expected:
        assert text in err, (text, err)
    return err


@pytest.fixture
def specials(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00\x01 binary")
    (tmp_path / "folder.toml").mkdir()
    return {"fifo": str(fifo), "zero": "/dev/zero", "urandom": "/dev/urandom",
            "dir": str(tmp_path / "folder.toml"), "binary": str(tmp_path / "bin.toml")}


REASONS = {"fifo": "not a regular file (a FIFO)", "zero": "not a regular file (a character",
           "urandom": "not a regular file (a character", "dir": "not a regular file (a dir",
           "binary": "not UTF-8 text (byte 0xff at line 1, column 1)"}


def _verbs(path: str, out: Path) -> dict[str, list[str]]:
    return {
        "search": ["search", "--seed", "sgd", "--config", path, "--out", str(out)],
        "tune": ["tune", "sgd", "--config", path, "--out", str(out)],
        "funnel": ["funnel", str(out), "--config", path],
        "sweep": ["sweep", "--config", path, "--vary", "search.population=2", "--out",
                  str(out)],
    }


@pytest.mark.parametrize("verb", ["search", "tune", "funnel", "sweep"])
@pytest.mark.parametrize("kind", sorted(REASONS))
def test_configs_that_are_not_regular_text_files_are_refused_at_once(
        verb, kind, specials, tmp_path, capsys):
    path = specials[kind]
    out = tmp_path / "out"
    refused(capsys, _verbs(path, out)[verb], f"{path}: {REASONS[kind]}")
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["check", LONG], ["show", LONG], ["simplify", LONG], ["export", LONG, "--to", "optax"],
    ["hash", LONG], ["eval", LONG, "--task", "quadratic"],
    ["search", "--seed", LONG, "--config", "quick", "--out", "{tmp}/o"],
    ["search", "--seed", "sgd", "--config", f"{LONG}/{LONG}.toml", "--out", "{tmp}/o"],
    ["tune", LONG, "--task", "quadratic", "--out", "{tmp}/o"],
    ["tune", "sgd", "--config", f"{LONG}.toml", "--out", "{tmp}/o"],
    ["search", "--seed", "sgd", "--config", "quick", "--out", f"{{tmp}}/{LONG}"],
    ["tune", "sgd", "--task", "quadratic", "--out", f"{{tmp}}/{LONG}"],
    ["report", LONG],
])
def test_names_longer_than_the_system_allows(argv, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    refused(capsys, argv, "a" * 60)
    assert not (tmp_path / "o").exists()


def _config(tmp_path, text: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("text, message", [
    (f"[search]\nx = {DEEP}\n", "nested too deeply (at most 16 levels"),
    ("[search]\nx = " + "[" * 17 + "1" + "]" * 17 + "\n", "nested too deeply (at most 16"),
    ("[task]\noverrides = " + "{a = " * 40 + "1" + "}" * 40 + "\n", "nested too deeply"),
    (f"[search]\npopulation = {HUGE}\n", "integer too large"),
    ("[search]\npopulation = 99999999999999999999\n", "integer too large"),
    ("[search]\nseed = -99999999999999999999\n", "integer too large"),
    ("\ufeff[search]\npopulation = 0\n", "search.population: must be at least 1 (got 0)"),  # BOM
])
def test_toml_depth_and_integer_size_are_bounded(text, message, tmp_path, capsys):
    path = _config(tmp_path, text)
    for argv in (_verbs(path, tmp_path / "o")["search"], _verbs(path, tmp_path / "o")["sweep"]):
        refused(capsys, argv, path, message)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("setting, message", [
    (f"search.population={HUGE}", "--set search.population: integer too large"),
    (f"search.x={DEEP}", "--set search.x: nested too deeply"),
    ("search.x=" + "[" * 3000, "--set search.x: nested too deeply"),
    ("search.x=[[[[", "search.x: unknown key"),
    ("task.overrides.dim=-3", "task.overrides: bad override for task 'quadratic': dim: must be "
                              "at least 1 (got -3)"),
    ("task.overrides.dim=0", "dim: must be at least 1 (got 0)"),
    ("task.overrides.steps=3e9", "steps: expected int (got 3000000000.0)"),
    ("task.overrides.steps=3000000000", "steps: must be at most 10,000,000"),
    ("task.overrides.dim=100000000000", "dim: must be at most 1,000,000"),
    ("task.seeds=" + str(list(range(101))), "task.seeds: 101 seeds; at most 100"),
    ("task.lr_multipliers=" + str([1.0] * 33), "33 multipliers; at most 32"),
    ("search.population=100000000000", "search.population: must be at most 100,000 "
                                       "(got 100000000000)"),
    ("hurdles.at=" + str([0.5] * 101), "hurdles.at: 101 points; at most 100"),
    ("task.time_limit_s=1e400", "task.time_limit_s: must be at most 604800 s (a week) (got inf)"),
])
def test_set_values_are_bounded_before_the_run_exists(setting, message, tmp_path, capsys):
    out = tmp_path / "o"
    refused(capsys, ["search", "--seed", "sgd", "--config", "quick", "--set", setting,
                     "--out", str(out)], message)
    assert not out.exists()


@pytest.mark.parametrize("argv, message", [
    (["eval", "sgd", "--seeds", "99999999999999999999999"], "--seeds: must be at most 100"),
    (["eval", "sgd", "--seeds", "1000000000"], "--seeds: must be at most 100"),
    (["eval", "sgd", "--steps", "3000000000"], "--steps: must be at most 10,000,000"),
    (["eval", "sgd", "--lr-mult", ",".join(["1"] * 40)], "40 multipliers; at most 32"),
    (["eval", "sgd", "--lr-mult", "1,,2"], "no empty item"),
    (["eval", "sgd", "--time-limit", "1e400"], "--time-limit: must be at most 604800 s"),
    (["eval"] + ["sgd"] * 101, "101 programs; eval compares at most 100"),
    (["search", "--out", "{tmp}/o"] + ["--seed", "sgd"] * 101, "--seed: 101 seed programs"),
    (["sweep", "--vary", "search.population=8", "--out", "{tmp}/o"] + ["--program", "sgd"] * 101,
     "--program: 101 seed programs"),
    (["tune", "sgd", "--budget", "10000000000", "--out", "{tmp}/o"],
     "tune.budget: must be an integer in [1, 100,000] (got 10000000000)"),
    (["tune", "sgd", "--search-seed", "99999999999999999999", "--out", "{tmp}/o"],
     "tune.random_seed"),
    (["sweep", "--vary", "search.population=2,3", "--seeds", "1000000", "--out", "{tmp}/o"],
     "--seeds: must be at most 1,000"),
    (["sweep", "--vary", "search.population=" + ",".join(map(str, range(2, 40))), "--vary",
      "search.tournament=" + ",".join(map(str, range(1, 40))), "--out", "{tmp}/o"],
     "a sweep runs at most 1,000"),
    (["sweep", "--vary", f"search.population={HUGE}", "--out", "{tmp}/o"],
     "--vary search.population: integer too large"),
])
def test_counts_on_the_command_line_have_upper_bounds(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    refused(capsys, argv, message)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("table, message", [
    ("budget = 10000000000", "tune.budget: must be an integer in [1, 100,000] (got 10000000000)"),
    ("population = 1000\ngenerations = 1000", "tune.generations: population x generations = "
                                             "1,000,000 is above the limit"),
    (f"budget = {HUGE}", "integer too large"),
    ("task = \"quadratic\"\n[tune.overrides]\ndim = -3", "tune.overrides: bad override for "
                                                      "task 'quadratic': dim: must be at least 1"),
    ("task = \"quadratic\"\n[tune.overrides]\nsteps = 3e9",
     "steps: expected int (got 3000000000.0)"),
])
def test_tune_config_counts_are_bounded(table, message, tmp_path, capsys):
    path = _config(tmp_path, f"[tune]\n{table}\n")
    refused(capsys, ["tune", "sgd", "--config", path, "--out", str(tmp_path / "o")], message)
    assert not (tmp_path / "o" / "tune.sqlite").exists()


@pytest.fixture
def afile(tmp_path):
    path = tmp_path / "afile"
    path.write_text("mine\n")
    return path


@pytest.mark.parametrize("argv, message", [
    (["tune", "sgd", "--task", "quadratic", "--out", "/dev/null"], "is under /dev"),
    (["tune", "sgd", "--task", "quadratic", "--out", "/proc/x"], "is under /proc"),
    (["tune", "sgd", "--task", "quadratic", "--out", "{afile}"], "is a file, not a directory"),
    (["tune", "sgd", "--task", "quadratic", "--out", "{afile}/sub"], "is not a directory"),
    (["search", "--seed", "sgd", "--config", "quick", "--out", "{afile}"], "is a file"),
    (["search", "--seed", "sgd", "--config", "quick", "--out", "/proc/self/x"], "/proc"),
    (["search", "--seed", "sgd", "--config", "quick", "--out", "/dev/null"], "is under /dev"),
    (["sweep", "--vary", "search.population=8", "--config", "quick", "--out", "{afile}"],
     "is a file"),
    (["export", "sgd", "--to", "optax", "-o", "/dev/full"], "-o /dev/full: is under /dev"),
    (["export", "sgd", "--to", "optax", "-o", "{tmp}"], "is a directory; give a file name"),
    (["simplify", "sgd", "-o", "/dev/null"], "-o /dev/null: is under /dev"),
    (["eval", "sgd", "--task", "quadratic", "--plot", "/dev/full"], "--plot /dev/full"),
    (["eval", "sgd", "--task", "quadratic", "--json", "{afile}/x.json"], "is not a directory"),
])
def test_output_paths_are_checked_before_any_work(argv, message, afile, tmp_path, capsys):
    argv = [a.replace("{afile}", str(afile)).replace("{tmp}", str(tmp_path)) for a in argv]
    refused(capsys, argv, message)
    assert afile.read_text() == "mine\n"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing written


@pytest.mark.skipif(os.path.lexists("/nonexistent"), reason="/nonexistent exists here")
@pytest.mark.parametrize("where", ["/nonexistent/dir/x", "{tmp}/none/dir/x"])
def test_a_cache_path_in_a_missing_folder_creates_no_folder(where, tmp_path, capsys):
    cache = where.replace("{tmp}", str(tmp_path))
    path = _config(tmp_path, f'[search]\npopulation = 2\nbudget = 2\n[cache]\npath = "{cache}"\n')
    refused(capsys, ["search", "--seed", "sgd", "--config", path, "--out",
                     str(tmp_path / "o")], f"[cache] path {cache}", "does not exist")
    assert not os.path.lexists("/nonexistent") and not (tmp_path / "none").exists()
    assert not (tmp_path / "o").exists()


# -- damaged stores ---------------------------------------------------------------------

FUNNEL = {"search": {"population": 4, "budget": 12},
          "task": {"name": "quadratic", "overrides": {"steps": 5}},
          "funnel": [{"task": "quadratic", "top_k": 2, "lr_multipliers": [1.0]}]}


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("stored") / "run"
    run_search(SearchConfig.from_dict(FUNNEL), run, seeds=["sgd"],
               evaluate_fn=statement_count_fitness, run_funnel_after=False)
    return run


@pytest.fixture
def run(stored_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(stored_run, copy)
    return copy


def _sql(run: Path, statement: str, params: tuple = ()) -> None:
    db = sqlite3.connect(run / "run.sqlite")
    with db:
        db.execute(statement, params)
    db.close()


def _best_id(run: Path) -> int:
    db = sqlite3.connect(run / "run.sqlite")
    best = db.execute("SELECT id FROM candidates WHERE operator != 'seed' AND fitness IS NOT "
                      "NULL ORDER BY fitness, id LIMIT 1").fetchone()[0]
    db.close()
    return best


RESUME = ["search", "--resume", "{run}", "--budget", "30", "--no-funnel", "--progress", "none"]
REPORT = ["report", "{run}", "--no-curves"]
FUNNEL_CMD = ["funnel", "{run}"]


@pytest.mark.parametrize("damage, verbs, message", [
    ("UPDATE candidates SET program_text = CAST(x'fffe41' AS TEXT) WHERE id = 2",
     [RESUME, REPORT, FUNNEL_CMD], "a stored text is not UTF-8"),
    ("UPDATE snapshots SET members = '[[[' ", [REPORT, RESUME], "population snapshot"),
    ("INSERT INTO sessions (started, ended, end_reason) VALUES ('x', 'y', 3)", [REPORT],
     "session"),
    ("UPDATE candidates SET gen_index = 9223372036854775807 WHERE id = 3", [RESUME, REPORT],
     "candidate 3: column gen_index holds 9223372036854775807"),
    ("UPDATE candidates SET fitness = -1e999 WHERE id = 2", [REPORT, RESUME, FUNNEL_CMD],
     "column fitness holds -inf, expected a finite number"),
    ("UPDATE meta SET value = '99' WHERE key = 'version'", [RESUME, REPORT, FUNNEL_CMD],
     "a run store of schema version '99'"),
    ("INSERT INTO curves VALUES (1, 0, 'garbage', '[1]')", [["report", "{run}"]],
     "curve of candidate 1"),
])
def test_damaged_stores_are_named_errors(damage, verbs, message, run, capsys):
    _sql(run, damage)
    for verb in verbs:
        refused(capsys, [a.replace("{run}", str(run)) for a in verb], f"{run}/run.sqlite",
                message)


def test_an_unparseable_best_candidate_is_named_before_the_funnel_starts(run, capsys):
    best = _best_id(run)
    _sql(run, "UPDATE candidates SET program_text = 'def train(w, g, lr):\n    return (' "
              "WHERE id = ?", (best,))
    refused(capsys, ["funnel", str(run)], f"{run}/run.sqlite (candidate {best}):")


def test_best_prog_as_a_directory_and_a_foreign_store(run, tmp_path, capsys):
    (run / "best.prog").unlink()
    (run / "best.prog").mkdir()
    refused(capsys, [a.replace("{run}", str(run)) for a in RESUME],
            f"{run}/best.prog: is a directory")
    other = tmp_path / "garbage"
    other.mkdir()
    (other / "run.sqlite").write_bytes(b"not sqlite at all" * 100)
    refused(capsys, ["search", "--resume", str(other)], f"{other}/run.sqlite")
    refused(capsys, ["report", str(other)], f"{other}/run.sqlite")


def test_an_empty_tune_store_is_refused_on_resume(tmp_path, capsys):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "tune.sqlite").write_bytes(b"")
    refused(capsys, ["tune", "--resume", str(tmp_path / "t")],
            f"{tmp_path}/t/tune.sqlite: not a tuning store (no stored config and program)")


# -- ownership ----------------------------------------------------------------------------

HOLD = ("import fcntl, os, sys, time\n"
        "fd = os.open(os.path.join(sys.argv[1], 'run.lock'), os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, f'pid={os.getpid()}\\ncommand=holder-for-test\\n'.encode())\n"
        "print('held', flush=True); time.sleep(60)\n")


def test_a_directory_a_live_search_owns_is_refused_before_anything_is_written(run, capsys):
    before = sorted(p.name for p in run.iterdir())
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        for argv in (["report", str(run)], ["report", str(run), "--no-curves"],
                     ["sweep", "--vary", "search.population=8", "--config", "quick", "--out",
                      str(run)],
                     ["tune", "sgd", "--task", "quadratic", "--budget", "2", "--out", str(run)],
                     ["search", "--resume", str(run)], ["funnel", str(run)]):
            refused(capsys, argv, f"PID {proc.pid} (holder-for-test")
    finally:
        proc.kill()
        proc.wait()
    assert sorted(p.name for p in run.iterdir()) == before  # no report, sweep.json, tune.sqlite


# -- a full disk ----------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"this system refuses a tmpfs mount: {mounted.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_mid_search_is_a_named_error_and_keeps_the_rows(tiny_disk, capsys):
    from symopt.search.storage.guard import StoreWriteError
    from symopt.search.storage.store import RunStore

    HOSTILE.append("disk full during a search")
    filler = tiny_disk / "filler"
    calls = []

    def fill_the_disk_at_the_sixth(text, spec):
        calls.append(text)
        if len(calls) == 6:
            with open(filler, "wb") as f, contextlib.suppress(OSError):
                while True:
                    f.write(b"x" * 4096)
                    f.flush()
        return statement_count_fitness(text, spec)

    cfg = SearchConfig.from_dict({"search": {"population": 4, "budget": 40}})
    with pytest.raises(StoreWriteError, match=f"{tiny_disk}/run/.*: cannot write the store: "
                                              "database or disk is full; everything stored"):
        run_search(cfg, tiny_disk / "run", seeds=["sgd"],
                   evaluate_fn=fill_the_disk_at_the_sixth)
    refused(capsys, ["report", str(tiny_disk / "run"), "--no-curves"], "cannot write")
    refused(capsys, ["search", "--resume", str(tiny_disk / "run"), "--progress", "none",
                     "--no-funnel"], f"{tiny_disk}/run")
    filler.unlink()
    store = RunStore.open(tiny_disk / "run")
    assert len(store.candidates()) == 5  # every row stored before the disk filled
    store.close()


# -- exports and program text --------------------------------------------------------------

def test_a_run_directory_name_with_a_newline_keeps_best_prog_a_program(tmp_path, capsys):
    HOSTILE.append("--out 'r\\nimport os'")
    out = tmp_path / "r\nimport os"
    run_search(SearchConfig.from_dict({"search": {"population": 2, "budget": 3}}), out,
               seeds=["sgd"], evaluate_fn=statement_count_fitness)
    text = (out / "best.prog").read_text()
    header = text.split("def ")[0].splitlines()
    assert header and all(line.startswith("#") for line in header)
    assert "r\\nimport os" in header[0]
    assert main(["check", str(out / "best.prog")]) == 0


def test_program_size_limits_are_about_operations_not_nesting(tmp_path, capsys):
    flat = tmp_path / "flat.prog"
    flat.write_text("def train(w, g, lr):\n    update = " + " + ".join(["g"] * 333)
                    + "\n    return update * lr\n")
    assert main(["check", str(flat)]) == 0  # 333 terms: 333 statements, under 1,000
    deep = tmp_path / "deep.prog"
    deep.write_text("def train(w, g, lr):\n    update = " + "-" * 50_000 + "g\n"
                    "    return update\n")
    refused(capsys, ["check", str(deep)], f"{deep}:1:1: syntax error: expressions nested "
                                          "too deeply")


@pytest.mark.parametrize("name", ["self", "lr"])
def test_torch_export_works_under_any_usable_class_name(name, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    HOSTILE.append(f"export --to torch --name {name}")
    out = tmp_path / "opt.py"
    assert main(["export", "sgd", "--to", "torch", "--name", name, "-o", str(out)]) == 0
    from helpers import load_module

    mod = load_module(out.read_text(), tmp_path, f"exported_{name}")
    p = torch.nn.Parameter(torch.ones(3))
    opt = getattr(mod, name)([p], lr=0.5)
    ref = torch.nn.Parameter(torch.ones(3))
    reference = torch.optim.SGD([ref], lr=0.5)  # the built-in sgd is `update = g * lr`
    for grad in (2.0, -1.0):
        p.grad, ref.grad = torch.full((3,), grad), torch.full((3,), grad)
        opt.step()
        reference.step()
    assert torch.allclose(p.detach(), ref.detach())


def test_hash_takes_built_in_names_like_every_verb(capsys):
    assert main(["hash", "adamw", "lion", "programs/sgd.prog"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["adamw", "lion", "programs/sgd.prog"]
    refused(capsys, ["hash", "no-such-program"], "no-such-program: no such file, folder or "
                                                  "built-in program")


def test_a_worker_whose_parent_is_gone_leaves_without_a_traceback(capfd):
    """What a double Ctrl-C or a broken pipe does to a busy worker: its result has nowhere
    to go; it must exit quietly, not print chained BrokenPipeError tracebacks."""
    import time

    from symopt.isolation import IsolatedWorker

    HOSTILE.append("parent gone while a worker trains")
    w = IsolatedWorker()
    w.call(os.getpid)  # started
    proc, conn = w._proc, w._conn
    conn.send((time.sleep, (1.0,)))
    assert conn.recv() == ("started", None)
    conn.close()  # the parent's end is gone while the worker is busy
    proc.join(timeout=60)
    w._proc = w._conn = None
    assert proc.exitcode == 0
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_the_report_wall_time_includes_the_funnel(tmp_path, capsys):
    run = tmp_path / "run"
    run_search(SearchConfig.from_dict(FUNNEL), run, seeds=["sgd"],
               evaluate_fn=statement_count_fitness)
    db = sqlite3.connect(run / "run.sqlite")
    first, last = db.execute("SELECT MIN(created - seconds), MAX(created) FROM funnel").fetchone()
    db.close()
    assert main(["report", str(run), "--no-curves"]) == 0
    line = next(x for x in (run / "report.md").read_text().splitlines() if "wall time" in x)
    assert " + funnel " in line, line
    from symopt.report.history import RunHistory

    h = RunHistory.load(run)
    assert h.funnel_seconds == pytest.approx(last - first)
    assert h.total_seconds == pytest.approx(h.wall_seconds + h.funnel_seconds)


_SHM_CHILD = """
import os, sqlite3, subprocess, sys
from symopt.search.storage.guard import StoreWriteError, guard
path, how = sys.argv[1], sys.argv[2]
db = guard(sqlite3.connect(path, isolation_level=None), "run.sqlite", path)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE t (a)")
db.execute("INSERT INTO t VALUES (1)")
if how == "chattr":
    subprocess.run(["chattr", "+i", path + "-shm"], check=True)
else:
    os.chmod(path + "-shm", 0o444)
try:
    for i in range(1000):
        db.execute("INSERT INTO t VALUES (?)", ("x" * 1000,))
except StoreWriteError as err:
    print(err)
"""


def test_a_store_whose_index_file_becomes_immutable_mid_run_is_an_error_not_sigbus(tmp_path):
    """SQLite writes the WAL index through a memory map: once its -shm file is immutable
    (chattr +i on the run directory mid-run) that write was a SIGBUS (exit 135, no message).
    The store now refuses it first. As root the file is made immutable (skipped where the
    file system has no such attribute); otherwise read-only, which root could still write."""
    HOSTILE.append("run directory made immutable mid-run")
    path = tmp_path / "run.sqlite"
    shm = f"{path}-shm"
    if os.geteuid() == 0:
        probe = tmp_path / "probe"
        probe.write_text("")
        if shutil.which("chattr") is None or subprocess.run(
                ["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
            pytest.skip("no immutable attribute here")
        subprocess.run(["chattr", "-i", str(probe)], check=True)
        how = "chattr"
    else:
        how = "chmod"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    try:
        proc = subprocess.run([sys.executable, "-c", _SHM_CHILD, str(path), how], env=env,
                              capture_output=True, text=True, timeout=120)
    finally:
        if how == "chattr":
            subprocess.run(["chattr", "-i", shm], capture_output=True)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])  # not -7 (SIGBUS)
    assert f"run.sqlite: cannot write the store: {shm} is no longer writable" in proc.stdout
