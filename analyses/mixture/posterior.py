"""One component count's posterior: importance sampling from its modes, else NUTS.

The modes come from EM (:mod:`analyses.mixture.em`): each distinct maximum of the likelihood
is refined by Newton's method into a Laplace approximation of a posterior mode, on PyMC's
unconstrained scale, so every proposal respects the ordered means (a label order is a
mode of its own there). The proposal is a mixture of multivariate t distributions, one per
mode, weighted by each mode's Laplace estimate of its mass; where Pareto k rejects it, a
proposal adapted to the posterior (:func:`analyses.core.importance.adapt`) is tried once more.
Only when that fails too is the count sampled with NUTS, started at the best mode.

Above :data:`SUBSAMPLE_ABOVE` rows the weights read the log-likelihood of
:data:`SUBSAMPLE_ROWS` rows drawn at random plus an exact quadratic expansion of the rest
(:mod:`analyses.core.subsample`); the error this adds is measured at :data:`CHECKED_DRAWS` of the
draws against the exact log-likelihood and stated in the bundle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from analyses.core import importance
from analyses.core.base import Settings, sample, sampled
from analyses.mixture.em import Solution
from analyses.mixture.model import (
    MIN_GAP,
    log_density,
    log_likelihood,
    log_prior,
    mixture_model,
    priors,
    row_log_lik,
    to_unconstrained,
    unconstrain,
)
from analyses.mixture.results import SubsampledLikelihood

#: A dense mass matrix: a mixture's means, spreads and weights are strongly correlated, and
#: adapting to that cuts the leapfrog steps per draw about fourfold (32 to 8 for three
#: components on the demo) and triples the effective sample size.
INIT = "adapt_full"
#: How the model is written, after the method's name in ``diagnostics``.
MODEL_NOTE = ", memberships marginalised, ordered means"
#: Modes whose Laplace estimate of their mass lies this far (log scale) below the largest's
#: are left to the other modes' heavy tails (they hold under 1/20,000 of the mass).
MODE_WINDOW = 10.0
#: Above this many rows, importance weights read a subsampled log-likelihood of this many.
SUBSAMPLE_ABOVE = 5000
SUBSAMPLE_ROWS = 1000
#: Distinct EM maxima refined into modes when the likelihood is subsampled (each costs one
#: pass over every row).
SUBSAMPLED_MODES = 3
#: Draws at which the subsampled log-likelihood is checked against the exact one, and the
#: largest error (log scale: a factor of e^0.05, about 5%, on a draw's weight) accepted.
CHECKED_DRAWS = 100
SUBSAMPLE_ERROR_MAX = 0.05


def _standardise(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    centre, scale = float(np.mean(y)), float(np.std(y)) or 1.0
    return (y - centre) / scale, centre, scale


def _same_mode(mode: np.ndarray, other: tuple[np.ndarray, np.ndarray, float]) -> bool:
    """Whether ``mode`` lies within one posterior sd (in ``other``'s own metric) of it."""
    step = mode - other[0]
    return float(step @ np.linalg.solve(other[1], step)) < 1.0


def _kept(modes: list[tuple[np.ndarray, np.ndarray, float]]) -> list:
    """The distinct modes within :data:`MODE_WINDOW` of the largest mass."""
    out: list[tuple[np.ndarray, np.ndarray, float]] = []
    best = max(m[2] for m in modes)
    for mode in sorted(modes, key=lambda m: -m[2]):
        if mode[2] >= best - MODE_WINDOW and not any(_same_mode(mode[0], o) for o in out):
            out.append(mode)
    return out


def _laplace_modes(target, solutions: list[Solution]) -> list:
    """``(mode, covariance, log mass)`` from each EM maximum, by Newton's method."""
    modes = []
    for s in solutions:
        found = importance.laplace(target, to_unconstrained(s.weight, s.mu, s.sigma))
        if found is None:
            continue
        mode, covariance = found
        log_mass = float(target(mode[None, :])[0]) + 0.5 * np.linalg.slogdet(covariance)[1]
        modes.append((mode, covariance, log_mass))
    return _kept(modes) if modes else []


def _subsampled_modes(z, k, prior, solutions, rng):
    """The subsampled log-likelihood around each EM maximum, and a mode from each.

    Each maximum's one pass over every row gives the log-likelihood's gradient and Hessian
    there; with the prior's, one Newton step gives the mode and the covariance.
    """
    from analyses.core.subsample import Subsampled

    starts = [to_unconstrained(s.weight, s.mu, s.sigma) for s in solutions[:SUBSAMPLED_MODES]]
    estimator = Subsampled.around(row_log_lik(z, k), z, starts, SUBSAMPLE_ROWS, rng)

    def prior_of(theta):
        return log_prior(theta, k, prior)

    modes = []
    for e in estimator.expansions:
        gradient, hessian = importance.derivatives(prior_of, e.centre)
        gradient, hessian = gradient + e.gradient, hessian + e.hessian
        try:
            covariance = np.linalg.inv(-hessian)
            np.linalg.cholesky(covariance)
        except np.linalg.LinAlgError:
            continue
        step = covariance @ gradient
        value = e.total + float(prior_of(e.centre[None, :])[0])
        log_mass = value + 0.5 * gradient @ step + 0.5 * np.linalg.slogdet(covariance)[1]
        modes.append((e.centre + step, covariance, log_mass))
    return estimator, (_kept(modes) if modes else [])


def _checked(estimator, z: np.ndarray, k: int, draws: np.ndarray, rng) -> SubsampledLikelihood:
    """The subsampled log-likelihood against the exact one at some of the draws."""
    at = draws[rng.choice(draws.shape[0], min(CHECKED_DRAWS, draws.shape[0]), replace=False)]
    estimate, se = estimator.estimate(at)
    mu, log_sigma, weight, _ = unconstrain(at, k)
    exact = np.zeros(at.shape[0])
    for start in range(0, z.size, 20_000):
        part = z[start : start + 20_000]
        exact += log_likelihood(part, weight, mu, np.exp(log_sigma)).sum(axis=1)
    error = float(np.max(np.abs(estimate - exact)))
    return SubsampledLikelihood(
        rows=int(estimator.rows.size),
        of=int(z.size),
        checked_draws=int(at.shape[0]),
        error_max=error,
        weight_error_max=float(np.expm1(error)),
        se_max=float(np.max(se)),
        limit=SUBSAMPLE_ERROR_MAX,
    )


def by_importance(
    y: np.ndarray, k: int, solutions: list[Solution], settings: Settings
) -> tuple[Any, dict[str, Any], dict[str, Any] | None] | None:
    """The ``k``-component posterior by PSIS, its checks and any subsampling, or ``None``.

    ``None`` when Pareto k (or the effective sample size) rejects the weights from both the
    Laplace mixture and the adapted proposal, or when the subsampled log-likelihood erred
    by more than :data:`SUBSAMPLE_ERROR_MAX`. The data are standardised first, the priors
    with them (the same model in other units), so that the optimiser works on numbers of
    order one. ``solutions`` are the EM maxima of the standardised data.
    """
    import xarray as xr

    z, centre, scale = _standardise(y)
    standard = priors(z)  # the priors scale with the data, so these are priors(y) rescaled
    rng = np.random.default_rng([settings.seed, k])
    subsampled = z.size > SUBSAMPLE_ABOVE
    if subsampled:
        estimator, modes = _subsampled_modes(z, k, standard, solutions, rng)

        def target(theta):
            return log_prior(theta, k, standard) + estimator(theta)
    else:

        def target(theta):
            return log_density(theta, z, k, standard)

        modes = _laplace_modes(target, solutions)
    if not modes:
        return None
    n_draws = settings.chains * settings.draws
    proposal = importance.Proposal.laplace(modes)
    found = importance.sample_from(target, proposal, n_draws, rng)
    if found is None:
        adapted = importance.adapt(target, proposal, rng)
        found = adapted and importance.sample_from(target, adapted, n_draws, rng)
    if found is None:
        return None
    checked = _checked(estimator, z, k, found.values, rng) if subsampled else None
    if checked is not None and checked.error_max > SUBSAMPLE_ERROR_MAX:
        return None
    mu, log_sigma, weight, _ = unconstrain(found.values, k)
    shape = (settings.chains, settings.draws, k)
    dims = ("chain", "draw", "component")
    post = xr.Dataset(
        {
            "mu": (dims, (centre + scale * mu).reshape(shape)),
            "sigma": (dims, (scale * np.exp(log_sigma)).reshape(shape)),
            "weight": (dims, weight.reshape(shape)),
        },
        coords={"component": np.arange(k)},
    )
    checks = importance.diagnostics(found)
    return post, {**checks, "method": checks["method"] + MODEL_NOTE}, checked


def by_nuts(y: np.ndarray, k: int, start: Solution, settings: Settings) -> tuple[Any, dict]:
    """The ``k``-component posterior by NUTS (a Dataset of draws) and its checks.

    Every chain starts at ``start``, the best EM maximum (of the standardised data), without
    jitter: jittered starts of a mixture land chains in different local modes.
    """
    _, centre, scale = _standardise(y)
    mu = centre + scale * start.mu
    for i in range(1, k):  # strictly increasing, as the ordered transform needs
        mu[i] = max(mu[i], mu[i - 1] + MIN_GAP * scale)
    initvals = {"mu": mu, "sigma": scale * start.sigma}
    if k > 1:
        initvals["weight"] = start.weight
    model, _ = mixture_model(y, k)
    with model:
        with warnings.catch_warnings():
            # PyMC labels the dense mass matrix "experimental"; it is chosen knowingly here.
            warnings.filterwarnings("ignore", "QuadPotentialFullAdapt", UserWarning)
            trace = sample(settings, target_accept=0.9, init=INIT, initvals=initvals)
    names = ["mu", "sigma"] + (["weight"] if k > 1 else [])
    return sampled(trace, names, f"NUTS (PyMC){MODEL_NOTE}")
