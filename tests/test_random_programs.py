"""Random programs: the signature of the template, valid, deterministic, varied."""

import numpy as np
import pytest
from conftest import PROGRAMS
from hypothesis import given, settings
from hypothesis import strategies as st

from symopt.errors import UserError
from symopt.lang import check, infer, parse, parse_file, to_text
from symopt.lang.model import Program, Stmt
from symopt.search.evolution.mutation import MutationConfig
from symopt.search.evolution.random_programs import random_program

PARSED = {p.stem: parse_file(p) for p in PROGRAMS}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), name=st.sampled_from(sorted(PARSED)),
       n=st.integers(1, 30))
def test_random_program_keeps_signature_and_type_checks(seed, name, n):
    template = PARSED[name]
    p = random_program(seed, template, n)
    assert (p.name, p.params, p.returns) == (template.name, template.params, template.returns)
    assert len(p.body) == n
    assert infer(p) is not None and check(p) == []
    assert parse(to_text(p)) == p


def test_deterministic_and_varied():
    adamw = PARSED["adamw"]
    assert random_program(3, adamw, 15) == random_program(3, adamw, 15)
    a = random_program(np.random.default_rng(4), adamw, 15)
    assert a == random_program(np.random.default_rng(4), adamw, 15)
    texts = {to_text(random_program(s, adamw, 15)) for s in range(50)}
    assert len(texts) == 50


def test_undefined_returns_get_defined():
    # The template returns a name ('m2') that only its body defines.
    template = parse("def train(w, g, m, lr):\n    m2 = m + g\n    u = m2 * lr\n"
                     "    return u, m2\n")
    for seed in range(30):
        p = random_program(seed, template, 1)  # needs two statements: u and m2
        assert len(p.body) == 2 and infer(p) is not None
        assert [s.target for s in p.body] == ["u", "m2"]


def test_uses_only_configured_functions():
    cfg = MutationConfig(functions=("sign", "mul", "interp"))
    for seed in range(20):
        p = random_program(seed, PARSED["lion"], 10, cfg)
        assert {s.fn for s in p.body} <= {"sign", "mul", "interp"}


def test_bad_arguments_are_user_errors():
    adamw = PARSED["adamw"]
    with pytest.raises(UserError, match="n_statements"):
        random_program(0, adamw, 31)
    with pytest.raises(UserError, match="n_statements"):
        random_program(0, adamw, 0)
    bad = Program(params=("w", "g", "lr"), body=(Stmt("u", "norm", ("g",)),), returns=("u",))
    with pytest.raises(UserError, match="template"):
        random_program(0, bad, 3)
