"""Properties across the compiler, the exporter, the simplifier and the fingerprint.

- Every registry function, with every argument kind it accepts, gives the same
  numbers through `to_optax` (eager and jitted) and the exported optax module,
  on a nested parameter tree with a 0-d leaf; bfloat16 parameters run and give
  bfloat16 results.
- Random programs (`random_program` and mutations of the classic programs): the
  same agreement, and `simplify` keeps behaviour, types and printed round trips.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import load_module
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import PROGRAM_FILES

from symopt.analysis import canonical_hash, fingerprint, prune_slots, simplify, to_nested_text
from symopt.analysis.fingerprinting import same_behaviour
from symopt.compile import export_optax, to_optax
from symopt.lang import Kind, is_valid, parse, parse_file, to_text
from symopt.lang.model import Program, Stmt
from symopt.lang.registry import FUNCTIONS
from symopt.search.evolution.mutation import Mutator
from symopt.search.evolution.random_programs import random_program

S, L, T = Kind.SCALAR, Kind.LEAF_SCALAR, Kind.TENSOR
TEMPLATES = [parse_file(f) for f in PROGRAM_FILES]
RTOL = 1e-6


def every_function_program(all_kinds: bool = True) -> Program:
    """One program with a state slot per (function, accepted argument kinds).

    With ``all_kinds=False``, one slot per function (its first accepted kinds).

    Slot ``k`` holds ``r * lr`` (Tensor results) or ``g * r`` (others), where ``r``
    is the call; arguments are ``g``, ``w``, ``m0`` (Tensors), ``n = norm(g)``
    (LeafScalar), ``lr``, ``step`` and constants (Scalars).
    """
    sources = {T: ["g", "w", "m0"], L: ["n"], S: ["lr", "step", 0.7]}
    body = [Stmt("n", "norm", ("g",))]
    slots = []
    for name, fn in FUNCTIONS.items():
        for kinds in itertools.product(Kind, repeat=fn.arity):
            result = fn.result_kind(kinds)
            if result is None:
                continue
            k = len(slots)
            args = tuple(sources[kind][(i + k) % len(sources[kind])]
                         for i, kind in enumerate(kinds))
            slot = f"m{k}"
            slots.append(slot)
            body.append(Stmt(f"r{k}", name, args))
            body.append(Stmt(slot, "mul", (f"r{k}", "lr") if result == T else ("g", f"r{k}")))
            if not all_kinds:
                break
    body.append(Stmt("update", "add", ("m0", "g")))
    program = Program(params=("w", "g", *slots, "lr", "step"), body=tuple(body),
                      returns=("update", *slots))
    assert is_valid(program)
    return program


def make_tree(rng: np.random.Generator, dtype=jnp.float32):
    def leaf(shape):
        x = rng.normal(size=shape) * 2.0
        return jnp.asarray(x, dtype)
    # three shapes (eager JAX compiles each operation once per shape: keep them few)
    return {"a": leaf((3, 2)), "b": [leaf(()), leaf((4,))], "c": (leaf((3, 2)),)}


def assert_close(got, want, what: str, rtol: float = RTOL):
    assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want), what
    for i, (x, y) in enumerate(zip(jax.tree_util.tree_leaves(got),
                                   jax.tree_util.tree_leaves(want), strict=True)):
        assert x.dtype == y.dtype, f"{what} leaf {i}: {x.dtype} != {y.dtype}"
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        fx, fy = np.isfinite(x), np.isfinite(y)
        assert (fx == fy).all(), f"{what} leaf {i}: non-finite differ: {x} vs {y}"
        assert np.array_equal(x[~fx], y[~fy], equal_nan=True), f"{what} leaf {i}: {x} vs {y}"
        if fx.any():
            scale = max(np.abs(y[fy]).max(), 1e-30)
            err = np.abs(x[fx] - y[fy]).max() / scale
            assert err <= rtol, f"{what} leaf {i}: relative difference {err:.3g}: {x} vs {y}"


def run_both(program: Program, tmp_path, module: str, *, steps: int = 2, jit: bool = True,
             bf16: bool = True, seed: int = 0):
    """Run `program` through `to_optax` (eager, and jitted) and its exported module."""
    ours = to_optax(program, 0.3)
    theirs = load_module(export_optax(program, "opt"), tmp_path, module).opt(0.3)
    rng = np.random.default_rng(seed)
    params = make_tree(rng)
    s_ours, s_theirs = ours.init(params), theirs.init(params)
    jitted = jax.jit(ours.update)
    for t in range(steps):
        grads = make_tree(rng)
        if jit:  # the jitted update from the same state as the eager one
            u_jit, s_jit = jitted(grads, s_ours, params)
        u, s_new = ours.update(grads, s_ours, params)
        u2, s2_new = theirs.update(grads, s_theirs, params)
        assert_close(u2, u, f"export update step {t + 1}")
        assert_close(s2_new[1], s_new.slots, f"export state step {t + 1}")
        if jit:
            # XLA fuses and reorders float32 arithmetic: compare at float32 rounding of a
            # few operations, relative to each leaf's largest value.
            assert_close(u_jit, u, f"jit update step {t + 1}", rtol=1e-5)
            assert_close(s_jit.slots, s_new.slots, f"jit state step {t + 1}", rtol=1e-5)
        s_ours, s_theirs = s_new, s2_new
        params = jax.tree_util.tree_map(lambda p, d: p + d, params, u)
    if not bf16:
        return
    # bfloat16 parameters: both run and keep the dtype
    pb, gb = make_tree(rng, jnp.bfloat16), make_tree(rng, jnp.bfloat16)
    for name, tx in (("compiler", ours), ("export", theirs)):
        u, s = tx.update(gb, tx.init(pb), pb)
        slots = s.slots if name == "compiler" else s[1]
        dtypes = {x.dtype for x in jax.tree_util.tree_leaves((u, slots))}
        assert dtypes == {jnp.dtype(jnp.bfloat16)}, f"{name} bfloat16: {dtypes}"


@pytest.mark.slow
def test_every_function_and_kind_compiles_and_exports_alike(tmp_path):
    run_both(every_function_program(), tmp_path, "every_kind", jit=False, bf16=False)


def test_every_function_jitted_and_in_bfloat16(tmp_path):
    run_both(every_function_program(all_kinds=False), tmp_path, "every_function", steps=1)


def random_child(seed: int) -> Program:
    """A random program or a mutated classic one, drawn from `seed`."""
    rng = random.Random(seed)
    program = rng.choice(TEMPLATES)
    if rng.random() < 0.6:
        program = random_program(rng, program, rng.randint(1, 12))
    mutator = Mutator(rng=rng)
    for _ in range(rng.randint(0, 6)):
        program = mutator.mutate(program).program
    return program


@pytest.mark.slow
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_random_programs_compile_and_export_alike(seed, tmp_path):
    run_both(random_child(seed), tmp_path, f"random_{seed}", jit=seed % 4 == 0, seed=seed)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1))
def test_simplify_keeps_behaviour_types_and_text(seed):
    program = random_child(seed)
    fingerprint(program)  # never raises for a valid program
    result = simplify(program, verify=False)
    assert is_valid(result), to_text(result)
    # simplify drops dead slots first (exact: tests/test_dead_code.py); compare the rest
    assert same_behaviour(result, prune_slots(program)), \
        f"{to_text(program)}\n->\n{to_text(result)}"
    for p in (program, result):
        assert canonical_hash(parse(to_text(p))) == canonical_hash(p)
        assert canonical_hash(parse(to_nested_text(p))) == canonical_hash(p)


def test_folding_keeps_float32_values_of_jax_functions():
    # `power` of constants runs in float32 in the compiler; folding it to a tidied
    # double moved `1 - power(...)` by 2.5% and made `simplify` refuse the program.
    p = parse("def train(w, g, v, lr):\n"
              "    v = log2(g)\n"
              "    t = 1.0 - power(0.999, 0.0051)\n"
              "    update = g / sqrt(v / t) * lr\n"
              "    return update, v\n")
    assert same_behaviour(simplify(p, verify=False), prune_slots(p))  # v's slot is dead
    simplify(p)  # verified: no SimplifyError
    q = parse("def train(w, g, lr):\n    return g * sqrt(4.0) * interp(0.5, 2.0, 0.1) * lr\n")
    assert [s.fn for s in simplify(q).body] == ["mul", "mul"]  # both folded


@pytest.mark.parametrize("src", [
    "a = exp(g * 1000.0); u = (a - a) * lr; return u",  # NaN update
    "u = g * lr; a = exp(m * 1000.0 + 1000.0); m = a - a; return u, m",  # NaN state only
])
def test_nonfinite_programs_are_marked(src):
    params = "w, g, m, lr" if "m" in src.split("return")[1] else "w, g, lr"
    body = "\n".join(f"    {s.strip()}" for s in src.split(";"))
    assert fingerprint(parse(f"def train({params}):\n{body}\n")).startswith("nonfinite:")


@pytest.mark.slow
def test_fingerprint_is_the_same_in_another_process():
    seeds = [3, 17, 41]
    here = [fingerprint(random_child(s)) for s in seeds] + [fingerprint(TEMPLATES[0])]
    code = ("import json, sys\n"
            f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
            "from test_compile_properties import random_child, TEMPLATES\n"
            "from symopt.analysis import fingerprint\n"
            f"print(json.dumps([fingerprint(random_child(s)) for s in {seeds!r}]"
            " + [fingerprint(TEMPLATES[0])]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": "123"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == here
