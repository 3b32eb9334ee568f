import math

import numpy as np
import pytest
from scipy import stats as sps

from analyses.core import stats


def test_hdi_of_normal_draws_matches_its_quantiles():
    rng = np.random.default_rng(1)
    repeats = np.array([stats.hdi(rng.normal(2.0, 3.0, size=50_000), 0.94) for _ in range(12)])
    z = sps.norm.ppf(0.97)
    # For a symmetric unimodal density the HDI is the central interval. Each sample HDI's
    # ends wander (a flat optimum); their mean over 12 repeats is within 4 standard errors.
    se = repeats.std(axis=0, ddof=1) / np.sqrt(len(repeats))
    assert repeats.mean(axis=0) == pytest.approx([2.0 - z * 3.0, 2.0 + z * 3.0], abs=4 * se.max())
    # The width is well determined.
    assert np.diff(repeats).mean() == pytest.approx(2 * z * 3.0, rel=0.01)


def test_hdi_of_skewed_draws_is_narrower_than_the_central_interval():
    draws = np.random.default_rng(2).exponential(1.0, size=100_000)
    low, high = stats.hdi(draws, 0.94)
    eti_low, eti_high = np.quantile(draws, [0.03, 0.97])
    assert high - low < eti_high - eti_low
    # Exact HDI of Exp(1) at 94% is [0, -log(0.06)].
    assert low == pytest.approx(0.0, abs=0.01)
    assert high == pytest.approx(-np.log(0.06), abs=0.05)


def test_expected_loss_counts_zero_where_the_treatment_is_better():
    control = np.array([1.0, 2.0, 3.0, 4.0])
    treatment = np.array([2.0, 1.0, 3.5, 1.0])
    # shortfalls: 0, 1, 0, 3 -> mean 1.0
    assert stats.expected_loss(control, treatment) == pytest.approx(1.0)
    assert stats.prob_greater(treatment, control) == pytest.approx(0.5)


def test_prob_best_sums_to_one_and_picks_the_dominant_row():
    draws = np.array([[0.0, 0.0, 1.0, 0.0], [1.0, 2.0, 0.0, 3.0], [0.5, 1.0, 0.5, 1.0]])
    best = stats.prob_best(draws)
    assert best.tolist() == [0.25, 0.75, 0.0]


def test_sample_ratio_test_matches_scipy_chisquare():
    result = stats.sample_ratio_test([10_000, 9_400], [0.5, 0.5])
    expected = sps.chisquare([10_000, 9_400], [9_700, 9_700]).pvalue
    assert result["p_value"] == pytest.approx(expected)
    assert result["ok"] is False
    assert stats.sample_ratio_test([5_010, 4_990], [1, 1])["ok"] is True


def test_chi2_sf_matches_scipy_for_whole_degrees():
    from scipy.special import chdtrc

    for df in range(1, 41):
        for statistic in (0.0, 1e-9, 0.01, 0.5, 1.0, 3.84, df, 2.5 * df, 60.0, 300.0, 1400.0):
            want = float(chdtrc(df, statistic))
            got = stats.chi2_sf(statistic, df)
            assert got == pytest.approx(want, rel=1e-12, abs=1e-300), (df, statistic)
    with pytest.raises(ValueError):
        stats.chi2_sf(1.0, 1.5)


