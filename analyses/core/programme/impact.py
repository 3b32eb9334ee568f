"""The cumulative impact of shipped experiments, compounded or added, from the programme.

Joint draws of the hyperparameters and of each shipped experiment's true lift given them,
a running experiment's conditioned also on its own estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from analyses.core.base import CI_PROB, SEED
from analyses.core.programme.inputs import DRAWS
from analyses.core.programme.population import Programme

# --------------------------------------------------------------------------- impact


def _conditioned_mass(programme: Programme, running: Sequence[int]) -> np.ndarray:
    """The hyperparameters' posterior mass over the nodes given the ``running`` estimates too.

    The fit's mass is learned from the finished experiments; an experiment still running
    adds its marginal likelihood at each node, ``sum_k mixing_k N(y; mu, scale_k^2 + s^2)``.
    """
    from scipy.special import logsumexp

    log_mass = np.log(programme.mass)
    mu = programme.mu[programme.node_mu]
    mixing = programme.family.mixing[programme.node_col]  # nodes x scales
    var = programme.scales**2
    for i in running:
        y, s2 = programme.y[i], programme.s[i] ** 2
        tot = var[None, :] + s2
        with np.errstate(divide="ignore"):
            log_p = np.log(mixing) - 0.5 * np.log(tot) - 0.5 * (y - mu[:, None]) ** 2 / tot
        log_mass = log_mass + logsumexp(log_p, axis=1)
    return np.exp(log_mass - logsumexp(log_mass))


def _pick(mass: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The nodes at uniforms ``u`` by the inverse of the cumulative ``mass``."""
    cum = np.cumsum(mass)
    return np.minimum(np.searchsorted(cum, u * cum[-1], side="right"), mass.size - 1)


def cumulative_impact(
    programme: Programme,
    shipped: Sequence[int] | np.ndarray,
    weights: Sequence[float] | None = None,
    compound: bool = True,
    prob: float = CI_PROB,
    draws: int = DRAWS,
    seed: int = SEED,
) -> dict[str, Any]:
    """The expected cumulative impact of shipped changes, with its HDI, from the programme.

    Joint draws: the hyperparameters from their posterior, then each shipped experiment's
    true lift from its conditional posterior given them (so the experiments' shared
    uncertainty about the population is carried into the total, not averaged away). The
    hyperparameters' posterior is the finished experiments' (what the prior was learned
    from); for a shipped experiment still running it is conditioned also on its own
    estimate: so each one enters at its own programme posterior, the one its readout shows,
    not at what the population alone expects of it (review finding 1, issue 22).

    Parameters
    ----------
    programme
        The fit.
    shipped
        Indices (or a boolean mask) of the shipped experiments.
    weights
        Each shipped change's share of the metric it moves (default 1 each).
    compound
        ``True``: the changes compound, ``prod (1 + lift_i)^w_i - 1``; ``False``: the sum
        of ``w_i lift_i`` (what teams usually add up).

    Returns
    -------
    dict
        ``mean``, ``hdi``, ``prob_positive`` of the impact, ``alone`` (the same total of the
        experiments' own estimates: the sum of raw winners) and ``experiments``.
    """
    idx = np.asarray(shipped)
    idx = np.flatnonzero(idx) if idx.dtype == bool else idx.astype(int)
    w = np.ones(idx.size) if weights is None else np.asarray(weights, dtype=float)
    rng = np.random.default_rng(seed)
    # One uniform per draw picks the node of every experiment, by the inverse of its own
    # mass (a finished one's: the fit's; a running one's: the fit's given its estimate too),
    # so each enters at its own posterior and the draws still share the hyperparameters.
    u = rng.random(draws)
    base = _pick(programme.mass, u)
    var = programme.scales**2
    total = np.zeros(draws)
    for i, weight in zip(idx, w, strict=True):
        node = base if programme.finished[i] else _pick(_conditioned_mass(programme, [i]), u)
        mu = programme.mu[programme.node_mu[node]]
        mixing = programme.family.mixing[programme.node_col[node]]  # draws x scales
        y, s2 = programme.y[i], programme.s[i] ** 2
        tot = var[None, :] + s2
        with np.errstate(divide="ignore"):
            log_p = np.log(mixing) - 0.5 * np.log(tot) - 0.5 * (y - mu[:, None]) ** 2 / tot
        p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
        cum = np.cumsum(p, axis=1)
        k = (cum < rng.random(draws)[:, None] * cum[:, -1:]).sum(axis=1)
        pull = var[k] / (var[k] + s2)
        z = mu + pull * (y - mu) + np.sqrt(pull * s2) * rng.standard_normal(draws)
        total += weight * (z if compound else np.expm1(z))
    impact = np.expm1(total) if compound else total
    raw = programme.y[idx]
    alone = float(np.expm1(np.sum(w * raw)) if compound else np.sum(w * np.expm1(raw)))
    from analyses.core.stats import hdi

    return {
        "mean": float(impact.mean()),
        "hdi": hdi(impact, prob),
        "prob_positive": float(np.mean(impact > 0)),
        "alone": alone,
        "experiments": int(idx.size),
    }
