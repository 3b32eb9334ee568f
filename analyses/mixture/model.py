"""The normal mixture's model: in PyMC, and its log-density and log-likelihood in NumPy.

``weights ~ Dirichlet(1, ..., 1)``, component means with an ordered transform (so
components keep their labels), standard deviations half-normal, and the observations from
the mixture with the memberships marginalised out. Priors are scaled to the data.

The NumPy log-density (:func:`log_density`) works on PyMC's unconstrained scale
(:func:`unconstrain`, :func:`to_unconstrained`), transforms and Jacobians included, and
equals PyMC's own (checked in a test): importance sampling reweights to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from analyses.core.base import prior_data
from analyses.core.importance import HALF_LOG_2PI, half_normal_log_pdf_of_log, normal_log_pdf

#: The mixture's parameters, in the order :func:`log_likelihood` takes them.
PARAMS = ("weight", "mu", "sigma")


def priors(y: np.ndarray) -> dict[str, float]:
    """Weakly informative priors scaled to the data."""
    return {
        "mu_mean": float(np.mean(y)),
        "mu_sd": float(2 * np.std(y)),
        "sigma_scale": float(np.std(y)),
    }


def parameters(k: int) -> int:
    """How many free parameters ``k`` components have: means, spreads and k - 1 weights."""
    return 3 * k - 1


def mixture_model(y: np.ndarray, k: int) -> tuple[Any, dict[str, float]]:
    """The ``k``-component normal mixture in PyMC (ordered means) and its prior."""
    import pymc as pm
    from pymc.distributions.transforms import ordered

    prior = priors(y)
    with pm.Model(coords={"component": np.arange(k)}) as model:
        order = {"transform": ordered} if k > 1 else {}
        p = prior_data(**prior)
        mu = pm.Normal("mu", p["mu_mean"], p["mu_sd"], dims="component", **order)
        sigma = pm.HalfNormal("sigma", p["sigma_scale"], dims="component")
        if k > 1:
            weight = pm.Dirichlet("weight", np.ones(k), dims="component")
            pm.NormalMixture("y", w=weight, mu=mu, sigma=sigma, observed=pm.Data("y_data", y))
        else:
            pm.Deterministic("weight", pm.math.ones_like(mu), dims="component")
            pm.Normal("y", mu[0], sigma[0], observed=pm.Data("y_data", y))
    return model, prior


def unconstrain(theta: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Means, log spreads, weights and the transforms' log-Jacobian of unconstrained points.

    A row of ``theta`` is PyMC's unconstrained point of :func:`mixture_model`: the first mean
    and the logs of the gaps to the next (the ordered transform), the log spreads, then (for
    ``k > 1``) the ``k - 1`` values of the simplex transform of the weights.
    """
    theta = np.atleast_2d(theta)
    raw, log_sigma = theta[:, :k], theta[:, k : 2 * k]
    mu = np.cumsum(np.column_stack([raw[:, 0], np.exp(raw[:, 1:])]), axis=1)
    jacobian = raw[:, 1:].sum(axis=1)
    if k == 1:
        return mu, log_sigma, np.ones_like(mu), jacobian
    from scipy.special import logsumexp, softmax

    free = theta[:, 2 * k :]
    total = free.sum(axis=1)
    weight = softmax(np.column_stack([free, -total]), axis=1)
    log_sum = logsumexp(np.column_stack([free + total[:, None], np.zeros(len(theta))]), axis=1)
    jacobian = jacobian + np.log(k) + k * total - k * log_sum
    return mu, log_sigma, weight, jacobian


#: Smallest gap between neighbouring means when a point is made from estimates: equal means
#: have no place on the ordered scale (a log-gap of minus infinity).
MIN_GAP = 1e-3


