"""Honest checks with real programs (programs/*.prog compiled by symopt.compile.to_optax)."""

import functools
import math

import optax
import pytest
from paths import builtin_file

from symopt.compile import to_optax
from symopt.lang import parse_file
from symopt.tasks import evaluate, get_task


def prog(name):
    return functools.partial(to_optax, parse_file(builtin_file(name)))


@pytest.mark.slow
def test_adamw_program_matches_optax_adamw_on_logreg():
    task = get_task("logreg")
    a = evaluate(prog("adamw"), task)
    b = evaluate(lambda lr: optax.adamw(lr, weight_decay=0.01), task)
    assert a.status == "ok" and a.fitness == pytest.approx(b.fitness, rel=1e-3)


@pytest.mark.slow
def test_lion_program_learns_nanogpt_tiny():
    """adamw.prog is optax's AdamW (above), which learns this task (test_nanogpt.py)."""
    tiny = get_task("nanogpt-tiny")
    h = tiny.unigram_entropy
    # lion.prog runs at 0.1 x lr; at x3 that is 9e-4, about 1/3 of AdamW's
    lion = evaluate(prog("lion"), tiny, lr_multipliers=(3.0,))
    assert lion.status == "ok" and lion.fitness < h - 0.25, (lion.fitness, h)  # measured 2.92


@pytest.mark.slow
def test_diverging_program_is_reported():
    bad = evaluate(prog("sgd"), get_task("logreg"), lr_multipliers=(1e12,))
    assert bad.status == "diverged" and bad.fitness == math.inf
