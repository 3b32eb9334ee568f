"""Importance sampling from a Laplace approximation: PSIS against ArviZ, the Student-t
log-density against PyMC's, draws against a known posterior and against NUTS, and the
k-hat gate that sends an untrustworthy posterior back to NUTS."""

import numpy as np
import pandas as pd
import pytest

from analyses import ab_test
from analyses.ab_test.models import student_t_log_density, student_t_model
from analyses.core import importance
from analyses.core.base import Settings
from analyses.core.results import MISSING
from analyses.core.stats import ESS_BULK_MIN
from tests.analyses.agreement import HDI_SDS, assert_agree, combined_ess
from tests.analyses.test_ab_test_continuous import spec


@pytest.mark.parametrize(("seed", "n", "scale"), [(1, 4000, 0.5), (2, 16000, 2.0), (3, 300, 1.0)])
def test_psis_matches_arviz(seed, n, scale):
    from arviz_stats.base import array_stats

    ratios = np.random.default_rng(seed).standard_t(3, n) * scale
    log_weights, k = importance.psis(ratios)
    # ArviZ smooths the negated values it is given (it is written for LOO's -log p(y_i)).
    expected, expected_k = array_stats.psislw(-ratios)
    assert k == pytest.approx(float(expected_k), rel=1e-12)
    np.testing.assert_allclose(log_weights, expected, atol=1e-12)
    assert np.exp(log_weights).sum() == pytest.approx(1.0)


def test_student_t_log_density_is_pymcs():
    pytest.importorskip("pymc")
    rng = np.random.default_rng(1)
    y = np.r_[rng.normal(3, 2, 40), rng.standard_t(3, 25) + 4, rng.normal(1, 1, 10)]
    index = np.repeat([0, 1, 2], [40, 25, 10])
    prior = {"mu_mean": 2.5, "mu_sd": 7.0, "sigma_sd": 5.0, "nu_rate": 1 / 29}
    logp = student_t_model(y, index, ["a", "b", "c"], prior).compile_logp()
    points = rng.normal(0, 1.5, (6, 7))
    ours = student_t_log_density(points, y, index, prior)
    for point, value in zip(points, ours, strict=True):
        pymc = logp({"mu": point[:3], "sigma_log__": point[3:6], "nu_minus_one_log__": point[6]})
        assert value == pytest.approx(float(pymc), rel=1e-12)
    # Evaluated in blocks of points: the same values one point at a time.
    one_by_one = [student_t_log_density(p, y, index, prior)[0] for p in points]
    np.testing.assert_allclose(ours, one_by_one, rtol=1e-13)


def test_draws_of_a_known_posterior_match_it():
    """A correlated normal with a skewed third coordinate (a log-gamma): means, sds and the
    correlation within five Monte Carlo standard errors of the exact values."""
    from scipy.special import gammaln

    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    precision = np.linalg.inv(cov)
    shape = 6.0  # log of a Gamma(6, 1): mean digamma(6), variance trigamma(6)

    def log_density(theta):
        x = theta[:, :2] - np.array([1.0, -2.0])
        normal = -0.5 * np.einsum("ni,ij,nj->n", x, precision, x)
        return normal + shape * theta[:, 2] - np.exp(theta[:, 2]) - gammaln(shape)

    n = 4000
    found = importance.sample(
        log_density, np.zeros(3), n, np.random.default_rng(3), ess_min=ESS_BULK_MIN
    )
    assert found is not None and found.pareto_k < 0.5
    assert found.k_limit == importance.K_HAT_MAX  # 16,000 proposals
    assert found.ess > 0.5 * n
    draws = found.values
    exact_mean = [1.0, -2.0, 1.7061176684318]  # digamma(6)
    exact_sd = np.sqrt([1.0, 2.0, 0.18132295573711532])  # trigamma(6)
    se = exact_sd / np.sqrt(found.ess)
    np.testing.assert_array_less(np.abs(draws.mean(axis=0) - exact_mean), 5 * se)
    # The sd of a sample of ESS draws has a standard error of about sd / sqrt(2 ESS).
    np.testing.assert_array_less(np.abs(draws.std(axis=0) - exact_sd), 5 * se / np.sqrt(2))
    correlation = np.corrcoef(draws[:, 0], draws[:, 1])[0, 1]
    assert correlation == pytest.approx(0.6 / np.sqrt(2.0), abs=5 / np.sqrt(found.ess))


