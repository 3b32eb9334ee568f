"""PSIS-LOO cross-validation and the comparison of models by it, in NumPy.

The numbers ArviZ's ``loo`` and ``compare`` give (the tests compare them), computed for every
observation at once: ArviZ smooths each observation's importance ratios in its own Python
call, which for the mixture's 1,000 observations and three models took longer than
sampling one of them.
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
    """Pointwise ELPD, Pareto k and effective parameters of one model, and its k limit."""

    elpd_i: np.ndarray
    pareto_k: np.ndarray
    p_loo_i: np.ndarray
    good_k: float

    @property
    def elpd(self) -> float:
        """Expected log pointwise predictive density, summed over observations."""
        return float(self.elpd_i.sum())

    @property
    def se(self) -> float:
        """Its standard error."""
        n = self.elpd_i.size
        return float(np.sqrt(n * np.var(self.elpd_i, ddof=1))) if n > 1 else 0.0


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
    from scipy.special import logsumexp

    blocks = [log_lik] if isinstance(log_lik, np.ndarray) else log_lik
    elpd, k, p_loo, n_draws = [], [], [], 0
    for block in blocks:
        n_draws = block.shape[0]
        for start in range(0, block.shape[1], BLOCK):
            ll = block[:, start : start + BLOCK].T
            log_weights, pareto_k = importance.psis(-ll, r_eff)
            elpd_i = logsumexp(log_weights + ll, axis=1)
            lppd_i = logsumexp(ll, axis=1) - np.log(n_draws)
            elpd.append(elpd_i)
            k.append(pareto_k)
            p_loo.append(lppd_i - elpd_i)
    good_k = importance.k_limit(n_draws, LOO_K_MAX)
    return Loo(np.concatenate(elpd), np.concatenate(k), np.concatenate(p_loo), good_k)


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
    its stacking weight and ArviZ's diagnostic notes.
    """
    names = sorted(models, key=lambda name: models[name].elpd, reverse=True)
    ordered = [models[name] for name in names]
    weights = stacking_weights(ordered)
    best = ordered[0]
    rows = []
    for name, model, weight in zip(names, ordered, weights, strict=True):
        diff = model.elpd_i - best.elpd_i
        diff = diff[np.isfinite(diff)]
        elpd_diff = float(np.sum(diff)) if model is not best else 0.0
        dse = float(np.sqrt(diff.size * np.var(diff))) if model is not best else 0.0
        notes = []
        exceed = int(np.sum(model.pareto_k > model.good_k))
        if exceed:
            notes.append(f"{exceed} k̂ > {model.good_k:.2f}")
        if elpd_diff != 0:
            if model.elpd_i.size < 100:
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
                "p_loo": float(model.p_loo_i.sum()),
                "weight": float(weight),
                "diagnostics": notes,
            }
        )
    return rows
