"""The simplifier: each rewrite, the Lion-like raw program, nested printing, the CLI verbs."""

from __future__ import annotations

import pytest
from paths import PROGRAM_FILES, builtin_file, local_program

from symopt.analysis import (
    SimplifyError,
    canonical_hash,
    fingerprint,
    rewrite,
    simplify,
    to_nested_text,
)
from symopt.analysis.fingerprinting import same_behaviour
from symopt.cli import main
from symopt.lang import is_valid, parse, parse_file, to_text

FILES = PROGRAM_FILES + [local_program("lion_raw.prog")]
LION_RAW = local_program("lion_raw.prog")


def prog(params: str, body: str):
    lines = "\n".join(f"    {s.strip()}" for s in body.split(";"))
    return parse(f"def train({params}):\n{lines}\n")


def fns(p):
    return [s.fn for s in p.body]


# (input body, functions of the simplified body) over `w, g, lr`
REWRITES = [
    ("u = g / abs(g) * lr; return u", ["sign", "mul"]),
    ("u = g / sqrt(square(g)) * lr; return u", ["sign", "mul"]),
    ("u = g / sqrt(g * g) * lr; return u", ["sign", "mul"]),
    ("u = sqrt(square(g)) * lr; return u", ["abs", "mul"]),
    ("u = -(-g) * lr; return u", ["mul"]),
    ("u = g * 1.0 * lr; return u", ["mul"]),
    ("u = (g + 0.0) * lr; return u", ["mul"]),
    ("u = (g - 0.0) / 1.0 * lr; return u", ["mul"]),
    ("u = interp(g, w, 0.0) * lr; return u", ["mul"]),
    ("u = interp(w, g, 1.0) * lr; return u", ["mul"]),
    ("u = g * (lr * 0.001 * 2); return u", ["mul", "mul"]),
    ("k = 1.0 - 0.1; u = g * k * 2.0 * lr; return u", ["mul", "mul"]),
    ("u = (g + -w) * lr; return u", ["sub", "mul"]),
    ("u = abs(-g) * lr; return u", ["abs", "mul"]),
    ("u = sign(sign(g)) * lr; return u", ["sign", "mul"]),
    ("u = maximum(g, g) * lr; return u", ["mul"]),
    ("u = g * reciprocal(w) * lr; return u", ["div", "mul"]),
    ("a = sign(g); b = sign(g); u = a + b; u = u * lr; return u", ["sign", "add", "mul"]),
    ("a = g * lr; b = lr * g; u = a + b; return u", ["mul", "add"]),
]


@pytest.mark.parametrize("body, expected", REWRITES)
def test_rewrite(body, expected):
    p = prog("w, g, lr", body)
    q = simplify(p)
    assert fns(q) == expected
    assert is_valid(q)
    assert same_behaviour(p, q)


def test_constants_are_folded_to_one_readable_constant():
    q = simplify(prog("w, g, lr", "a = lr * 0.001; a = a * 2; u = g * a; return u"))
    assert q.constants() == [0.002]
    q = simplify(prog("w, g, a, lr", "a = a + square(g); u = g / sqrt(a + 0.1 + 1e-07) * lr; "
                                     "return u, a"))
    assert q.constants() == [0.1000001]


def test_rule_that_would_change_a_kind_is_not_applied():
    # interp(lr, g, 0) is a Tensor; `lr` alone is a Scalar and would break the return.
    p = prog("w, g, lr", "u = interp(lr, g, 0.0); return u")
    q = simplify(p)
    assert fns(q) == ["interp"] and is_valid(q)


def test_lion_raw_simplifies_to_lion():
    raw, lion = parse_file(LION_RAW), parse_file(builtin_file("lion"))
    assert len(raw.body) >= 20
    assert [s.fn for s in raw.body[5:8]] == ["mul", "sqrt", "div"]  # m2 = m * m; a = ...; u = ...
    q = simplify(raw)
    assert len(q.body) <= len(lion.body) == 7
    assert fingerprint(q) == fingerprint(raw) == fingerprint(lion)
    assert canonical_hash(q) == canonical_hash(lion)
    assert to_nested_text(q, header=False) == (
        "def train(w, g, m, lr):\n"
        "    update = (sign(interp(g, m, 0.9)) + w * 0.1) * (lr * 0.1)\n"
        "    m = interp(g, m, 0.99)\n"
        "    return update, m\n")


