"""Quantile metrics (``kind = "quantile"``): an arm's q-th quantile of its units' values.

Each unit contributes one value (e.g. a user's mean page load over the metric's window), so
events clustered within units are aggregated before the quantile is taken: the units are
what is resampled, and the interval accounts for the clustering.

The engine returns, per arm, a histogram of the units' values on a logarithmic grid
(:func:`readout.queries.histogram_expression`; :func:`histogram` here is the same binning in
numpy): per bin the units counted and the sum of their values. A bin's values lie within
0.2% of each other (``HISTOGRAM_ACCURACY``), so the quantile read as the mean of its bin is
within 0.2% of the exact one.

The posterior of an arm's quantile is the Bayesian bootstrap over its units (Rubin 1981):
Dirichlet(1, ..., 1) weights over the units, which summed within bins are Dirichlet weights
with the bins' counts, ``w_b = G_b / sum G``, ``G_b ~ Gamma(n_b)``; each draw's quantile is
the weighted quantile of the bins. Bins far below and above the quantile (more than
``TAIL_SDS`` standard deviations of the quantile's level) are merged, which leaves every draw
the same unless the draw lands beyond them (a chance below 1e-15). The traditional numbers are
GrowthBook's (gbstats' ``QuantileStatistic`` and two-sided Welch t-test on the relative
difference), from the same histogram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analyses.ab_test.results import BootstrapPrior, Test
from analyses.core import stats
from analyses.core.inputs import HISTOGRAM_ACCURACY

#: Bins further than this many standard deviations of the quantile's level from it are merged.
TAIL_SDS = 8.0
#: Draws per block of the Bayesian bootstrap (bounds the memory to a few MB).
BLOCK = 2_000
#: The normal quantile of gbstats' 95% (its ``quantile_lower`` and ``quantile_upper``).
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Bins:
    """One arm's histogram of units' values: each bin's mean value (ascending) and units."""

    value: np.ndarray
    n: np.ndarray

    @property
    def units(self) -> int:
        """The units counted in the arm."""
        return int(self.n.sum())


def histogram(values: np.ndarray, accuracy: float = HISTOGRAM_ACCURACY) -> Bins:
    """The engine's binning of ``values`` in numpy (the reference the SQL is tested against)."""
    v = np.asarray(values, dtype=float)
    step = np.log((1 + accuracy) / (1 - accuracy))
    sign = np.sign(v).astype(int)
    size = np.where(v == 0, 1.0, np.abs(v))
    k = np.ceil(np.log(size) / step).astype(np.int64)
    keys, inverse, counts = np.unique(
        np.stack([sign, k], axis=1), axis=0, return_inverse=True, return_counts=True
    )
    totals = np.bincount(inverse.ravel(), weights=v, minlength=len(keys))
    return _sorted(totals / counts, counts)


def _sorted(value: np.ndarray, n: np.ndarray) -> Bins:
    order = np.argsort(value, kind="stable")
    return Bins(value=np.asarray(value, float)[order], n=np.asarray(n, float)[order])


def histograms_of(frame: dict[str, np.ndarray] | None) -> dict[str, dict[str, Bins]]:
    """The engine's histogram rows (metric, arm, sign, k, n, total) as bins per metric and arm."""
    if frame is None or not len(frame.get("n", ())):
        return {}
    metric = frame["metric"].astype(str)
    arm = frame["arm"].astype(str)
    n = frame["n"].astype(float)
    total = frame["total"].astype(float)
    out: dict[str, dict[str, Bins]] = {}
    for name in dict.fromkeys(metric):
        for a in dict.fromkeys(arm[metric == name]):
            rows = (metric == name) & (arm == a)
            out.setdefault(name, {})[a] = _sorted(total[rows] / n[rows], n[rows])
    return out


def sample_quantile(bins: Bins, q: float) -> float:
    """The q-th quantile of the units' values, as the mean of its bin.

    The smallest value with at least ``q`` of the units at or below it (numpy's
    ``inverted_cdf``).
    """
    cum = np.cumsum(bins.n)
    return float(bins.value[int(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12)))])


def _near(bins: Bins, q: float) -> Bins:
    """The bins with the tails merged (:data:`TAIL_SDS`): the draws' quantiles are the same."""
    n = bins.units
    sd = np.sqrt(q * (1 - q) / n)
    cum = np.cumsum(bins.n) / n
    lo = int(np.searchsorted(cum, q - TAIL_SDS * sd))
    hi = int(np.searchsorted(cum, q + TAIL_SDS * sd)) + 1
    if lo <= 0 and hi >= len(bins.n):
        return bins
    lo, hi = max(lo, 0), min(hi, len(bins.n))
    # Everything below bin lo is one bin (whose value is never drawn unless the quantile falls
    # there), and everything from hi on.
    value = list(bins.value[lo:hi])
    count = list(bins.n[lo:hi])
    if lo > 0:
        value.insert(0, bins.value[lo - 1])
        count.insert(0, bins.n[:lo].sum())
    if hi < len(bins.n):
        value.append(bins.value[hi])
        count.append(bins.n[hi:].sum())
    return Bins(value=np.array(value), n=np.array(count))


