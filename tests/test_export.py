"""`symopt export`: standalone optax modules, plain Python functions, LaTeX."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from classics import CLASSICS
from helpers import load_module, rel_diff, train_steps
from paths import builtin_file

from symopt.cli import main
from symopt.compile import export_latex, export_optax, export_python, to_optax, update_fn
from symopt.errors import UserError
from symopt.lang import parse, parse_file

NAMES = list(CLASSICS)


def imported_modules(source: str) -> set[str]:
    tree = ast.parse(source)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module)
    return names


def train(tx, steps=30):
    k = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(k[0], (32, 4))
    y = jnp.tanh(x @ jax.random.normal(k[1], (4, 1)))
    params = {"w": 0.5 * jax.random.normal(k[2], (4, 1)), "b": [jnp.zeros(1)]}

    def loss(p):
        return jnp.mean((x @ p["w"] + p["b"][0] - y) ** 2)

    return train_steps(tx, params, loss, steps)


@pytest.mark.parametrize("name", NAMES)
def test_exported_module_equals_compiler(name, tmp_path):
    program = parse_file(builtin_file(name))
    source = export_optax(program, name="opt")
    assert imported_modules(source) <= {"jax", "jax.numpy", "optax", "builtins", "typing"}
    mod = load_module(source, tmp_path, f"exported_{name}")
    ours = train(to_optax(program, 1e-2))
    assert rel_diff(train(mod.opt(1e-2)), ours) <= 1e-7
    # inject_hyperparams turns the constants into float32 arrays: equal up to rounding
    injected = optax.inject_hyperparams(mod.opt)(learning_rate=1e-2)
    assert rel_diff(train(injected), ours) <= 2e-3


def test_inject_hyperparams_changes_a_constant(tmp_path):
    source = export_optax(parse_file(builtin_file("momentum")), name="mom")
    mod = load_module(source, tmp_path, "mom")
    tx = optax.inject_hyperparams(mod.mom)(learning_rate=0.1, b1=0.5)
    p = jnp.zeros(2)
    state = tx.init(p)
    for _ in range(2):
        u, state = tx.update(jnp.ones(2), state, p)
    assert u.tolist() == pytest.approx([-0.15, -0.15])  # m = 0.5 * 1 + 1
    assert float(state.hyperparams["b1"]) == 0.5


def test_hostile_variable_names_export_safe_code(tmp_path):
    src = """
def train(w, g, __class__, os, lr, step):
    lambda_ = __class__ * 0.9 + g
    jnp = sign(lambda_)
    optax = jnp * lr
    learning_rate = optax + w * 0.0
    _div = step * 0.0
    dt = learning_rate + _div
    os = os + dt
    return dt, lambda_, os
"""
    program = parse(src)
    source = export_optax(program, name="hostile")
    tree = ast.parse(source)
    assigned = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign)
                for t in n.targets if isinstance(t, ast.Name)}
    assert not assigned & {"__class__", "os", "jnp", "optax", "learning_rate", "_div", "jax"}
    mod = load_module(source, tmp_path, "hostile")
    params = {"a": jnp.array([1.0, -2.0])}
    grads = {"a": jnp.array([0.5, 0.5])}
    tx, ref = mod.hostile(0.1), to_optax(program, 0.1)
    s1, s2 = tx.init(params), ref.init(params)
    for _ in range(3):
        u1, s1 = tx.update(grads, s1, params)
        u2, s2 = ref.update(grads, s2, params)
    np.testing.assert_array_equal(u1["a"], u2["a"])
    assert "import os" not in source


def test_export_python_is_the_update_over_arrays(tmp_path):
    program = parse_file(builtin_file("adam"))
    source = export_python(program, name="adam_step")
    assert imported_modules(source) <= {"jax", "jax.numpy", "builtins"}
    mod = load_module(source, tmp_path, "adam_step")
    w, g = jnp.array([1.0, 2.0, -3.0]), jnp.array([0.3, -0.2, 0.1])
    m, v = 0.5 * g, g * g
    got = mod.adam_step(w, g, m, v, 1e-3, 4.0)
    want = update_fn(program)([w], [g], ([m], [v]), 1e-3, 4)
    np.testing.assert_array_equal(got[0], want[0][0])
    np.testing.assert_array_equal(got[1], want[1][0][0])
    # and against the textbook formula
    m2, v2 = 0.1 * g + 0.9 * m, 0.001 * g * g + 0.999 * v
    upd = m2 / (1 - 0.9**4) / (np.sqrt(v2 / (1 - 0.999**4)) + 1e-8) * 1e-3
    np.testing.assert_allclose(got[0], upd, rtol=1e-5)


def test_export_latex_algorithm_block():
    text = export_latex(parse_file(builtin_file("adamw")), name="AdamW")
    assert text.startswith("\\begin{algorithm}") and text.endswith("\\end{algorithm}")
    assert "\\caption{AdamW}" in text and "\\begin{algorithmic}[1]" in text
    assert "\\State $m \\gets (1 - 0.9) g + 0.9 m$" in text
    assert "\\sqrt{|" in text and "10^{-8}" in text and "\\State $w \\gets w -" in text


GLOBAL_PROGRAMS = {
    "clip": "def train(w, g, lr):\n    return clip_by_global_norm(g, 1.0) * lr",
    # a global norm of a per-leaf value feeds later per-leaf statements
    "norm_of_state": """
