"""Transfer hints: sign-like updates are recognised, and the bound the analysis claims holds."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from paths import PROGRAM_FILES, builtin_file

from symopt.analysis.hints import sign_like, transfer_hint
from symopt.commands.eval import program_notes
from symopt.compile import to_optax
from symopt.lang import parse, parse_file

SIGN_LIKE = {builtin_file("lion"), builtin_file("signum")}


@pytest.mark.parametrize("path", PROGRAM_FILES)
def test_classic_programs(path):
    assert sign_like(parse_file(path)) == (path in SIGN_LIKE)


def _max_ratio(program, scale):
    """max |update| / lr over a few steps with gradients of magnitude `scale` (w = 0)."""
    rng = np.random.default_rng(0)
    tx = to_optax(program, 1.0)
    p = jnp.zeros(50)
    s = tx.init(p)
    worst = 0.0
    for _ in range(4):
        g = jnp.asarray(rng.normal(size=50) * scale, jnp.float32)
        u, s = tx.update(g, s, p)
        worst = max(worst, float(jnp.max(jnp.abs(u))))
    return worst


@pytest.mark.parametrize("path", [builtin_file("lion"), builtin_file("signum"),
                                  builtin_file("sgd"), builtin_file("momentum")])
def test_the_claim_matches_the_numbers(path):
    # sign-like: the update does not grow with the gradient's scale; otherwise it does
    p = parse_file(path)
    small, big = _max_ratio(p, 1e-3), _max_ratio(p, 1e6)
    if sign_like(p):
        assert big <= 1.0 + 1e-6 and small <= 1.0 + 1e-6
    else:
        assert big > 1e3 * small or big > 1e3


def test_bounded_functions_and_division():
    assert sign_like(parse("def train(w, g, lr):\n    return tanh(g * 100.0) * lr"))
    assert sign_like(parse("def train(w, g, lr):\n    return clip(g, 0.5) / 2.0 * lr"))
    assert not sign_like(parse("def train(w, g, lr):\n    return sign(g) / lr"))
    assert not sign_like(parse("def train(w, g, lr):\n    return w * lr"))  # no gradient


def test_hint_text_and_eval_notes():
    hint = transfer_hint(parse_file(builtin_file("lion")))
    assert "3-10x smaller" in hint and "3-10x larger" in hint and "weight decay" in hint
    assert program_notes(builtin_file("lion")) == [
        "optimizer memory: 1 state value per parameter", hint]
    assert program_notes(builtin_file("adamw")) == [
        "optimizer memory: 2 state values per parameter"]
