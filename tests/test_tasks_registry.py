"""The task registry (symopt.tasks.registry): built-in tasks by name, user tasks, overrides.

(The function registry, symopt.lang.registry, is tested in test_registry.py.)
"""

import dataclasses

import jax.numpy as jnp
import optax
import pytest

from symopt.errors import UserError
from symopt.tasks import Task, evaluate, get_task, list_tasks, register_task
from symopt.tasks.registry import BUILTIN_TASKS

ADAM = lambda lr: optax.adam(lr)  # noqa: E731


def test_builtin_tasks_are_listed_in_one_table():
    assert set(BUILTIN_TASKS) <= set(list_tasks())
    assert {"quadratic", "rosenbrock", "logreg", "mlp", "nanogpt-tiny", "nanogpt-small",
            "vit-tiny"} == set(BUILTIN_TASKS)
    small = get_task("nanogpt-small")
    assert (small.name, small.width, small.layers, small.steps) == ("nanogpt-small", 96, 4, 500)


def test_registry_user_task_and_errors():
    @dataclasses.dataclass(eq=False, kw_only=True)
    class Bowl(Task):
        name: str = "bowl"
        base_lr: float = 0.1
        steps: int = 30

        def init_params(self, key):
            return {"x": jnp.full((3,), 5.0)}

        def train_batch(self, data, key):
            return ()

        def loss(self, params, batch):
            return jnp.sum(params["x"] ** 2)

        def val_loss(self, params, data):
            return self.loss(params, ())

    register_task("test-bowl", Bowl, replace=True)
    assert "test-bowl" in list_tasks()
    task = get_task("test-bowl", steps=60)
    assert isinstance(task, Bowl) and task.steps == 60
    assert evaluate(ADAM, "test-bowl").fitness < 75.0
    with pytest.raises(UserError, match="already registered"):
        register_task("test-bowl", Bowl)
    with pytest.raises(UserError, match="known tasks: .*quadratic"):
        get_task("no-such-task")
    with pytest.raises(UserError, match="bad override"):
        get_task("quadratic", no_such_field=1)


@pytest.mark.parametrize("override, message", [
    ({"steps": "50"}, "steps: expected int (got '50')"),
    ({"steps": True}, "steps: expected int (got True)"),
    ({"steps": 0}, "steps: must be at least 1 (got 0)"),
    ({"n_evals": -1}, "n_evals: must be at least 1 (got -1)"),
    ({"base_lr": float("nan")}, "base_lr: must be a positive finite number (got nan)"),
    ({"schedule": 3}, "schedule: expected str (got 3)"),
])
def test_get_task_rejects_badly_typed_or_out_of_range_overrides(override, message):
    with pytest.raises(UserError, match="bad override for task 'quadratic'") as err:
        get_task("quadratic", **override)
    assert message in str(err.value)
    assert get_task("quadratic", steps=7, base_lr=1).steps == 7  # ints are fine for floats
