"""Population-parallel training (symopt/tasks/batch.py) against one run at a time."""

from __future__ import annotations

import pytest

from symopt import programs
from symopt.compile import interpreter
from symopt.lang import parse
from symopt.tasks import get_task
from symopt.tasks.batch import evaluate_batch
from symopt.tasks.engine import ProgramOptimizer
from symopt.tasks.train import evaluate

DIVERGES = parse("def train(w, g, lr):\n    u = g * 1e6\n    return u")


@pytest.mark.slow
@pytest.mark.parametrize("vmap_programs", [False, True])
def test_batch_matches_one_run_at_a_time(vmap_programs):
    task = get_task("quadratic", steps=30, n_evals=3)
    opts = [ProgramOptimizer(programs.load(n)) for n in ("sgd", "momentum")]
    opts.append(ProgramOptimizer(DIVERGES))
    seeds, mults = (0, 3), (0.5, 1.0)
    batched = evaluate_batch(opts, task, seeds=seeds, lr_multipliers=mults,
                             vmap_programs=vmap_programs)
    for opt, per_seed in zip(opts, batched, strict=True):
        for seed, b in zip(seeds, per_seed, strict=True):
            a = evaluate(opt, task, seed=seed, lr_multipliers=mults)
            assert (a.status, a.lr_multiplier, a.steps) == (b.status, b.lr_multiplier, b.steps)
            assert b.curve == pytest.approx(a.curve, rel=1e-5)
    assert batched[2][0].status == "diverged" and batched[2][0].steps <= 2 * len(mults)
    assert batched[0][0].fitness != batched[0][1].fitness  # seeds really differ


def test_a_program_that_cannot_be_encoded_is_an_error_not_a_crash():
    bad = parse("def train(w, g, lr):\n    n = norm(g)\n    return n", check=False)
    res = evaluate_batch([ProgramOptimizer(bad)], get_task("quadratic", steps=5))
    assert res[0][0].status == "error" and "Tensor" in res[0][0].message


@pytest.mark.slow  # two compiles of the batched interpreter (the padding itself is also in
# test_batch_matches_one_run_at_a_time[True]: 3 programs trained as 4)
def test_programs_trained_together_share_one_compile_per_power_of_two():
    """On an accelerator a call of n programs is padded to a power of two, so a call of 3
    and one of 4 share a compile, and the padding does not change anyone's result."""
    task = get_task("quadratic", steps=6, n_evals=1)
    opts = [ProgramOptimizer(programs.load(n)) for n in ("sgd", "momentum", "lion", "signum")]
    three = evaluate_batch(opts[:3], task, vmap_programs=True)  # state: 1 slot (the most)
    traced = interpreter.TRACES
    four = evaluate_batch(opts, task, vmap_programs=True)
    assert interpreter.TRACES == traced  # no new trace: no new compile
    assert [r[0].fitness for r in three] == [r[0].fitness for r in four[:3]]
    assert len({r[0].fitness for r in four}) == 4  # four different programs trained
