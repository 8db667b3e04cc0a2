"""The optax contract, in the style of optax's own generic optimizer tests.

Every program in `programs/` and a few evolved ones, through both paths
(`to_optax` / `symopt.compile.optimizer`, and the exported module): a parabola
and Rosenbrock, jit vs eager, `inject_hyperparams` of every hyperparameter,
extra arguments, dtypes float32 / bfloat16 / float64, `MultiSteps`, `chain`,
`masked`, empty and `None` leaves, and equality with the matching optax
optimizer over 20 steps in float32 and float64. float64 runs inside
`jax.enable_x64(True)` (a context manager), never globally. The issue-14 failures 1-7
each have a test here (named `test_failure_N_...`).
"""

from __future__ import annotations

import builtins
import functools
import inspect
import tokenize
from io import StringIO
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from classics import MATCHING
from helpers import load_module
from paths import PROGRAM_FILES, builtin_file, local_program

from symopt.cli import main
from symopt.compile import export_optax, hyperparameters, optimizer, to_optax
from symopt.errors import UserError
from symopt.lang import parse_file

PROGRAMS = PROGRAM_FILES + [
    local_program("lion_raw.prog"), local_program("clip_global.prog")]
PATHS = ["to_optax", "export"]


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    """`factory(path, kind)`: the optimizer factory ``f(learning_rate, **hyper)`` of a path."""
    cache = {}

    def get(path, kind):
        if (path, kind) not in cache:
            program = parse_file(path)
            if kind == "to_optax":
                cache[path, kind] = optimizer(program)
            else:
                mod = load_module(export_optax(program, name="opt"),
                                  tmp_path_factory.mktemp("optax"),
                                  "o_" + Path(path).stem)
                cache[path, kind] = mod.opt
        return cache[path, kind]
    return get


def _loss_curve(tx, loss, params, steps):
    @jax.jit
    def run(p):
        def body(carry, _):
            p, s = carry
            value, g = jax.value_and_grad(loss)(p)
            u, s = tx.update(g, s, p, value=value)
            return (optax.apply_updates(p, u), s), value
        return jax.lax.scan(body, (p, tx.init(p)), None, length=steps)[1]
    return run(params)


def _parabola(p):
    return jnp.sum(jnp.square(p["x"] - jnp.array([1.0, -1.0, 1.0])))


def _rosenbrock(p):
    x, y = p["x"][0], p["x"][1]
    return jnp.square(1.0 - x) + 100.0 * jnp.square(y - x * x)


# learning rates per program for the parabola and for Rosenbrock (as optax's alias_test has)
LRS = {"adagrad": (1.0, 1e-2), "adam": (0.1, 1e-2), "adamw": (0.1, 1e-2), "lion": (1.0, 0.1),
       "momentum": (1e-2, 1e-3), "nesterov": (1e-2, 1e-3), "paper_adamw": (100.0, 10.0),
       "rmsprop": (0.1, 1e-2), "sgd": (0.1, 1e-3), "signum": (1.0, 0.1), "lion_raw": (1.0, 0.1),
       "clip_global": (1.0, 1e-2)}


def _name(path):
    return path.rsplit("/", 1)[-1][:-len(".prog")]


@pytest.mark.parametrize("kind", PATHS)
@pytest.mark.parametrize("path", PROGRAMS)
def test_parabola_and_rosenbrock(path, kind, factory):
    # optax's alias_test: both problems get much closer to their minimum
    lr_parabola, lr_rosenbrock = LRS[_name(path)]
    tx = factory(path, kind)(lr_parabola)
    curve = _loss_curve(tx, _parabola, {"x": jnp.array([-1.0, 10.0, 1.0])}, 300)
    assert float(curve[-1]) < 1e-2 * float(curve[0]), _name(path)
    tx = factory(path, kind)(lr_rosenbrock)
    curve = _loss_curve(tx, _rosenbrock, {"x": jnp.array([-1.0, 1.5])}, 300)
    assert float(curve[-1]) < 0.5 * float(curve[0]), _name(path)


