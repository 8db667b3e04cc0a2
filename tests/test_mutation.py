"""Mutation operators: validity, bounds, what each operator does, determinism."""

import math
import os
import random
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from conftest import PROGRAMS, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import builtin_file
from scipy import stats

from symopt.errors import UserError
from symopt.lang import FUNCTIONS, check, infer, is_valid, parse, parse_file, to_text
from symopt.lang.dead_code import live_mask
from symopt.lang.model import Program, Stmt
from symopt.search.evolution.mutation import (
    MAX_ABS_CONSTANT,
    MIN_ABS_CONSTANT,
    OPERATORS,
    MutationConfig,
    Mutator,
)

PARSED = {p.stem: parse_file(p) for p in PROGRAMS}
ADAMW = PARSED["adamw"]


def only(op, **kw):
    """A config where `op` is the only operator with a positive weight."""
    return MutationConfig(**{o: (1.0 if o == op else 0.0) for o in OPERATORS}, **kw)


def names(p: Program) -> set:
    return set(p.params) | set(p.returns) | {s.target for s in p.body}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), name=st.sampled_from(sorted(PARSED)),
       bound=st.integers(15, 25))
def test_children_always_type_check_and_respect_the_bound(seed, name, bound):
    mutator = Mutator(MutationConfig(max_statements=bound), rng=seed)
    parent = PARSED[name]
    for _ in range(30):
        child = mutator.mutate(parent)
        p = child.program
        assert child.operator in OPERATORS and 1 <= child.tries <= 50
        # `check` is the diagnostic checker, written separately from `infer`.
        assert infer(p) is not None and check(p) == []
        assert p != parent and len(p.body) <= bound
        assert p.params == parent.params and p.returns == parent.returns
        assert parse(to_text(p)) == p  # constants finite, names printable
        assert all(MIN_ABS_CONSTANT <= abs(c) <= MAX_ABS_CONSTANT for c in p.constants()
                   if c not in parent.constants())
        parent = p


def test_bound_stops_insert():
    mutator = Mutator(only("insert", max_statements=6), rng=0)
    p = PARSED["sgd"]
    for _ in range(5):
        p = mutator.mutate(p).program
    assert len(p.body) == 6
    stuck = mutator.mutate(p)
    assert stuck.operator == "none" and stuck.program is p


def test_over_long_parent_never_grows():
    mutator = Mutator(MutationConfig(max_statements=5), rng=3)
    for _ in range(100):
        child = mutator.mutate(ADAMW)
        assert child.operator != "insert" and len(child.program.body) <= len(ADAMW.body)


def is_subsequence(short, long) -> bool:
    it = iter(long)
    return all(any(x == y for y in it) for x in short)


def test_delete_removes_exactly_one_statement():
    mutator = Mutator(only("delete"), rng=1)
    for name, parent in PARSED.items():
        for _ in range(10):
            child = mutator.mutate(parent)
            if child.operator == "none":  # e.g. sgd: its one statement defines update
                assert name == "sgd"
                continue
            assert len(child.program.body) == len(parent.body) - 1
            assert is_subsequence(child.program.body, parent.body)


def test_delete_gives_up_when_no_deletion_is_valid():
    child = Mutator(only("delete", max_tries=7), rng=0).mutate(PARSED["sgd"])
    assert (child.operator, child.tries, child.program) == ("none", 7, PARSED["sgd"])


def test_insert_adds_one_statement_mostly_live():
    mutator = Mutator(only("insert"), rng=2)
    live = fresh = 0
    for _ in range(300):
        child = mutator.mutate(ADAMW)
        body = child.program.body
        assert len(body) == len(ADAMW.body) + 1 and is_subsequence(ADAMW.body, body)
        i = next(k for k in range(len(body)) if k == len(ADAMW.body) or body[k] != ADAMW.body[k])
        new = body[i]
        assert FUNCTIONS[new.fn].arity == len(new.args)
        live += live_mask(child.program)[i]
        fresh += new.target not in names(ADAMW)
    # Default fresh_target_prob = 0.2: most inserts overwrite a variable that is read later.
    assert live / 300 > 0.6 and 0.1 < fresh / 300 < 0.35


def test_fresh_names_never_collide():
    mutator = Mutator(only("insert", fresh_target_prob=1.0), rng=4)
    p = PARSED["adam"]  # has a state slot named v
    for _ in range(10):
        child = mutator.mutate(p).program
        (new,) = [s for s in child.body if s not in p.body]
        assert new.target not in names(p) and new.target.startswith("v")
        p = child


def test_modify_arg_changes_one_argument():
    mutator = Mutator(only("modify_arg"), rng=5)
    kinds_changed = 0
    for _ in range(200):
        child = mutator.mutate(ADAMW).program
        diff = [(a, b) for a, b in zip(ADAMW.body, child.body, strict=True) if a != b]
        assert len(child.body) == len(ADAMW.body) and len(diff) == 1
        (old, new), = diff
        assert (old.target, old.fn) == (new.target, new.fn)
        assert sum(x != y for x, y in zip(old.args, new.args, strict=True)) == 1
        kinds_changed += any(isinstance(x, str) != isinstance(y, str)
                             for x, y in zip(old.args, new.args, strict=True))
    assert kinds_changed > 0  # variables and constants both get swapped in


