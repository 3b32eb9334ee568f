"""Mixtures of normals over ``log(1 + lift)``, and reading an experiment with a prior.

The :class:`Mixture` type (a prior or a posterior of a lift), the conjugate update of
each component, draws and summaries, and one experiment's programme posterior from its
estimate (the normal path) or from its own draws, reweighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyses.core.base import CI_PROB, SEED
from analyses.core.programme.inputs import DRAWS, LOG_2PI, from_draws


@dataclass(frozen=True)
class Mixture:
    """A mixture of normals over ``z = log(1 + lift)``: a prior or a posterior of a lift.

    ``weights`` sum to one along their last axis; a set of mixtures sharing their components
    (one per experiment) has ``weights`` of shape (experiments, components).
    """

    weights: np.ndarray
    means: np.ndarray
    sds: np.ndarray

    def log_pdf(self, z: np.ndarray) -> np.ndarray:
        """Log density at ``z`` (on the log scale) of a single mixture."""
        z = np.asarray(z, dtype=float)
        keep = self.weights > 0
        log_w = np.log(self.weights[keep]) - np.log(self.sds[keep]) - 0.5 * LOG_2PI
        m, sd = self.means[keep], self.sds[keep]
        flat = z.ravel()
        out = np.empty(flat.size)
        for start in range(0, flat.size, 4096):
            terms = log_w - 0.5 * ((flat[start : start + 4096, None] - m) / sd) ** 2
            top = terms.max(axis=1)
            out[start : start + 4096] = top + np.log(np.exp(terms - top[:, None]).sum(axis=1))
        return out.reshape(z.shape)

    def cdf(self, z: np.ndarray) -> np.ndarray:
        """Distribution function at ``z`` (on the log scale) of a single mixture."""
        from scipy.special import ndtr

        z = np.asarray(z, dtype=float)
        flat = z.ravel()
        out = np.empty(flat.size)
        for start in range(0, flat.size, 1024):
            part = flat[start : start + 1024, None]
            out[start : start + 1024] = ndtr((part - self.means) / self.sds) @ self.weights
        return out.reshape(z.shape)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of ``z`` of a single mixture (bisection on its distribution)."""
        lo = float(np.min(self.means - 40 * self.sds))
        hi = float(np.max(self.means + 40 * self.sds))
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self.cdf(np.array([mid]))[0] < q else (lo, mid)
        return 0.5 * (lo + hi)

    def lift_hdi(self, prob: float = CI_PROB) -> list[float]:
        """The HDI of the lift ``exp(z) - 1`` of a single mixture, without draws.

        The shortest interval of the lift holding ``prob``: each candidate lower end's upper
        end read off the distribution function on a grid between the 1e-6 and 1 - 1e-6
        quantiles, then both ends refined on fine grids around the best candidate (as
        ``analyses.core.pooling.mixture_summary`` does on its own scale).
        """
        lo, hi = self.quantile(1e-6), self.quantile(1 - 1e-6)
        z = np.linspace(lo, hi, 2001)
        cdf = self.cdf(z)
        upper = np.interp(cdf + prob, cdf, z)
        widths = np.where(cdf + prob <= cdf[-1], np.expm1(upper) - np.expm1(z), np.inf)
        i = int(np.argmin(widths))
        step = z[1] - z[0]
        low = np.linspace(z[max(i - 2, 0)], z[min(i + 2, z.size - 1)], 401)
        high = np.linspace(upper[i] - 3 * step, upper[i] + 3 * step, 601)
        f_low, f_high = self.cdf(low), self.cdf(high)
        ends = np.interp(np.clip(f_low + prob, f_high[0], f_high[-1]), f_high, high)
        k = int(np.argmin(np.expm1(ends) - np.expm1(low)))
        return [float(np.expm1(low[k])), float(np.expm1(ends[k]))]

    def log_pdf_lift(self, lift: np.ndarray) -> np.ndarray:
        """Log density of the relative lift itself: ``log f(log(1 + lift)) - log(1 + lift)``."""
        z = np.log1p(np.asarray(lift, dtype=float))
        return self.log_pdf(z) - z

    def to_dict(self) -> dict[str, list[float]]:
        """The components as lists (weights, means and sds on ``log(1 + lift)``)."""
        return {
            "weights": [float(v) for v in self.weights],
            "means": [float(v) for v in self.means],
            "sds": [float(v) for v in self.sds],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[float]]) -> Mixture:
        """The mixture :meth:`to_dict` wrote."""
        return cls(
            np.asarray(data["weights"], dtype=float),
            np.asarray(data["means"], dtype=float),
            np.asarray(data["sds"], dtype=float),
        )