def _tree(rng, dtype=jnp.float32):
    return {"a": jnp.asarray(rng.normal(size=(3, 2)), dtype),
            "b": [jnp.asarray(rng.normal(), dtype)], "c": None}


def _steps(tx, params, n=3, seed=1, jit=False, **extra):
    rng = np.random.default_rng(seed)
    update = jax.jit(tx.update) if jit else tx.update
    s = tx.init(params)
    out = []
    for _ in range(n):
        g = jax.tree_util.tree_map(lambda x: jnp.asarray(rng.normal(size=x.shape), x.dtype),
                                   params)
        u, s = update(g, s, params, **extra)
        params = optax.apply_updates(params, u)
        out.append(u)
    return out, s


def _close(a, b, rtol):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64),
                                   rtol=rtol, atol=rtol * float(np.max(np.abs(y)) + 1e-30))


@pytest.mark.parametrize("kind", PATHS)
@pytest.mark.parametrize("path", PROGRAMS)
def test_jit_eager_dtypes_and_extra_args(path, kind, factory):
    make = factory(path, kind)
    rng = np.random.default_rng(0)
    params = _tree(rng)
    eager, s1 = _steps(make(1e-2), params, n=2)
    jitted, s2 = _steps(make(1e-2), params, n=2, jit=True, value=jnp.ones([]))  # failure 1
    _close(jitted, eager, 1e-5)
    assert int(s1.count) == int(s2.count) == 2 and type(s1).__name__ == "ProgramState"
    # dtype preservation, checked on the traced update (jax.eval_shape: no compile, no run)
    tx = make(1e-2)
    for dtype, x64 in ((jnp.float32, False), (jnp.bfloat16, False), (jnp.float64, True)):
        with jax.enable_x64(x64):
            p = _tree(rng, dtype)
            u, s = jax.eval_shape(lambda p: tx.update(p, tx.init(p), p), p)
            assert {x.dtype for x in jax.tree_util.tree_leaves((u, s.slots))} <= {
                jnp.dtype(dtype)}, dtype
            assert u["c"] is None


@pytest.mark.parametrize("kind", PATHS)
@pytest.mark.parametrize("path", PROGRAMS)
def test_inject_hyperparams_of_every_hyperparameter(path, kind, factory):
    # failure 6: one hyperparameter per role, every one injectable, each equal to passing it
    make = factory(path, kind)
    hyper = hyperparameters(parse_file(path))
    sig = inspect.signature(make)
    assert list(sig.parameters) == ["learning_rate"] + [h.name for h in hyper]
    params = _tree(np.random.default_rng(2))
    for h in hyper:
        value = h.value * 0.5
        injected = optax.inject_hyperparams(make, hyperparam_dtype=jnp.float32)(
            learning_rate=1e-2, **{h.name: value})
        direct = make(1e-2, **{h.name: value})
        got, s = _steps(injected, params)
        want, _ = _steps(direct, params)
        _close(got, want, 2e-3)  # float32 arrays against Python floats: rounding only
        assert float(s.hyperparams[h.name]) == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize("kind", PATHS)
def test_named_roles_of_adamw(kind, factory):
    make = factory(builtin_file("adamw"), kind)
    assert list(inspect.signature(make).parameters) == [
        "learning_rate", "b1", "b2", "eps", "weight_decay"]
    # injecting b1 alone changes the moment *and* its bias correction: still optax.adamw
    p = {"w": jnp.array([0.5, -1.0])}
    got, _ = _steps(optax.inject_hyperparams(make)(learning_rate=1e-2, b1=0.5), p)
    want, _ = _steps(optax.adamw(1e-2, b1=0.5, weight_decay=0.01), p)
    _close(got, want, 1e-5)


