"""symopt.programs: the classic programs ship with the package; names resolve anywhere."""

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


@pytest.mark.slow
def test_commands_resolve_builtin_names_from_any_directory(tmp_path, monkeypatch, capsys):
    from symopt.cli import main

    monkeypatch.chdir(tmp_path)  # no programs/ here: the names come from the package
    assert main(["check", "adamw", "lion"]) == 0
    out = capsys.readouterr().out
    assert "adamw: ok, " in out and "lion: ok, 7 statements, 1 state slot" in out
    assert main(["show", "lion"]) == 0
    assert capsys.readouterr().out == symopt.to_text(programs.load("lion"))
    assert main(["eval", "lion", "sgd", "--task", "quadratic", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "lion" in out and "sgd" in out


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    assert symopt.__version__ == version("symopt")