def test_student_t_functions_match_scipy_at_whole_and_fractional_degrees():
    """Welch's degrees of freedom are rarely whole; a million users an arm gives millions."""
    from scipy.special import betainc, betaln, stdtr, stdtrit

    rng = np.random.default_rng(0)
    # (degrees from, to; relative tolerance): the continued fraction near x = 1 loses about
    # df x 1e-16 (worst measured on a dense grid: 4e-13 below 1e3 degrees, 8e-12 below 1e5,
    # 7e-10 below 1e7).
    for low, high, rel in ((1, 1e3, 2e-12), (1e3, 1e5, 5e-11), (1e5, 1e7, 5e-9)):
        for df, t in zip(
            np.exp(rng.uniform(np.log(low), np.log(high), 150)),
            np.r_[rng.normal(0, 3, 140), [0.0, -40.0, 40.0, 1e-4, -8.0, 8.0, 2.5, -2.5, 60, -60]],
            strict=True,
        ):
            tail = float(stdtr(df, -abs(t)))  # the smaller tail's size sets the tolerance
            assert stats.t_cdf(t, df) == pytest.approx(float(stdtr(df, t)), rel=rel, abs=tail * rel)
            for p in (1e-6, 0.025, 0.3, 0.975):
                want = float(stdtrit(df, p))
                # In the far tail (p = 1e-6) SciPy's own inversion is good to about 1e-11.
                assert stats.t_quantile(p, df) == pytest.approx(want, rel=max(rel, 1e-10))
    assert stats.t_cdf(0.0, 7.5) == 0.5 and stats.t_quantile(0.5, 7.5) == 0.0
    assert stats.t_cdf(float("inf"), 3) == 1.0 and stats.t_cdf(float("-inf"), 3) == 0.0
    for a, b, x in ((0.5, 0.5, 0.3), (2.0, 3.5, 0.9), (150.0, 0.5, 0.995), (1e4, 2.0, 1e-3)):
        assert stats.beta_reg(a, b, x) == pytest.approx(float(betainc(a, b, x)), rel=1e-12)
        assert stats.log_beta(a, b) == pytest.approx(float(betaln(a, b)), rel=1e-12)
    for a in (3.0, 150.0, 1e4, 1e9):  # B(a, 2) = 1 / (a (a + 1)) exactly
        assert stats.log_beta(a, 2.0) == pytest.approx(-math.log(a) - math.log1p(a), rel=1e-14)
    # Far lower tails are solved where the distribution function keeps its digits.
    for df in (1.0, 5.0, 1e6):
        for p in (1e-17, 1e-12):
            assert stats.t_quantile(p, df) == pytest.approx(float(stdtrit(df, p)), rel=1e-10)
        # 1 - 1e-12 is itself rounded (by 1e-4 of the tail): the mirror root is as close.
        upper = float(stdtrit(df, 1 - 1e-12))
        assert stats.t_quantile(1 - 1e-12, df) == pytest.approx(upper, rel=1e-3)
    # Infinite degrees: the normal distribution; NaN in, NaN out.
    assert stats.t_cdf(2.0, math.inf) == stats.normal_cdf(2.0)
    assert stats.t_quantile(0.975, math.inf) == stats.normal_quantile(0.975)
    assert math.isnan(stats.t_cdf(2.0, math.nan)) and math.isnan(stats.t_quantile(0.9, math.nan))
    with pytest.raises(ValueError):
        stats.t_quantile(1.0, 3)


def test_welch_test_matches_scipy_ttest_ind():
    rng = np.random.default_rng(3)
    for n_a, n_b, scale in ((12, 9, 1.0), (400, 650, 3.0), (20_000, 19_000, 0.2)):
        a, b = rng.normal(1.0, 1.0, n_a), rng.normal(1.05, scale, n_b)
        got = stats.welch_from_moments(n_a, a.mean(), a.var(ddof=1), n_b, b.mean(), b.var(ddof=1))
        want = sps.ttest_ind(b, a, equal_var=False)
        assert got["statistic"] == pytest.approx(want.statistic, rel=1e-10)
        assert got["p_value"] == pytest.approx(want.pvalue, rel=1e-9)
        low, high = want.confidence_interval(0.95)
        assert got["ci"] == pytest.approx([low, high], rel=1e-9)


def test_normal_functions_match_scipy():
    from scipy.special import ndtr, ndtri

    for z in (-40.0, -8.0, -3.0, -1.0, -1e-6, 0.0, 0.5, 2.0, 7.0, float("inf"), float("-inf")):
        assert stats.normal_cdf(z) == pytest.approx(float(ndtr(z)), rel=1e-13, abs=1e-300)
    for p in (1e-12, 0.001, 0.025, 0.5, 0.8, 0.975, 0.999999):
        assert stats.normal_quantile(p) == pytest.approx(float(ndtri(p)), rel=1e-13)


def test_two_proportion_ztest_by_hand():
    result = stats.two_proportion_ztest(100, 1000, 130, 1000)
    pooled = 230 / 2000
    z = 0.03 / np.sqrt(pooled * (1 - pooled) * 2 / 1000)
    assert result["statistic"] == pytest.approx(z)
    assert result["p_value"] == pytest.approx(2 * sps.norm.sf(z))
    se = np.sqrt(0.1 * 0.9 / 1000 + 0.13 * 0.87 / 1000)
    assert result["ci"] == pytest.approx([0.03 - 1.959964 * se, 0.03 + 1.959964 * se], rel=1e-5)


def test_welch_test_from_moments_matches_scipy_on_the_rows():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 50), rng.normal(0.5, 2, 80)
    result = stats.welch_from_moments(
        a.size, a.mean(), a.var(ddof=1), b.size, b.mean(), b.var(ddof=1)
    )
    reference = sps.ttest_ind(b, a, equal_var=False)
    ci = reference.confidence_interval(0.95)
    assert result["ci"] == pytest.approx([ci.low, ci.high])
    assert result["p_value"] == pytest.approx(reference.pvalue)
    assert result["statistic"] == pytest.approx(reference.statistic)


def test_hdi_agrees_with_arviz():
    from arviz_stats.base import array_stats

    rng = np.random.default_rng(4)
    for draws in (rng.gamma(2.0, 1.0, 20_001), rng.normal(0, 1, 4_000), rng.beta(2, 9, 777)):
        for prob in (0.5, 0.89, 0.94):
            assert stats.hdi(draws, prob) == pytest.approx(array_stats.hdi(draws, prob))


