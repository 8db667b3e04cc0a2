"""The numeric fingerprint: its trace against a numpy reference, rounding, non-finite values."""

from __future__ import annotations

import numpy as np
from paths import builtin_file

from symopt.analysis import fingerprint
from symopt.analysis.fingerprinting import LRS, STEPS, fixed_inputs, round_output, trace
from symopt.lang import parse, parse_file


def _leaves(xs):
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in xs])


def test_trace_matches_numpy_reference_for_momentum():
    # momentum.prog: m <- 0.9 m + g; update = m * lr; w <- w - update.
    weights, grads = fixed_inputs()
    m = np.zeros_like(_leaves(weights))
    want_u, want_m = [], []
    for t in range(STEPS):
        m = 0.9 * m + _leaves(grads[t])
        want_u.append(m * LRS[t])
        want_m.append(m)
    u, mm = trace(parse_file(builtin_file("momentum")))
    np.testing.assert_allclose(u, np.concatenate(want_u), rtol=1e-6)
    np.testing.assert_allclose(mm, np.concatenate(want_m), rtol=1e-6)


def test_trace_feeds_weights_back_between_steps():
    # update = w * lr: step 2 sees w - update of step 1.
    weights, _ = fixed_inputs()
    w = _leaves(weights)
    u1 = w * LRS[0]
    u2 = (w - u1) * LRS[1]
    (u,) = trace(parse("def train(w, g, lr):\n    u = w * lr\n    return u"))
    np.testing.assert_allclose(u, np.concatenate([u1, u2]), rtol=1e-6)


def test_inputs_have_a_scalar_leaf_and_both_signs_away_from_zero():
    weights, grads = fixed_inputs()
    assert any(np.ndim(x) == 0 for x in weights)
    values = np.concatenate([_leaves(weights)] + [_leaves(g) for g in grads])
    assert (values > 0).any() and (values < 0).any()
    assert np.abs(values).min() >= 0.2


def test_rounding_keeps_four_digits_and_floors_relative_noise():
    x = np.array([123.456, -0.012341, 0.01, 1e-4, 3e-9])
    # 1e-4 and 3e-9 are below 1e-5 of the largest magnitude: zero.
    assert round_output(x).tolist() == [123.5, -0.01234, 0.01, 0.0, 0.0]
    assert round_output(x * (1 + 3e-7)).tolist() == round_output(x).tolist()


def test_nonfinite_outputs_are_marked_and_distinguished():
    inf = parse("def train(w, g, lr):\n    u = exp(g * 1000.0) * lr\n    return u")
    nan = parse("def train(w, g, lr):\n    e = exp(g * 1000.0)\n    u = (e - e) * lr\n"
                "    return u")
    assert fingerprint(inf).startswith("nonfinite:")
    assert fingerprint(nan).startswith("nonfinite:")
    assert fingerprint(inf) != fingerprint(nan)
    assert not fingerprint(parse_file(builtin_file("adamw"))).startswith("nonfinite:")


def test_fingerprint_sees_per_leaf_against_global_reductions():
    a = parse("def train(w, g, lr):\n    u = g * norm(g) * lr\n    return u")
    b = parse("def train(w, g, lr):\n    u = g * global_norm(g) * lr\n    return u")
    assert fingerprint(a) != fingerprint(b)


def test_eager_jax_through_the_same_registry_code_gives_the_same_fingerprints():
    # The benchmark's baseline (bench/bench_analysis.py) is this very trace with
    # xp=jax.numpy: both engines must compute the same outputs for it to be a fair one.
    import jax.numpy as jnp

    from symopt import programs

    for name in ("adamw", "lion", "nesterov"):
        p = programs.load(name)
        for a, b in zip(trace(p), trace(p, jnp), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        assert fingerprint(p) == fingerprint(p, jnp), name
