"""The fit of the population of past experiments' lifts, and what the fitted model gives.

:func:`fit`: coarse passes over the grids, then the fine pass, widened while a
leave-one-out posterior is cut off; :class:`Programme`: the hyperparameters' posterior
on its grid, every experiment's prior given the others, the learned prior and the
posteriors.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyses.core.base import CI_PROB, SEED
from analyses.core.programme.families import Family, family, scale_grid
from analyses.core.programme.grid import (
    MuGrid,
    coarse_columns,
    fine_columns,
    log_marginals,
    log_posterior,
    one_blas_thread,
)
from analyses.core.programme.inputs import (
    DRAWS,
    EDGE,
    FAMILY,
    MU_COARSE,
    MU_POINTS,
    NEGLIGIBLE,
    PRUNE,
    check_estimates,
)
from analyses.core.programme.mixture import Mixture, summarise, update


@dataclass
class Programme:
    """The fitted programme model: the hyperparameters' posterior on its grid and more.

    ``node_mu`` and ``node_col`` index the kept (mu node, family column) pairs; ``mass`` is
    their posterior mass; ``mu_cell`` each mu node's cell width; ``log_marg`` (finished
    experiments x nodes) each finished experiment's log marginal likelihood at each node,
    from which its leave-one-out weights come.
    """

    family: Family
    y: np.ndarray
    s: np.ndarray
    finished: np.ndarray
    scales: np.ndarray
    mu: np.ndarray
    mu_cell: np.ndarray
    node_mu: np.ndarray
    node_col: np.ndarray
    mass: np.ndarray
    log_marg: np.ndarray
    prior_scale: float

    @property
    def experiments(self) -> int:
        """How many experiments the prior was learned from (the finished ones)."""
        return int(self.finished.sum())

    # ----------------------------------------------------------------- priors

    def _component_weights(self, node_weights: np.ndarray) -> np.ndarray:
        """Weights over the (mu node, scale) components from weights over the nodes.

        ``node_weights`` is (rows x nodes); returns (rows x mu nodes * scales).
        """
        rows = node_weights.shape[0]
        out = np.zeros((rows, self.mu.size, self.scales.size))
        with one_blas_thread():
            for m in np.unique(self.node_mu):
                here = self.node_mu == m
                out[:, m, :] = node_weights[:, here] @ self.family.mixing[self.node_col[here]]
        return out.reshape(rows, -1)

    def _components(self) -> tuple[np.ndarray, np.ndarray]:
        """Means and sds of the (mu node, scale) components.

        Each node of mu stands for its cell of the grid: its component's variance gains the
        cell's (a twelfth of its width squared), so that components narrower than the grid's
        step do not make a comb of the density.
        """
        means = np.repeat(self.mu, self.scales.size)
        var = self.scales[None, :] ** 2 + (self.mu_cell[:, None] ** 2 / 12)
        return means, np.sqrt(var).ravel()

    def loo_weights(self) -> np.ndarray:
        """Each finished experiment's leave-one-out weights over the nodes (rows sum to 1).

        ``p(node | others) ∝ p(node | all) / p(y_i | node)``: exact on the grid.
        """
        from scipy.special import logsumexp

        lw = np.log(self.mass)[None, :] - self.log_marg
        return np.exp(lw - logsumexp(lw, axis=1, keepdims=True))

    @functools.cached_property
    def _priors(self) -> Mixture:
        node_w = np.tile(self.mass, (self.y.size, 1))
        node_w[self.finished] = self.loo_weights()
        means, sds = self._components()
        weights = self._component_weights(node_w)
        used = weights.max(axis=0) > NEGLIGIBLE**2
        return Mixture(weights[:, used], means[used], sds[used])

    def priors(self) -> Mixture:
        """Every experiment's prior: learned from the others (finished) or from all finished.

        A set of mixtures sharing their components: ``weights`` is (experiments x components).
        Computed once per fit.
        """
        return self._priors

    def prior_of(self, i: int) -> Mixture:
        """Experiment ``i``'s prior, learned from the others: to reweight its own draws with.

        For a running experiment, the prior learned from all the finished ones.
        """
        node_w = self.mass
        if self.finished[i]:
            row = int(np.sum(self.finished[:i]))
            node_w = self.loo_weights()[row]
        weights = self._component_weights(node_w[None, :])[0]
        means, sds = self._components()
        keep = weights > 0
        return Mixture(weights[keep], means[keep], sds[keep])

    def prior(self, exact: bool = False) -> Mixture:
        """The learned prior: the posterior predictive of a new experiment's true lift.

        A mixture over the scales, each component's location and spread averaged over the
        posterior of mu by its first two moments (what a bundle stores; it reads an
        experiment as the exact prior does, to well within the HDI's Monte Carlo error), or
        with ``exact``, one component per (mu node, scale).
        """
        weights = self._component_weights(self.mass[None, :])[0]
        if exact:
            means, sds = self._components()
            keep = weights > 0
            return Mixture(weights[keep], means[keep], sds[keep])
        c = weights.reshape(self.mu.size, self.scales.size)  # mu nodes x scales
        w = c.sum(axis=0)
        keep = w > NEGLIGIBLE * w.sum()
        c, w = c[:, keep], w[keep]
        mean = self.mu @ c / w
        spread = ((self.mu[:, None] - mean) ** 2 + self.mu_cell[:, None] ** 2 / 12) * c
        sds = np.sqrt(self.scales[keep] ** 2 + spread.sum(axis=0) / w)
        return Mixture(w / w.sum(), mean, sds)

    # ----------------------------------------------------------------- summaries

    def hyperparameters(self) -> dict[str, Any]:
        """Posterior summaries of the population's location, scale and shape."""
        w = self.mass
        mu = self.mu[self.node_mu]
        out: dict[str, Any] = {"location": float(np.sum(w * mu))}
        params = {k: v[self.node_col] for k, v in self.family.params.items()}
        if "tau" in params:
            out["scale"] = float(np.sum(w * params["tau"]))
        if "df" in params:
            out["df"] = _weighted_median(params["df"], w)
            out["prob_normal"] = float(np.sum(w[np.isinf(params["df"])]))
        for name in ("tau_narrow", "tau_wide", "share_wide"):
            if name in params:
                out[name] = float(np.sum(w * params[name]))
        if "tau_narrow" in params:
            out["scale"] = out["tau_narrow"]
        return out

    def learned_prior(self, prob: float = CI_PROB) -> dict[str, Any]:
        """The bundle's ``programme_prior``.

        ``family``, ``location`` (lift scale), ``scale`` (log-lift units, close to lift units
        for small lifts), ``df`` where it applies (the posterior median; ``None`` for a
        normal), ``experiments``, ``predictive`` (a new experiment's true lift: median, HDI and
        the chance it is above zero; no mean: a fat-tailed ``log(1 + lift)`` has none of the
        lift) and ``components``: the predictive density as a mixture
        of normals over ``log(1 + lift)`` (:meth:`Mixture.to_dict`), what a readout needs to
        evaluate it (:meth:`Mixture.log_pdf_lift`).
        """
        hyper = self.hyperparameters()
        learned = self.prior()
        df = hyper.get("df")
        return {
            "family": self.family.name,
            "location": float(np.expm1(hyper["location"])),
            "scale": hyper["scale"],
            "df": None if df is None or np.isinf(df) else df,
            "experiments": self.experiments,
            **{k: hyper[k] for k in ("tau_wide", "share_wide") if k in hyper},
            "predictive": {
                "median": float(np.expm1(learned.quantile(0.5))),
                "hdi": learned.lift_hdi(prob),
                "prob_positive": float(1 - learned.cdf(np.zeros(1))[0]),
            },
            "components": learned.to_dict(),
        }

    def posteriors(
        self,
        direction: float | np.ndarray = 1.0,
        prob: float = CI_PROB,
        draws: int = DRAWS,
        seed: int = SEED,
    ) -> dict[str, np.ndarray]:
        """Every experiment's programme posterior of its lift, given the other experiments.

        Returns ``mean`` (of the lift), ``hdi`` (experiments x 2), ``prob_better`` (the lift
        on the good side of zero, ``direction`` -1 where lower is better) and ``shrinkage``
        (how far the mean moved from the estimate toward the population, 0 to 1, on the log
        scale).
        """
        post = update(self.priors(), self.y, self.s)
        out = summarise(post, np.broadcast_to(direction, self.y.shape), prob, draws, seed)
        z_mean = np.sum(post.weights * post.means, axis=1)
        centre = self.hyperparameters()["location"]
        with np.errstate(divide="ignore", invalid="ignore"):
            pull = np.where(self.y != centre, (self.y - z_mean) / (self.y - centre), 0.0)
        out["shrinkage"] = np.clip(pull, 0.0, 1.0)
        return out


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])


