"""Hyperparameter tuning of a program's constants and the task's settings.

Three methods over one search space (:mod:`symopt.tune.space`): a genetic algorithm
(:mod:`symopt.tune.ga`), Population Based Training on Ray Tune (:mod:`symopt.tune.pbt`)
and random search, the baseline. :func:`run_tune` runs one and writes its outputs.

>>> from symopt.tune import TuneConfig
>>> TuneConfig(task="quadratic", method="ga").n_trials()
50
"""

from symopt.tune.api import TuneResult, run_tune
from symopt.tune.config import TuneConfig, load_tune_config
from symopt.tune.space import Space, build_space

__all__ = ["Space", "TuneConfig", "TuneResult", "build_space", "load_tune_config", "run_tune"]