def to_unconstrained(weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """The unconstrained point of components given by their weights, means and spreads.

    The inverse of :func:`unconstrain`; the means must be in increasing order (gaps below
    :data:`MIN_GAP` are widened to it). For the weights, with ``a_i = log(w_i / w_k)``, the
    simplex values ``x`` solve ``x_i + sum(x) = a_i``: ``x = a - sum(a) / k``.
    """
    k = mu.size
    point = [mu[:1], np.log(np.maximum(np.diff(mu), MIN_GAP)), np.log(sigma)]
    if k > 1:
        a = np.log(weight[:-1]) - np.log(weight[-1])
        point.append(a - a.sum() / k)
    return np.concatenate(point)


def log_prior(theta: np.ndarray, k: int, prior: Mapping[str, float]) -> np.ndarray:
    """The prior's log-density at unconstrained points, the transforms' Jacobians included."""
    from scipy.special import gammaln

    mu, log_sigma, _, total = unconstrain(theta, k)
    total = total + normal_log_pdf(mu, prior["mu_mean"], prior["mu_sd"]).sum(axis=1)
    total += half_normal_log_pdf_of_log(log_sigma, prior["sigma_scale"]).sum(axis=1)
    if k > 1:
        total += gammaln(k)  # Dirichlet(1, ..., 1): constant on the simplex
    return total


def log_density(theta: np.ndarray, y: np.ndarray, k: int, prior: Mapping[str, float]):
    """The log posterior density of :func:`mixture_model` at each row of ``theta``.

    Rows are points on PyMC's unconstrained scale (see :func:`unconstrain`), the
    transforms' Jacobians included; the values equal PyMC's ``model.compile_logp()`` at the
    same points (checked in a test).
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    total = log_prior(theta, k, prior)
    mu, log_sigma, weight, _ = unconstrain(theta, k)
    sigma = np.exp(log_sigma)
    block = max(1, 2_000_000 // max(y.size * k, 1))
    for start in range(0, theta.shape[0], block):
        rows = slice(start, start + block)
        total[rows] += log_likelihood(y, weight[rows], mu[rows], sigma[rows]).sum(axis=1)
    return total


def row_log_lik(y: np.ndarray, k: int):
    """``f(theta, rows)``: the log-likelihood of ``y[rows]`` at each unconstrained point."""

    def f(theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        mu, log_sigma, weight, _ = unconstrain(theta, k)
        return log_likelihood(y[rows], weight, mu, np.exp(log_sigma))

    return f


def _component_log_p(
    y: np.ndarray, weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray
) -> list[np.ndarray]:
    """log(weight_k) + log Normal(y_i | mu_k, sigma_k), one (draws, observations) array per k.

    ``weight``, ``mu`` and ``sigma`` have shape (draws, components). One array per
    component, because NumPy reduces over a short last axis slowly.
    """
    offset = np.log(weight) - np.log(sigma) - HALF_LOG_2PI
    out = []
    for c in range(mu.shape[1]):
        z = (y[None, :] - mu[:, c, None]) / sigma[:, c, None]
        z *= z
        z *= -0.5
        z += offset[:, c, None]
        out.append(z)
    return out


def log_likelihood(y: np.ndarray, weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray):
    """Each observation's log-likelihood under each draw, memberships marginalised.

    ``weight``, ``mu`` and ``sigma`` have shape (draws, components); the result has shape
    (draws, observations). The same numbers as ``pm.compute_log_likelihood`` on the model
    (checked in a test), in one vectorised step instead of one compiled call per draw.
    """
    log_p = _component_log_p(y, weight, mu, sigma)
    if len(log_p) == 1:
        return log_p[0]
    top = np.maximum.reduce(log_p)
    total = np.zeros_like(top)
    for part in log_p:
        total += np.exp(part - top)
    return top + np.log(total)


def membership(y: np.ndarray, weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Each observation's probability of belonging to each component, averaged over draws.

    Parameters
    ----------
    y
        Observations, shape (n,).
    weight, mu, sigma
        Posterior draws, shape (draws, components).

    Returns
    -------
    ndarray
        Shape (n, components); rows sum to one.
    """
    out = np.empty((len(y), mu.shape[1]))
    block = max(1, 2_000_000 // (mu.shape[0] * mu.shape[1]))
    for start in range(0, len(y), block):
        part = y[start : start + block]
        log_p = np.stack(_component_log_p(part, weight, mu, sigma), axis=2)
        log_p -= log_p.max(axis=2, keepdims=True)
        p = np.exp(log_p)
        p /= p.sum(axis=2, keepdims=True)
        out[start : start + block] = p.mean(axis=0)
    return out
