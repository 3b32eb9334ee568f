"""PSIS-LOO cross-validation and the comparison of models by it, in NumPy.

The numbers ArviZ's ``loo`` and ``compare`` give (the tests compare them), computed for every
observation at once: ArviZ smooths each observation's importance ratios in its own Python
call, which for the mixture's 1,000 observations and three models took longer than
sampling one of them.

For many observations, :func:`loo_subsample` computes PSIS-LOO for a random subset only and
extends it to all by the difference estimator of Magnusson, Andersen, Jonasson and Vehtari
(2019, "Bayesian leave-one-out cross-validation for large data"), as ArviZ's
``loo_subsample`` does: every observation's cheap approximation (its log-likelihood at the
posterior means) summed, plus the subset's mean correction scaled up, with the standard
error the subsampling adds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyses.core import importance, stats

#: Observations smoothed per block (bounds the memory of the Pareto fits).
BLOCK = 2000
#: Pareto k-hat above which an observation's LOO estimate is flagged, as ArviZ flags it.
LOO_K_MAX = 0.7


@dataclass(frozen=True)
class Loo:
    """Pointwise ELPD, Pareto k and effective parameters of one model, and its k limit.

    Subsampled (:func:`loo_subsample`): the pointwise values are those of the observations
    ``rows``, and ``approx`` holds every observation's approximation.
    """

    elpd_i: np.ndarray
    pareto_k: np.ndarray
    p_loo_i: np.ndarray
    good_k: float
    approx: np.ndarray | None = None
    rows: np.ndarray | None = None

    @property
    def n(self) -> int:
        """How many observations the ELPD is over."""
        return self.elpd_i.size if self.approx is None else self.approx.size

    @property
    def elpd(self) -> float:
        """Expected log pointwise predictive density, summed over observations."""
        if self.approx is None:
            return float(self.elpd_i.sum())
        return difference_estimate(self.elpd_i, self.approx[self.rows], self.approx)[0]

    @property
    def se(self) -> float:
        """Its standard error (of the observations' spread, as without subsampling)."""
        if self.approx is None:
            n = self.elpd_i.size
            return float(np.sqrt(n * np.var(self.elpd_i, ddof=1))) if n > 1 else 0.0
        return difference_estimate(self.elpd_i, self.approx[self.rows], self.approx)[2]

    @property
    def subsampling_se(self) -> float:
        """The standard error subsampling adds to :attr:`elpd` (0 without subsampling)."""
        if self.approx is None:
            return 0.0
        return difference_estimate(self.elpd_i, self.approx[self.rows], self.approx)[1]

    @property
    def p_loo(self) -> float:
        """Effective number of parameters (scaled up from the subset when subsampled)."""
        return float(self.p_loo_i.sum() if self.approx is None else self.n * self.p_loo_i.mean())


def difference_estimate(
    sample: np.ndarray, approx_sample: np.ndarray, approx: np.ndarray
) -> tuple[float, float, float]:
    """A sum over every observation from a random subset's values and everyone's approximation.

    ``sample`` holds the values of a simple random sample (without replacement) of the
    observations, ``approx_sample`` their approximations and ``approx`` every
    observation's. Returns the estimated sum, the standard error subsampling adds, and
    the estimated ``sqrt(n var)`` of the values (the usual ELPD standard error): the
    formulas of ArviZ's ``loo_subsample`` (Magnusson et al. 2019).
    """
    n, m = approx.size, sample.size
    diff = sample - approx_sample
    approx_sum = float(approx.sum())
    scaled_diff = n * float(diff.mean())
    estimate = approx_sum + scaled_diff
    if m < 2:
        return estimate, np.inf, np.inf
    subsampling_var = n**2 * max(0.0, 1 - m / n) * float(np.var(diff, ddof=1)) / m
    total_var = (
        float(np.sum(approx**2))
        + n * float(np.mean(sample**2 - approx_sample**2))
        - (scaled_diff**2 - subsampling_var + 2 * approx_sum * estimate - approx_sum**2) / n
    )
    return estimate, float(np.sqrt(subsampling_var)), float(np.sqrt(max(0.0, total_var)))


def relative_efficiency(posterior: dict[str, np.ndarray]) -> float:
    """Mean ESS (for the mean) over every scalar of the posterior, per draw; 1 for one chain.

    ``posterior`` maps names to arrays whose first two axes are chain and draw.
    """
    first = next(iter(posterior.values()))
    if first.shape[0] == 1:
        return 1.0
    esses = []
    for values in posterior.values():
        columns = values.reshape(values.shape[0], values.shape[1], -1)
        esses += [stats.ess_mean(columns[:, :, i]) for i in range(columns.shape[2])]
    return float(np.mean(esses)) / (first.shape[0] * first.shape[1])


def loo(log_lik: np.ndarray | Iterable[np.ndarray], r_eff: float = 1.0) -> Loo:
    """PSIS-LOO of pointwise log-likelihoods (draws x observations).

    ``log_lik`` is one such array, or several that split the observations (so that all of
    them never need to be in memory at once).
    """
    blocks = [log_lik] if isinstance(log_lik, np.ndarray) else log_lik
    elpd, k, p_loo, n_draws = [], [], [], 0
    for block in blocks:
        n_draws = block.shape[0]
        for start in range(0, block.shape[1], BLOCK):
            ll = block[:, start : start + BLOCK].T
            log_weights, pareto_k = importance.psis(-ll, r_eff)
            elpd_i = importance.logsumexp(log_weights + ll)[:, 0]
            lppd_i = importance.logsumexp(ll)[:, 0] - np.log(n_draws)
            elpd.append(elpd_i)
            k.append(pareto_k)
            p_loo.append(lppd_i - elpd_i)
    good_k = importance.k_limit(n_draws, LOO_K_MAX)
    return Loo(np.concatenate(elpd), np.concatenate(k), np.concatenate(p_loo), good_k)


def loo_subsample(
    log_lik: np.ndarray, approx: np.ndarray, rows: np.ndarray, r_eff: float = 1.0
) -> Loo:
    """PSIS-LOO of the observations ``rows`` (a simple random sample), for all of them.

    ``log_lik`` is the pointwise log-likelihood of those observations (draws x rows);
    ``approx`` every observation's approximation of its ELPD (e.g. its log-likelihood at
    the posterior means, ArviZ's ``plpd``).
    """
    found = loo(log_lik, r_eff)
    return Loo(found.elpd_i, found.pareto_k, found.p_loo_i, found.good_k, approx, rows)


def stacking_weights(models: list[Loo]) -> np.ndarray:
    """Stacking weights: those that maximise the LOO log score of the weighted models.

    Yao, Vehtari, Simpson and Gelman (2018); found as ArviZ finds them.
    """
    from scipy.optimize import Bounds, LinearConstraint, minimize

    dens = np.exp(np.column_stack([m.elpd_i for m in models]))
    count = dens.shape[1]
    found = minimize(
        fun=lambda w: -np.sum(np.log(dens @ w)),
        x0=np.full(count, 1.0 / count),
        jac=lambda w: -np.sum(dens / (dens @ w)[:, None], axis=0),
        bounds=Bounds(lb=np.zeros(count), ub=np.ones(count)),
        constraints=LinearConstraint(np.ones(count), lb=1.0, ub=1.0),
    )
    return found["x"]


def compare(models: dict[Any, Loo]) -> list[dict[str, Any]]:
    """The models by ELPD, best first, as ArviZ's ``compare`` lists them.

    Each with its difference from the best (negative), that difference's standard error,
    its stacking weight and ArviZ's diagnostic notes. Subsampled models (all on the same
    observations) compare by the difference estimator, and each row also has
    ``subsampling_dse``, the standard error subsampling adds to the difference.
    """
    names = sorted(models, key=lambda name: models[name].elpd, reverse=True)
    ordered = [models[name] for name in names]
    weights = stacking_weights(ordered)
    best = ordered[0]
    rows = []
    for name, model, weight in zip(names, ordered, weights, strict=True):
        extra = {}
        if model is best:
            elpd_diff = dse = 0.0
            extra = {"subsampling_dse": 0.0} if model.approx is not None else {}
        elif model.approx is not None:
            elpd_diff, sub_dse, dse = difference_estimate(
                model.elpd_i - best.elpd_i,
                model.approx[model.rows] - best.approx[best.rows],
                model.approx - best.approx,
            )
            extra = {"subsampling_dse": sub_dse}
        else:
            diff = model.elpd_i - best.elpd_i
            diff = diff[np.isfinite(diff)]
            elpd_diff = float(np.sum(diff))
            dse = float(np.sqrt(diff.size * np.var(diff)))
        notes = []
        exceed = int(np.sum(model.pareto_k > model.good_k))
        if exceed:
            notes.append(f"{exceed} k̂ > {model.good_k:.2f}")
        if elpd_diff != 0:
            if model.n < 100:
                notes.append("N < 100")
            elif abs(elpd_diff) < 4:
                notes.append("|elpd_diff| < 4")
        rows.append(
            {
                "name": name,
                "elpd": model.elpd,
                "se": model.se,
                "elpd_diff": elpd_diff,
                "dse": dse,
                **extra,
                "p_loo": model.p_loo,
                "weight": float(weight),
                "diagnostics": notes,
            }
        )
    return rows
