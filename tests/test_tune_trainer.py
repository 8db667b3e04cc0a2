"""symopt.compile.traced and symopt.tune.trainer: traced constants, schedule, checkpoints."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import rel_diff, train_steps

from symopt import programs
from symopt.compile import to_optax
from symopt.compile.traced import to_optax_traced
from symopt.tasks import evaluate, get_task
from symopt.tune.trainer import (
    Hyper,
    Trainer,
    schedule,
    state_from_arrays,
    state_to_arrays,
    trainer_for,
)

ADAMW = programs.load("adamw")
LION = programs.load("lion")


def _loss(p):
    return jnp.sum((p["a"] - jnp.arange(4.0)) ** 2) + jnp.sum(jnp.cos(p["b"]))


PARAMS = {"a": jnp.linspace(-1.0, 1.0, 4), "b": jnp.ones((2, 3))}


def test_traced_adamw_matches_optax_at_other_constants():
    # constants in adamw.prog order: b1 (interp), b2, b1 (bias), 1.0, b2 (bias), 1.0, eps, wd
    b1, b2, eps, wd = 0.8, 0.99, 1e-6, 0.05
    consts = [b1, b2, b1, 1.0, b2, 1.0, eps, wd]
    assert len(consts) == len(ADAMW.constants())
    ours = train_steps(to_optax_traced(ADAMW, 0.01, jnp.array(consts)), PARAMS, _loss, 30)
    ref = train_steps(optax.adamw(0.01, b1=b1, b2=b2, eps=eps, weight_decay=wd), PARAMS,
                      _loss, 30)
    assert rel_diff(ours, ref) < 1e-5


def test_traced_lion_matches_optax_lion():
    b1, wd, lr_factor, b2 = 0.85, 0.2, 0.3, 0.95
    lr = 0.01
    ours = train_steps(to_optax_traced(LION, lr, jnp.array([b1, wd, lr_factor, b2])),
                       PARAMS, _loss, 25)
    ref = train_steps(optax.lion(lr * lr_factor, b1=b1, b2=b2, weight_decay=wd), PARAMS,
                      _loss, 25)
    assert rel_diff(ours, ref) < 1e-5


def test_one_compiled_step_serves_every_constant():
    """The constants are an argument of one jitted step: no retrace when they change."""
    traces = []

    @jax.jit
    def step(consts, params):
        traces.append(1)
        tx = to_optax_traced(LION, 0.01, consts)
        u, _ = tx.update(jax.grad(_loss)(params), tx.init(params), params)
        return optax.apply_updates(params, u)

    outs = [step(jnp.array(c), PARAMS) for c in ([0.9, 0.1, 0.1, 0.99], [0.5, 0.0, 1.0, 0.9])]
    assert len(traces) == 1
    assert rel_diff(outs[0], outs[1]) > 1e-3
    ref = train_steps(to_optax(LION.with_constants([0.5, 0.0, 1.0, 0.9]), 0.01), PARAMS,
                      _loss, 1)
    assert rel_diff(outs[1], ref) < 1e-6


@pytest.mark.parametrize("warmup, kind", [(0, "cosine"), (7, "cosine"), (12, "constant")])
def test_traced_warmup_schedule_equals_the_task_schedule(warmup, kind):
    task = get_task("quadratic", steps=60, warmup_steps=warmup, schedule=kind)
    ref = task.lr_schedule(1.5)
    got = jax.jit(lambda c, w: schedule(task, c, 1.5, w))
    for c in range(0, 70, 4):
        assert float(got(c, float(warmup))) == pytest.approx(float(ref(c)), rel=1e-5, abs=1e-9)


@pytest.mark.slow
def test_trainer_run_equals_the_training_loop_with_baked_constants():
    """Trainer with traced constants == symopt.tasks.evaluate with the constants written in."""
    task = get_task("quadratic", steps=40, warmup_steps=0)
    consts = [0.7, 0.05, 0.2, 0.9]
    tr = trainer_for(LION, task)
    ours = tr.run(Hyper.of(consts, 2.0, 0.0))
    baked = LION.with_constants(consts)
    ref = evaluate(lambda lr: to_optax(baked, lr), task, lr_multipliers=[2.0])
    assert ours.status == ref.status == "ok"
    np.testing.assert_allclose(ours.curve, ref.curve, rtol=2e-4)
    # another point of the same compiled trainer
    assert trainer_for(LION, task) is tr
    other = tr.run(Hyper.of([0.9, 0.1, 0.1, 0.99], 1.0, 0.0))
    assert other.fitness != ours.fitness


@pytest.mark.slow
def test_divergence_is_a_status_named_as_the_evaluator_names_it():
    task = get_task("quadratic", steps=20, warmup_steps=0)  # Hyper's warmup below: 0
    consts = [0.9, 0.1, 1e6, 0.99]
    r = trainer_for(LION, task).run(Hyper.of(consts, 1.0, 0.0))
    ref = evaluate(lambda lr: to_optax(LION.with_constants(consts), lr), task,
                   lr_multipliers=[1.0])
    assert r.status == ref.status == "diverged" and r.fitness == float("inf")
    assert r.message == ref.message and "at step" in r.message


@pytest.mark.slow
def test_state_round_trips_through_arrays_and_training_continues_identically():
    task = get_task("quadratic", steps=40)
    tr = Trainer(LION, task, chunk_steps=10)
    hyper = Hyper.of(LION.constants(), 1.0, 5.0)
    state = tr.chunk(tr.init(0), hyper).state
    copy = state_from_arrays(tr, {k: v.copy() for k, v in state_to_arrays(state).items()})
    a = tr.chunk(state, hyper).state
    b = tr.chunk(copy, hyper).state
    assert int(b.step) == 20 and tr.val(a) == tr.val(b)
    with pytest.raises(ValueError, match="arrays"):
        state_from_arrays(tr, {"a0": np.zeros(1)})