@pytest.mark.parametrize("path", FILES)
def test_simplify_keeps_behaviour_is_idempotent_and_never_grows(path):
    p = parse_file(path)
    q = simplify(p)
    assert is_valid(q) and len(q.body) <= len(p.body)
    assert fingerprint(q) == fingerprint(p)
    assert to_text(simplify(q)) == to_text(q)


def test_state_slot_keeps_its_name_only_when_the_old_value_is_dead():
    # The update reads both the new and the old m: the new one cannot be called m.
    p = prog("w, g, m, lr", "n = interp(g, m, 0.9); u = n - m; u = u * lr; return u, n")
    q = simplify(p)
    assert q.returns[1] == "m_new" and same_behaviour(p, q)
    p = prog("w, g, m, lr", "n = interp(g, m, 0.9); u = n * lr; return u, n")
    assert simplify(p).returns == ("update", "m")


def test_wrong_rewrite_is_refused(monkeypatch):
    monkeypatch.setitem(rewrite._RULES, "abs", (rewrite.parse_rule("abs(x) -> x"),))  # wrong
    with pytest.raises(SimplifyError, match="would change what the program computes"):
        simplify(prog("w, g, lr", "u = abs(g) * lr; return u"))


@pytest.mark.parametrize("path", FILES)
def test_nested_text_parses_back_to_the_same_dataflow(path):
    p = parse_file(path)
    for program in (p, simplify(p)):
        assert canonical_hash(parse(to_nested_text(program))) == canonical_hash(program)


@pytest.mark.parametrize("body", [
    "a = g - w; b = w - a; u = b * lr; return u",
    "a = -g; b = -a; c = a * b; u = c / lr; return u",
    "a = g * -0.5; b = -0.5 - a; u = negative(b) * lr; return u",
    "a = g + w; u = g; u = a * lr; return u",
    "a = g + w; w = sign(g); u = a * w; u = u * lr; return u",
    "a = g / w; b = a / g; c = sqrt(b); u = -c * lr; return u",
])
def test_nested_text_keeps_order_and_precedence(body):
    p = prog("w, g, lr", body)
    assert canonical_hash(parse(to_nested_text(p))) == canonical_hash(p)


def test_cli_simplify_prints_program_and_summary(tmp_path, capsys):
    assert main(["simplify", LION_RAW]) == 0
    out, err = capsys.readouterr()
    assert "update = (sign(interp(g, m, 0.9)) + w * 0.1) * (lr * 0.1)" in out
    assert "statements: 25 -> 7" in err and "24% -> 0%" in err
    target = tmp_path / "s.prog"
    assert main(["simplify", "--flat", LION_RAW, "-o", str(target)]) == 0
    q = parse_file(target)
    assert len(q.body) == 7 and fingerprint(q) == fingerprint(parse_file(builtin_file("lion")))


def test_cli_errors_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.prog"
    bad.write_text("def train(w, g, lr):\n    u = foo(g)\n    return u\n")
    assert main(["simplify", str(bad)]) == 2
    assert "bad.prog:2:9: unknown function 'foo'" in capsys.readouterr().err
    assert main(["simplify", LION_RAW, "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["hash", str(tmp_path / "missing.prog")]) == 2
    assert "missing.prog: no such file" in capsys.readouterr().err


def test_cli_hash_prints_and_groups(tmp_path, capsys):
    assert main(["hash", builtin_file("lion"), LION_RAW]) == 0
    lines = capsys.readouterr().out.splitlines()
    fps = [line.split("fingerprint ")[1] for line in lines]
    assert len(lines) == 2 and fps[0] == fps[1]
    assert canonical_hash(parse_file(builtin_file("lion"))) in lines[0]
    for name in ("lion.prog", "signum.prog", "sgd.prog"):
        (tmp_path / name).write_text(open(builtin_file(name)).read())
    (tmp_path / "lion_raw.prog").write_text(open(LION_RAW).read())
    assert main(["hash", "--group", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("class ") == 3 and "2 programs" in out
