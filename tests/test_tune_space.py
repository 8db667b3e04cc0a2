"""symopt.tune.space and symopt.tune.config: default ranges, [tune.space], GA operators."""

import math

import numpy as np
import pytest

from symopt import programs
from symopt.errors import UserError
from symopt.tasks import get_task
from symopt.tune.config import TuneConfig
from symopt.tune.space import build_space

LION = programs.load("lion")
ADAMW = programs.load("adamw")


def test_default_ranges_follow_the_constants():
    space = build_space(LION, get_task("quadratic"))
    c0, c1, c3 = (space.gene(k) for k in ("c0", "c1", "c3"))
    # beta 0.9 searched as 1 - x on a log scale: 1 - x in [0.001, 0.5]
    assert c0.scale == "log1m" and (c0.low, c0.high) == pytest.approx((0.5, 0.999))
    # 0.1 (weight decay and lr factor share one gene): x[1/100, 100] on a log scale
    assert c1.scale == "log" and c1.targets == (1, 2)
    assert (c1.low, c1.high) == pytest.approx((0.001, 10.0))
    assert c3.scale == "log1m" and c3.high == pytest.approx(1 - 0.01 / 100)
    assert space.gene("lr_multiplier").default == 1.0
    assert space.defaults()["c0"] == 0.9


def test_adamw_betas_in_bias_correction_move_together():
    space = build_space(ADAMW, get_task("quadratic"))
    consts = ADAMW.constants()
    beta1 = space.gene("c0")
    assert [consts[i] for i in beta1.targets] == [0.9, 0.9] and len(beta1.targets) == 2
    # structural 1.0 in `1 - power(beta, step)` stays fixed
    assert space.gene(f"c{consts.index(1.0)}").fixed
    values = space.sample(np.random.default_rng(0))
    tuned = space.apply(ADAMW, values)
    assert tuned.constants()[beta1.targets[0]] == tuned.constants()[beta1.targets[1]]
    untied = build_space(ADAMW, get_task("quadratic"), tie_equal=False)
    assert len(untied.gene("c0").targets) == 1


def test_nanogpt_space_has_model_settings_and_heads_divide_width():
    task = get_task("nanogpt-tiny")
    space = build_space(LION, task)
    assert {"layers", "heads", "width", "dropout"} <= set(space.keys)
    rng = np.random.default_rng(1)
    for _ in range(200):
        v = space.sample(rng)
        assert v["width"] % v["heads"] == 0
    odd = build_space(LION, task, {"width": [20, 30]})
    for _ in range(100):
        v = odd.sample(rng)
        assert v["width"] % v["heads"] == 0 and 20 <= v["width"] <= 30


def test_space_table_fixes_and_overrides():
    space = build_space(LION, get_task("quadratic"),
                        {"c0": 0.95, "c1": [0.001, 1.0], "lr_multiplier": {"low": 0.5, "high": 2,
                                                                           "scale": "linear"},
                         "c3": [0.9, 0.999], "warmup_steps": [0, 20]})
    assert space.gene("c0").fixed and space.defaults()["c0"] == 0.95
    assert (space.gene("c1").scale, space.gene("c1").low) == ("log", 0.001)
    assert space.gene("lr_multiplier").scale == "linear"
    assert space.gene("c3").scale == "log1m"
    rng = np.random.default_rng(0)
    for _ in range(100):
        v = space.sample(rng)
        assert 0.001 <= v["c1"] <= 1 and 0.9 <= v["c3"] <= 0.999 and v["c0"] == 0.95
        assert isinstance(v["warmup_steps"], int) and 0 <= v["warmup_steps"] <= 20


