"""symopt.checks: one validator per kind of setting, the same message wherever it is given."""

import math

import pytest

from symopt import checks
from symopt.errors import UserError
from symopt.search.config.loading import SearchConfig
from symopt.tasks import evaluate, get_task


@pytest.mark.parametrize("bad", [[], [0.0], [1.0, -2.0], [math.inf], [math.nan], ["1"], [True],
                                 "1.0", 3.0])
def test_lr_multipliers_are_a_non_empty_list_of_positive_finite_numbers(bad):
    with pytest.raises(UserError, match="^x: must be a non-empty list of positive finite"):
        checks.lr_multipliers(bad, "x")


def test_lr_multipliers_normalized_to_floats():
    assert checks.lr_multipliers((1, 2.5), "x") == (1.0, 2.5)


def test_one_rule_for_config_cli_and_library():
    message = "must be a non-empty list of positive finite numbers"
    with pytest.raises(UserError, match=r"^c.toml: task.lr_multipliers: " + message
                       + r" \(got \[0.0\]\)$"):
        SearchConfig.from_dict({"task": {"lr_multipliers": [0.0]}}, source="c.toml")
    with pytest.raises(UserError, match="lr_multipliers: " + message):
        evaluate(lambda lr: None, get_task("quadratic"), lr_multipliers=(0.0,))


@pytest.mark.parametrize("value, ok", [(None, True), (0.5, True), (0, False), (-1, False),
                                       (math.nan, False), ("5", False)])
def test_time_limit(value, ok):
    if ok:
        assert checks.time_limit(value, "t") == (None if value is None else float(value))
    else:
        with pytest.raises(UserError, match="^t: must be positive"):
            checks.time_limit(value, "t")


@pytest.mark.parametrize("value", [0, -3, 1.5, True, "2"])
def test_at_least(value):
    with pytest.raises(UserError, match="^n: must be at least 1"):
        checks.at_least(value, 1, "n")
    assert checks.at_least(4, 1, "n") == 4
