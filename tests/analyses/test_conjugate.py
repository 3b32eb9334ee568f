"""Exact posteriors from sufficient statistics, checked against the same PyMC models sampled
on raw rows, and the moment algebra checked against calculations on the rows themselves."""

import numpy as np
import pytest
from arviz_stats.base import array_stats

from analyses.ab_test import conjugate
from analyses.ab_test import models as ab_models
from analyses.ab_test.conjugate import Moments, NormalPrior, RatioMoments
from analyses.core.base import Settings, sample

SAMPLER = Settings(draws=1000, tune=1000, chains=2, cores=2, seed=3)


def moments_of(y: np.ndarray) -> Moments:
    return Moments(float(y.size), float(y.sum()), float((y**2).sum()))


def agree(exact: np.ndarray, sampled: np.ndarray, chains: int = 2) -> None:
    """Means within 4 Monte Carlo standard errors (the sampler's ESS), spreads within 4
    standard errors of a standard deviation."""
    draws = sampled.reshape(chains, -1)
    ess = float(array_stats.ess(draws, chain_axis=0, draw_axis=1))
    sd = exact.std()
    assert abs(sampled.mean() - exact.mean()) < 4 * sd * np.sqrt(1 / ess + 1 / exact.size)
    assert abs(sampled.std() - sd) < 4 * sd * np.sqrt(1 / (2 * ess) + 1 / (2 * exact.size))


def test_the_normal_posterior_matches_its_closed_form_from_the_rows():
    rng = np.random.default_rng(1)
    y = rng.normal(3.0, 2.0, 50)
    prior = NormalPrior(mean=1.0, kappa=0.5, alpha=2.0, beta=3.0)
    post = conjugate.normal_posterior(moments_of(y), prior)
    n, ybar = y.size, y.mean()
    assert post.kappa == pytest.approx(prior.kappa + n)
    assert post.mean == pytest.approx((prior.kappa * prior.mean + n * ybar) / (prior.kappa + n))
    assert post.alpha == pytest.approx(prior.alpha + n / 2)
    expected_beta = (
        prior.beta
        + 0.5 * np.sum((y - ybar) ** 2)
        + prior.kappa * n * (ybar - prior.mean) ** 2 / (2 * (prior.kappa + n))
    )
    assert post.beta == pytest.approx(expected_beta)


def test_the_flat_prior_gives_the_students_t_of_the_sample_mean():
    """With p(mu, sigma2) ∝ 1/sigma2 the posterior of mu is the sample mean's t distribution."""
    rng = np.random.default_rng(2)
    y = rng.normal(10.0, 3.0, 40)
    mu, _ = conjugate.normal_draws(
        moments_of(y), NormalPrior.flat(), 400_000, np.random.default_rng(0)
    )
    from scipy import stats

    se = y.std(ddof=1) / np.sqrt(y.size)
    t = stats.t(y.size - 1, y.mean(), se)
    assert mu.mean() == pytest.approx(y.mean(), abs=4 * se / np.sqrt(mu.size) * 1.1)
    assert np.quantile(mu, 0.97) == pytest.approx(t.ppf(0.97), rel=0.01)


def test_cuped_moments_equal_the_moments_of_the_adjusted_rows():
    rng = np.random.default_rng(3)
    x = rng.normal(5, 2, 300)
    y = 0.8 * x + rng.normal(0, 1, 300)
    theta, x_mean = 0.73, 4.6
    adjusted = conjugate.cuped_moments(moments_of(y), moments_of(x), float(x @ y), theta, x_mean)
    direct = moments_of(y - theta * (x - x_mean))
    assert adjusted.total == pytest.approx(direct.total)
    assert adjusted.squares == pytest.approx(direct.squares)


