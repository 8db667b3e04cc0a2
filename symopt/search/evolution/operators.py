"""Adaptive operator weights: the mutation mix follows what pays off in this run.

Each child's operator earns a credit when the child is stored: 1 when it beats its parent
(lower fitness), 2 when it also beats the best fitness of the run so far, else 0 (a child
that diverged, stopped at a hurdle or is no better). Each operator keeps the running mean
of its credits (`quality`, an exponential average with rate `RATE`, started from the
operator's share of the configured weights); weights follow by probability matching
with a floor: ``floor + (1 - n * floor) * quality / sum(quality)`` over the `n`
operators with a configured weight above 0, so no operator dies (an operator configured
at 0 stays at 0). With ``[mutation] adapt = false`` the weights stay the configured ones;
counts and successes are kept either way. The credits are a function of the stored
candidates in storage order, so a resumed run replays them and continues where it was.

>>> from symopt.search.config.sections import MutationConfig
>>> ops = OperatorCredit(MutationConfig(replace_function=0.0))
>>> for _ in range(20):
...     ops.credit("delete", beat_parent=True, beat_best=False)
...     ops.credit("insert", beat_parent=False, beat_best=False)
>>> w = ops.weights()
>>> w["delete"] > w["modify_arg"] > w["insert"] >= ops.floor, w["replace_function"]
(True, 0.0)
>>> ops.stats()["delete"][:2], round(ops.stats()["delete"][2], 2)
((20, 20), 0.56)
"""

from __future__ import annotations

from symopt.search.config.sections import OPERATORS, MutationConfig

#: Weight of one new credit in an operator's running mean.
RATE = 0.1


class OperatorCredit:
    """Counts, successes and credit of each operator, and the weights they give."""

    def __init__(self, config: MutationConfig, adapt: bool | None = None):
        self.base = config.weights()
        self.adapt = config.adapt if adapt is None else adapt
        self.floor = config.adapt_floor
        total = sum(self.base.values())
        self.quality = {op: w / total for op, w in self.base.items()}
        self.children = dict.fromkeys(OPERATORS, 0)
        self.successes = dict.fromkeys(OPERATORS, 0)
        self.fitness: dict[int, float] = {}  # stored candidates' fitness, by id

    def stored(self, candidate_id: int, operator: str, parent_id: int | None, fitness: float,
               best: float) -> bool:
        """Account a stored candidate (in storage order; `best`: the run's best before it);
        True when it was a child whose operator got its credit."""
        self.fitness[candidate_id] = fitness
        parent = self.fitness.get(parent_id) if parent_id is not None else None
        if parent is None or operator not in self.children:
            return False
        self.credit(operator, beat_parent=fitness < parent, beat_best=fitness < best)
        return True

    def credit(self, operator: str, *, beat_parent: bool, beat_best: bool) -> None:
        """Count one stored child of `operator` (other operators' names are ignored)."""
        if operator not in self.children:
            return
        self.children[operator] += 1
        self.successes[operator] += beat_parent
        reward = (1.0 if beat_parent else 0.0) + (1.0 if beat_parent and beat_best else 0.0)
        if self.adapt:
            q = self.quality[operator]
            self.quality[operator] = q + RATE * (reward - q)

    def weights(self) -> dict[str, float]:
        """The operator weights now (they sum to 1)."""
        used = [op for op in OPERATORS if self.base[op] > 0]
        if not self.adapt:
            total = sum(self.base.values())
            return {op: self.base[op] / total for op in OPERATORS}
        floor = min(self.floor, 1.0 / len(used))
        q = sum(self.quality[op] for op in used)
        out = dict.fromkeys(OPERATORS, 0.0)
        for op in used:
            share = self.quality[op] / q if q > 0 else 1.0 / len(used)
            out[op] = floor + (1.0 - len(used) * floor) * share
        return out

    def stats(self) -> dict[str, tuple[int, int, float]]:
        """`{operator: (children, successes, weight now)}`."""
        w = self.weights()
        return {op: (self.children[op], self.successes[op], w[op]) for op in OPERATORS}
