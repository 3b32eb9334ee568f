"""Ratio CUPED, post-stratification and a user's prior on the lift, against simulations of
known truth (issue 27).

Tolerances are Monte Carlo errors: a coverage over R replicates has sd sqrt(p (1 - p) / R);
a ratio of two variances estimated from R replicates has a relative sd of about
sqrt(2 / R) each (sqrt(4 / R) for the ratio, less where they are correlated). Every bound is
three of those sds, so a correct method fails about once in 300 runs of a check and a wrong
one (coverage off by 5 points, a reduction off by a third) fails every time.
"""

import numpy as np
import pytest

from analyses.ab_test import metrics as ab_metrics
from analyses.ab_test import user_prior, variance
from analyses.ab_test.metrics import Metric, Priors

Z95 = 1.959963984540054


# --------------------------------------------------------------------------- ratio CUPED


def ratio_population(rng, n: int, lift: float = 0.0, arm: int = 0):
    """Per unit: clicks and pageviews after exposure and before (the same own click rate)."""
    p = rng.beta(2, 8, n)
    den, pden = rng.poisson(12, n) + 1.0, rng.poisson(12, n) + 1.0
    num = rng.binomial(den.astype(int), np.minimum(p * (1 + lift * arm), 1)).astype(float)
    pnum = rng.binomial(pden.astype(int), p).astype(float)
    return num, den, pnum, pden


def ratio_sums(num, den, pnum, pden) -> dict[str, float]:
    """The per-arm sums the engine returns for a ratio with its pre-period."""
    return {
        "units": float(num.size),
        "n": float(num.size),
        "num": num.sum(),
        "den": den.sum(),
        "num2": (num * num).sum(),
        "den2": (den * den).sum(),
        "numden": (num * den).sum(),
        "pnum": pnum.sum(),
        "pden": pden.sum(),
        "pnum2": (pnum * pnum).sum(),
        "pden2": (pden * pden).sum(),
        "pnumden": (pnum * pden).sum(),
        "num_pnum": (num * pnum).sum(),
        "num_pden": (num * pden).sum(),
        "den_pnum": (den * pnum).sum(),
        "den_pden": (den * pden).sum(),
    }


def theory_ratio_reduction() -> float:
    """The squared correlation of the linearised ratio and pre-period ratio (1e6 units)."""
    num, den, pnum, pden = ratio_population(np.random.default_rng(99), 1_000_000)
    r, rp = num.sum() / den.sum(), pnum.sum() / pden.sum()
    f = (num - r * den) / den.mean()
    g = (pnum - rp * pden) / pden.mean()
    return float(np.corrcoef(f, g)[0, 1] ** 2)


def test_ratio_cuped_covers_the_true_difference_and_removes_the_variance_theory_says():
    rng = np.random.default_rng(7)
    reps, n, lift = 600, 1500, 0.05
    truth = 0.2 * lift  # E[p] = 0.2, the pageviews independent of the click rate
    adjusted_diff, plain_diff, covered, reported = [], [], 0, []
    for _ in range(reps):
        sums = {
            arm: ratio_sums(*ratio_population(rng, n, lift, i))
            for i, arm in enumerate(("control", "treatment"))
        }
        found, theta, reduction = variance.ratio_cuped(sums)
        plain = {a: s["num"] / s["den"] for a, s in sums.items()}
        d = found["treatment"].mean - found["control"].mean
        se = np.hypot(found["treatment"].se, found["control"].se)
        covered += abs(d - truth) < Z95 * se
        adjusted_diff.append(d)
        plain_diff.append(plain["treatment"] - plain["control"])
        reported.append(reduction)
        assert theta > 0
    coverage = covered / reps
    assert abs(coverage - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps)
    # Unbiased: the mean difference within 3 standard errors of the truth.
    assert abs(np.mean(adjusted_diff) - truth) < 3 * np.std(adjusted_diff) / np.sqrt(reps)
    # The reduction reported, the reduction seen over replicates and theory agree.
    seen = 1 - np.var(adjusted_diff) / np.var(plain_diff)
    theory = theory_ratio_reduction()
    assert theory > 0.2  # the simulation is one where CUPED is worth something
    assert np.mean(reported) == pytest.approx(theory, abs=0.02)
    # 1 - seen is a ratio of variances of correlated replicates: relative sd below sqrt(2/R).
    assert (1 - seen) == pytest.approx(1 - theory, rel=3 * np.sqrt(2 / reps))


