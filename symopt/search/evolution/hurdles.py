"""Hurdles (as in AutoML-Zero): stop a child early when it is clearly worse than its peers.

At each configured fraction of the run (rounded up to the task's next validation point),
a child whose validation loss is above a threshold stops with status ``hurdle``:

- ``rule = "quantile"``: the ``quantile`` of the losses that population members had at
  that step (members with a stored curve reaching it; a stopped member counts with its
  loss at that step if it got there);
- ``rule = "seed"``: the seed's loss at that step x (1 + ``margin``). The quantile rule
  falls back to it while fewer than ``min_members`` members have a loss there.

The seed programs are never held to a hurdle, and a child stopped at one has fitness inf:
it ranks behind every finished candidate and can never be the best. Its partial curve is
stored, and its status is cached like any other.

Configured by the `[hurdles]` section of a search config (`HurdlesSection`): `at`
(fractions of the run, e.g. ``[0.25, 0.5]``; empty = off), `rule`, `quantile`,
`margin`, `min_members`.

>>> hurdle_steps(200, 4, (0.25, 0.3, 0.5))
[50, 100]
>>> h = HurdlesSection(at=(0.25,), rule="seed", margin=0.1)
>>> thresholds(h, [50], seed_curve=[(0, 4.0), (50, 2.0)], member_curves=[])
[[50, 2.2]]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from symopt.search.config.sections import HurdlesSection


def hurdle_steps(steps: int, n_evals: int, fractions: Iterable[float]) -> list[int]:
    """The validation points (steps) where the hurdles at ``fractions`` are checked."""
    chunk = max(1, math.ceil(steps / max(1, n_evals)))
    points = []
    for f in fractions:
        k = min(steps, chunk * math.ceil(f * steps / chunk))
        if 0 < k < steps and k not in points:
            points.append(k)
    return sorted(points)


def _at(curve: Sequence[tuple[int, float]], step: int) -> float | None:
    for k, v in curve:
        if k == step:
            return v
    return None


def thresholds(config: HurdlesSection, steps: Sequence[int],
               seed_curve: Sequence[tuple[int, float]],
               member_curves: Iterable[Sequence[tuple[int, float]]]) -> list[list[float]]:
    """``[[step, threshold], ...]`` for the hurdles at ``steps`` (none where unknown)."""
    members = list(member_curves)
    out = []
    for k in steps:
        threshold = None
        if config.rule == "quantile":
            values = [v for c in members if (v := _at(c, k)) is not None and math.isfinite(v)]
            if len(values) >= config.min_members:
                threshold = float(np.quantile(values, config.quantile))
        if threshold is None:
            v = _at(seed_curve, k)
            if v is not None and math.isfinite(v):
                threshold = v * (1 + config.margin) if v >= 0 else v * (1 - config.margin)
        if threshold is not None:
            out.append([k, threshold])
    return out


Curve = list[tuple[int, float]]


class HurdleKeeper:
    """A search's side of hurdles: the first task seed's validation curve of every
    candidate trained (stored in the run store's `curves` table, reloaded on resume) and
    the thresholds a new child's run gets (`for_child`). Off (no hurdles) when `config.at`
    is empty or `task` is None (a stand-in fitness has no curves).
    """

    def __init__(self, config: HurdlesSection, task=None):
        self.config = config
        self.steps = (hurdle_steps(task.steps, task.n_evals, config.at)
                      if config.at and task is not None else [])
        self.curves: dict[int, Curve] = {}

    def trained(self, store, rec_id: int, curves) -> None:
        """Store a trained candidate's curves (``(task seed, steps, losses)`` each)."""
        for k, (task_seed, steps, losses) in enumerate(curves):
            store.set_curve(rec_id, task_seed, list(steps), list(losses))
            if k == 0:
                self.curves[rec_id] = list(zip(steps, losses, strict=True))

    def reload(self, store, rec_id: int) -> None:
        """A stored candidate's first curve (resuming a run)."""
        if self.steps:
            stored = store.curves(rec_id)
            if stored:
                steps, losses = next(iter(stored.values()))
                self.curves[rec_id] = list(zip(steps, losses, strict=True))

    def for_child(self, seed_ids, member_ids) -> dict:
        """The task-spec entry of a child's hurdles now (empty when off)."""
        if not self.steps:
            return {}
        seed = min((self.curves.get(i, []) for i in seed_ids),
                   key=lambda c: c[-1][1] if c else math.inf, default=[])
        # each distinct member once: right after a (re)start the population is copies of
        # the seeds, which count as one member each (then the seed rule applies)
        members = (self.curves.get(i, []) for i in dict.fromkeys(member_ids))
        return {"hurdles": thresholds(self.config, self.steps, seed, members)}
