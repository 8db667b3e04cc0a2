"""Honest checks on nanogpt-tiny (optax optimizers); see test_tasks_programs.py for .prog ones."""

import math

import optax
import pytest

from symopt.tasks import evaluate, get_task


@pytest.fixture(scope="module")
def tiny():
    return get_task("nanogpt-tiny")


@pytest.mark.slow
def test_adamw_learns_zero_update_does_not(tiny):
    """Lion on this task: lion.prog in test_tasks_programs.py (one run of it is enough)."""
    h = tiny.unigram_entropy
    assert 2.5 < h < 4.0
    adamw = evaluate(lambda lr: optax.adamw(lr, weight_decay=0.01), tiny)
    zero = evaluate(lambda lr: optax.set_to_zero(), tiny)
    assert adamw.status == zero.status == "ok"
    # "well below": measured 2.65 against h = 3.28 nats
    assert adamw.fitness < h - 0.5, (adamw.fitness, h)
    assert zero.fitness > h + 0.5  # stays at ~ln(vocab)
    assert zero.fitness == pytest.approx(math.log(tiny.vocab_size), abs=0.1)
    assert adamw.compile_s > 0 and adamw.steps == tiny.steps and adamw.steps_per_s > 0


@pytest.mark.slow
def test_huge_lr_diverges_and_same_seed_is_bit_identical():
    task = get_task("nanogpt-tiny", steps=12, n_evals=2)
    bad = evaluate(lambda lr: optax.sgd(lambda c: 1e9 * lr(c)), task)
    assert bad.status == "diverged" and bad.fitness == math.inf
    adamw = lambda lr: optax.adamw(lr)  # same factory: the second run reuses the compile
    a = evaluate(adamw, task, seed=1)
    b = evaluate(adamw, task, seed=1)
    assert b.compile_s == 0.0
    assert a.status == "ok" and a.curve == b.curve and a.train_curve == b.train_curve


def test_small_is_about_ten_times_tiny():
    tiny, small = get_task("nanogpt-tiny"), get_task("nanogpt-small")
    per_token = lambda t: t.layers * (12 * t.width**2 + 2 * t.context * t.width)
    work = lambda t: per_token(t) * t.steps * t.batch_size * t.context
    assert 6 < work(small) / work(tiny) < 16


@pytest.mark.slow
def test_dropout_only_in_training_and_same_parameters():
    import jax
    import jax.numpy as jnp

    small = dict(width=16, layers=1, heads=2, context=16, batch_size=4, val_batches=1)
    plain, drop = get_task("nanogpt-tiny", **small), get_task("nanogpt-tiny", dropout=0.5,
                                                               **small)
    params = plain.init_params(jax.random.PRNGKey(0))
    same = jax.tree_util.tree_map(lambda a, b: a.shape == b.shape, params,
                                  drop.init_params(jax.random.PRNGKey(0)))
    assert all(jax.tree_util.tree_leaves(same))
    key = jax.random.PRNGKey(1)
    batch, dbatch = plain.train_batch(plain.data, key), drop.train_batch(drop.data, key)
    assert jnp.array_equal(dbatch["tokens"], batch)  # same windows, plus a dropout key
    assert float(drop.loss(params, dbatch)) != pytest.approx(float(plain.loss(params, batch)))
    # validation is deterministic: dropout does not change it
    assert float(drop.val_loss(params, drop.data)) == float(plain.val_loss(params, plain.data))
