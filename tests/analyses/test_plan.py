"""Planning: the simulated chance of a clear answer against independent calculations.

The fixed rule's chance is checked against a numerical integration of the normal
approximation of the arms' estimates (with the posterior spreads evaluated at the estimates,
as the readout's comparison does), the sequential rule's against the exact crossing
probabilities of its design (recursive integration, :mod:`analyses.core.sequential`).
Tolerances: four Monte Carlo standard errors of the simulated share, plus half a point for
what the normal approximations leave out (binomial counts, Beta posteriors).
"""

import numpy as np
import pytest

from analyses.ab_test.plan import (
    Baseline,
    fixed_power,
    plan,
    resolution,
    sequential_power,
    simulate_looks,
)
from analyses.ab_test.spec import Decision
from analyses.core import sequential

SIMULATIONS = 20_000
APPROXIMATION = 0.005


def integrated_power(baseline: Baseline, effect: float, days: int, decision: Decision) -> float:
    """P(ship) of the fixed rule by numerical integration over the control's estimate.

    For each control estimate (Gauss-Hermite nodes) the treatment estimates that ship form a
    half-line (both conditions are monotone in it): its end is found by root finding, and
    its chance is the normal tail beyond it.
    """
    from scipy.optimize import brentq
    from scipy.special import ndtr, ndtri

    n = baseline.units_per_day * (days - baseline.window) / baseline.arms
    c, t = baseline.mean, baseline.treated(effect)
    d = 1.0 if baseline.higher_is_better else -1.0

    def se(value):
        if baseline.kind == "binary":
            return np.sqrt(value * (1 - value) / n)
        return baseline.sd / np.sqrt(n)

    z_p = ndtri(decision.min_prob_better)
    z_ci = ndtri(0.5 + 0.94 / 2)

    def margin(t_hat, c_hat):
        by_difference = d * (t_hat - c_hat) / np.hypot(se(t_hat), se(c_hat)) - z_p
        rel = t_hat / c_hat - 1
        rel_se = np.sqrt(se(t_hat) ** 2 / c_hat**2 + t_hat**2 * se(c_hat) ** 2 / c_hat**4)
        by_interval = d * rel - z_ci * rel_se
        return min(by_difference, by_interval)

    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    total = 0.0
    for x, wgt in zip(nodes, weights, strict=True):
        c_hat = c + se(c) * x
        far = c_hat + d * 30 * se(c_hat)
        edge = brentq(lambda th, c_hat=c_hat: margin(th, c_hat), c_hat, far, xtol=1e-12)
        total += wgt * ndtr(d * (t - edge) / se(t))
    return float(total / np.sqrt(2 * np.pi))


RATE = Baseline("binary", 0.10, 0.3, 50_000, 4000, window_days=3)
LOAD = Baseline("mean", 900.0, 400.0, 50_000, 600, window_days=0, higher_is_better=False)


@pytest.mark.parametrize(("baseline", "effect"), [(RATE, 0.05), (LOAD, 0.02)], ids=["rate", "mean"])
def test_the_fixed_rule_chance_matches_the_integrated_normal_approximation(baseline, effect):
    looks = simulate_looks(baseline, effect, 45, SIMULATIONS, np.random.default_rng(5))
    decision = Decision()
    for days in (8, 20, 45):
        got = fixed_power(looks, days, decision, baseline.higher_is_better)
        want = integrated_power(baseline, effect, days, decision)
        mc = np.sqrt(want * (1 - want) / SIMULATIONS)
        assert 0.15 < want < 0.98  # a range where the check can fail
        assert got == pytest.approx(want, abs=4 * mc + APPROXIMATION), days


def test_the_sequential_rule_chance_matches_its_designs_crossing_probabilities():
    """Daily looks at the design's evidence: the share shipping by the planned end against the
    recursion's chance of crossing, with the drift a single look at the end would see."""
    baseline = Baseline("mean", 50.0, 40.0, 50_000, 400, window_days=2)
    effect = 0.05
    looks = simulate_looks(baseline, effect, 30, SIMULATIONS, np.random.default_rng(7))
    decision = Decision()
    for planned in (12, 30):
        n_end = baseline.units_per_day * (planned - baseline.window) / 2
        drift = 50.0 * effect / (40.0 * np.sqrt(2 / n_end))
        design = sequential.design(0.97, sequential.design_looks(planned, baseline.window_days))
        want = float(design.power(drift).sum())
        got = sequential_power(looks, planned, decision)
        mc = np.sqrt(want * (1 - want) / SIMULATIONS)
        assert 0.3 < want < 0.97
        assert got == pytest.approx(want, abs=4 * mc + APPROXIMATION), planned
    # Reading every day costs the fixed rule's power almost nothing (docs/sequential.md).
    assert sequential_power(looks, 30, decision) >= fixed_power(looks, 30, decision) - 0.03