def test_replace_function_keeps_argument_and_result_kinds():
    mutator = Mutator(only("replace_function"), rng=6)
    before = infer(ADAMW)
    for _ in range(100):
        child = mutator.mutate(ADAMW).program
        diff = [(a, b) for a, b in zip(ADAMW.body, child.body, strict=True) if a != b]
        (old, new), = diff
        assert old.fn != new.fn and (old.target, old.args) == (new.target, new.args)
        assert new.fn != "copy" and FUNCTIONS[new.fn].arity == FUNCTIONS[old.fn].arity
        assert infer(child) == before  # same kinds everywhere


def test_perturb_constant_scales_one_constant_by_2_to_a_standard_normal():
    mutator = Mutator(only("perturb_constant"), rng=7)
    parent = PARSED["paper_adamw"]  # constants far from the clamp bounds
    exponents = []
    for _ in range(1500):
        child = mutator.mutate(parent).program
        pairs = zip(parent.constants(), child.constants(), strict=True)
        changed = [(a, b) for a, b in pairs if a != b]
        assert len(changed) == 1
        old, new = changed[0]
        assert math.copysign(1, old) == math.copysign(1, new)
        exponents.append(math.log2(new / old))
        assert [s.fn for s in child.body] == [s.fn for s in parent.body]
    assert stats.kstest(exponents, "norm").pvalue > 1e-3
    assert abs(np.mean(exponents)) < 0.1 and 0.9 < np.std(exponents) < 1.1


def test_perturb_constant_clamps_magnitude():
    p = parse("def train(w, g, lr):\n    a = g * 1e8\n    b = a * 0.0\n    return b\n")
    mutator = Mutator(only("perturb_constant"), rng=8)
    for _ in range(50):
        child = mutator.mutate(p).program
        for c in child.constants():
            assert c == 0.0 or MIN_ABS_CONSTANT <= abs(c) <= MAX_ABS_CONSTANT
        assert 1e-8 in child.constants() or child.constants()[0] < 1e8


def test_weights_are_respected():
    zero = Mutator(MutationConfig(delete=0.0, replace_function=0.0), rng=9)
    ops = Counter(zero.mutate(ADAMW).operator for _ in range(400))
    assert ops["delete"] == 0 and ops["replace_function"] == 0 and ops["insert"] > 50
    skew = Mutator(MutationConfig(insert=3.0, delete=0.0, modify_arg=0.0,
                                  perturb_constant=1.0, replace_function=0.0), rng=10)
    ops = Counter(skew.mutate(ADAMW).operator for _ in range(1000))
    assert 0.70 < ops["insert"] / 1000 < 0.80  # 3:1, both nearly always succeed


def test_most_children_are_valid_on_the_first_try():
    mutator = Mutator(MutationConfig(), rng=11)
    tries = [mutator.mutate(ADAMW).tries for _ in range(500)]
    assert sum(t == 1 for t in tries) / 500 > 0.85


def test_accept_predicate_is_honoured():
    mutator = Mutator(MutationConfig(max_tries=5), rng=12)
    child = mutator.mutate(ADAMW, accept=lambda p: False)
    assert child.operator == "none" and child.tries == 5 and child.program == ADAMW
    keep_long = mutator.mutate(ADAMW, accept=lambda p: len(p.body) > len(ADAMW.body))
    assert keep_long.operator == "insert"


def sequence(mutator, parent, n=40):
    out = []
    for _ in range(n):
        m = mutator.mutate(parent)
        out.append((to_text(m.program), m.operator, m.description, m.tries))
        parent = m.program
    return out


def test_deterministic_for_a_seed():
    a = sequence(Mutator(MutationConfig(), rng=13), ADAMW)
    assert a == sequence(Mutator(MutationConfig(), rng=random.Random(13)), ADAMW)
    assert a != sequence(Mutator(MutationConfig(), rng=14), ADAMW)
    g1 = sequence(Mutator(MutationConfig(), rng=np.random.default_rng(5)), ADAMW)
    assert g1 == sequence(Mutator(MutationConfig(), rng=np.random.default_rng(5)), ADAMW)


@pytest.mark.slow
def test_deterministic_across_processes():
    """No set iteration order (it varies with PYTHONHASHSEED) leaks into the choices."""
    code = ("from symopt.lang import parse_file, to_text\n"
            "from symopt.search.evolution.mutation import Mutator\n"
            f"m, p = Mutator(rng=21), parse_file({builtin_file('adamw')!r})\n"
            "for _ in range(200):\n"
            "    p = m.mutate(p).program\n"
            "print(to_text(p))\n")
    outs = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": h}).stdout for h in ("1", "2")]
    assert outs[0] == outs[1] and "def train" in outs[0]


def test_invalid_parent_is_a_user_error():
    bad = Program(params=("w", "g", "lr"), body=(Stmt("u", "norm", ("g",)),), returns=("u",))
    with pytest.raises(UserError, match="does not type-check"):
        Mutator().mutate(bad)
    assert not is_valid(bad)


def test_restricted_functions_are_the_only_ones_inserted():
    mutator = Mutator(only("insert", functions=("sign", "mul")), rng=15)
    for _ in range(100):
        child = mutator.mutate(ADAMW).program
        assert {s.fn for s in child.body} - {s.fn for s in ADAMW.body} <= {"sign", "mul"}


def test_assigning_rng_reseeds():
    m = Mutator(rng=0)
    m.rng = np.random.default_rng(3)
    a = sequence(m, ADAMW, 5)
    m.rng = np.random.default_rng(3)
    assert a == sequence(m, ADAMW, 5)
