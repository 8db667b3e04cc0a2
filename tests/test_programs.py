"""symopt.programs: the classic programs ship with the package; names resolve anywhere."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import symopt
from symopt import programs
from symopt.errors import UserError
from symopt.lang import parse_file

ROOT = Path(__file__).resolve().parent.parent


def test_every_builtin_program_loads_and_is_the_checkout_file():
    names = programs.names()
    assert {"adamw", "lion", "sgd", "adam", "momentum"} <= set(names)
    for name in names:
        assert programs.load(name) == parse_file(ROOT / "programs" / f"{name}.prog")
        assert programs.path(f"{name}.prog") == programs.path(name)


def test_unknown_names_and_paths():
    with pytest.raises(UserError, match="no built-in program 'adamx'.*adamw"):
        programs.load("adamx")
    with pytest.raises(UserError, match="no built-in program"):
        programs.path("../programs/adamw")
    assert programs.resolve("nope.prog") == Path("nope.prog")  # reading it reports it


def test_a_file_wins_over_a_builtin_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sgd").write_text("def train(w, g, lr):\n    u = sign(g) * lr\n    return u\n")
    assert programs.resolve("sgd") == Path("sgd")
    assert programs.resolve("lion") == programs.path("lion")


def _symopt(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "symopt", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_commands_resolve_builtin_names_from_any_directory(tmp_path):
    out = _symopt("check", "adamw", "lion", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "adamw: ok, " in out.stdout and "lion: ok, 7 statements, 1 state slot" in out.stdout
    shown = _symopt("show", "lion", cwd=tmp_path)
    assert shown.stdout == symopt.to_text(programs.load("lion"))
    ev = _symopt("eval", "lion", "sgd", "--task", "quadratic", "--steps", "5", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    assert "lion" in ev.stdout and "sgd" in ev.stdout


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    assert symopt.__version__ == version("symopt")
