"""Exact posteriors from sufficient statistics: nothing row-level is needed.

Each model here is the posterior of a PyMC model written out in
``analyses.ab_test.models`` (the tests sample those models on raw rows and compare):

* conversion rates: ``p ~ Beta(a, b)``, ``y ~ Bernoulli(p)`` -> Beta posterior;
* a normal mean with unknown variance: ``sigma2 ~ InvGamma(alpha, beta)``,
  ``mu | sigma2 ~ Normal(m, sigma2 / kappa)``, ``y ~ Normal(mu, sigma2)``
  (normal-inverse-gamma) -> normal-inverse-gamma posterior from ``n``, ``sum y``,
  ``sum y^2``;
* log-normal with zeros (a hurdle): the share of positive values is a conversion rate and
  the log of the positive values a normal with unknown variance, so the mean per unit is
  ``p * exp(mu + sigma2 / 2)``;
* a ratio of two per-unit sums: the delta method (a normal approximation, stated as such).

All functions take plain numbers and return arrays of independent posterior draws, so a
readout summarises any function of them (lifts, losses) without MCMC error beyond the
number of draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of one arm's per-unit values: count, sum, sum of squares."""

    n: float
    total: float
    squares: float

    @property
    def mean(self) -> float:
        """The sample mean."""
        return self.total / self.n

    @property
    def ss(self) -> float:
        """The sum of squared deviations from the mean (never negative)."""
        return max(self.squares - self.total**2 / self.n, 0.0)

    @property
    def var(self) -> float:
        """The sample variance (``ddof=1``)."""
        return self.ss / (self.n - 1) if self.n > 1 else 0.0


@dataclass(frozen=True)
class NormalPrior:
    """Normal-inverse-gamma prior.

    ``sigma2 ~ InvGamma(alpha, beta)``, ``mu | sigma2 ~ Normal(mean, sigma2 / kappa)``.

    ``kappa = 0`` with ``alpha = -0.5`` and ``beta = 0`` is the flat reference prior
    ``p(mu, sigma2) ∝ 1 / sigma2``.
    """

    mean: float
    kappa: float
    alpha: float
    beta: float

    @classmethod
    def scaled(cls, centre: float, spread: float) -> NormalPrior:
        """The default weak prior scaled to the pooled data.

        ``alpha = 2`` and ``beta = spread^2`` put the prior mean of ``sigma2`` at the data's
        variance; ``kappa = 1/4`` gives ``mu`` a prior standard deviation of twice the data's
        standard deviation (its marginal is a Student-t with 4 degrees of freedom).
        """
        spread = spread if spread > 0 else max(abs(centre), 1.0)
        return cls(mean=centre, kappa=0.25, alpha=2.0, beta=spread**2)

    @classmethod
    def flat(cls) -> NormalPrior:
        """The reference prior ``p(mu, sigma2) ∝ 1 / sigma2``: the data alone."""
        return cls(mean=0.0, kappa=0.0, alpha=-0.5, beta=0.0)

    def mu_sd(self) -> float:
        """Prior standard deviation of ``mu`` (infinite when improper or heavy-tailed)."""
        if self.kappa <= 0 or self.alpha <= 1:
            return float("inf")
        return float(np.sqrt(self.beta / ((self.alpha - 1) * self.kappa)))


def normal_posterior(m: Moments, prior: NormalPrior) -> NormalPrior:
    """The normal-inverse-gamma posterior after ``n`` values with these moments."""
    kappa = prior.kappa + m.n
    mean = (prior.kappa * prior.mean + m.total) / kappa
    alpha = prior.alpha + m.n / 2
    beta = prior.beta + 0.5 * m.ss + 0.5 * prior.kappa * m.n * (m.mean - prior.mean) ** 2 / kappa
    return NormalPrior(mean=mean, kappa=kappa, alpha=alpha, beta=beta)


