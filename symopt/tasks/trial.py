"""The host side of one training run: curves, divergence, hurdles, the wall clock.

The compiled training chunk (`symopt.tasks.train.train_steps`) stops by itself at the
first bad step (non-finite loss or parameters, or a training loss above the divergence
limit) and says which step that was; between chunks a `Trial` reads the validation loss
and decides whether the run goes on: divergence, a hurdle missed, the time limit.
`summarize` turns the trials of one seed (one per learning-rate multiplier) into an
`EvalResult`.

>>> from symopt.tasks import get_task
>>> t = Trial(get_task("quadratic", steps=100, n_evals=4), val0=2.0, multiplier=1.0,
...           hurdles=[(50, 0.5)])
>>> t.after_chunk([1.5] * 25, 0, 0, lambda: 1.2, None), t.after_chunk([1.1] * 25, 0, 0,
...     lambda: 0.9, None)
(False, True)
>>> t.status, t.message
('hurdle', 'validation loss 0.9 above the hurdle 0.5 at step 50')
>>> t = Trial(get_task("quadratic"), val0=2.0, multiplier=1.0)
>>> t.after_chunk([1.0, float("nan")], 1, 2, lambda: 0.0, None), t.message
(True, 'non-finite training loss at step 2')
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from symopt.tasks.base import EvalResult, Task

#: Why the compiled chunk stopped (its ``bad`` code): 0 = it did not.
BAD_LOSS, BAD_PARAMS, BAD_EXPLODED = 1, 2, 3


class Trial:
    """The bookkeeping of one training run (one seed, one learning-rate multiplier).

    ``hurdles`` are ``(step, threshold)`` pairs: at the first validation point at or
    after ``step``, a validation loss above ``threshold`` ends the run with status
    ``hurdle``. ``early_stop`` (the default) holds every training step to the divergence
    limit inside the compiled chunk; without it only the validation loss is (benchmarks
    compare the two). ``step0`` is the step the run starts from (a run resumed from a
    checkpoint, `symopt.tune.pbt`): steps are counted from it.
    """

    def __init__(self, task: Task, val0: float, multiplier: float,
                 hurdles: Sequence[tuple[int, float]] = (), early_stop: bool = True,
                 step0: int = 0):
        self.task, self.multiplier = task, float(multiplier)
        self.val0, self.step0 = val0, int(step0)
        ratio = task.diverge_ratio
        self.limit = ratio * abs(val0) if math.isfinite(val0) and val0 != 0 else math.inf
        self.chunk_limit = self.limit if early_stop else math.inf
        self.curve, self.steps_at = [val0], [self.step0]
        self.train: list[float] = []
        self.status, self.message = "ok", ""
        self.pending = sorted((int(k), float(v)) for k, v in hurdles)

    @property
    def step(self) -> int:
        """The steps trained so far (from step 0, not ``step0``)."""
        return self.step0 + len(self.train)

    def after_chunk(self, losses: Sequence[float], bad: int, at: int,
                    val: Callable[[], float], deadline: float | None) -> bool:
        """Account one chunk: its training ``losses``, the compiled check's ``bad`` code and
        step ``at``; ``val()`` gives the validation loss. True when the run ends."""
        task, ratio, train = self.task, self.task.diverge_ratio, self.train
        train.extend(float(x) for x in losses)
        if bad:
            self.status = "diverged"
            loss = train[at - 1 - self.step0] if 0 < at - self.step0 <= len(train) else math.nan
            self.message = {
                BAD_LOSS: f"non-finite training loss at step {at}",
                BAD_PARAMS: f"non-finite parameters at step {at}",
                BAD_EXPLODED: f"training loss {loss:.4g} above {ratio:g}x the initial "
                              f"validation loss {self.val0:.4g} at step {at}"}[bad]
            return True
        v, step = val(), self.step
        self.curve.append(v)
        self.steps_at.append(step)
        if not math.isfinite(v):
            self.status = "diverged"
            self.message = f"non-finite validation loss at step {step}"
            return True
        if v > self.limit:
            self.status = "diverged"
            self.message = (f"validation loss {v:.4g} above {ratio:g}x the initial "
                            f"{self.val0:.4g} at step {step}")
            return True
        due = [h for h in self.pending if h[0] <= step]
        self.pending = [h for h in self.pending if h[0] > step]
        over = [thr for _, thr in due if v > thr]
        if over and step < task.steps:
            self.status = "hurdle"
            self.message = (f"validation loss {v:.4g} above the hurdle {min(over):.4g} "
                            f"at step {step}")
            return True
        if deadline is not None and time.perf_counter() > deadline and step < task.steps:
            self.status, self.message = "timeout", f"time limit reached at step {step}"
            return True
        return step >= task.steps

    def record(self, run_s: float) -> dict[str, Any]:
        """The raw trial record `summarize` reads."""
        return dict(status=self.status, message=self.message, curve=self.curve,
                    eval_steps=self.steps_at, train=self.train, run_s=run_s,
                    steps=self.step, multiplier=self.multiplier)


def failed_record(multiplier: float, message: str) -> dict[str, Any]:
    """The record of a trial that raised before it could train."""
    return dict(status="error", message=message, curve=[], eval_steps=[], train=[], run_s=0.0,
                steps=0, multiplier=float(multiplier))


#: Which failure `summarize` reports when no multiplier ended ok (the most telling first).
_FAILURE_RANK = {"error": 0, "timeout": 1, "diverged": 2, "hurdle": 3}


def summarize(task: Task, seed: int, mults: Sequence[float], trials: list[dict],
              compile_s: float) -> EvalResult:
    """The `EvalResult` of one seed from its trials (one per multiplier): the best ok one."""
    ok = [t for t in trials if t["status"] == "ok"]
    if ok:
        best = min(ok, key=lambda t: (t["curve"][-1], list(mults).index(t["multiplier"])))
    else:
        best = min(trials, key=lambda t: _FAILURE_RANK[t["status"]])
    run_s = sum(t["run_s"] for t in trials)
    steps = sum(t["steps"] for t in trials)
    curve = tuple(best["curve"])
    final = curve[-1] if curve else math.inf
    return EvalResult(
        fitness=final if best["status"] == "ok" else math.inf,
        status=best["status"],
        message=best["message"],
        final_loss=final,
        best_loss=min(curve) if curve else math.inf,
        curve=curve,
        eval_steps=tuple(best["eval_steps"]),
        train_curve=tuple(best["train"]),
        lr_multiplier=best["multiplier"],
        lr=task.base_lr * best["multiplier"],
        compile_s=compile_s,
        run_s=run_s,
        steps=steps,
        planned_steps=task.steps * len(mults),
        steps_per_s=steps / run_s if run_s > 0 else 0.0,
        seed=int(seed),
        task=task.name,
        trials=tuple(
            (t["multiplier"], t["curve"][-1] if t["status"] == "ok" else math.inf) for t in trials
        ),
        trial_steps=tuple(int(t["steps"]) for t in trials),
    )