@pytest.mark.parametrize("kind", PATHS)
@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop"])
def test_failure_2_bfloat16_under_float32_hyperparameters(name, kind, factory):
    make = factory(builtin_file(name), kind)
    tx = optax.inject_hyperparams(make, hyperparam_dtype=jnp.float32)(learning_rate=1e-2)
    p = {"w": jnp.linspace(-1.0, 1.0, 8).astype(jnp.bfloat16)}
    (u, *_), _ = _steps(tx, p, n=2)
    ref, _ = _steps(make(1e-2), jax.tree_util.tree_map(lambda x: x.astype(jnp.float32), p),
                    n=2)
    assert u["w"].dtype == jnp.bfloat16
    assert float(jnp.max(jnp.abs(u["w"]))) < 0.1  # not ±5e5
    _close(jax.tree_util.tree_map(lambda x: x.astype(jnp.float32), u), ref[0], 5e-2)


@pytest.mark.slow
@pytest.mark.parametrize("kind", PATHS)
def test_multisteps_chain_masked_empty_and_none_leaves(kind, factory):
    make = factory(builtin_file("adamw"), kind)
    p = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
    # MultiSteps(k=2): the inner update happens every second call, on the mean gradient
    ms = optax.MultiSteps(make(1e-2), every_k_schedule=2)
    s = ms.init(p)
    g1 = {"a": jnp.array([1.0, -1.0]), "b": jnp.array(2.0)}
    g2 = {"a": jnp.array([3.0, 1.0]), "b": jnp.array(0.0)}
    u1, s = ms.update(g1, s, p)
    u2, s = ms.update(g2, s, p)
    want, _ = make(1e-2).update(jax.tree_util.tree_map(lambda x, y: (x + y) / 2, g1, g2),
                                make(1e-2).init(p), p)
    assert all(float(jnp.max(jnp.abs(x))) == 0 for x in jax.tree_util.tree_leaves(u1))
    _close(u2, want, 1e-6)
    # chain with a clip
    ch = optax.chain(optax.clip(0.5), make(1e-2))
    got, _ = ch.update(g1, ch.init(p), p)
    want, _ = make(1e-2).update(jax.tree_util.tree_map(lambda x: jnp.clip(x, -0.5, 0.5), g1),
                                make(1e-2).init(p), p)
    _close(got, want, 1e-6)
    # masked: only "a" is transformed, "b" passes through untouched
    mk = optax.masked(make(1e-2), {"a": True, "b": False})
    got, _ = mk.update(g1, mk.init(p), p)
    want, _ = make(1e-2).update({"a": g1["a"]}, make(1e-2).init({"a": p["a"]}), {"a": p["a"]})
    _close(got["a"], want["a"], 1e-6)
    assert float(got["b"]) == float(g1["b"])
    # empty trees and None leaves
    tx = make(1e-2)
    u, s = tx.update({}, tx.init({}), {})
    assert u == {} and int(s.count) == 1
    pn = {"a": jnp.ones(2), "n": None}
    u, s = jax.jit(tx.update)({"a": jnp.ones(2), "n": None}, tx.init(pn), pn)
    assert u["n"] is None and u["a"].shape == (2,)


@pytest.mark.parametrize("kind", PATHS)
@pytest.mark.parametrize("name", sorted(MATCHING))
def test_equals_optax_over_20_steps_float32_and_float64(name, kind, factory):
    # failure 3: float64 parameters count steps in float64, so adam/adamw match to 1e-12
    lr, ref = MATCHING[name]
    make = factory(builtin_file(name), kind)
    for dtype, tol in ((jnp.float32, 1e-5), (jnp.float64, 1e-11)):
        with jax.enable_x64(dtype == jnp.float64):
            p = {"w": jnp.linspace(-2.0, 3.0, 6, dtype=dtype).reshape(2, 3),
                 "b": jnp.asarray(0.5, dtype)}
            ours = _loss_curve_params(make(lr), p)
            theirs = _optax_reference(name, dtype)
            for x, y in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs),
                            strict=True):
                assert x.dtype == dtype
                err = float(jnp.max(jnp.abs(x - y)) / jnp.max(jnp.abs(y)))
                assert err <= tol, (name, dtype, err)