def test_a_larger_effect_needs_fewer_days_and_a_surer_answer_more():
    small = plan(RATE, 0.04, Decision(), seed=1, simulations=2000)
    large = plan(RATE, 0.08, Decision(), seed=1, simulations=2000)
    for rule in ("fixed", "sequential"):
        d_small = [t.days for t in getattr(small.rules, rule).targets]
        d_large = [t.days for t in getattr(large.rules, rule).targets]
        assert all(a < b for a, b in zip(d_large, d_small, strict=True)), rule
        assert d_small[0] <= d_small[1] and d_large[0] <= d_large[1]  # 80% before 90%
        for t in getattr(small.rules, rule).targets:
            assert t.prob >= t.target
            assert t.units_exposed == pytest.approx(RATE.units_per_day * t.days)
            assert t.units_counted == pytest.approx(RATE.units_per_day * (t.days - 3))
    assert small.planned_days == small.rules.sequential.targets[0].days


def test_a_plan_is_the_shortest_length_reaching_its_target():
    """A step shorter than the plan falls short of the target (the search finds the edge);
    the plan is stated to its resolution, here the day."""
    out = plan(RATE, 0.05, Decision(), seed=3, simulations=2000)
    looks = simulate_looks(RATE, 0.05, out.max_days, 2000, np.random.default_rng(3))
    assert resolution(out.rules.fixed.targets[0].days) == 1
    for t in out.rules.fixed.targets:
        assert fixed_power(looks, t.days, Decision()) >= t.target
        assert fixed_power(looks, t.days - 1, Decision()) < t.target
    for t in out.rules.sequential.targets:
        assert sequential_power(looks, t.days - 1, Decision()) < t.target


def test_a_long_plan_is_stated_to_what_the_monte_carlo_error_supports():
    """A plan of months is a multiple of its resolution, the fixed rule's one step shorter
    falls short, and the two rules' plans lie within a step or two of each other."""
    out = plan(RATE, 0.02, Decision(), seed=4, simulations=1000)
    fixed = out.rules.fixed.targets[0].days
    step = resolution(fixed)
    assert fixed > 100 and step >= 2
    looks = simulate_looks(RATE, 0.02, out.max_days, 1000, np.random.default_rng(4))
    assert fixed_power(looks, fixed - step, Decision()) < 0.8
    for rule in ("fixed", "sequential"):
        assert all(t.days % step == 0 for t in getattr(out.rules, rule).targets), rule
    sequential_days = out.rules.sequential.targets[0].days
    assert abs(sequential_days - fixed) <= 2 * step


def test_the_same_seed_gives_the_same_plan_and_beyond_the_longest_is_none():
    a = plan(RATE, 0.05, Decision(), seed=11, simulations=1000)
    b = plan(RATE, 0.05, Decision(), seed=11, simulations=1000)
    assert a == b
    tiny = plan(RATE, 0.001, Decision(), seed=11, simulations=500, max_days=30)
    assert tiny.planned_days is None
    assert all(t.days is None for r in (tiny.rules.fixed, tiny.rules.sequential) for t in r.targets)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "binary", "mean": 1.2}, "strictly between 0 and 1"),
        ({"kind": "mean", "mean": 5.0, "sd": 0.0}, "spread of 0"),
        ({"units_per_day": 0.2}, "units a day"),
        ({"arms": 1}, "a control and a treatment"),
    ],
)
def test_a_baseline_that_cannot_be_planned_for_is_refused(kwargs, message):
    given = {"kind": "binary", "mean": 0.1, "sd": 0.3, "units": 100, "units_per_day": 50}
    with pytest.raises(ValueError, match=message):
        Baseline(**(given | kwargs))