def train(w, g, m, lr):
    m = interp(g, m, 0.9)
    n = global_norm(m)
    u = m / n * lr
    return u, m
""",
    # LeafScalar values (norm) flow through per-leaf and global statements
    "leaf_scalars": """
def train(w, g, m, v, lr, step):
    m = interp(g, m, 0.9)
    r = norm(w) / (norm(m) + 1e-3)
    t = global_norm(r) + 1.0
    k = t * (lr * 0.5)
    c = clip_by_global_norm(m * r, k)
    v = interp(square(g), v, 0.99)
    b = 1.0 - power(0.99, step)
    u = c / sqrt(v / b + 1e-8) * lr + clip_by_global_norm(norm(g), 0.1) * w * 0.01
    return u, m, v
""",
    # the last statement is global; a Scalar goes where a tree goes
    "global_last": """
def train(w, g, lr):
    s = global_norm(lr * 2.0)
    u = clip_by_global_norm(g * s, lr * 0.7)
    return u
""",
}


def random_tree(key):
    k = jax.random.split(key, 4)
    return {"dense": {"w": jax.random.normal(k[0], (3, 4)), "b": jax.random.normal(k[1], (4,))},
            "scale": [jax.random.normal(k[2], ()), 0.1 * jax.random.normal(k[3], (2, 2, 2))]}


def run_steps(tx, steps=5, jit=False):
    params = random_tree(jax.random.PRNGKey(1))
    state = tx.init(params)
    update = jax.jit(tx.update) if jit else tx.update
    for i in range(steps):
        grads = random_tree(jax.random.PRNGKey(100 + i))
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize("key", sorted(GLOBAL_PROGRAMS))
def test_global_functions_export_to_optax(key, tmp_path):
    program = parse(GLOBAL_PROGRAMS[key])
    source = export_optax(program, name="opt")
    assert imported_modules(source) <= {"jax", "jax.numpy", "optax", "builtins", "typing"}
    mod = load_module(source, tmp_path, f"global_{key}")
    for jit in (False, True):
        want_params, want_state = run_steps(to_optax(program, 1e-2), jit=jit)
        got_params, got_state = run_steps(mod.opt(1e-2), jit=jit)
        assert rel_diff(got_params, want_params) <= 1e-7
        assert rel_diff(got_state[1], want_state.slots) <= 1e-7
        assert int(got_state[0]) == int(want_state.count) == 5
    injected = optax.inject_hyperparams(mod.opt)(learning_rate=1e-2)
    got_params, _ = run_steps(injected, jit=True)
    assert rel_diff(got_params, want_params) <= 2e-3
    assert rel_diff(train(mod.opt(1e-2)), train(to_optax(program, 1e-2))) <= 1e-7


def test_global_norm_runs_between_stages_over_the_whole_tree():
    program = parse(GLOBAL_PROGRAMS["norm_of_state"])
    source = export_optax(program, name="opt")
    tree = ast.parse(source)
    stages = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)
              and n.name.startswith("_update_leaf")]
    assert stages == ["_update_leaf_1", "_update_leaf_2"]
    assert "n_ = _global_norm(m_2_)" in source  # over the list of all leaves
    # a program without global functions stays one stage
    single = export_optax(parse_file(builtin_file("adam")), name="adam")
    assert "def _update_leaf(g_, m_, v_, lr_, step_, *" in single
    assert "_update_leaf_1" not in single and "_global_norm" not in single


def test_global_norm_equals_optax_clip_by_global_norm(tmp_path):
    program = parse(GLOBAL_PROGRAMS["clip"])
    mod = load_module(export_optax(program, name="clipped"), tmp_path, "clipped")
    ref = optax.chain(optax.clip_by_global_norm(1.0), optax.scale(-0.1))
    params = random_tree(jax.random.PRNGKey(1))
    grads = jax.tree_util.tree_map(lambda x: 3.0 * x, random_tree(jax.random.PRNGKey(2)))
    got, _ = mod.clipped(0.1).update(grads, mod.clipped(0.1).init(params), params)
    want, _ = ref.update(grads, ref.init(params), params)
    assert rel_diff(got, want) <= 1e-6
    assert float(optax.global_norm(got)) == pytest.approx(0.1, rel=1e-6)


def test_export_python_documents_its_global_limitation():
    source = export_python(parse(GLOBAL_PROGRAMS["clip"]), name="clipped")
    assert "reduce over the one array given" in source
    assert "reduce over" not in export_python(parse_file(builtin_file("sgd")), name="sgd")


def test_bad_name_is_a_user_error():
    for bad in ("import", "jnp", "1x", "a-b", "_private"):
        with pytest.raises(UserError, match="--name"):
            export_optax(parse_file(builtin_file("sgd")), name=bad)


def test_cli_export_errors_exit_2(tmp_path, capsys):
    assert main(["export", builtin_file("sgd"), "--to", "optax", "--name", "import"]) == 2
    bad = tmp_path / "bad.prog"
    bad.write_text("def train(w, g, lr):\n    return foo(g)\n")
    assert main(["export", str(bad), "--to", "optax"]) == 2
    assert "bad.prog:2" in capsys.readouterr().err


@pytest.mark.slow
def test_exported_lion_trains_flax_without_symopt(tmp_path):
    out = tmp_path / "lion_opt.py"
    assert main(["export", builtin_file("lion"), "--to", "optax", "-o", str(out)]) == 0
    script = textwrap.dedent(f"""
        import sys
        sys.modules["symopt"] = None  # symopt must not be importable
        sys.path.insert(0, {str(tmp_path)!r})
        try:
            import symopt
        except ImportError:
            pass
        else:
            raise SystemExit("symopt is importable")
        import flax.linen as nn, jax, jax.numpy as jnp, optax
        from lion_opt import lion
        model = nn.Sequential([nn.Dense(16), nn.relu, nn.Dense(1)])
        x = jax.random.normal(jax.random.PRNGKey(0), (64, 3))
        y = jnp.sin(x.sum(axis=1, keepdims=True))
        params = model.init(jax.random.PRNGKey(1), x)
        tx = lion(3e-2)
        loss = lambda p: jnp.mean((model.apply(p, x) - y) ** 2)
        @jax.jit
        def step(p, s):
            u, s = tx.update(jax.grad(loss)(p), s, p)
            return optax.apply_updates(p, u), s
        state = tx.init(params)
        first = float(loss(params))
        for _ in range(100):
            params, state = step(params, state)
        print(first, float(loss(params)))
    """)
    result = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    first, last = map(float, result.stdout.split())
    assert last < 0.5 * first


@pytest.mark.parametrize("bad", [np.array([1e-3, 1.0]), jnp.ones(2), [1e-3], "1e-3", True])
def test_exported_optax_module_refuses_a_non_scalar_learning_rate_as_to_optax_does(bad, tmp_path):
    program = parse_file(builtin_file("adamw"))
    mod = load_module(export_optax(program, name="adamw"), tmp_path, "lr_check")
    with pytest.raises(UserError) as ours:
        to_optax(program, bad)
    with pytest.raises(ValueError) as exported:
        mod.adamw(bad)
    assert str(exported.value) == str(ours.value)
    assert isinstance(ours.value, ValueError)  # so both are caught by `except ValueError`
    with pytest.raises(UserError) as ours_hp:
        to_optax(program, 1e-3, b1=np.array([0.9, 0.8]))
    with pytest.raises(ValueError) as exported_hp:
        mod.adamw(1e-3, b1=np.array([0.9, 0.8]))
    assert str(exported_hp.value) == str(ours_hp.value)
    # what stays accepted: numbers, 0-d arrays, schedules, and inject_hyperparams' arrays
    for lr in (1e-3, 1, np.float32(1e-3), jnp.asarray(1e-3), optax.constant_schedule(1e-3)):
        mod.adamw(lr)
    tx = optax.inject_hyperparams(mod.adamw)(learning_rate=1e-3)
    p = jnp.ones(2)
    u, _ = tx.update(p, tx.init(p), p)
    assert bool(jnp.all(jnp.isfinite(u)))
