"""The A/B analysis's models written in PyMC.

The conjugate models are computed exactly in ``analyses.ab_test.conjugate`` from sufficient
statistics; the PyMC versions here are the same models on raw rows, sampled by the tests to
check the exact posteriors. The Student-t model (``robust = true``) has no exact posterior:
its log-density is written here in NumPy as well (:func:`student_t_log_density`, checked
against PyMC's in the tests) for importance sampling, and its PyMC model is sampled with NUTS
when importance sampling cannot be trusted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analyses.ab_test.conjugate import NormalPrior
from analyses.core.base import prior_data
from analyses.core.importance import half_normal_log_pdf_of_log, normal_log_pdf


def normal_model(y: np.ndarray, prior: NormalPrior) -> Any:
    """``sigma2 ~ InvGamma(alpha.

    Beta)``, ``mu ~ Normal(mean, sqrt(sigma2 / kappa))``, ``y ~ Normal(mu, sqrt(sigma2))``: the
    model ``conjugate.normal_draws`` solves exactly.
    """
    import pymc as pm

    with pm.Model() as model:
        sigma2 = pm.InverseGamma("sigma2", alpha=prior.alpha, beta=prior.beta)
        mu = pm.Normal("mu", prior.mean, pm.math.sqrt(sigma2 / prior.kappa))
        pm.Normal("y", mu, pm.math.sqrt(sigma2), observed=y)
    return model


def beta_model(y: np.ndarray, alpha: float, beta: float) -> Any:
    """``p ~ Beta(alpha, beta)``, ``y ~ Bernoulli(p)``."""
    import pymc as pm

    with pm.Model() as model:
        p = pm.Beta("p", alpha, beta)
        pm.Bernoulli("y", p, observed=y)
    return model


def hurdle_model(y: np.ndarray, prior: NormalPrior) -> Any:
    """A log-normal value with zeros.

    ``positive ~ Bernoulli(p)``, ``log y | y > 0`` normal with the normal-inverse-gamma prior;
    ``value = p * exp(mu + sigma2 / 2)``.
    """
    import pymc as pm

    positive = y > 0
    with pm.Model() as model:
        p = pm.Beta("p", 1.0, 1.0)
        pm.Bernoulli("positive", p, observed=positive.astype(int))
        sigma2 = pm.InverseGamma("sigma2", alpha=prior.alpha, beta=prior.beta)
        mu = pm.Normal("mu", prior.mean, pm.math.sqrt(sigma2 / prior.kappa))
        pm.Normal("log_y", mu, pm.math.sqrt(sigma2), observed=np.log(y[positive]))
        pm.Deterministic("value", p * pm.math.exp(mu + sigma2 / 2))
    return model


def student_t_model(
    y: np.ndarray, index: np.ndarray, arms: list[str], prior: dict[str, float]
) -> Any:
    """Each arm's location and scale with a Student-t likelihood (``robust = true``)."""
    import pymc as pm

    with pm.Model(coords={"arm": arms}) as model:
        arm = pm.Data("arm_index", index.astype("int64"))
        p = prior_data(**prior)
        mu = pm.Normal("mu", mu=p["mu_mean"], sigma=p["mu_sd"], dims="arm")
        sigma = pm.HalfNormal("sigma", sigma=p["sigma_sd"], dims="arm")
        nu = pm.Exponential("nu_minus_one", lam=p["nu_rate"]) + 1
        pm.StudentT("y", nu=nu, mu=mu[arm], sigma=sigma[arm], observed=pm.Data("y_data", y))
    return model


def student_t_log_density(
    theta: np.ndarray, y: np.ndarray, index: np.ndarray, prior: dict[str, float]
) -> np.ndarray:
    """The log posterior density of :func:`student_t_model` at each row of ``theta``.

    Rows are points on PyMC's unconstrained scale: each arm's ``mu``, then each arm's
    ``log(sigma)``, then ``log(nu - 1)``; the Jacobians of the log transforms are included,
    so the values equal PyMC's ``model.compile_logp()`` at the same points. ``index`` holds
    each value's arm (0, 1, ...).
    """
    from scipy.special import gammaln

    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    arms = int(index.max()) + 1
    mu, log_sigma, log_excess = theta[:, :arms], theta[:, arms : 2 * arms], theta[:, 2 * arms]
    sigma, excess = np.exp(log_sigma), np.exp(log_excess)
    nu = 1.0 + excess
    rate = prior["nu_rate"]
    # Priors: Normal locations, half-normal scales, exponential nu - 1 (+ its log, the Jacobian).
    total = np.sum(normal_log_pdf(mu, prior["mu_mean"], prior["mu_sd"]), axis=1)
    total += np.sum(half_normal_log_pdf_of_log(log_sigma, prior["sigma_sd"]), axis=1)
    total += np.log(rate) - rate * excess + log_excess
    # Student-t likelihood: the terms without data once per arm, the rest per value, in
    # blocks of points so that a block holds at most about two million values.
    counts = np.bincount(index, minlength=arms)
    total += y.size * (gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi))
    total -= log_sigma @ counts
    by_arm = [y[index == j] for j in range(arms)]
    block = max(1, 2_000_000 // max(y.size, 1))
    for start in range(0, theta.shape[0], block):
        rows = slice(start, start + block)
        spread = np.zeros(theta[rows].shape[0])
        for j, values in enumerate(by_arm):
            z = (values[None, :] - mu[rows, j, None]) / sigma[rows, j, None]
            spread += np.log1p(z * z / nu[rows, None]).sum(axis=1)
        total[rows] -= (nu[rows] + 1) / 2 * spread
    return total
