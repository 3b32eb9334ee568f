"""The regression model: its priors, the PyMC model and its log-density in NumPy.

And both ways of computing its posterior: importance sampling first, NUTS where Pareto k
rejects the weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analyses.core.base import Settings, prior_data, sample, sampled
from analyses.core.importance import HALF_LOG_2PI, half_normal_log_pdf_of_log, normal_log_pdf
from analyses.regression.data import Data
from analyses.regression.spec import Spec


def likelihood(spec: Spec) -> str:
    """``count`` (binomial shares), ``error`` (known standard errors) or ``plain``."""
    return "count" if spec.count else "error" if spec.target_error else "plain"


def priors(y: np.ndarray, kind: str) -> dict[str, float]:
    """Weakly informative priors on the standardised scale."""
    spread = float(np.std(y, ddof=1)) or 1.0
    return {
        "intercept_mean": float(np.mean(y)),
        "intercept_sd": 2 * spread,
        "beta_sd": spread,
        "sigma_scale": spread if kind == "plain" else 1.0,
    }


def model(spec: Spec, data: Data, centre: np.ndarray, scale: np.ndarray):
    """The PyMC model.

    Binomial counts of a share (``count``), or normal noise scaled by each row's known error
    (``target_error``), or of constant size.
    """
    import pymc as pm
    import pytensor.tensor as pt

    kind = likelihood(spec)
    prior = priors(data.y, kind)
    with pm.Model(coords={"feature": spec.features}) as built:
        # Data live in pm.Data: the compiled model does not depend on them and is reused.
        xs = pm.Data("x", (data.x - centre) / scale)
        p = prior_data(**prior)
        intercept = pm.Normal("intercept_std", p["intercept_mean"], p["intercept_sd"])
        beta = pm.Normal("beta_std", 0.0, p["beta_sd"], dims="feature")
        mu = intercept + xs @ beta
        if kind == "count":
            # The share is linear in the features and kept inside (0, 1); each row's events
            # are binomial out of its count, so a share cannot be predicted below 0 or above 1.
            share = pt.clip(mu, 1e-6, 1 - 1e-6)
            count = pm.Data("count", data.count.astype("int64"))
            events = pm.Data("events", np.round(data.y * data.count).astype("int64"))
            # The binomial log-likelihood without log(count choose events), which depends on
            # the data alone: the same posterior as pm.Binomial (a test checks the difference
            # is one constant), at half the cost per gradient and a fifth of the compile.
            pm.Potential("y", pt.sum(events * pt.log(share) + (count - events) * pt.log1p(-share)))
        else:
            sigma = pm.HalfNormal("sigma", p["sigma_scale"])
            error = pm.Data("error", data.error if kind == "error" else np.ones(len(data.y)))
            pm.Normal("y", mu, sigma * error, observed=pm.Data("target", data.y))
    return built, prior, kind


def log_density(
    theta: np.ndarray,
    kind: str,
    xs: np.ndarray,
    y: np.ndarray,
    prior: dict[str, float],
    error: np.ndarray | None = None,
    count: np.ndarray | None = None,
) -> np.ndarray:
    """The log posterior density of :func:`model` at each row of ``theta``.

    Rows are points on PyMC's unconstrained scale: the intercept, the coefficients of the
    standardised features ``xs``, and (unless ``kind`` is ``count``) the log of ``sigma``,
    its Jacobian included. For ``count``, ``y`` holds the events, ``count`` the counts, and
    the binomial's log(count choose events) is left out as in the model. The values equal
    PyMC's ``model.compile_logp()`` at the same points (checked in a test).
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    p = xs.shape[1]
    intercept, beta = theta[:, 0], theta[:, 1 : 1 + p]
    total = normal_log_pdf(intercept, prior["intercept_mean"], prior["intercept_sd"])
    total += np.sum(normal_log_pdf(beta, 0.0, prior["beta_sd"]), axis=1)
    if kind != "count":
        log_sigma = theta[:, 1 + p]
        sigma = np.exp(log_sigma)
        total += half_normal_log_pdf_of_log(log_sigma, prior["sigma_scale"])
        error = np.ones(y.size) if error is None else error
    block = max(1, 2_000_000 // max(y.size, 1))
    for start in range(0, theta.shape[0], block):
        rows = slice(start, start + block)
        mu = intercept[rows, None] + beta[rows] @ xs.T
        if kind == "count":
            share = np.clip(mu, 1e-6, 1 - 1e-6)
            total[rows] += (y * np.log(share) + (count - y) * np.log1p(-share)).sum(axis=1)
        else:
            spread = sigma[rows, None] * error
            z = (y - mu) / spread
            total[rows] -= np.sum(0.5 * z * z + np.log(spread), axis=1) + y.size * HALF_LOG_2PI
    return total


def importance_draws(
    kind: str, data: Data, xs: np.ndarray, prior: dict[str, float], settings: Settings
) -> tuple[Any, dict[str, Any]] | None:
    """The posterior by PSIS from a Laplace approximation and its diagnostics, or ``None``.

    The posterior is a (chain, draw) Dataset of ``intercept_std``, ``beta_std`` (and
    ``sigma``), as NUTS's trace has them. A normal target is standardised first (the priors
    and known errors with it: the same model in other units) so that the optimiser works on
    numbers of order one; a share's events and counts are used as they are.
    """
    import xarray as xr

    from analyses.core import importance

    n_draws, p = settings.chains * settings.draws, xs.shape[1]
    design = np.column_stack([np.ones(len(data.y)), xs])
    if kind == "count":
        events = np.round(data.y * data.count)
        start = np.linalg.lstsq(design, data.y, rcond=None)[0]
        centre, scale = 0.0, 1.0

        def density(theta: np.ndarray) -> np.ndarray:
            return log_density(theta, kind, xs, events, prior, count=data.count)

    else:
        centre, scale = float(np.mean(data.y)), float(np.std(data.y))
        z = (data.y - centre) / scale
        standard = {
            "intercept_mean": (prior["intercept_mean"] - centre) / scale,
            "intercept_sd": prior["intercept_sd"] / scale,
            "beta_sd": prior["beta_sd"] / scale,
            # sigma scales the known errors (kind "error"), else it is the noise itself
            "sigma_scale": prior["sigma_scale"] / (scale if kind == "plain" else 1.0),
        }
        error = data.error / scale if kind == "error" else None
        fitted = np.linalg.lstsq(design, z, rcond=None)[0]
        residual = z - design @ fitted
        noise = np.std(residual / (error if error is not None else 1.0)) or 1.0
        start = np.r_[fitted, np.log(noise)]

        def density(theta: np.ndarray) -> np.ndarray:
            return log_density(theta, kind, xs, z, standard, error=error)

    found = importance.sample(density, start, n_draws, np.random.default_rng(settings.seed))
    if found is None:
        return None
    shape = (settings.chains, settings.draws)
    values = found.values
    variables = {
        "intercept_std": (("chain", "draw"), (centre + scale * values[:, 0]).reshape(shape)),
        "beta_std": (
            ("chain", "draw", "feature"),
            (scale * values[:, 1 : 1 + p]).reshape(*shape, p),
        ),
    }
    if kind != "count":
        sigma = np.exp(values[:, 1 + p]) * (scale if kind == "plain" else 1.0)
        variables["sigma"] = (("chain", "draw"), sigma.reshape(shape))
    return xr.Dataset(variables), importance.diagnostics(found)


def replicate(kind, mean, sigma, error, count, rng):
    """Data simulated from the model: shares from binomial counts, else normal noise."""
    if kind == "count":
        share = np.clip(mean, 1e-6, 1 - 1e-6)
        return rng.binomial(count.astype(int), share) / count
    return mean + sigma[:, None] * error * rng.standard_normal(mean.shape)


def nuts(
    spec: Spec, data: Data, centre: np.ndarray, scale: np.ndarray, settings: Settings
) -> tuple[Any, dict[str, Any]]:
    """The posterior sampled by NUTS, where importance sampling declined."""
    built, _, _ = model(spec, data, centre, scale)
    # Every chain starts at the least-squares fit: for a share, a start whose predictions
    # leave 0 to 1 sits where the likelihood is flat and the sampler cannot find its way.
    design = np.column_stack([np.ones(len(data.y)), (data.x - centre) / scale])
    start = np.linalg.lstsq(design, data.y, rcond=None)[0]
    with built:
        trace = sample(
            settings,
            target_accept=0.9,
            init="adapt_diag",  # no jitter: it could push a start outside 0 to 1 again
            initvals={"intercept_std": start[0], "beta_std": start[1:]},
        )
    names = ["beta_std", "intercept_std"] + (["sigma"] if likelihood(spec) != "count" else [])
    return sampled(trace, names)