def _chains(rng, n_chain, n_draw, phi, shift=0.0):
    """AR(1) chains (autocorrelation ``phi``); ``shift`` moves the last chain (not mixed)."""
    out = np.zeros((n_chain, n_draw))
    noise = rng.standard_normal((n_chain, n_draw))
    for t in range(1, n_draw):
        out[:, t] = phi * out[:, t - 1] + noise[:, t]
    out[-1] += shift
    return out


def test_rhat_and_bulk_ess_agree_with_arviz():
    from arviz_stats.base import array_stats

    rng = np.random.default_rng(6)
    cases = [
        _chains(rng, 4, 1000, 0.0),
        _chains(rng, 4, 1000, 0.9),
        _chains(rng, 2, 501, 0.5),
        _chains(rng, 4, 200, 0.3, shift=2.0),
        np.round(_chains(rng, 4, 300, 0.2), 1),  # ties
    ]
    for draws in cases:
        assert stats.rhat(draws) == pytest.approx(
            float(array_stats.rhat(draws, chain_axis=0, draw_axis=1)), rel=1e-10
        )
        assert stats.ess_bulk(draws) == pytest.approx(
            float(array_stats.ess(draws, chain_axis=0, draw_axis=1)), rel=1e-8
        )
    assert stats.rhat(cases[3]) > 1.1  # a chain apart is caught


def _hdi_by_sorting(draws, prob):
    """The rule written plainly: sort each column, the narrowest window of floor(prob n) steps."""
    ordered = np.sort(draws, axis=0)
    n = ordered.shape[0]
    k = int(np.floor(prob * n))
    start = np.argmin(ordered[k:] - ordered[: n - k], axis=0)
    cols = np.arange(ordered.shape[1])
    return np.stack([ordered[start, cols], ordered[start + k, cols]], axis=1)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 999, 2000, 4001])
def test_hdi_without_a_full_sort_is_the_sorted_rule_exactly(n):
    # The partition finds both tails; the interval must be the very same draws, ties included.
    rng = np.random.default_rng(n)
    draws = np.concatenate(
        [rng.standard_t(2, (n, 6)), rng.exponential(1.0, (n, 3)), rng.integers(0, 4, (n, 3))],
        axis=1,
    ).astype(float)
    for prob in (0.5, 0.89, 0.94, 0.99, 0.999):
        expected = _hdi_by_sorting(draws, prob)
        assert np.array_equal(stats.hdi_columns(draws, prob), expected)
        assert np.array_equal(stats.hdi_rows(draws.T, prob), expected)


ROOTS = [
    (lambda x: x**3 - 2 * x - 5, 2.0, 3.0),
    (lambda x: math.exp(x) - 10, 0.0, 5.0),
    (lambda x: math.cos(x) - x, 0.0, 1.0),
    (lambda x: (x - 1e-3) ** 3, -1.0, 1.0),  # flat at its root
    (lambda x: math.tanh(50 * (x - 0.3)), -2.0, 2.0),  # steep
    (lambda x: 1e-20 * (x - 0.7), 0.0, 1.0),  # tiny values
    (lambda x: -1.0 if x < 0.123456789 else 1.0, 0.0, 1.0),  # a jump: bisection only
]


@pytest.mark.parametrize(("f", "a", "b"), ROOTS)
@pytest.mark.parametrize("xtol", [1e-6, 1e-12])
def test_brents_root_is_scipys_brentq(f, a, b, xtol):
    """The root a sequential design solves for, without importing scipy.optimize: a sign
    change of f within xtol (plus four machine epsilons of itself), where scipy's brentq
    finds it."""
    from scipy.optimize import brentq

    from analyses.core.stats import root

    calls = {"ours": 0, "scipy": 0}

    def counted(who):
        def g(x):
            calls[who] += 1
            return f(x)

        return g

    got = root(counted("ours"), a, b, xtol=xtol)
    # Brent's steps as scipy takes them: the same root, in as many evaluations.
    assert got == brentq(counted("scipy"), a, b, xtol=xtol, maxiter=500)
    assert calls["ours"] == calls["scipy"]
    step = xtol + 4 * np.finfo(float).eps * abs(got)
    assert (f(got - step) <= 0 <= f(got + step)) or (f(got - step) >= 0 >= f(got + step))
    # Beyond the bracket f changes no sign (every f above is monotone): an error.
    with pytest.raises(ValueError, match="changes no sign"):
        root(f, b, b + 1.0)


def test_brents_root_returns_an_end_where_f_is_zero():
    from analyses.core.stats import root

    assert root(lambda x: x - 1.0, 1.0, 3.0) == 1.0
    assert root(lambda x: x - 3.0, 1.0, 3.0) == 3.0
