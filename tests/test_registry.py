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


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_one_implementation_runs_on_numpy_and_jax_alike(name):
    f = FUNCTIONS[name]
    x = np.array([[0.5, -1.5], [2.0, 0.25]], np.float32)
    y = np.array([[-0.3, 4.0], [0.0, 1.5]], np.float32)
    if f.scope == "global":
        args = [[x, y[0]]] + [np.float32(0.7)] * (f.arity - 1)
    else:
        args = [x, y, np.float32(0.3)][: f.arity]
    with np.errstate(all="ignore"):
        ours = f.impl(np, *args)
    theirs = f.impl(jnp, *[[jnp.asarray(a) for a in v] if isinstance(v, list)
                           else jnp.asarray(v) for v in args])
    ours, theirs = (o if isinstance(o, list) else [o] for o in (ours, theirs))
    for a, b in zip(ours, theirs, strict=True):
        assert np.asarray(a).dtype == np.float32 and np.asarray(b).dtype == np.float32
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(n for n, f in FUNCTIONS.items() if f.fold))
def test_python_float_folding_agrees_with_the_array_implementation(name):
    f = FUNCTIONS[name]
    args = [1.7, -0.4][: f.arity]
    assert f.fold(*args) == pytest.approx(float(f.impl(np, *map(np.float64, args))), rel=1e-6)
    if name == "div":
        assert f.fold(1.0, 0.0) == 0.0 == float(f.impl(np, np.float64(1.0), np.float64(0.0)))


def test_how_functions_are_written_comes_from_the_registry():
    from symopt.lang.registry import IDENTITY, INFIX, PREFIX

    assert INFIX == {"+": "add", "-": "sub", "*": "mul", "/": "div"}
    assert PREFIX == {"-": "negative"} and IDENTITY == "copy"
    assert [FUNCTIONS[n].precedence for n in ("add", "sub", "mul", "div")] == [1, 1, 2, 2]


_RULE_TEXTS = [(f.name, text) for f in FUNCTIONS.values() for text in f.rewrites]


def _evaluate(pattern, values):
    """A rewrite pattern's value, every call through the registry's NumPy implementation."""
    if isinstance(pattern, str):
        return values[pattern]
    if isinstance(pattern, float):
        return np.float32(pattern)
    fn, subs = pattern
    return FUNCTIONS[fn].impl(np, *[_evaluate(p, values) for p in subs])


def _rule_sides(text):
    from symopt.analysis.rewrite import parse_rule

    rule = parse_rule(text)
    return (rule.fn, rule.args), rule.result


def _check_rule(text, seed):
    lhs, rhs = _rule_sides(text)
    rng = np.random.default_rng(seed)
    x = (rng.uniform(0.2, 5.0, 9) * rng.choice([-1.0, 1.0], 9)).astype(np.float32)
    x[0] = 0.0  # the protected forms' kink
    values = {name: rng.permutation(x) for name in "xyav"}
    values |= {"c1": np.float32(rng.uniform(-3, 3)), "c2": np.float32(rng.uniform(-3, 3))}
    with np.errstate(all="ignore"):
        return _evaluate(lhs, values), _evaluate(rhs, values)


@pytest.mark.parametrize("name, text", _RULE_TEXTS)
def test_every_rewrite_rule_keeps_the_value(name, text):
    assert text.startswith(f"{name}(")
    for seed in range(5):
        before, after = _check_rule(text, seed)
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)


def test_a_wrong_rewrite_rule_is_caught_by_that_check():
    before, after = _check_rule("abs(x) -> x", 0)
    assert not np.allclose(before, after)
    from symopt.analysis.rewrite import parse_rule

    for bad in ("abs(x) -> y", "abs(x, y) -> x", "nosuch(x) -> x", "abs(x) x"):
        with pytest.raises(ValueError):
            parse_rule(bad)


def test_export_helpers_come_from_the_registry_and_compute_its_implementation():
    # Generated code draws `_div`, `_cosine_sim`, ... from the entries (no copy in codegen),
    # and each helper, run with jax.numpy as the generated modules do, matches `impl`.
    import builtins

    from symopt.compile.codegen import HELPERS

    with_helper = {f.name: f for f in FUNCTIONS.values() if f.py_helper}
    assert set(with_helper) == {"div", "cosine_sim", "global_norm", "clip_by_global_norm"}
    namespace = {"_xp": jnp, "_builtins": builtins}
    for f in with_helper.values():
        assert HELPERS[f"_{f.name}"] is f.py_helper and f"_{f.name}(" in f.py
        exec(f.py_helper, namespace)  # the registry's own source, not program text
    x = jnp.array([[0.5, -1.5], [0.0, 0.25]], jnp.float32)
    y = jnp.array([[-0.3, 0.0], [2.0, 1.5]], jnp.float32)
    cases = {"div": (x, y), "cosine_sim": (x, y), "global_norm": ([x, y[0]],),
             "clip_by_global_norm": ([x, y[0]], jnp.float32(0.7))}
    for name, args in cases.items():
        ours = namespace[f"_{name}"](*args)
        want = FUNCTIONS[name].impl(jnp, *args)
        for a, b in zip(*(o if isinstance(o, list) else [o] for o in (ours, want)), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_hyperparameter_roles_name_known_conditions_and_roles():
    from symopt.compile.hyper import CONDITIONS, ROLES

    roles = {f.name: f.hyper_roles for f in FUNCTIONS.values() if f.hyper_roles}
    assert set(roles) == {"add", "sub", "mul", "power", "interp"}
    for pairs in roles.values():
        assert all(c in CONDITIONS and r in ROLES for c, r in pairs)
    assert [c for c, _ in roles["mul"]] == ["times_slot", "times_weight", "times_lr"]