def test_a_posterior_with_heavier_tails_than_the_proposal_is_refused():
    """A Cauchy has heavier tails than the t5 proposal: the weights' variance is infinite,
    k-hat is far above the limit and importance sampling declines (the caller samples with
    NUTS)."""

    def cauchy(theta):
        return -np.log1p(theta[:, 0] ** 2) - np.log1p(theta[:, 1] ** 2)

    assert importance.sample(cauchy, np.ones(2), 4000, np.random.default_rng(1), 400) is None
    ratios = np.random.default_rng(2).standard_cauchy(16000)
    assert importance.psis(np.log(np.abs(ratios)) * 3)[1] > importance.K_HAT_MAX


def test_finite_differences_give_the_gradient_and_hessian():
    a = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 3.0]])

    def cubic(theta):
        return -0.5 * np.einsum("ni,ij,nj->n", theta, a, theta) + theta[:, 0] ** 3

    x = np.array([0.3, -0.2, 0.5])
    gradient, hessian = importance.derivatives(cubic, x)
    np.testing.assert_allclose(gradient, -a @ x + [3 * x[0] ** 2, 0, 0], atol=1e-6)
    np.testing.assert_allclose(hessian, -a + np.diag([6 * x[0], 0, 0]), atol=1e-5)


def test_fewer_proposals_get_a_stricter_k_limit():
    """With S proposals k-hat must stay below 1 - 1/log10(S) where that is under the limit."""

    def normal(theta):
        return -0.5 * np.sum(theta**2, axis=1)

    found = importance.sample(normal, np.ones(2), 20, np.random.default_rng(2), ess_min=10)
    assert found.k_limit == pytest.approx(1 - 1 / np.log10(80))
    assert found.k_limit < importance.K_HAT_MAX
    assert found.pareto_k <= found.k_limit


ROBUST = Settings(draws=500, tune=500, chains=2, seed=11)


def robust_spec():
    return spec(robust=True)


@pytest.fixture
def heavy_tailed(rows):
    rng = np.random.default_rng(21)
    frame = pd.DataFrame(
        {
            "arm": np.repeat(["A", "B"], [700, 300]),
            "y": np.r_[10 + 2 * rng.standard_t(3, 700), 10.6 + 2 * rng.standard_t(3, 300)],
        }
    )
    return rows("ab_test", robust_spec(), frame)[0]


@pytest.mark.slow
def test_importance_sampling_agrees_with_nuts(heavy_tailed, monkeypatch):
    """The same Student-t posterior by importance sampling and by PyMC's NUTS (forced by a
    k-hat limit no draws can meet): each arm's location and the lift agree within five
    combined Monte Carlo standard errors; the NUTS run reports itself as such."""
    spec = robust_spec()
    fast = ab_test.fit(spec, heavy_tailed, ROBUST)
    assert fast.diagnostics.method.startswith("Pareto-smoothed importance sampling")
    assert fast.diagnostics.pareto_k <= fast.diagnostics.pareto_k_limit == 0.5
    monkeypatch.setattr(importance, "K_HAT_MAX", -np.inf)
    nuts = ab_test.fit(spec, heavy_tailed, ROBUST)
    assert nuts.diagnostics.method == "NUTS (PyMC)"
    assert nuts.diagnostics.pareto_k is MISSING
    assert nuts.diagnostics.ok
    ess = combined_ess(fast, nuts)
    for a, b in zip(fast.results.arms, nuts.results.arms, strict=True):
        assert_agree(a, b, ess, a.name)
    fast_lift = fast.results.comparisons[0].lift_abs
    nuts_lift = nuts.results.comparisons[0].lift_abs
    sd = (nuts_lift.hdi[1] - nuts_lift.hdi[0]) / HDI_SDS
    assert fast_lift.mean == pytest.approx(nuts_lift.mean, abs=5 * sd / np.sqrt(ess))
    # And both find the true lift of 0.6.
    assert fast_lift.hdi[0] < 0.6 < fast_lift.hdi[1]


