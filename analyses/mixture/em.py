"""Maximum-likelihood fits of a normal mixture by EM from several starts.

A mixture's likelihood has several local maxima: started from the data's quantiles, EM (and
NUTS) settles next to the first cluster it meets and can miss a small component far from
the rest. Started also from k-means++ seeds (each next centre drawn with probability
proportional to its squared distance from the centres so far), some start lands in every
cluster. The distinct maxima found say where the posterior's modes are
(:mod:`analyses.mixture` refines them into Laplace approximations), and the best one's
log-likelihood is the maximised likelihood that AIC compares.

Plain NumPy on standardised values; for many rows the starts run on a random subset and
only the best distinct maxima are refined on every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Starts per component count: the data's quantiles, then k-means++ seeds.
STARTS = 10
#: EM steps at most per start, and the rise in the log-likelihood per row that ends them.
MAX_STEPS = 500
TOLERANCE = 1e-8
#: Above this many rows the starts run on this many rows drawn at random.
START_ROWS = 5000
#: Distinct maxima kept (best first), and how far below the best (log-likelihood) they may lie.
KEEP = 5
WINDOW = 20.0
#: Smallest spread and weight a component may reach (standardised units), so that EM does
#: not collapse a component onto a single value.
SD_FLOOR = 1e-3
WEIGHT_FLOOR = 1e-6


@dataclass(frozen=True)
class Solution:
    """One maximum of the likelihood: its value and the components, in increasing mean."""

    log_lik: float
    weight: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray


def _log_parts(z, weight, mu, sigma) -> tuple[np.ndarray, np.ndarray]:
    """Each component's log(weight N(z | mu, sigma)) without the 2 pi, and each row's total.

    Components first (k x rows): NumPy reduces over a short last axis slowly.
    """
    parts = (z[None, :] - mu[:, None]) / sigma[:, None]
    parts *= parts
    parts *= -0.5
    parts += (np.log(weight) - np.log(sigma))[:, None]
    top = np.maximum.reduce(parts)
    return parts, top + np.log(np.add.reduce(np.exp(parts - top)))


def log_lik(z: np.ndarray, weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """The mixture's log-likelihood of ``z`` (normalised, so AIC can compare counts)."""
    return float(_log_parts(z, weight, mu, sigma)[1].sum() - 0.5 * z.size * np.log(2 * np.pi))


def _run(
    z: np.ndarray, weight: np.ndarray, mu: np.ndarray, sigma: np.ndarray, steps: int
) -> Solution:
    """EM from a start until the log-likelihood stops rising (or ``steps`` steps)."""
    previous = -np.inf
    for _ in range(steps):
        parts, total = _log_parts(z, weight, mu, sigma)
        value = float(total.sum())
        resp = np.exp(parts - total)
        mass = resp.sum(axis=1) + 1e-300
        weight = np.maximum(mass / z.size, WEIGHT_FLOOR)
        weight /= weight.sum()
        mu = resp @ z / mass
        spread = resp @ (z * z) / mass - mu * mu
        sigma = np.maximum(np.sqrt(np.maximum(spread, 0.0)), SD_FLOOR)
        if value - previous < TOLERANCE * z.size:
            break
        previous = value
    order = np.argsort(mu)
    weight, mu, sigma = weight[order], mu[order], sigma[order]
    return Solution(log_lik(z, weight, mu, sigma), weight, mu, sigma)


def _starts(z: np.ndarray, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Starting means: the quantiles, then k-means++ seeds."""
    out = [np.quantile(z, (np.arange(k) + 0.5) / k)]
    for _ in range(STARTS - 1):
        centres = [rng.choice(z)]
        for _ in range(k - 1):
            gap = np.min((z[:, None] - np.array(centres)) ** 2, axis=1)
            if gap.sum() <= 0:
                break
            centres.append(rng.choice(z, p=gap / gap.sum()))
        if len(centres) == k:
            out.append(np.sort(np.array(centres)))
    return out


def _distinct(solutions: list[Solution]) -> list[Solution]:
    """The solutions that differ, best first, within :data:`WINDOW` of the best."""
    out: list[Solution] = []
    best = max(s.log_lik for s in solutions)
    for s in sorted(solutions, key=lambda s: -s.log_lik):
        if s.log_lik < best - WINDOW:
            break
        same = any(
            np.allclose(np.r_[s.weight, s.mu, s.sigma], np.r_[o.weight, o.mu, o.sigma], atol=1e-3)
            for o in out
        )
        if not same:
            out.append(s)
        if len(out) == KEEP:
            break
    return out


def fit(z: np.ndarray, k: int, rng: np.random.Generator) -> list[Solution]:
    """The distinct maxima of the ``k``-component likelihood of ``z`` found, best first.

    ``z`` is standardised. With more than :data:`START_ROWS` rows, EM runs from every start
    on that many rows drawn at random, and the distinct maxima found are then refined on
    every row.
    """
    z = np.asarray(z, dtype=float)
    if k == 1:
        one, mu, sd = np.ones(1), np.array([z.mean()]), np.array([max(z.std(), SD_FLOOR)])
        return [Solution(log_lik(z, one, mu, sd), one, mu, sd)]
    part = z if z.size <= START_ROWS else rng.choice(z, START_ROWS, replace=False)
    spread = max(float(part.std()) / k, SD_FLOOR)
    found = [
        _run(part, np.full(k, 1.0 / k), mu, np.full(k, spread), MAX_STEPS)
        for mu in _starts(part, k, rng)
    ]
    found = _distinct(found)
    if part is not z:
        found = _distinct([_run(z, s.weight, s.mu, s.sigma, MAX_STEPS) for s in found])
    return found
