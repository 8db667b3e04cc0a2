"""`symopt check`, `show`, `functions`: output, exit codes, no tracebacks."""

import subprocess
import sys

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


def test_console_script_gives_no_traceback(tmp_path):
    bad = tmp_path / "loop.prog"
    bad.write_text("def f(w, g, lr):\n    while g:\n        g = g\n    return g\n")
    run = subprocess.run([sys.executable, "-m", "symopt", "check", str(bad)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == f"{bad}:2:5: loops are not allowed"
    assert "Traceback" not in run.stderr


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
