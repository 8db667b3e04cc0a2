"""What a search may still send to train, and what a child's training job costs.

Budget (seeds included): training runs, or with `[search] budget_unit = "steps"` the
training steps actually taken (each stored candidate's `steps`; cache hits and twins cost
nothing). A new child is sent to train only while the steps spent plus those of the jobs
in flight (at full length) are below the budget, so a search stops within one training
job of it (one run; a probed child's job, up to one run per probe multiplier). Whatever
the unit, at most `workers * batch` jobs are in flight and at most `[search]
max_candidates` candidates are made.

A child whose structure differs from its parent's is probed (`[search] lr_probe`,
`symopt.search.evolution.lr_probe`): its job trains every probe multiplier, which race at
the first hurdle (else a quarter of the run), under a time limit per multiplier.

>>> from symopt.search.config.loading import SearchConfig
>>> from symopt.search.evolution.progress import SearchStats
>>> cfg = SearchConfig.from_dict({"search": {"budget": 1000, "budget_unit": "steps",
...                                          "workers": 4}})
>>> budget = StepBudget(cfg, task_steps=100, task_mults=1)
>>> budget.sent(0, {}); budget.sent(1, {"lr_multipliers": [1.0, 0.25, 4.0]})
>>> budget.in_flight_steps == {0: 100 * len(cfg.task.seeds), 1: 300 * len(cfg.task.seeds)}
True
>>> budget.room(SearchStats(budget=1000, unit="steps"), in_flight=2)
True
"""

from __future__ import annotations

from symopt.search.config.loading import SearchConfig
from symopt.search.evolution.progress import SearchStats


class StepBudget:
    """The jobs in flight (their steps at full length, which of them are probes) and the
    rule for sending another (see the module docstring). `task_steps` is 0 for a stand-in
    fitness (no training: no steps, no race)."""

    def __init__(self, config: SearchConfig, task_steps: int, task_mults: int):
        self.config = config
        self.task_steps, self.task_mults = task_steps, task_mults
        self.in_flight_steps: dict[int, int] = {}  # gen_index -> steps of a full run
        self.probes: set[int] = set()  # gen_index of the children in flight being probed

    def room(self, stats: SearchStats, in_flight: int) -> bool:
        """Whether another child may be sent to train, with `in_flight` jobs training."""
        s = self.config.search
        if s.budget_unit == "steps":
            room = stats.spent_steps + sum(self.in_flight_steps.values()) < s.budget
        else:
            room = stats.evaluations + in_flight < s.budget
        return (in_flight < s.workers * s.batch and room
                and stats.candidates + in_flight < s.candidate_limit)

    def probe(self, spec: dict) -> None:
        """Make `spec` (a child's task spec) a learning-rate probe: every probe multiplier,
        the step where they race, the time limit of one run per multiplier."""
        probe = self.config.search.lr_probe
        spec.update(lr_multipliers=list(probe), race_at=self._race_at())
        limit = self.config.task.time_limit_s  # per run: the probe trains several
        if limit is not None:
            spec["time_limit_s"] = limit * len(probe)

    def sent(self, index: int, spec: dict) -> None:
        """Child `index` was sent to train with `spec`: count its job at full length."""
        if "race_at" in spec:
            self.probes.add(index)
        mults = len(spec.get("lr_multipliers") or ()) or self.task_mults or 1
        self.in_flight_steps[index] = self.task_steps * len(self.config.task.seeds) * mults

    def done(self, index: int) -> bool:
        """Child `index`'s job is over (no longer in flight); True if it was a probe."""
        self.in_flight_steps.pop(index, None)
        probed = index in self.probes
        self.probes.discard(index)
        return probed

    def _race_at(self) -> int | None:
        """The step where a probe's multipliers race: the first hurdle, else a quarter."""
        if not self.task_steps:
            return None
        at = self.config.hurdles.at
        return max(1, int(self.task_steps * (min(at) if at else 0.25)))
