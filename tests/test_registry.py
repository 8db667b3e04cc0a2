"""Function registry: one complete entry per function, implementations that behave."""

import jax.numpy as jnp
import numpy as np
import pytest

from symopt.lang.kinds import Kind
from symopt.lang.registry import FUNCTIONS

PAPER_FUNCTIONS = """add sub mul div maximum minimum power abs cos sin tan arcsin arccos arctan sinh
cosh tanh arcsinh arccosh arctanh exp exp2 exp10 expm1 log log10 log2 log1p square sqrt cube cbrt
sign reciprocal negative norm interp clip global_norm dot cosine_sim clip_by_global_norm get_pi
get_e get_eps""".split()


def test_library_has_the_design_functions():
    assert set(PAPER_FUNCTIONS) <= set(FUNCTIONS)
    assert len(PAPER_FUNCTIONS) == 45


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_entry_is_complete_and_runs(name):
    f = FUNCTIONS[name]
    assert f.doc and f.latex and f.py
    assert f.scope in {"elementwise", "leaf", "global"}
    assert any(k is not None for k in f.kind_table.values())
    x = jnp.array([[0.5, -1.5], [2.0, 0.25]], jnp.float32)
    if f.scope == "global":
        args = [[x, x[0]]] + [jnp.float32(1.0)] * (f.arity - 1)
        out = f.impl(jnp, *args)
        assert all(jnp.all(jnp.isfinite(o)) for o in (out if isinstance(out, list) else [out]))
    else:
        out = f.impl(jnp, *([x] * f.arity))
        assert jnp.shape(out) == (() if f.scope == "leaf" or f.arity == 0 else x.shape)


def test_protected_forms_stay_finite():
    z = jnp.zeros(3)
    neg = -jnp.ones(3)
    assert np.array_equal(FUNCTIONS["div"].impl(jnp, jnp.ones(3), z), z)
    assert np.array_equal(FUNCTIONS["reciprocal"].impl(jnp, z), z)
    assert np.allclose(FUNCTIONS["sqrt"].impl(jnp, neg * 4), 2.0)
    assert np.all(np.isfinite(FUNCTIONS["log"].impl(jnp, z)))
    assert np.all(np.isfinite(FUNCTIONS["arcsin"].impl(jnp, neg * 3)))


def test_reference_values():
    x = jnp.array([3.0, -4.0])
    assert float(FUNCTIONS["norm"].impl(jnp, x)) == pytest.approx(5.0)
    assert np.allclose(FUNCTIONS["interp"].impl(jnp, x, jnp.zeros(2), 0.25), 0.75 * x)
    assert np.allclose(FUNCTIONS["clip"].impl(jnp, x, -3.5), [3.0, -3.5])
    leaves = FUNCTIONS["clip_by_global_norm"].impl(jnp, [x, jnp.zeros(1)], jnp.float32(1.0))
    assert float(FUNCTIONS["global_norm"].impl(jnp, leaves)) == pytest.approx(1.0, rel=1e-6)


def test_kind_rules():
    S, L, T = Kind.SCALAR, Kind.LEAF_SCALAR, Kind.TENSOR
    assert FUNCTIONS["add"].result_kind((S, T)) is T
    assert FUNCTIONS["dot"].result_kind((T, T)) is L
    assert FUNCTIONS["global_norm"].result_kind((T,)) is S
    assert FUNCTIONS["get_pi"].result_kind(()) is S
    assert FUNCTIONS["clip_by_global_norm"].result_kind((T, L)) is None
