"""The rule-based discussion: p-values against exact formulas, and what it concludes."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from symopt.report.discussion import Arm, compare_arms, discuss, smallest_p


def test_complete_separation_gives_the_exact_mann_whitney_p():
    # All 4 of one arm below all 4 of the other: exact two-sided p = 2 / C(8, 4).
    c = compare_arms(Arm(1, "b", {}, [0.1, 0.2, 0.3, 0.4]), Arm(0, "a", {}, [1.0, 1.1, 1.2, 1.3]))
    assert c.p == pytest.approx(2 / math.comb(8, 4)) and c.significant
    assert c.low < c.high < 0  # the bootstrap interval of mean(b) - mean(a) excludes 0
    assert c.diff == pytest.approx(0.25 - 1.15)


def test_the_smallest_p_matches_the_exact_distribution():
    assert smallest_p(3, 3) == pytest.approx(0.1)
    assert smallest_p(5, 5) == pytest.approx(2 / 252)


def test_two_settings_from_the_same_distribution_are_not_significant():
    rng = random.Random(7)
    same = [[rng.gauss(1.0, 0.1) for _ in range(5)] for _ in range(2)]
    text = discuss([Arm(0, "x=1", {"x": 1}, same[0]), Arm(1, "x=2", {"x": 2}, same[1])])
    assert "(not significant)" in text and "Nothing here is significant" in text


def test_a_clear_improvement_is_named_with_its_size_and_p_value():
    base = Arm(0, "x=1", {"x": 1}, [1.0, 1.1, 1.2, 1.05, 0.95])
    better = Arm(1, "x=2", {"x": 2}, [0.5, 0.55, 0.6, 0.52, 0.58])
    text = discuss([base, better])
    assert text.startswith("Run 1 (x=2) had the lowest mean best fitness, 0.55, 48.1% lower "
                           "than the baseline Run 0")
    assert f"p = {2 / math.comb(10, 5):.3g}" in text and "(significant)" in text
    assert "Significant at p < 0.05: Run 1 vs Run 0 (better)." in text


def test_three_seeds_cannot_be_significant_and_the_text_says_why():
    text = discuss([Arm(0, "x=1", {"x": 1}, [1.0, 1.1, 1.2]),
                    Arm(1, "x=2", {"x": 2}, [0.1, 0.2, 0.3])])
    assert "p = 0.1;" in text and "smallest p-value a Mann–Whitney U test can give is 0.1" in text
    assert "`--seeds 4`" in text and "Nothing here is significant" in text


def ranks(xs):
    """Average ranks (ties share their mean rank): Spearman's ρ is Pearson's r of these."""
    order = sorted(xs)
    return [order.index(x) + (order.count(x) - 1) / 2 for x in xs]


def test_a_monotone_trend_is_reported_with_spearman():
    arms = [Arm(i, f"p={p}", {"p": p}, [10.0 / p + d for d in (0.0, 0.01, 0.02)])
            for i, p in enumerate([8, 16, 32, 64])]
    text = discuss(arms)
    xs = [p for a in arms for p in [a.values["p"]] * 3]
    rho = statistics.correlation(ranks(xs), ranks([f for a in arms for f in a.best]))
    assert f"Best fitness improves (falls) as p grows (Spearman ρ = {rho:.2f}" in text
    assert "12 runs, significant" in text and "the significant trend above" in text
    assert "Nothing here is significant" not in text


def test_when_the_baseline_is_best_it_says_nothing_helped():
    text = discuss([Arm(0, "x=1", {"x": 1}, [0.1, 0.1]), Arm(1, "x=2", {"x": 2}, [0.2, 0.3])])
    assert "The baseline, Run 0 (x=1), had the lowest mean best fitness" in text
    assert "None of the changes helped on average." in text


def benjamini_hochberg(ps):
    """The step-up adjustment written out: q_(i) = min over j >= i of p_(j) * m / j."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    q, running = [0.0] * m, 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, ps[i] * m / rank)
        q[i] = running
    return q


def test_more_than_two_settings_adjust_p_values_by_benjamini_hochberg():
    base = Arm(0, "x=1", {"x": 1}, [1.0, 1.1, 1.2, 1.05, 0.95])
    arms = [base, Arm(1, "x=2", {"x": 2}, [0.5, 0.55, 0.6, 0.52, 0.58]),
            Arm(2, "x=3", {"x": 3}, [0.9, 1.15, 1.0, 1.02, 0.97])]
    text = discuss(arms)
    raw = [compare_arms(a, b) for a, b in [(arms[1], base), (arms[2], base), (arms[1], arms[2])]]
    q = benjamini_hochberg([c.p for c in raw])
    assert "Benjamini–Hochberg false discovery rate" in text
    for c, qi in zip(raw, q):
        assert f"p = {c.p:.3g} (adjusted {qi:.3g})" in text
    assert "Significant at adjusted p < 0.05: Run 1 vs Run 0 (better)" in text


def test_two_settings_are_not_adjusted():
    text = discuss([Arm(0, "x=1", {"x": 1}, [1.0, 1.1]), Arm(1, "x=2", {"x": 2}, [0.2, 0.3])])
    assert "adjusted" not in text and "Benjamini" not in text


def test_an_arm_of_one_seed_shifts_the_other_arms_interval():
    one, many = Arm(0, "a", {}, [2.0]), Arm(1, "b", {}, [1.0, 1.5, 3.0, 0.5])
    c, d = compare_arms(many, one), compare_arms(one, many)
    assert c.low < c.diff < c.high and min(many.best) - 2.0 <= c.low
    assert (d.low, d.high) == pytest.approx((-c.high, -c.low))
    both = compare_arms(one, Arm(1, "c", {}, [0.5]))
    assert both.low == both.high == 1.5