def test_ratio_cuped_without_a_pre_period_changes_nothing():
    rng = np.random.default_rng(3)
    sums = {}
    for arm in ("control", "treatment"):
        num, den, pnum, pden = ratio_population(rng, 500)
        sums[arm] = ratio_sums(num, den, pnum * 0, pden * 0)
    found, theta, reduction = variance.ratio_cuped(sums)
    assert theta == 0 and reduction == 0
    for arm, s in sums.items():
        assert found[arm].mean == pytest.approx(s["num"] / s["den"])


# --------------------------------------------------------------------------- post-stratification

STRATA = {"US": (0.5, 0.04), "DE": (0.3, 0.12), "JP": (0.2, 0.25)}


def strata_stats(rng, n: int, lift: float):
    """Per level and arm: the moments of a conversion whose rate depends on the country."""
    levels: dict[str, dict[str, dict[str, float]]] = {k: {} for k in STRATA}
    for i, arm in enumerate(("control", "treatment")):
        country = rng.choice(list(STRATA), n, p=[v[0] for v in STRATA.values()])
        for k, (_, rate) in STRATA.items():
            y = (rng.random(int((country == k).sum())) < rate * (1 + lift * i)).astype(float)
            levels[k][arm] = {"units": y.size, "n": y.size, "sum": y.sum(), "sum2": y.sum()}
    return levels


def test_post_stratification_covers_the_true_difference_and_removes_the_between_strata_share():
    rng = np.random.default_rng(11)
    reps, n, lift = 800, 3000, 0.1
    base = sum(w * r for w, r in STRATA.values())
    truth = base * lift
    diffs, plain_diffs, covered, reported = [], [], 0, []
    for _ in range(reps):
        levels = strata_stats(rng, n, lift)
        found, plain, reduction, count = variance.post_stratified(levels, ["control", "treatment"])
        assert count == 3
        d = found["treatment"].mean - found["control"].mean
        se = np.hypot(found["treatment"].se, found["control"].se)
        covered += abs(d - truth) < Z95 * se
        diffs.append(d)
        plain_diffs.append(plain["treatment"].mean - plain["control"].mean)
        reported.append(reduction)
    assert abs(covered / reps - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps)
    assert abs(np.mean(diffs) - truth) < 3 * np.std(diffs) / np.sqrt(reps)
    # Theory (proportional allocation): the variance between the strata's rates goes.
    within = sum(w * r * (1 - r) for w, r in STRATA.values())
    theory = 1 - within / (base * (1 - base))
    assert theory > 0.05
    assert np.mean(reported) == pytest.approx(theory, abs=0.01)
    seen = 1 - np.var(diffs) / np.var(plain_diffs)
    assert (1 - seen) == pytest.approx(1 - theory, rel=3 * np.sqrt(2 / reps))


def test_small_strata_are_merged_so_every_stratum_has_a_spread():
    levels = {
        "US": {"control": {"n": 400}, "treatment": {"n": 390}},
        "DE": {"control": {"n": 300}, "treatment": {"n": 310}},
        "IS": {"control": {"n": 3}, "treatment": {"n": 0}},
        "LU": {"control": {"n": 4}, "treatment": {"n": 5}},
    }
    assert variance.strata(levels, ["control", "treatment"]) == [["DE"], ["US"], ["IS", "LU"]]
    levels["LU"]["treatment"]["n"] = 1  # still under 2 in the treatment: into the largest
    assert variance.strata(levels, ["control", "treatment"]) == [["DE"], ["US", "IS", "LU"]]


# --------------------------------------------------------------------------- a user's prior