# --------------------------------------------------------------------------- posteriors


def update(prior: Mixture, y: np.ndarray, s: np.ndarray) -> Mixture:
    """Each experiment's posterior: its prior (a mixture) times its normal likelihood.

    ``prior.weights`` is (experiments x components), or one row all the experiments share;
    each component is updated as a normal prior would be, and reweighted by how well it
    predicted the estimate. Where every estimate has the same standard error (``s`` of
    length one), the posterior's sds are one row: the same numbers, computed once.
    """
    w = np.atleast_2d(prior.weights)
    y, s = np.atleast_1d(y)[:, None], np.atleast_1d(s)[:, None]
    var = prior.sds[None, :] ** 2
    total = var + s**2
    with np.errstate(divide="ignore"):
        log_w = np.log(w) - 0.5 * np.log(total) - 0.5 * (y - prior.means) ** 2 / total
    log_w -= log_w.max(axis=1, keepdims=True)
    post_w = np.exp(log_w)
    post_w /= post_w.sum(axis=1, keepdims=True)
    pull = var / total
    return Mixture(post_w, prior.means + pull * (y - prior.means), np.sqrt(pull * s**2))


def draw_mixture(mix: Mixture, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of ``z`` from each row's mixture (draws x rows), in no particular order.

    Each component gets its share of the draws by systematic sampling (the counts differ
    from ``draws * weight`` by less than one), so only the normal draws within components
    carry Monte Carlo error.
    """
    w = np.atleast_2d(mix.weights)
    cum = np.cumsum(w, axis=1)
    edges = np.floor(cum / cum[:, -1:] * draws + rng.random((w.shape[0], 1)))
    edges[:, -1] = draws
    counts = np.diff(edges, axis=1, prepend=0.0).astype(np.int64).ravel()
    drawn = np.flatnonzero(counts)
    index = np.repeat(drawn, counts[drawn])
    means, sds = (
        v[index % w.shape[1]] if v.ndim == 1 else np.broadcast_to(v, w.shape).ravel()[index]
        for v in (mix.means, mix.sds)
    )
    z = means + sds * rng.standard_normal(index.size)
    return z.reshape(w.shape[0], draws).T


def summarise(
    post: Mixture,
    direction: np.ndarray,
    prob: float = CI_PROB,
    draws: int = DRAWS,
    seed: int = SEED,
) -> dict[str, np.ndarray]:
    """Mean, HDI and probability of being better of the lift, for each row's mixture.

    The mean of ``exp(z) - 1`` and ``P(direction * z > 0)`` are exact sums over the
    components; the HDI of the lift comes from ``draws`` draws per row (none with 0).
    """
    from analyses.core.stats import hdi_columns

    w = np.atleast_2d(post.weights)
    mean = np.sum(w * np.exp(post.means + 0.5 * post.sds**2), axis=1) - 1
    out = {"mean": mean, "prob_better": chance_better(post, direction)}
    if draws:
        z = draw_mixture(Mixture(w, post.means, post.sds), draws, np.random.default_rng(seed))
        out["hdi"] = hdi_columns(np.expm1(z), prob)
    return out


def chance_better(post: Mixture, direction: np.ndarray) -> np.ndarray:
    """``P(direction * z > 0)`` of each row's mixture: an exact sum over its components.

    The components' means and sds broadcast against the weights (a posterior's sds are one
    row where every row had the same standard error: :func:`update`).
    """
    from scipy.special import ndtr

    w = np.atleast_2d(post.weights)
    d = np.asarray(direction, dtype=float)[:, None]
    safe = np.where(post.sds > 0, post.sds, 1.0)
    return np.sum(
        w * np.where(post.sds > 0, ndtr(d * post.means / safe), d * post.means > 0), axis=1
    )


def posterior(
    prior: Mixture, y: float, s: float, direction: float = 1.0, prob: float = CI_PROB
) -> dict[str, Any]:
    """One experiment's programme posterior from its estimate and SE (the normal path).

    ``prior`` is the learned prior (:meth:`Programme.prior`, or a bundle's components read
    by :meth:`Mixture.from_dict`); ``y`` and ``s`` on the log scale. Exact: the mean and the
    probability are sums over the posterior's components, the HDI from its distribution.
    """
    post = update(Mixture(np.atleast_2d(prior.weights), prior.means, prior.sds), y, s)
    one = Mixture(post.weights[0], post.means[0], post.sds[0])
    out = summarise(post, np.array([direction]), prob, draws=0)
    return {
        "mean": float(out["mean"][0]),
        "hdi": one.lift_hdi(prob),
        "prob_better": float(out["prob_better"][0]),
        "method": "normal",
    }


def posterior_from_draws(
    prior: Mixture,
    lift_draws: np.ndarray,
    direction: float = 1.0,
    prob: float = CI_PROB,
    log_weak_prior: np.ndarray | None = None,
) -> dict[str, Any]:
    """One experiment's programme posterior from its own posterior draws, reweighted.

    The draws come from the experiment alone, under a weak prior; weighting each by the
    learned prior's density over the weak prior's (taken as flat in ``log(1 + lift)``
    unless ``log_weak_prior`` gives its log density at each draw) turns them into draws of
    the programme posterior, skew and all. The weights are Pareto-smoothed; when their
    k-hat is above ``analyses.core.importance.k_limit`` (the learned prior's mass in a tail of the
    experiment's own posterior) the normal path (:func:`posterior`) is used instead, and
    ``method`` says which; ``ess`` is the reweighted draws' effective number.
    """
    from analyses.core import importance

    lift = np.asarray(lift_draws, dtype=float).ravel()
    z = np.log1p(lift)
    log_ratio = prior.log_pdf(z)
    if log_weak_prior is not None:
        log_ratio = log_ratio - np.asarray(log_weak_prior, dtype=float).ravel()
    log_w, k = importance.psis(log_ratio)
    if not k <= importance.k_limit(lift.size):
        y, s = from_draws(lift)
        return {**posterior(prior, y, s, direction, prob), "pareto_k": float(k)}
    w = np.exp(log_w)
    return {
        "mean": float(np.sum(w * lift)),
        "hdi": weighted_hdi(lift, w, prob),
        "prob_better": float(np.sum(w[direction * lift > 0])),
        "method": "reweighted_draws",
        "pareto_k": float(k),
        "ess": float(1 / np.sum(w**2)),
    }


def weighted_hdi(values: np.ndarray, weights: np.ndarray, prob: float = CI_PROB) -> list[float]:
    """The shortest interval of weighted draws holding ``prob`` of their weight."""
    order = np.argsort(values)
    x, w = values[order], weights[order] / weights.sum()
    cum = np.concatenate([[0.0], np.cumsum(w)])
    ends = np.searchsorted(cum, cum[:-1] + prob - 1e-12)
    valid = ends <= x.size
    widths = np.where(valid, x[np.minimum(ends, x.size) - 1] - x, np.inf)
    i = int(np.argmin(widths))
    return [float(x[i]), float(x[min(ends[i], x.size) - 1])]