def fit(
    y: Sequence[float],
    s: Sequence[float],
    finished: Sequence[bool] | None = None,
    family_name: str = FAMILY,
    df: float | None = None,
    prior_scale: float | None = None,
) -> Programme:
    """Fit the programme model to the experiments' estimates on the log scale.

    Parameters
    ----------
    y, s
        Each experiment's estimate of ``log(1 + lift)`` and its standard error
        (:func:`from_lift`, :func:`from_draws`).
    finished
        Which experiments teach the prior (default: all). The others are read with it.
    family_name
        ``student_t`` (default), ``normal`` or ``two_normal``.
    df
        ``student_t``: fix the degrees of freedom (default: learned on :data:`DF_GRID`).
    prior_scale
        The half-normal prior's scale for the population's scales (default: the finished
        estimates' standard deviation, at least their median SE).

    Returns
    -------
    Programme
        The hyperparameters' posterior on its grid, with what every summary needs.
    """
    y, s = np.asarray(y, dtype=float), np.asarray(s, dtype=float)
    check_estimates(y, s, "estimate")
    finished = np.ones(y.size, bool) if finished is None else np.asarray(finished, dtype=bool)
    if finished.shape != y.shape or not finished.any():
        raise ValueError("finished must flag each experiment, at least one of them true")
    yf, sf = y[finished], s[finished]
    scales = scale_grid(yf, sf)
    if prior_scale is None:
        spread = float(np.std(yf, ddof=1)) if yf.size > 1 else 0.0
        prior_scale = max(spread, float(np.median(sf)))
    fam = family(family_name, scales, prior_scale, df)
    var = sf[:, None] ** 2 + scales[None, :] ** 2
    cols = coarse_columns(fam, scales)
    grid = MuGrid(
        float(np.median(yf)),
        float(np.median(sf)) / np.sqrt(yf.size),
        float(yf.min() - sf.max()),
        float(yf.max() + sf.max()),
    )
    for _ in range(12):  # coarse passes: widened to hold mu's posterior, centred on its bulk
        mu, _ = grid.nodes(MU_COARSE)
        logpost = log_posterior(yf, var, fam, cols, mu)
        mass = np.exp(logpost - logpost.max())
        grid, settled = grid.refined(mu, mass.sum(axis=1))
        if settled:
            break
    cols = fine_columns(fam, scales, cols[mass.sum(axis=0) > PRUNE * mass.sum(axis=0).max()])
    for _ in range(4):  # the fine pass, widened while a leave-one-out posterior is cut off
        programme = _fine_pass(y, s, finished, scales, fam, cols, prior_scale, grid)
        if yf.size < 2:
            break
        loo = programme.loo_weights()
        at_lo = loo[:, programme.node_mu == 0].sum(axis=1).max() > EDGE
        at_hi = loo[:, programme.node_mu == MU_POINTS - 1].sum(axis=1).max() > EDGE
        if not (at_lo or at_hi):
            break
        width = grid.hi - grid.lo
        grid = MuGrid(grid.centre, grid.bulk, grid.lo - width * at_lo, grid.hi + width * at_hi)
    return programme


def _fine_pass(y, s, finished, scales, fam, cols, prior_scale, grid: MuGrid) -> Programme:
    """The posterior on the fine grid of mu, its negligible nodes dropped."""
    yf, sf = y[finished], s[finished]
    var = sf[:, None] ** 2 + scales[None, :] ** 2
    mu, cell = grid.nodes(MU_POINTS)
    log_marg = log_marginals(yf, var, mu, fam.mixing[cols])  # mu x experiments x columns
    logpost = log_marg.sum(axis=1) + fam.log_prior[cols][None]
    dens = np.exp(logpost - logpost.max()) * cell[:, None]
    dens /= dens.sum()
    order = np.argsort(dens, axis=None)[::-1]
    cum = np.cumsum(dens.ravel()[order])
    kept = np.sort(order[: int(np.searchsorted(cum, 1 - NEGLIGIBLE)) + 1])
    node_mu, node_c = np.unravel_index(kept, dens.shape)
    weight = dens.ravel()[kept]
    return Programme(
        fam,
        y,
        s,
        finished,
        scales,
        mu,
        cell,
        node_mu,
        cols[node_c],
        weight / weight.sum(),
        log_marg[node_mu, :, node_c].T,
        prior_scale,
    )