@functools.cache
def _optax_reference(name, dtype):
    lr, ref = MATCHING[name]
    p = {"w": jnp.linspace(-2.0, 3.0, 6, dtype=dtype).reshape(2, 3), "b": jnp.asarray(0.5, dtype)}
    return _loss_curve_params(ref(lr), p)


def _loss_curve_params(tx, p, steps=20):
    def loss(p):
        return sum(jnp.sum(jnp.square(x - 0.3) + 0.1 * jnp.sin(3.0 * x))
                   for x in jax.tree_util.tree_leaves(p))

    def body(carry, _):
        p, s = carry
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, u), s), None
    return jax.lax.scan(body, (p, tx.init(p)), None, length=steps)[0][0]


@pytest.mark.parametrize("kind", PATHS)
def test_failure_4_complex_parameters_are_refused(kind, factory):
    tx = factory(builtin_file("adam"), kind)(1e-3)
    z = {"z": jnp.ones(2, jnp.complex64)}
    with pytest.raises((UserError, TypeError), match="complex parameters are not supported"):
        tx.update(z, tx.init({"z": jnp.ones(2)}), z)
    with pytest.raises((UserError, TypeError), match="complex parameters are not supported"):
        tx.init(z)


@pytest.mark.parametrize("lr", [np.float32(1e-3), np.array(1e-3), np.float64(1e-3),
                                jnp.asarray(1e-3)])
def test_failure_5_zero_d_numpy_learning_rates(lr, factory):
    p = {"w": jnp.array([1.0, -1.0])}
    want, _ = _steps(to_optax(parse_file(builtin_file("adam")), 1e-3), p)
    for tx in (to_optax(parse_file(builtin_file("adam")), lr),
               factory(builtin_file("adam"), "export")(lr)):
        got, _ = _steps(tx, p)
        _close(got, want, 1e-6)
    with pytest.raises(UserError, match="learning_rate"):
        to_optax(parse_file(builtin_file("adam")), np.array([1e-3, 1e-3]))
    with pytest.raises(UserError, match="unknown hyperparameter 'c1'"):
        to_optax(parse_file(builtin_file("adam")), 1e-3, c1=0.5)


SHADOWED = ["zip", "tuple", "isinstance", "float", "list", "callable", "range", "sum", "int",
            "ValueError", "TypeError", "dict", "len", "print", "object", "NamedTuple"]


@pytest.mark.parametrize("name", SHADOWED)
def test_failure_7_function_names_cannot_shadow_what_generated_code_calls(name, tmp_path):
    out = tmp_path / f"{name}_mod.py"
    assert main(["export", local_program("clip_global.prog"), "--to", "optax", "--name", name,
                 "-o", str(out)]) == 0
    mod = load_module(out.read_text(), tmp_path, f"{name}_mod")
    tx = getattr(mod, name)(1e-2)
    p = {"a": jnp.ones(3), "b": [jnp.zeros(2)]}
    u, s = tx.update(p, tx.init(p), p, value=1.0)
    want, _ = to_optax(parse_file(local_program("clip_global.prog")), 1e-2).update(
        p, to_optax(parse_file(local_program("clip_global.prog")), 1e-2).init(p), p)
    _close(u, want, 1e-6)


def test_generated_code_calls_no_builtin_by_its_plain_name():
    # the static form of failure 7, for every program and every backend: a builtin is only
    # ever reached as `_builtins.NAME`, so no user-chosen name can replace it
    from symopt.compile import export_python, export_torch

    names = {n for n in dir(builtins) if not n.startswith("_")} - {"None", "True", "False"}
    for path in PROGRAMS:
        for export in (export_optax, export_python, export_torch):
            src = export(parse_file(path), "f")
            body = src.split('"""', 2)[2]
            toks = list(tokenize.generate_tokens(StringIO(body).readline))
            for i, t in enumerate(toks):
                if t.type == tokenize.NAME and t.string in names:
                    prev = toks[i - 1].string if i else ""
                    # `_builtins.NAME`, or a method of the torch shim (`def sum(x)`)
                    assert prev in (".", "def"), f"{export.__name__} {path}: bare {t.string!r}"
