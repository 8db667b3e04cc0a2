"""The Discussion of a sweep, generated from the data by explicit rules (no language model).

Input: one `Arm` per setting (Run 0 is the baseline) with the best fitness each search
seed reached (lower is better). The rules, in order:

1. The best setting is the one with the lowest mean best fitness; say by how much it
   beats the baseline (or, when the baseline is best, the runner-up).
2. Every setting is compared with the baseline (and the best with the runner-up) by a
   two-sided Mann–Whitney U test on the per-seed values, p-value stated, plus a
   bootstrap 95% interval of the difference of means. A difference "exceeds the
   seed-to-seed noise" only when p < `ALPHA`. With more than two settings there are several
   comparisons, and their p-values are adjusted together by the Benjamini–Hochberg false
   discovery rate procedure (`scipy.stats.false_discovery_control`) before the `ALPHA` test;
   the text says so. When too few seeds make p < `ALPHA` unreachable, the text says so and
   how many seeds would be needed.
3. The trend with each varied numeric value (three values or more): Spearman's rank
   correlation of the value with the best fitness over all runs (ρ and p stated; a
   trend is claimed at p < `ALPHA`).
4. When neither a comparison nor a trend is significant, a plain sentence says so.

>>> a = Arm(0, "baseline (x=1)", {"x": 1}, [1.0, 1.1, 0.9])
>>> b = Arm(1, "x=2", {"x": 2}, [1.0, 1.1, 0.9])
>>> text = discuss([a, b])
>>> "not significant" in text and "Nothing here is significant" in text
True
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass
from typing import Any

ALPHA = 0.05
BOOTSTRAP = 10_000


@dataclass
class Arm:
    """One setting of a sweep: its run number, label, varied values and per-seed results."""

    index: int
    label: str
    values: dict[str, Any]
    best: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.best) if self.best else math.nan


@dataclass
class Comparison:
    """Arm `a` against arm `b`: difference of means, U test and bootstrap interval."""

    a: Arm
    b: Arm
    u: float
    p: float
    low: float
    high: float
    #: The p-value adjusted for the other comparisons of the sweep (Benjamini–Hochberg), or
    #: None when this is the only comparison.
    q: float | None = None

    @property
    def diff(self) -> float:
        return self.a.mean - self.b.mean

    @property
    def significant(self) -> bool:
        return (self.p if self.q is None else self.q) < ALPHA


def compare_arms(a: Arm, b: Arm, seed: int = 0) -> Comparison:
    """Two-sided Mann–Whitney U of `a.best` against `b.best` and a bootstrap 95% interval
    of mean(a) − mean(b) (`scipy.stats.bootstrap`, percentile method, resampling each arm's
    seeds; `seed` fixes the resampling).

    >>> c = compare_arms(Arm(1, "a", {}, [1.0, 2.0, 3.0, 4.0]),
    ...                  Arm(0, "b", {}, [5.0, 6.0, 7.0, 8.0]))
    >>> round(c.p, 3), c.significant, c.high < 0
    (0.029, True, True)
    """
    import numpy as np
    from scipy.stats import mannwhitneyu

    x, y = np.asarray(a.best, float), np.asarray(b.best, float)
    if sorted(a.best) == sorted(b.best):
        u, p = len(x) * len(y) / 2.0, 1.0
    else:
        res = mannwhitneyu(x, y, alternative="two-sided")
        u, p = float(res.statistic), float(res.pvalue)
    low, high = _interval(x, y, np.random.default_rng(seed))
    return Comparison(a, b, u, p, low, high)


def _interval(x, y, rng) -> tuple[float, float]:
    """Bootstrap 95% interval of mean(x) − mean(y); an arm with one value is a constant."""
    import numpy as np
    from scipy.stats import bootstrap

    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return math.nan, math.nan

    def interval(data, statistic) -> tuple[float, float]:
        ci = bootstrap(data, statistic, n_resamples=BOOTSTRAP, method="percentile", rng=rng,
                       vectorized=True).confidence_interval
        return float(ci.low), float(ci.high)

    if len(x) > 1 and len(y) > 1:
        return interval((x, y), lambda u, v, axis: u.mean(axis) - v.mean(axis))
    if len(x) > 1:
        low, high = interval((x,), lambda u, axis: u.mean(axis))
        return low - float(y[0]), high - float(y[0])
    if len(y) > 1:
        low, high = interval((y,), lambda v, axis: v.mean(axis))
        return float(x[0]) - high, float(x[0]) - low
    return float(x[0] - y[0]), float(x[0] - y[0])


def adjust(comparisons: list[Comparison]) -> list[Comparison]:
    """The comparisons with their p-values adjusted together (Benjamini–Hochberg).

    >>> arms = [Arm(i, str(i), {}, [i + d for d in (0.0, 0.1, 0.2, 0.3, 0.4)]) for i in range(3)]
    >>> cs = adjust([compare_arms(arms[1], arms[0]), compare_arms(arms[2], arms[0])])
    >>> [round(c.p, 4) for c in cs], [round(c.q, 4) for c in cs]
    ([0.0079, 0.0079], [0.0079, 0.0079])
    """
    from scipy.stats import false_discovery_control

    qs = false_discovery_control([c.p for c in comparisons], method="bh")
    return [dataclasses.replace(c, q=float(q)) for c, q in zip(comparisons, qs)]


def smallest_p(n1: int, n2: int) -> float:
    """The smallest two-sided p-value an exact Mann–Whitney U test can give.

    >>> smallest_p(3, 3), round(smallest_p(4, 4), 4)
    (0.1, 0.0286)
    """
    return min(1.0, 2.0 / math.comb(n1 + n2, n1)) if n1 and n2 else 1.0


def seeds_needed() -> int:
    """The fewest seeds per arm for which p < ALPHA is reachable."""
    n = 2
    while smallest_p(n, n) >= ALPHA:
        n += 1
    return n


def _g(x: float) -> str:
    return "inf" if math.isinf(x) else ("nan" if math.isnan(x) else f"{x:.4g}")


def _pct(x: float, base: float) -> str:
    if not (math.isfinite(x) and math.isfinite(base)) or base == 0:
        return "n/a"
    return f"{100 * abs(x - base) / abs(base):.1f}% {'lower' if x < base else 'higher'}"


def _sentence(c: Comparison) -> str:
    verdict = ("exceeds the seed-to-seed noise (significant)" if c.significant
               else "is within the seed-to-seed noise (not significant)")
    return (f"Run {c.a.index} ({c.a.label}) against Run {c.b.index} ({c.b.label}): mean best "
            f"fitness {_g(c.a.mean)} vs {_g(c.b.mean)} ({_pct(c.a.mean, c.b.mean)}); "
            f"Mann–Whitney U = {c.u:g}, p = {c.p:.3g}"
            f"{'' if c.q is None else f' (adjusted {c.q:.3g})'}; bootstrap 95% interval of the "
            f"difference [{_g(c.low)}, {_g(c.high)}]. The difference {verdict}.")


def trend(arms: list[Arm], key: str) -> tuple[str, bool] | None:
    """A sentence on how best fitness moves with the varied value `key` (numeric only),
    and whether the trend is significant."""
    from scipy.stats import spearmanr

    xs, ys = [], []
    for arm in arms:
        v = arm.values.get(key)
        if v is None:  # the baseline leaves this key at its default
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None
        for f in arm.best:
            if math.isfinite(f):
                xs.append(float(v))
                ys.append(f)
    if len(set(xs)) < 2:
        return None
    if len(set(xs)) == 2:
        return (f"With two values of {key}, the comparison above is all the trend there is.",
                False)
    if len(set(ys)) < 2:
        return (f"Best fitness is the same for every value of {key}: there is no trend "
                f"with {key}.", False)
    rho, p = (float(v) for v in spearmanr(xs, ys))
    means = sorted({x: statistics.fmean(y for x2, y in zip(xs, ys) if x2 == x)
                    for x in set(xs)}.items())
    shape = ", ".join(f"{key}={x:g}: {_g(m)}" for x, m in means)
    if p < ALPHA:
        direction = "improves (falls)" if rho < 0 else "worsens (rises)"
        return (f"Best fitness {direction} as {key} grows (Spearman ρ = {rho:.2f}, p = "
                f"{p:.3g}, {len(xs)} runs, significant); mean best fitness by value: "
                f"{shape}.", True)
    return (f"No monotone trend of best fitness with {key} (Spearman ρ = {rho:.2f}, "
            f"p = {p:.3g}, {len(xs)} runs, not significant); mean best fitness by value: "
            f"{shape}.", False)


def discuss(arms: list[Arm]) -> str:
    """The Discussion (Markdown paragraphs) of a sweep's arms; `arms[0]` is the baseline."""
    arms = [a for a in arms if a.best]
    if not arms:
        return "No run has finished yet: nothing to discuss."
    base = arms[0]
    ranked = sorted(arms, key=lambda a: (a.mean, a.index))
    best = ranked[0]
    paras = []
    if len(arms) == 1:
        return (f"Only Run {base.index} ({base.label}) has results: mean best fitness "
                f"{_g(base.mean)} over {len(base.best)} seed(s); nothing to compare yet.")
    if best is base:
        runner = ranked[1]
        paras.append(f"The baseline, Run 0 ({base.label}), had the lowest mean best fitness, "
                     f"{_g(base.mean)}; the runner-up, Run {runner.index} ({runner.label}), "
                     f"reached {_g(runner.mean)} ({_pct(runner.mean, base.mean)}). None of the "
                     f"changes helped on average.")
    else:
        paras.append(f"Run {best.index} ({best.label}) had the lowest mean best fitness, "
                     f"{_g(best.mean)}, {_pct(best.mean, base.mean)} than the baseline Run 0 "
                     f"({base.label}, {_g(base.mean)}).")
    comparisons = [compare_arms(a, base) for a in arms[1:]]
    if best is not base and len(ranked) > 2 and ranked[1] is not base:
        comparisons.append(compare_arms(best, ranked[1]))
    if len(comparisons) > 1:
        comparisons = adjust(comparisons)
        paras.append(f"The {len(comparisons)} comparisons below are corrected for multiple "
                     f"testing with the Benjamini–Hochberg false discovery rate procedure "
                     f"(`scipy.stats.false_discovery_control`): a difference is significant "
                     f"when its adjusted p-value is below {ALPHA}.")
    paras.append("\n".join(f"- {_sentence(c)}" for c in comparisons))
    n_min = min(len(a.best) for a in arms)
    floor = smallest_p(n_min, n_min)
    if floor >= ALPHA:
        paras.append(f"With {n_min} seed(s) per setting the smallest p-value a Mann–Whitney U "
                     f"test can give is {floor:.3g}, not below {ALPHA}: no difference can be "
                     f"called significant at this size. Run at least {seeds_needed()} seeds "
                     f"per setting (`--seeds {seeds_needed()}`) to resolve differences.")
    keys = sorted({k for a in arms for k in a.values})
    trends = [t for t in (trend(arms, k) for k in keys) if t]
    paras += [text for text, _ in trends]
    if not any(c.significant for c in comparisons):
        if any(sig for _, sig in trends):
            paras.append("No single setting differs from the baseline by more than the "
                         "seed-to-seed noise; the significant trend above, over all runs "
                         "pooled, is the finding.")
        else:
            paras.append("Nothing here is significant: no setting's best fitness differs "
                         "from the baseline's by more than the seed-to-seed noise, and "
                         "there is no significant trend.")
    else:
        sig = [c for c in comparisons if c.significant]
        adjusted = "adjusted " if sig[0].q is not None else ""
        paras.append(f"Significant at {adjusted}p < {ALPHA}: " + "; ".join(
            f"Run {c.a.index} vs Run {c.b.index} ({'better' if c.diff < 0 else 'worse'})"
            for c in sig) + ".")
    return "\n\n".join(paras)