def normal_draws(
    m: Moments, prior: NormalPrior, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Independent draws of ``(mu, sigma)`` from the exact posterior."""
    post = normal_posterior(m, prior)
    if post.alpha <= 0 or post.beta <= 0:
        raise ValueError("too few distinct values for a posterior of the spread")
    sigma2 = post.beta / rng.gamma(post.alpha, 1.0, size)
    mu = post.mean + np.sqrt(sigma2 / post.kappa) * rng.standard_normal(size)
    return mu, np.sqrt(sigma2)


def beta_draws(
    successes: float, n: float, a: float, b: float, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Independent draws of a rate from its Beta posterior."""
    return rng.beta(a + successes, b + n - successes, size)


def lognormal_mean_draws(
    n: float,
    positives: float,
    logs: Moments,
    prior: NormalPrior,
    size: int,
    rng: np.random.Generator,
    share_prior: tuple[float, float] = (1.0, 1.0),
) -> dict[str, np.ndarray]:
    """Draws of the mean per unit of a log-normal value with zeros (a hurdle model).

    ``p`` is the share of units with a positive value (a Beta(``share_prior``) prior, Beta(1, 1)
    unless the sensitivity check's sceptical prior sets it), ``mu`` and ``sigma`` those of the
    log of the positive values; the mean per unit is ``p * exp(mu + sigma^2 / 2)``.
    """
    p = beta_draws(positives, n, *share_prior, size, rng)
    mu, sigma = normal_draws(logs, prior, size, rng)
    per_payer = np.exp(mu + sigma**2 / 2)
    return {"value": p * per_payer, "p": p, "per_payer": per_payer, "mu": mu, "sigma": sigma}


@dataclass(frozen=True)
class RatioMoments:
    """Per-unit sums of a ratio metric's numerator and denominator, summed over units."""

    n: float
    num: float
    den: float
    num2: float
    den2: float
    numden: float


def ratio_estimate(r: RatioMoments) -> tuple[float, float]:
    """The ratio of sums and its delta-method standard error.

    ``R = sum(num) / sum(den)``; with per-unit means ``a``, ``d`` and (co)variances,
    ``Var(R) ≈ (Var(num) - 2 R Cov(num, den) + R^2 Var(den)) / (n * d^2)``.
    """
    if r.den == 0:
        raise ValueError("the denominator sums to zero")
    ratio = r.num / r.den
    mean_den = r.den / r.n
    var_num = (r.num2 - r.num**2 / r.n) / (r.n - 1)
    var_den = (r.den2 - r.den**2 / r.n) / (r.n - 1)
    cov = (r.numden - r.num * r.den / r.n) / (r.n - 1)
    var = (var_num - 2 * ratio * cov + ratio**2 * var_den) / (r.n * mean_den**2)
    return ratio, float(np.sqrt(max(var, 0.0)))


def ratio_draws(r: RatioMoments, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of a ratio metric from its delta-method normal approximation."""
    ratio, se = ratio_estimate(r)
    return ratio + se * rng.standard_normal(size)


def cuped_moments(y: Moments, x: Moments, xy: float, theta: float, x_mean: float) -> Moments:
    """Moments of the covariate-adjusted values ``y - theta * (x - x_mean)``.

    Sums of the adjusted values follow from the sums of ``y``, ``x``, ``y^2``, ``x^2`` and
    ``xy``: no row is needed. With ``theta = Cov(x, y) / Var(x)`` pooled over the arms
    (CUPED), the adjusted mean has the same expectation and a variance smaller by the
    squared correlation.
    """
    n = y.n
    shift = theta * x_mean
    total = y.total - theta * x.total + shift * n
    squares = (
        y.squares
        + theta**2 * x.squares
        + shift**2 * n
        - 2 * theta * xy
        + 2 * shift * y.total
        - 2 * theta * shift * x.total
    )
    return Moments(n=n, total=total, squares=squares)
