"""Type checker over Scalar < LeafScalar < Tensor."""

import pytest
from conftest import PROGRAMS

from symopt.lang import Kind, infer, is_valid, parse, parse_file
from symopt.lang.model import Program, Stmt
from symopt.lang.typecheck import check


def prog(body, params=("w", "g", "lr"), returns=("u",)):
    return Program(params=params, body=tuple(body), returns=returns)


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_every_classic_program_type_checks(path):
    p = parse_file(path)
    assert is_valid(p) and check(p) == []


def test_kinds_broadcast_and_reduce():
    env = infer(prog([
        Stmt("n", "norm", ("g",)),          # LeafScalar
        Stmt("s", "global_norm", ("g",)),    # Scalar
        Stmt("a", "mul", ("n", "s")),        # LeafScalar
        Stmt("u", "div", ("g", "a")),        # Tensor
    ]))
    assert env["n"] is Kind.LEAF_SCALAR and env["s"] is Kind.SCALAR
    assert env["a"] is Kind.LEAF_SCALAR and env["u"] is Kind.TENSOR


def test_global_clip_needs_a_scalar_bound():
    ok = prog([Stmt("u", "clip_by_global_norm", ("g", 1.0))])
    bad = prog([Stmt("n", "norm", ("g",)), Stmt("u", "clip_by_global_norm", ("g", "n"))])
    assert is_valid(ok)
    assert not is_valid(bad)
    assert "does not accept arguments of kinds (Tensor, LeafScalar)" in check(bad)[0].message


@pytest.mark.parametrize("body,returns", [
    ([Stmt("u", "mul", ("lr", 2.0))], ("u",)),             # update is a Scalar
    ([Stmt("u", "mul", ("g", "nope"))], ("u",)),           # undefined variable
    ([Stmt("u", "nosuch", ("g",))], ("u",)),               # unknown function
    ([Stmt("u", "mul", ("g", 2.0))], ("u", "u")),          # too many returns
    ([], ("missing",)),                                    # returns an undefined name
])
def test_invalid_programs_are_rejected_by_both_paths(body, returns):
    p = prog(body, returns=returns)
    assert not is_valid(p)
    assert check(p)


def test_state_slot_kind_is_checked():
    p = parse("def f(w, g, m, lr):\n    m = norm(g)\n    return g, m\n", check=False)
    assert not is_valid(p)
    assert "state slot 'm' must be a Tensor, but 'm' is a LeafScalar" in check(p)[0].message


def test_fast_and_diagnostic_paths_agree_on_random_programs():
    import random

    from symopt.lang.registry import FUNCTIONS
    rng = random.Random(0)
    names = list(FUNCTIONS)
    agree = 0
    for _ in range(2000):
        vars_ = ["w", "g", "m", "lr"]
        body = []
        for i in range(rng.randint(1, 6)):
            fn = FUNCTIONS[rng.choice(names)]
            args = tuple(rng.choice(vars_) if rng.random() < 0.8 else 0.5 for _ in range(fn.arity))
            target = rng.choice(["m", f"x{i}", "u"])
            body.append(Stmt(target, fn.name, args))
            vars_.append(target)
        p = Program(("w", "g", "m", "lr"), tuple(body), ("u", "m"))
        assert is_valid(p) == (check(p) == [])
        agree += 1
    assert agree == 2000