def test_the_prior_on_the_log_lift_gives_the_normal_posterior_in_closed_form():
    rng = np.random.default_rng(5)
    c = 10 + 0.01 * rng.standard_normal(400_000)
    z = 0.08 + 0.03 * rng.standard_normal(400_000)
    draws = {"a": {"value": c}, "b": {"value": c * np.exp(z)}}
    out, record = user_prior.apply(0.0, 0.04, draws, "a", ["a", "b"])
    assert record.applied and record.log_sd == pytest.approx(0.04)
    z_new = np.log(out["b"]["value"] / out["a"]["value"])
    precision = 1 / 0.03**2 + 1 / 0.04**2
    assert np.mean(z_new) == pytest.approx(0.08 / 0.03**2 / precision, abs=2e-4)
    assert np.std(z_new) == pytest.approx(np.sqrt(1 / precision), rel=5e-3)
    np.testing.assert_array_equal(out["a"]["value"], c)  # the control is untouched


def test_intervals_under_the_users_prior_cover_lifts_drawn_from_that_prior():
    """Calibration: when the true lifts come from the prior, 94% of the HDIs cover them."""
    rng = np.random.default_rng(21)
    reps, n, base = 300, 4000, 0.2
    prior_mean, prior_sd = 0.02, 0.05
    m0, s0 = user_prior.log_scale(prior_mean, prior_sd)
    metric = Metric("purchase", "purchase", "binary", prior_mean=prior_mean, prior_sd=prior_sd)
    covered = narrower = 0
    for _ in range(reps):
        lift = np.expm1(m0 + s0 * rng.standard_normal())
        k = rng.binomial(n, [base, base * (1 + lift)])
        stats_ = {
            arm: {"units": n, "n": n, "sum": float(x), "sum2": float(x)}
            for arm, x in zip(("a", "b"), k, strict=True)
        }
        summary, _ = ab_metrics.summarise(
            metric, stats_, ["a", "b"], Priors(), 4000, 0.94, None, rng
        )
        low, high = summary.comparisons[0].lift_rel.hdi
        covered += low < lift < high
        own = summary.without_prior[0].lift_rel.hdi
        narrower += (high - low) < (own[1] - own[0])
    assert abs(covered / reps - 0.94) < 3 * np.sqrt(0.94 * 0.06 / reps)
    assert narrower == reps  # a prior adds information: every interval is narrower


def test_no_relative_lift_leaves_the_prior_unapplied():
    draws = {"a": {"value": np.array([-1.0, 1.0])}, "b": {"value": np.array([1.0, 2.0])}}
    out, record = user_prior.apply(0.0, 0.1, draws, "a", ["a", "b"])
    assert not record.applied and out is draws


def test_a_metric_with_cuped_keeps_it_and_records_what_strata_would_be_worth():
    rng = np.random.default_rng(8)
    stats_, levels = {}, {k: {} for k in STRATA}
    for i, arm in enumerate(("control", "treatment")):
        country = rng.choice(list(STRATA), 2000, p=[v[0] for v in STRATA.values()])
        shift = np.array([{"US": 0.0, "DE": 5.0, "JP": 10.0}[c] for c in country])
        x = rng.normal(50, 5, 2000) + shift
        y = x + rng.normal(0, 2, 2000) + i
        stats_[arm] = {
            "units": 2000.0,
            "n": 2000.0,
            "sum": y.sum(),
            "sum2": (y * y).sum(),
            "xn": x.sum(),
            "x2n": (x * x).sum(),
            "xy": (x * y).sum(),
        }
        for k in STRATA:
            yk = y[country == k]
            levels[k][arm] = {
                "units": yk.size,
                "n": yk.size,
                "sum": yk.sum(),
                "sum2": (yk**2).sum(),
            }
    metric = Metric("m", "m", "continuous", covariate=True)
    summary, _ = ab_metrics.summarise(
        metric,
        stats_,
        ["control", "treatment"],
        Priors(),
        4000,
        0.94,
        None,
        rng,
        ("country", levels),
    )
    found = summary.post_stratified
    assert not found.applied and found.segment == "country"
    # The covariate holds the country's shift and more: CUPED removes far more than strata.
    assert summary.variance_reduction > 0.8 > found.variance_reduction > 0.3
    assert summary.comparisons[0].frequentist.test.startswith("Welch")
