"""One training run's bookkeeping (`symopt.tasks.trial`): when a run stops, and which trial
of a seed becomes its result. Pure Python over made-up losses: no training."""

from __future__ import annotations

import math

import pytest

from symopt.tasks import get_task
from symopt.tasks.trial import BAD_EXPLODED, Trial, failed_record, summarize

TASK = get_task("quadratic", steps=100, n_evals=4)


def trial(**kw):
    return Trial(TASK, val0=2.0, multiplier=1.0, **kw)


def test_a_run_that_never_fails_trains_to_the_last_step():
    t = trial()
    ends = [t.after_chunk([1.0] * 25, 0, 0, lambda: 1.0, None) for _ in range(4)]
    assert ends == [False, False, False, True] and t.status == "ok" and t.step == 100
    assert t.steps_at == [0, 25, 50, 75, 100] and t.curve == [2.0, 1.0, 1.0, 1.0, 1.0]


def test_the_compiled_check_names_the_step_and_the_exploded_loss():
    t = trial()
    losses = [1.0, 1.0, 5e3]
    assert t.after_chunk(losses, BAD_EXPLODED, 3, lambda: 0.0, None)
    ratio = TASK.diverge_ratio
    assert t.status == "diverged"
    assert t.message == (f"training loss 5000 above {ratio:g}x the initial validation loss 2 "
                         f"at step 3")


def test_a_validation_loss_above_the_divergence_limit_stops_the_run():
    t = trial()
    assert t.after_chunk([1.0] * 25, 0, 0, lambda: 2.0 * TASK.diverge_ratio * 1.01, None)
    assert t.status == "diverged" and "above" in t.message and "at step 25" in t.message


def test_a_passed_deadline_is_a_timeout_but_not_on_the_last_step():
    t = trial()
    assert t.after_chunk([1.0] * 25, 0, 0, lambda: 1.0, deadline=0.0)
    assert (t.status, t.message) == ("timeout", "time limit reached at step 25")
    last = trial(step0=75)
    assert last.after_chunk([1.0] * 25, 0, 0, lambda: 1.0, deadline=0.0)
    assert last.status == "ok"


def test_summarize_takes_the_best_ok_multiplier_and_counts_every_trial():
    a, b = trial(), Trial(TASK, val0=2.0, multiplier=3.0)
    for _ in range(4):
        a.after_chunk([1.0] * 25, 0, 0, lambda: 0.5, None)
        b.after_chunk([1.0] * 25, 0, 0, lambda: 0.25, None)
    r = summarize(TASK, 7, [1.0, 3.0], [a.record(2.0), b.record(2.0)], compile_s=1.0)
    assert r.status == "ok" and r.fitness == 0.25 and r.lr_multiplier == 3.0
    assert r.lr == pytest.approx(TASK.base_lr * 3.0) and r.seed == 7
    assert (r.steps, r.planned_steps, r.run_s, r.steps_per_s) == (200, 200, 4.0, 50.0)
    assert r.trials == ((1.0, 0.5), (3.0, 0.25))


def test_without_an_ok_trial_the_most_telling_failure_is_reported_with_no_fitness():
    hurdle, error = trial(hurdles=[(25, 0.1)]), failed_record(3.0, "boom")
    assert hurdle.after_chunk([1.0] * 25, 0, 0, lambda: 0.5, None)
    r = summarize(TASK, 0, [1.0, 3.0], [hurdle.record(1.0), error], compile_s=0.0)
    assert (r.status, r.message) == ("error", "boom") and r.fitness == math.inf
    assert r.trials == ((1.0, math.inf), (3.0, math.inf)) and r.planned_steps == 200
