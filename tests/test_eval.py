"""`symopt eval`: table, JSON and PNG; user errors exit 2."""

import json

import pytest
from paths import builtin_file

from symopt.cli import main


@pytest.mark.slow
def test_eval_optax_specs_json_and_plot(tmp_path, capsys):
    out, png = tmp_path / "r.json", tmp_path / "c.png"
    rc = main(["eval", "optax:adam", "optax:sgd", "--task", "quadratic", "--seeds", "2",
               "--baseline", "optax:adam", "--json", str(out), "--plot", str(png)])
    assert rc == 0
    table = capsys.readouterr().out
    assert "optax:adam" in table and "1.000" in table
    d = json.loads(out.read_text())
    assert d["task"] == "quadratic" and d["seeds"] == [0, 1] and d["baseline"] == "optax:adam"
    by = {p["name"]: p for p in d["programs"]}
    assert by["optax:adam"]["ratio"] == 1.0 and by["optax:sgd"]["ratio"] > 1.0
    seed0 = by["optax:sgd"]["seeds"][0]
    for key in ("final_loss", "best_loss", "status", "compile_s", "run_s", "steps_per_s"):
        assert key in seed0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nope.prog", "--task", "quadratic"], "no such program file"),
        (["optax:adam", "--task", "klingon"], "unknown task"),
        (["optax:adam", "--task", "quadratic", "--lr-mult", "a,b"], "--lr-mult"),
        (["optax:adam", "--task", "quadratic", "--seeds", "0"], "--seeds"),
        (["optax:no_such_opt", "--task", "quadratic"], "not an optax optimizer built from a "
                                                        "learning rate; use one of: adabelief"),
        # in the optax namespace, but not an optimizer from a learning rate (issue 16)
        (["optax:__class__", "--task", "quadratic"], "use one of: adabelief"),
        (["optax:apply_updates", "--task", "quadratic"], "optax:apply_updates: not an optax"),
        (["optax:chain", "--task", "quadratic"], "optax:chain: not an optax"),
    ],
)
def test_eval_user_errors_exit_2(argv, message, capsys):
    assert main(["eval", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symopt: error:") and message in err


@pytest.mark.slow
def test_eval_programs(tmp_path, capsys):
    """With real programs (the built-in adamw, lion, sgd through symopt.compile.to_optax)."""
    progs = [builtin_file(n) for n in ("adamw", "lion", "sgd")]
    out = tmp_path / "r.json"
    rc = main(["eval", *progs, "--task", "logreg", "--baseline", progs[0], "--json", str(out),
               "--lr-mult", "1,3"])
    assert rc == 0
    d = json.loads(out.read_text())
    by = {p["name"]: p for p in d["programs"]}
    assert set(by) == {"adamw", "lion", "sgd"} and by["adamw"]["ratio"] == 1.0
    assert all(p["n_ok"] == 1 for p in by.values())
    assert by["adamw"]["mean"] < 0.5  # starts at ln 2 = 0.693
    printed = " ".join(capsys.readouterr().out.split())
    assert "adamw: optimizer memory: 2 state values per parameter" in printed
    assert "lion: optimizer memory: 1 state value per parameter" in printed
    assert "lion: hint: the update is sign-like" in printed and "3-10x larger" in printed
    assert "sgd: hint" not in printed


@pytest.mark.parametrize("flag, target, message", [
    ("--json", "adir", "--json {p}: is a directory; give a file name"),
    ("--plot", "adir", "--plot {p}: is a directory; give a file name"),
    ("--plot", "curves.pdfx", "--plot {p}: unknown image format '.pdfx'"),
    ("--json", "afile/r.json", "--json {p}: cannot be created: {p.parent} is not a directory"),
    ("--plot", "/dev/full", "--plot {p}: is under /dev, not a place for results"),
    ("--json", "/proc/r.json", "--json {p}: is under /proc, not a place for results"),
])
def test_eval_bad_output_fails_before_training(tmp_path, capsys, flag, target, message):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    path = tmp_path / target  # an absolute target stays as it is
    assert main(["eval", "optax:sgd", "--task", "quadratic", flag, str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("symopt: error:") and message.format(p=path) in err
    assert "Traceback" not in err and out == ""  # refused before anything was trained


@pytest.mark.parametrize("mult, message", [
    ("inf", "must be a non-empty list of positive finite numbers"),
    ("nan", "must be a non-empty list of positive finite numbers"),
    (",", "expected numbers separated by commas (no empty item)"),
    ("1,,2", "expected numbers separated by commas (no empty item)"),
    (",".join(["1"] * 33), "33 multipliers; at most 32"),
])
def test_eval_lr_mult_must_be_positive_finite(mult, message, capsys):
    assert main(["eval", "optax:sgd", "--task", "quadratic", "--lr-mult", mult]) == 2
    err = capsys.readouterr().err
    assert f"--lr-mult: {message}" in err


@pytest.mark.slow
def test_eval_engines_give_the_same_losses(tmp_path, capsys):
    losses = {}
    for engine in ("interpreted", "compiled"):
        out = tmp_path / f"{engine}.json"
        assert main(["eval", "lion", "adamw", "--task", "logreg", "--steps", "30",
                     "--engine", engine, "--json", str(out)]) == 0
        d = json.loads(out.read_text())
        losses[engine] = {p["name"]: p["seeds"][0]["final_loss"] for p in d["programs"]}
    assert losses["interpreted"].keys() == {"lion", "adamw"}
    for name, loss in losses["compiled"].items():
        assert losses["interpreted"][name] == pytest.approx(loss, rel=1e-4)
