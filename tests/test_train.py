"""The evaluator on the cheap synthetic tasks: statuses, determinism, multipliers."""

import dataclasses
import json
import math

import optax
import pytest

from symopt.errors import UserError
from symopt.tasks import EvalResult, evaluate, get_task

ADAM = lambda lr: optax.adam(lr)


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "logreg", "mlp"])
def test_adam_beats_doing_nothing(name):
    task = get_task(name)
    good = evaluate(ADAM, task)
    zero = evaluate(lambda lr: optax.set_to_zero(), task)
    assert good.status == "ok" and zero.status == "ok"
    assert good.fitness < 0.8 * zero.fitness
    assert zero.fitness == pytest.approx(zero.curve[0])  # nothing moved
    assert len(good.train_curve) == task.steps and good.eval_steps[-1] == task.steps


@pytest.mark.slow
def test_same_seed_same_losses_bit_for_bit_and_seeds_differ():
    task = get_task("mlp", steps=40)
    a = evaluate(lambda lr: optax.adamw(lr), task, seed=3)
    b = evaluate(lambda lr: optax.adamw(lr), task, seed=3)  # fresh factory: recompiled
    c = evaluate(lambda lr: optax.adamw(lr), task, seed=4)
    assert a.curve == b.curve and a.train_curve == b.train_curve
    assert a.curve != c.curve


def test_huge_learning_rate_is_diverged_not_raised():
    r = evaluate(lambda lr: optax.sgd(lambda c: 1e12 * lr(c)), "logreg")
    assert r.status == "diverged" and r.fitness == math.inf and r.message


def test_finite_blow_up_counts_as_divergence():
    r = evaluate(lambda lr: optax.sgd(lambda c: -10 * lr(c)), get_task("quadratic", noise=0.0))
    assert r.status == "diverged"


def test_optimizer_exceptions_become_status_error():
    def broken(lr):
        raise RuntimeError("boom")

    r = evaluate(broken, "quadratic")
    assert r.status == "error" and "boom" in r.message and r.fitness == math.inf

    def bad_update(lr):
        return optax.GradientTransformation(lambda p: (), lambda g, s, p=None: (g["nope"], s))

    assert evaluate(bad_update, "logreg").status == "error"


@pytest.mark.slow
def test_timeout():
    r = evaluate(ADAM, get_task("mlp", steps=400, n_evals=8), time_limit_s=1e-9)
    assert r.status == "timeout" and r.fitness == math.inf


@pytest.mark.slow
def test_lr_multipliers_keep_the_best():
    task = get_task("quadratic")
    r = evaluate(lambda lr: optax.sgd(lr), task, lr_multipliers=(0.01, 1.0, 3.0))
    fits = dict(r.trials)
    assert set(fits) == {0.01, 1.0, 3.0}
    assert r.fitness == min(fits.values()) and r.lr_multiplier != 0.01
    assert r.lr == pytest.approx(task.base_lr * r.lr_multiplier)
    single = evaluate(lambda lr: optax.sgd(lr), task, lr_multipliers=(r.lr_multiplier,))
    assert single.fitness == r.fitness
    # per-task default
    r2 = evaluate(lambda lr: optax.sgd(lr), get_task("quadratic", lr_multipliers=(0.3, 1.0)))
    assert len(r2.trials) == 2
    with pytest.raises(UserError):
        evaluate(ADAM, task, lr_multipliers=(0.0,))


def test_schedule_is_warmup_then_cosine():
    task = get_task("nanogpt-tiny")
    s = task.lr_schedule(2.0)
    assert float(s(0)) == 0.0
    assert float(s(task.warmup_steps)) == pytest.approx(2.0 * task.base_lr)
    assert float(s(task.steps)) == pytest.approx(2.0 * task.base_lr * task.end_lr_fraction)


@pytest.mark.slow
def test_to_dict_is_json_with_inf_as_null():
    r = evaluate(lambda lr: optax.sgd(lambda c: 1e12 * lr(c)), "logreg")
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["fitness"] is None and d["status"] == "diverged"
    ok = json.loads(json.dumps(evaluate(ADAM, "quadratic").to_dict(), allow_nan=False))
    assert ok["fitness"] == pytest.approx(ok["curve"][-1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        EvalResult(fitness=1.0, status="ok").fitness = 2.0
