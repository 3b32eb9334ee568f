"""The subsampled log-likelihood (difference estimator, stratified rows) against the exact
sum: exact where every row is read, unbiased with honest standard errors where not."""

import numpy as np
import pytest

from analyses.core.subsample import Subsampled
from analyses.mixture import model as mm


def two_clusters(n, seed=0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.3, rng.normal(-2, 0.7, n), rng.normal(1.5, 1.0, n))
    return (y - y.mean()) / y.std()


def exact(z, theta, k=2):
    mu, log_sigma, weight, _ = mm.unconstrain(theta, k)
    return mm.log_likelihood(z, weight, mu, np.exp(log_sigma)).sum(axis=1)


CENTRE = mm.to_unconstrained(np.array([0.3, 0.7]), np.array([-1.2, 0.6]), np.array([0.4, 0.6]))


def test_every_row_read_gives_the_exact_sum():
    z = two_clusters(400)
    points = CENTRE + np.random.default_rng(1).normal(0, 0.2, (20, CENTRE.size))
    estimator = Subsampled.around(mm.row_log_lik(z, 2), z, [CENTRE], 400, np.random.default_rng(2))
    values, se = estimator.estimate(points)
    np.testing.assert_allclose(values, exact(z, points), rtol=1e-9)
    np.testing.assert_allclose(se, 0.0, atol=1e-9)


def test_the_estimate_is_exact_at_the_centre():
    z = two_clusters(5000)
    estimator = Subsampled.around(mm.row_log_lik(z, 2), z, [CENTRE], 300, np.random.default_rng(3))
    values, se = estimator.estimate(CENTRE[None, :])
    assert values[0] == pytest.approx(exact(z, CENTRE[None, :])[0], rel=1e-12)
    assert se[0] == pytest.approx(0.0, abs=1e-9)


def test_the_estimate_is_unbiased_and_its_standard_error_honest():
    """Over 200 independent subsamples at a point away from the centre: the mean error is
    within four standard errors of that mean, and the stated standard error matches the
    spread of the estimates within 25% (the spread of 200 draws is known to about 5%)."""
    z = two_clusters(5000, seed=4)
    point = CENTRE + np.array([0.05, -0.1, 0.08, -0.05, 0.1])
    truth = exact(z, point[None, :])[0]
    found = [
        Subsampled.around(
            mm.row_log_lik(z, 2), z, [CENTRE], 200, np.random.default_rng(s)
        ).estimate(point[None, :])
        for s in range(200)
    ]
    values = np.array([v[0] for v, _ in found])
    se = np.array([e[0] for _, e in found])
    assert abs(values.mean() - truth) <= 4 * values.std() / np.sqrt(values.size)
    assert np.sqrt(np.mean(se**2)) == pytest.approx(values.std(), rel=0.25)
