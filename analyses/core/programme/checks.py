"""The checks of the learned prior and the rule for using it.

A prior-data conflict (:func:`predictive_tail`), the leave-one-out check of how well
the prior predicted each finished experiment from the others (PIT values, their
Kolmogorov-Smirnov p-value, the log predictive density: :func:`loo_check`) and the
small-programme rule (:func:`prior_choice`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analyses.core.base import CI_PROB, SEED
from analyses.core.programme.inputs import DRAWS, LOG_2PI, MIN_EXPERIMENTS
from analyses.core.programme.mixture import Mixture, draw_mixture
from analyses.core.programme.population import Programme


def predictive_tail(prior: Mixture, y: float, s: float) -> float:
    """The two-sided tail probability of an estimate under the prior predictive.

    The predictive of an experiment's estimate ``y`` (log scale, standard error ``s``) is
    the prior with the estimate's noise added to each component; the tail probability is
    ``2 min(F(y), 1 - F(y))``: small when the estimate is far outside what the prior
    expects (a prior-data conflict, Evans and Moshonov 2006; classified by
    :func:`analyses.core.judgement.conflict_class`).
    """
    w = np.ravel(prior.weights)
    keep = w > 0
    mix = Mixture(w[keep], np.ravel(prior.means)[keep], np.hypot(np.ravel(prior.sds)[keep], s))
    below = float(mix.cdf(np.array([y]))[0])
    return float(min(1.0, 2 * min(below, 1 - below)))


# --------------------------------------------------------------------------- checks


def loo_check(programme: Programme, prob: float = CI_PROB, seed: int = SEED) -> dict[str, Any]:
    """How well the learned prior predicted each finished experiment from the others.

    For each finished experiment, the predictive distribution of its estimate given the
    other experiments (the prior learned without it, plus the estimate's own noise): its PIT
    value (where the estimate fell in it), whether its central ``prob`` interval held the
    estimate, and its log density there. A prior that fits the programme has PIT values
    spread evenly over 0 to 1 and holds about ``prob`` of the estimates.

    Returns
    -------
    dict
        ``experiments``, ``held`` (estimates inside their predictive interval), ``expected``
        (``prob * experiments``), ``below`` and ``above`` (estimates under and over it: more
        above than expected means bigger wins than the prior allows), ``pit`` (per finished
        experiment), ``ks_p_value`` (of the PIT values' uniformity, Kolmogorov-Smirnov),
        ``elpd`` (the summed log predictive density) and ``intervals`` (each finished
        experiment's predictive interval of its relative lift estimate).
    """
    from scipy.special import kolmogorov, ndtr

    fin = np.flatnonzero(programme.finished)
    priors = programme.priors()
    w = priors.weights[fin]
    y, s = programme.y[fin], programme.s[fin]
    total = np.sqrt(priors.sds[None, :] ** 2 + s[:, None] ** 2)
    pit = np.sum(w * ndtr((y[:, None] - priors.means[None, :]) / total), axis=1)
    dens = np.sum(w * np.exp(-0.5 * ((y[:, None] - priors.means) / total) ** 2) / total, axis=1)
    elpd = np.log(dens) - 0.5 * LOG_2PI
    lower, upper = (1 - prob) / 2, (1 + prob) / 2
    rng = np.random.default_rng(seed)
    z = draw_mixture(Mixture(w, priors.means, priors.sds), DRAWS, rng) + s * rng.standard_normal(
        (DRAWS, fin.size)
    )
    intervals = np.expm1(np.quantile(z, [lower, upper], axis=0).T)
    n = fin.size
    ordered = np.sort(pit)
    grid = np.arange(1, n + 1) / n
    ks = float(max(np.max(grid - ordered), np.max(ordered - (grid - 1 / n))))
    return {
        "experiments": int(n),
        "held": int(np.sum((pit >= lower) & (pit <= upper))),
        "expected": float(prob * n),
        "below": int(np.sum(pit < lower)),
        "above": int(np.sum(pit > upper)),
        "pit": pit,
        "ks_p_value": float(kolmogorov(np.sqrt(n) * ks)),
        "elpd": float(elpd.sum()),
        "elpd_i": elpd,
        "intervals": intervals,
    }


def prior_choice(experiments: int) -> tuple[str, str]:
    """Whether the learned prior is used, and why: ``(prior, reason_code)``.

    ``("learned", "enough_experiments")`` from :data:`MIN_EXPERIMENTS` finished experiments
    sharing a primary-metric kind, ``("weak", "too_few_experiments")`` below.
    """
    if experiments >= MIN_EXPERIMENTS:
        return "learned", "enough_experiments"
    return "weak", "too_few_experiments"