def test_cuped_variance_reduction_is_the_variance_removed_within_arms():
    from analyses.ab_test import metrics as ab_metrics

    rng = np.random.default_rng(4)
    arms = {}
    all_x, all_y = [], []
    for arm, shift in (("A", 0.0), ("B", 0.3)):
        x = rng.gamma(2.0, 2.0, 2000)
        y = 0.6 * x + shift + rng.normal(0, 1.5, 2000)
        all_x.append(x)
        all_y.append(y)
        arms[arm] = {
            "n": 2000.0,
            "sum": y.sum(),
            "sum2": (y**2).sum(),
            "xn": x.sum(),
            "x2n": (x**2).sum(),
            "xy": (x * y).sum(),
        }
    adjusted, theta, reduction = ab_metrics.cuped(arms)
    x, y = np.concatenate(all_x), np.concatenate(all_y)
    assert theta == pytest.approx(np.cov(x, y)[0, 1] / np.var(x, ddof=1))
    # Within arms, from the rows: the sums of squares about each arm's own mean.
    kept = sum(
        np.sum((yy - theta * xx - np.mean(yy - theta * xx)) ** 2)
        for xx, yy in zip(all_x, all_y, strict=True)
    )
    raw = sum(np.sum((yy - yy.mean()) ** 2) for yy in all_y)
    assert reduction == pytest.approx(1 - kept / raw, rel=1e-9)
    # Not the total variance's: the gap between the arms is no variance an arm's interval has.
    assert reduction != pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-3)
    # The adjusted difference in means is the raw one minus theta times the covariate's.
    raw = arms["B"]["sum"] / 2000 - arms["A"]["sum"] / 2000
    cov_diff = arms["B"]["xn"] / 2000 - arms["A"]["xn"] / 2000
    assert adjusted["B"].mean - adjusted["A"].mean == pytest.approx(raw - theta * cov_diff)


def test_the_ratio_standard_error_is_the_delta_method_on_the_rows():
    rng = np.random.default_rng(5)
    den = rng.poisson(5, 4000) + 1.0
    num = rng.binomial(den.astype(int), 0.3).astype(float)
    r = RatioMoments(
        4000.0, num.sum(), den.sum(), (num**2).sum(), (den**2).sum(), (num * den).sum()
    )
    ratio, se = conjugate.ratio_estimate(r)
    assert ratio == pytest.approx(num.sum() / den.sum())
    # Linearisation: the ratio's influence per unit is (num - R den) / mean(den).
    influence = (num - ratio * den) / den.mean()
    assert se == pytest.approx(influence.std(ddof=1) / np.sqrt(4000), rel=1e-6)
    # And it matches the spread of the ratio over many simulated experiments.
    ratios = []
    for seed in range(300):
        g = np.random.default_rng(100 + seed)
        d = g.poisson(5, 4000) + 1.0
        ratios.append(g.binomial(d.astype(int), 0.3).sum() / d.sum())
    assert se == pytest.approx(np.std(ratios, ddof=1), rel=0.15)


@pytest.mark.spot
@pytest.mark.slow
def test_the_exact_normal_posterior_matches_pymc_sampling_the_same_model():
    rng = np.random.default_rng(6)
    y = rng.normal(11.4, 0.6, 120)
    prior = NormalPrior.scaled(float(y.mean()), float(y.std(ddof=1)))
    mu, sigma = conjugate.normal_draws(moments_of(y), prior, 200_000, np.random.default_rng(1))
    with ab_models.normal_model(y, prior):
        trace = sample(SAMPLER)
    post = trace["posterior"]
    agree(mu, post["mu"].values.ravel())
    agree(sigma, np.sqrt(post["sigma2"].values.ravel()))


@pytest.mark.slow
def test_the_exact_hurdle_lognormal_matches_pymc_sampling_the_same_model():
    rng = np.random.default_rng(7)
    y = np.where(rng.random(400) < 0.3, rng.lognormal(3.0, 0.8, 400), 0.0)
    logs = np.log(y[y > 0])
    prior = NormalPrior.scaled(float(logs.mean()), float(logs.std(ddof=1)))
    exact = conjugate.lognormal_mean_draws(
        400, float((y > 0).sum()), moments_of(logs), prior, 200_000, np.random.default_rng(2)
    )
    with ab_models.hurdle_model(y, prior):
        trace = sample(SAMPLER)
    posterior = trace["posterior"]
    agree(exact["value"], posterior["value"].values.ravel())
    agree(exact["p"], posterior["p"].values.ravel())
    # The amount among payers, the second part a revenue readout compares.
    per_payer = np.exp(posterior["mu"] + posterior["sigma2"] / 2).values.ravel()
    agree(exact["per_payer"], per_payer)


@pytest.mark.slow
def test_the_exact_beta_posterior_matches_pymc_sampling_the_same_model():
    rng = np.random.default_rng(8)
    y = rng.binomial(1, 0.12, 800)
    exact = conjugate.beta_draws(y.sum(), y.size, 1.0, 1.0, 200_000, np.random.default_rng(3))
    with ab_models.beta_model(y, 1.0, 1.0):
        trace = sample(SAMPLER)
    agree(exact, trace["posterior"]["p"].values.ravel())
