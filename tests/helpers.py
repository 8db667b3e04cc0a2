"""Shared test helpers: load generated modules, train under jit, compare pytrees."""

from __future__ import annotations

import importlib.util

import jax
import jax.numpy as jnp
import optax


def load_module(source: str, tmp_path, module: str):
    """Import generated source from a file in `tmp_path` (as a user would)."""
    path = tmp_path / f"{module}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(module, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def train_steps(tx, params, loss, steps: int):
    """`steps` jitted steps of `tx` on `loss` from `params`; the final params."""
    @jax.jit
    def run(p):
        def body(_, carry):
            p, s = carry
            u, s = tx.update(jax.grad(loss)(p), s, p)
            return optax.apply_updates(p, u), s

        return jax.lax.fori_loop(0, steps, body, (p, tx.init(p)))[0]

    return run(params)


def rel_diff(a, b) -> float:
    """Largest per-leaf max |a - b| / max |b| over two pytrees of the same structure."""
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return max((float(jnp.max(jnp.abs(x - y)) / jnp.maximum(jnp.max(jnp.abs(y)), 1e-30))
                for x, y in pairs), default=0.0)
