"""The A/B analysis's models written in PyMC.

The conjugate models are computed exactly in ``analyses.conjugate`` from sufficient
statistics; the PyMC versions here are the same models on raw rows, sampled by the tests to
check the exact posteriors. The Student-t model (``robust = true``) has no exact posterior
and is always sampled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analyses.base import prior_data
from analyses.conjugate import NormalPrior


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
