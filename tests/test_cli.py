"""`symopt check`, `show`, `functions`: output, exit codes, no tracebacks."""

import subprocess
import sys

import pytest
from conftest import PROGRAMS
from paths import builtin_file

from symopt.cli import main
from symopt.lang import parse_file
from symopt.lang.registry import FUNCTIONS


def test_check_every_program(capsys):
    assert main(["check", *map(str, PROGRAMS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(PROGRAMS)
    adamw = next(line for line in lines if "adamw.prog" in line and "paper" not in line)
    n = len(parse_file(builtin_file("adamw")).body)
    assert f"{n} statements, 2 state slots, 8 constants" in adamw


def test_check_reports_each_bad_file_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.prog"
    bad.write_text("def f(w, g, lr):\n    x = foo(g)\n    return x\n")
    assert main(["check", str(bad), builtin_file("sgd")]) == 2
    out = capsys.readouterr()
    assert out.err.strip() == f"{bad}:2:9: unknown function 'foo' (see `symopt functions`)"
    assert "sgd.prog: ok" in out.out


def test_show_prints_canonical_text(capsys):
    assert main(["show", builtin_file("momentum")]) == 0
    out = capsys.readouterr().out
    assert "    t1 = m * 0.9\n    m = t1 + g\n" in out


def test_functions_lists_the_library(capsys):
    assert main(["functions"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in FUNCTIONS)


@pytest.mark.slow
def test_console_script_gives_no_traceback(tmp_path):
    bad = tmp_path / "loop.prog"
    bad.write_text("def f(w, g, lr):\n    while g:\n        g = g\n    return g\n")
    run = subprocess.run([sys.executable, "-m", "symopt", "check", str(bad)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == f"{bad}:2:5: loops are not allowed"
    assert "Traceback" not in run.stderr


@pytest.mark.slow
def test_check_of_a_fifo_or_dev_zero_exits_2_at_once(tmp_path):
    """A FIFO without a writer must not hang `symopt check` (issue 16)."""
    import os

    fifo, zero = tmp_path / "f.prog", tmp_path / "z.prog"
    os.mkfifo(fifo)
    zero.symlink_to("/dev/zero")
    out = subprocess.run([sys.executable, "-m", "symopt", "check", str(fifo), str(zero)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert f"{fifo}:1:1: not a regular file (a FIFO)" in out.stderr
    assert f"{zero}:1:1: not a regular file (a character device)" in out.stderr
    assert "Traceback" not in out.stderr


def test_output_is_out_with_o_everywhere_and_output_still_works(tmp_path, capsys):
    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.prog"
    assert main(["export", builtin_file("sgd"), "--to", "python", "--out", str(a)]) == 0
    assert main(["export", builtin_file("sgd"), "--to", "python", "-o", str(b)]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["simplify", builtin_file("sgd"), "--output", str(c)]) == 0
    assert "symopt: warning: --output is deprecated, write --out" in capsys.readouterr().err
    assert a.read_text() == b.read_text() and "def train(w, g" in c.read_text()
    for verb in ("search", "tune", "sweep"):
        assert "-o DIR, --out DIR" in " ".join(_help(verb).split())


def _help(verb):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([verb, "--help"])
    return out.getvalue()


def test_random_seed_flags_are_search_seed_and_the_old_ones_warn(tmp_path, capsys):
    # A bad --budget stops both before any training: the flags are read, then checked.
    for flag, warned in (("--search-seed", False), ("--random-seed", True)):
        argv = ["search", "--seed", "sgd", "--config", "quick", flag, "3", "--budget", "-1",
                "--out", str(tmp_path / "r")]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert ("--random-seed is deprecated, write --search-seed" in err) == warned
        assert "budget" in err and "Traceback" not in err
    assert "--search-seed N" in _help("search") and "--search-seed N" in _help("tune")
    assert "--random-seed" not in _help("search")
