"""symopt.tasks.seeds: one evaluation over several seeds, one result type, one failure rule."""

import math

import optax
import pytest

from symopt.lang import parse
from symopt.search.execution.executor import EvalOutcome, evaluate_text
from symopt.tasks import evaluate, get_task
from symopt.tasks.compare import compare
from symopt.tasks.seeds import Evaluation, evaluate_seeds

ADAM = lambda lr: optax.adam(lr)  # noqa: E731


DIVERGES = lambda lr: optax.sgd(lambda c: 1e9 * lr(c))  # noqa: E731


@pytest.mark.slow
def test_fitness_is_the_mean_over_seeds_of_evaluate():
    task = get_task("quadratic", steps=30)
    e = evaluate_seeds(ADAM, task, seeds=(0, 1, 2))
    singles = [evaluate(ADAM, task, seed=s).fitness for s in (0, 1, 2)]
    assert e.ok and e.n_ok == 3 and [r.seed for r in e.results] == [0, 1, 2]
    assert e.fitness == pytest.approx(sum(singles) / 3, rel=1e-6)
    assert e.std == pytest.approx((sum((x - e.fitness) ** 2 for x in singles) / 3) ** 0.5,
                                  rel=1e-5)


@pytest.mark.slow
def test_the_first_failed_seed_fails_the_evaluation_and_stops_it():
    trained = []
    e = evaluate_seeds(DIVERGES, get_task("quadratic", steps=30), seeds=(0, 1, 2),
                       progress=trained.append)
    assert (e.status, e.fitness, e.n_ok, len(e.results)) == ("diverged", math.inf, 0, 1)
    assert [r.seed for r in trained] == [0]  # seeds 1 and 2 were never trained
    late = evaluate_seeds(ADAM, get_task("quadratic", steps=30), seeds=(0, 1),
                          time_limit_s=1e-9)
    assert late.status == "timeout" and late.fitness == math.inf and len(late.results) == 1


@pytest.mark.slow
def test_search_and_compare_share_the_rule_and_the_type():
    assert EvalOutcome is Evaluation
    c = compare({"bad": DIVERGES, "adam": ADAM}, get_task("quadratic", steps=30), seeds=3)
    assert c["bad"].mean == math.inf and len(c["bad"].results) == 1
    assert c["bad"].to_dict()["status"] == "diverged" and c["adam"].n_ok == 3
    text = "def train(w, g, lr):\n    u = g * lr\n    return u\n"
    spec = {"name": "quadratic", "seeds": [0, 1], "overrides": {"steps": 30}}
    out = evaluate_text(text, spec)
    from symopt.compile import to_optax
    direct = evaluate_seeds(lambda lr: to_optax(parse(text), lr),
                            get_task("quadratic", steps=30), seeds=(0, 1))
    assert out.fitness == direct.fitness and out.results == ()  # only the verdict travels