def quantile_draws(bins: Bins, q: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Posterior draws of the arm's quantile: the Bayesian bootstrap over its units."""
    near = _near(bins, q)
    out = np.empty(size)
    for start in range(0, size, BLOCK):
        m = min(BLOCK, size - start)
        weights = rng.standard_gamma(near.n, size=(m, near.n.size))
        cum = np.cumsum(weights, axis=1)
        index = (cum < q * cum[:, -1:]).sum(axis=1)
        out[start : start + m] = near.value[np.minimum(index, near.n.size - 1)]
    return out


# --------------------------------------------------------------------------- traditional


def statistic(bins: Bins, q: float) -> dict[str, float]:
    """One arm's numbers as gbstats' ``QuantileStatistic`` takes them.

    n, the quantile and its 95% order-statistic bounds: the quantiles at
    ``q -/+ 1.96 sqrt(q (1 - q) / n)``, whose spread gives the variance (:func:`variance`).
    """
    n = bins.units
    half = Z95 * np.sqrt(q * (1 - q) / n)
    lower = sample_quantile(bins, max(q - half, 1e-12))
    upper = sample_quantile(bins, min(q + half, 1.0))
    return {
        "n": float(n),
        "n_star": float(n),
        "nu": q,
        "quantile_hat": sample_quantile(bins, q),
        "quantile_lower": lower,
        "quantile_upper": upper,
    }


def variance(s: dict[str, float]) -> float:
    """The variance of gbstats' ``QuantileStatistic``: the per-unit variance of the quantile."""
    n = s["n"]
    if n <= 1:
        return 0.0
    spread = (s["quantile_upper"] - s["quantile_lower"]) / (2 * Z95)
    init = (s["n_star"] / n) * (n - 1) * spread**2
    return float(init if n < 100 else max(init, 1e-5))


def relative_test(a: dict[str, float], b: dict[str, float]) -> dict[str, Any]:
    """GrowthBook's (gbstats') two-sided Welch t-test of the relative difference.

    The variance is the delta method's, ``var_b / (q_a^2 n_b) + var_a q_b^2 / (q_a^4 n_a)``,
    the degrees of freedom Welch-Satterthwaite's on the two arms' variances of the quantile.
    Where the control's quantile is 0 (a count most units do not reach) no relative
    difference is defined, and the test is of the absolute difference ``q_b - q_a``
    (``scale`` says which).
    """
    qa, qb = a["quantile_hat"], b["quantile_hat"]
    va, vb = variance(a), variance(b)
    na, nb = a["n"], b["n"]
    if qa != 0:
        estimate = (qb - qa) / qa
        var = vb / (qa**2 * nb) + va * qb**2 / (qa**4 * na)
        scale, name = "relative", "Welch t-test of the relative difference"
    else:
        estimate, var = qb - qa, vb / nb + va / na
        scale, name = "absolute", "Welch t-test of the difference"
    if var <= 0 or min(na, nb) < 2:
        return {
            "test": name,
            "statistic": 0.0 if estimate == 0 else None,
            "p_value": 1.0 if estimate == 0 else 0.0,
            "estimate": float(estimate),
            "ci": [float(estimate), float(estimate)],
            "ci_prob": 0.95,
            "scale": scale,
        }
    dof = (vb / nb + va / na) ** 2 / (vb**2 / (nb**2 * (nb - 1)) + va**2 / (na**2 * (na - 1)))
    t = estimate / np.sqrt(var)
    half = stats.t_quantile(0.975, dof) * np.sqrt(var)
    return {
        "test": name,
        "statistic": float(t),
        "p_value": float(2 * stats.t_cdf(-abs(t), dof)),
        "estimate": float(estimate),
        "ci": [float(estimate - half), float(estimate + half)],
        "ci_prob": 0.95,
        "scale": scale,
    }


# --------------------------------------------------------------------------- one metric


def summarise(
    metric,
    bins: dict[str, Bins],
    q: float,
    arms: list[str],
    size: int,
    prob: float,
    rope: float | None,
    rng: np.random.Generator,
):
    """Arms, comparisons with the control and the traditional tests of a quantile metric.

    Returns a :class:`~analyses.ab_test.metrics.Summarised` and the draws per arm.
    """
    from analyses.ab_test import metrics

    draws = {arm: {"value": quantile_draws(bins[arm], q, size, rng)} for arm in arms}
    best = metrics.prob_best(metric, draws, arms) if len(arms) > 2 else None
    seen = {arm: statistic(bins[arm], q) for arm in arms}
    arm_rows = metrics.summarise_arms(
        draws,
        arms,
        {arm: bins[arm].units for arm in arms},
        {arm: seen[arm]["quantile_hat"] for arm in arms},
        prob,
        best,
    )
    control = arms[0]
    comparisons = [
        metrics.compare(
            metric,
            draws,
            control,
            arm,
            prob,
            rope,
            seen[control]["quantile_hat"],
            Test(**relative_test(seen[control], seen[arm])),
        )
        for arm in arms[1:]
    ]
    summary = metrics.Summarised(
        arms=arm_rows,
        comparisons=comparisons,
        prior=BootstrapPrior(kind="bootstrap"),
        prior_influence=None,
    )
    return summary, draws


def percentile_suffix(kind: str | None, quantile: float | None) -> str:
    """A quantile metric's percentile after its label (", p90"); nothing for other kinds.

    Two metrics on one measure (its mean and its p90) read apart in a chart or a list.
    """
    if kind != "quantile" or quantile is None:
        return ""
    return f", p{round(100 * quantile, 4):g}"