def test_importance_sampling_is_reproducible(heavy_tailed):
    first = ab_test.fit(robust_spec(), heavy_tailed, ROBUST)
    second = ab_test.fit(robust_spec(), heavy_tailed, ROBUST)
    assert first.results.comparisons == second.results.comparisons
    assert first.diagnostics == second.diagnostics


def test_a_mixture_proposals_density_is_scipys():
    """The density importance weights divide by: the whole mixture's, by SciPy's t."""
    from scipy import stats as sps

    rng = np.random.default_rng(4)
    covs = [np.array([[1.0, 0.3], [0.3, 0.5]]), np.array([[0.2, -0.1], [-0.1, 0.4]])]
    proposal = importance.Proposal.laplace(
        [(np.array([0.0, 1.0]), covs[0], 0.0), (np.array([3.0, -1.0]), covs[1], np.log(3.0))]
    )
    np.testing.assert_allclose(proposal.weights, [0.25, 0.75])
    points = proposal.draw(50, rng)
    expected = np.log(
        0.25 * sps.multivariate_t([0.0, 1.0], covs[0], df=importance.PROPOSAL_DF).pdf(points)
        + 0.75 * sps.multivariate_t([3.0, -1.0], covs[1], df=importance.PROPOSAL_DF).pdf(points)
    )
    np.testing.assert_allclose(proposal.log_pdf(points), expected, rtol=1e-10)


def test_two_modes_and_a_skew_are_sampled_right_from_a_mixture_of_laplace_approximations():
    """A posterior with two separated modes (masses 0.3 and 0.7) and a skewed coordinate.
    One Laplace approximation (of the larger mode) is refused by Pareto k; one per mode,
    weighted by their Laplace masses, passes. A poor start (too narrow, wrongly weighted) is
    refused too, and the proposal adapted from it passes. Each mode's mass and the means
    come out within five Monte Carlo standard errors of the exact values."""
    from scipy.special import gammaln, logsumexp

    shape = 3.0  # log of a Gamma(3, 1): mean digamma(3), variance trigamma(3)

    def log_density(theta):
        a = -0.5 * ((theta[:, 0] + 3) / 0.5) ** 2 + np.log(0.3 / 0.5)
        b = -0.5 * ((theta[:, 0] - 2) / 1.0) ** 2 + np.log(0.7 / 1.0)
        return logsumexp([a, b], axis=0) + shape * theta[:, 1] - np.exp(theta[:, 1]) - gammaln(3)

    rng = np.random.default_rng(5)
    modes = [importance.laplace(log_density, np.array([x, 1.0])) for x in (-3.0, 2.0)]
    masses = [(m, c, float(log_density(m[None])[0])) for m, c in modes]
    one = importance.Proposal.laplace(masses[1:])
    assert importance.sample_from(log_density, one, 4000, rng) is None
    poor = importance.Proposal.laplace([(m, 0.05 * c, 0.0) for m, c in modes])
    assert importance.sample_from(log_density, poor, 4000, rng) is None
    adapted = importance.adapt(log_density, poor, rng)
    assert adapted is not None and "adapted to the posterior" in adapted.note
    mean = [0.3 * -3 + 0.7 * 2, 0.9227843350984671]
    sd = [np.sqrt(0.3 * (0.25 + 9) + 0.7 * (1 + 4) - mean[0] ** 2), np.sqrt(0.3949340668482264)]
    for proposal in (importance.Proposal.laplace(masses), adapted):
        found = importance.sample_from(log_density, proposal, 4000, rng)
        assert found is not None and found.pareto_k <= found.k_limit
        assert found.proposal.startswith("a mixture of Laplace approximations at 2 modes")
        share = np.mean(found.values[:, 0] < 0)
        assert share == pytest.approx(0.3, abs=5 * np.sqrt(0.3 * 0.7 / found.ess))
        error = np.abs(found.values.mean(axis=0) - mean)
        np.testing.assert_array_less(error, 5 * np.array(sd) / np.sqrt(found.ess))