@pytest.mark.parametrize("spec, key, words", [
    ({"beta1": 0.9}, "tune.space.beta1", "unknown key (known: c0, c1, c3, lr_multiplier, "
                                          "warmup_steps)"),
    ({"lr_mult": 2.0}, "tune.space.lr_mult", "unknown key (did you mean 'lr_multiplier'?)"),
    ({"c2": 0.5}, "c2", "shares its gene"),
    ({"c1": [0.5, 0.1]}, "tune.space.c1", "low must be below high (got [0.5, 0.1])"),
    ({"c1": {"low": -1, "high": 1, "scale": "log"}}, "c1", "one sign"),
    ({"c0": {"low": 0.5, "high": 1.5, "scale": "log1m"}}, "c0", "log1m"),
    ({"c0": {"low": 0.5, "high": 0.9, "scale": "cubic"}}, "c0", "unknown scale"),
    ({"c0": {"lo": 0.5}}, "tune.space.c0.lo", "unknown key (did you mean 'low'?)"),
    ({"lr_multiplier": [0, 2]}, "lr_multiplier", "positive"),
    ({"warmup_steps": [0, 500]}, "warmup_steps", "below the task"),
    ({"warmup_steps": [0.5, 3]}, "warmup_steps", "integer"),
    ({"c0": "high"}, "c0", "finite number"),
    ({"c0": []}, "c0", "non-empty"),
    ({"c0": [0.5] * 101}, "c0", "101 items; at most 100"),
    ({"c0": {"choices": list(range(1, 10_002))}}, "c0", "10,001 items; at most 100"),
    ({"c0": 10**400}, "c0", "finite number"),
    ({"c1": [0.5, 10**30, 2**70]}, "c1", "finite number"),
])
def test_bad_space_keys_and_ranges_name_the_key(spec, key, words):
    with pytest.raises(UserError) as err:
        build_space(LION, get_task("quadratic"), spec)
    where = key if key.startswith("tune.space.") else f"tune.space.{key}"
    assert str(err.value).startswith(where + ": ") and words in str(err.value)


def test_bad_model_settings_name_the_key():
    with pytest.raises(UserError, match="layers.*at least 1"):
        build_space(LION, get_task("nanogpt-tiny"), {"layers": [0, 2]})
    with pytest.raises(UserError, match="dropout.*below 1"):
        build_space(LION, get_task("nanogpt-tiny"), {"dropout": [0.0, 0.5, 1.0]})


def test_mutation_and_crossover():
    space = build_space(LION, get_task("quadratic"))
    rng = np.random.default_rng(0)
    a, b = space.sample(rng), space.sample(rng)
    assert space.mutate(a, rng, 0.0) == a
    changed = space.mutate(a, rng, 1.0)
    assert all(changed[g.key] != a[g.key] for g in space.searched if g.scale != "int")
    for _ in range(20):
        child = space.crossover(a, b, rng)
        assert all(child[k] in (a[k], b[k]) for k in space.keys)
    # about 5% of genes resampled at rate 0.05
    n = sum(space.mutate(a, rng, 0.05)[g.key] != a[g.key]
            for _ in range(400) for g in space.searched if g.scale != "int")
    assert 0.02 < n / (400 * 4) < 0.09


def test_config_errors_name_the_key():
    with pytest.raises(UserError, match="tune.method"):
        TuneConfig.from_dict({"tune": {"method": "cma"}})
    with pytest.raises(UserError, match="tune.pbt.quantile_fraction"):
        TuneConfig.from_dict({"tune": {"pbt": {"quantile_fraction": 0.9}}})
    with pytest.raises(UserError, match="tune.pbt.resources_per_trial.tpu"):
        TuneConfig.from_dict({"tune": {"pbt": {"resources_per_trial": {"tpu": 1}}}})
    with pytest.raises(UserError, match=r"^<config>: tune.pbt.interval: unknown key \(known: "
                                        r"iterations, "):
        TuneConfig.from_dict({"tune": {"pbt": {"interval": 1}}})
    cfg = TuneConfig.from_dict({"tune": {"method": "pbt", "budget": 6,
                                         "pbt": {"resources_per_trial": {"cpu": 0.5,
                                                                         "gpu": 0.25}}}})
    assert cfg.pbt.resources_per_trial["gpu"] == 0.25 and cfg.n_trials() == 6
    again = TuneConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert math.isclose(TuneConfig().mutation_rate, 0.05)


def test_lists_in_tune_overrides_are_bounded():
    from symopt.tune.api import setup

    cfg = TuneConfig.from_dict({"tune": {"task": "quadratic",
                                         "overrides": {"lr_multipliers": [1.0] * 33}}})
    with pytest.raises(UserError, match="lr_multipliers: 33 multipliers; at most 32"):
        setup(LION, cfg)
    cfg = TuneConfig.from_dict({"tune": {"task": "quadratic", "overrides": {"steps": [1] * 10**4}}})
    with pytest.raises(UserError, match=r"^tune.overrides: bad override for task 'quadratic': "
                                        r"steps: expected int \(got \[1, 1.*\.\.\.\)$"):
        setup(LION, cfg)
