"""The optax entry points (`symopt.compile.transform`): `symopt.optimizer(spec, lr, **hp)`
reads as optax's aliases, and `to_optax` takes a built-in name or a path; user errors are
`ValueError`s; the package is typed (PEP 561)."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import optax
import pytest
import tomllib
from helpers import rel_diff, train_steps
from paths import builtin_file

import symopt
from symopt.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def _loss(p):
    return jnp.sum((p["a"] - 1.0) ** 2) + jnp.sum(jnp.sin(p["b"]) * p["b"])


PARAMS = {"a": jnp.linspace(-1.0, 1.0, 6), "b": jnp.array([[0.5, -0.3], [0.2, 0.9]])}


def test_symopt_optimizer_with_a_name_path_or_program_equals_optax_adamw():
    want = train_steps(optax.adamw(1e-2, b1=0.95, weight_decay=0.1), PARAMS, _loss, 30)
    for spec in ("adamw", builtin_file("adamw"), symopt.programs.load("adamw")):
        tx = symopt.optimizer(spec, 1e-2, b1=0.95, weight_decay=0.1)
        assert isinstance(tx, optax.GradientTransformationExtraArgs)
        assert rel_diff(train_steps(tx, PARAMS, _loss, 30), want) <= 1e-5
    # the named hyperparameters matter: the default b1 gives another result
    default = train_steps(symopt.optimizer("adamw", 1e-2, weight_decay=0.1), PARAMS, _loss, 30)
    assert rel_diff(default, want) > 1e-4


def test_to_optax_takes_a_builtin_name_and_refuses_an_unknown_one_as_a_value_error():
    tx = symopt.to_optax("lion", 3e-4)
    u, _ = tx.update(PARAMS, tx.init(PARAMS), PARAMS)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree_util.tree_leaves(u))
    with pytest.raises(ValueError, match="'lionn' is neither a .prog file nor a built-in"):
        symopt.to_optax("lionn", 3e-4)
    with pytest.raises(ValueError, match="unknown hyperparameter 'beta1'"):
        symopt.optimizer("lion", 3e-4, beta1=0.9)
    with pytest.raises(ValueError, match="learning_rate must be a number"):
        symopt.optimizer("lion", [3e-4])
    assert issubclass(UserError, ValueError) and issubclass(UserError, symopt.SymoptError)


def test_the_package_ships_py_typed():
    assert (ROOT / "symopt" / "py.typed").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in data["package-data"]["symopt"]
