"""The grids the fit runs on: the marginal likelihoods as matrix products, and mu's grid.

The log marginals of every experiment under every (mu, column) on one BLAS thread, the
columns of the coarse and fine passes, and the adaptive grid of ``mu`` (:class:`MuGrid`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyses.core.programme.families import Family
from analyses.core.programme.inputs import COARSE_STRIDE, LOG_2PI, PER_OCTAVE, PRUNE, ROWS

# --------------------------------------------------------------------------- the fit


def one_blas_thread():
    """A context in which BLAS runs on one thread.

    The fit is many mid-sized matrix products; on two cores shared with other processes a
    two-thread OpenBLAS took 30 ms for a product that one thread does in 0.7 ms (measured).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def log_marginals(y: np.ndarray, var: np.ndarray, mu: np.ndarray, mixing: np.ndarray) -> np.ndarray:
    """``log p(y_i | mu_m, column)`` for every mu, experiment and column (mu x exp x columns).

    The normal densities of each experiment under each scale, scaled by their largest so
    nothing underflows, times the columns' mixing weights: one matrix product for a block of
    mu values at a time (:data:`ROWS` rows, which bounds the memory).
    """
    n, k = var.shape
    out = np.empty((mu.size, n, mixing.shape[0]))
    block = max(1, ROWS // n)
    for start in range(0, mu.size, block):
        part = mu[start : start + block]
        log_a = (
            -0.5 * (np.log(var) + LOG_2PI)[None]
            - 0.5 * (y[None, :, None] - part[:, None, None]) ** 2 / var[None]
        )
        top = log_a.max(axis=2, keepdims=True)
        with one_blas_thread():
            prod = (np.exp(log_a - top).reshape(-1, k) @ mixing.T).reshape(part.size, n, -1)
        with np.errstate(divide="ignore"):
            out[start : start + part.size] = np.log(prod) + top
    return out


def log_posterior(y, var, fam, cols, mu):
    """Log posterior of every (mu node, column) on a grid of ``mu`` (flat prior)."""
    return log_marginals(y, var, mu, fam.mixing[cols]).sum(axis=1) + fam.log_prior[cols][None]


def _node(values: np.ndarray, scales: np.ndarray) -> np.ndarray:
    return np.rint(np.log2(values / scales[0]) * PER_OCTAVE).astype(int)


def coarse_columns(fam: Family, scales: np.ndarray) -> np.ndarray:
    """The columns of the coarse passes: every :data:`COARSE_STRIDE`-th scale node."""
    keep = np.ones(fam.log_prior.size, bool)
    for name, values in fam.params.items():
        if name.startswith("tau"):
            keep &= _node(values, scales) % COARSE_STRIDE == 0
    return np.flatnonzero(keep)


def fine_columns(fam: Family, scales: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Every column within one coarse step of the coarse columns that hold the posterior."""
    keep = np.ones(fam.log_prior.size, bool)
    for name, values in fam.params.items():
        if name.startswith("tau"):
            node = _node(values, scales)
            low, high = node[kept].min() - COARSE_STRIDE, node[kept].max() + COARSE_STRIDE
            keep &= (node >= low) & (node <= high)
        else:
            keep &= np.isin(values, values[kept])
    return np.flatnonzero(keep)


@dataclass(frozen=True)
class MuGrid:
    """A grid of ``mu`` dense where its posterior's bulk is and sparse in its tails.

    ``mu = centre + bulk * sinh(u)`` for ``u`` evenly spaced between the ends: spacing about
    ``bulk * du`` near the centre, growing like the distance from it.
    """

    centre: float
    bulk: float
    lo: float
    hi: float

    def nodes(self, points: int) -> tuple[np.ndarray, np.ndarray]:
        """The nodes and each one's cell width (its trapezoid weight)."""
        ends = np.arcsinh((np.array([self.lo, self.hi]) - self.centre) / self.bulk)
        u = np.linspace(ends[0], ends[1], points)
        cell = self.bulk * np.cosh(u) * (u[1] - u[0]) * _trapezoid(points)
        return self.centre + self.bulk * np.sinh(u), cell

    def refined(self, mu: np.ndarray, density: np.ndarray) -> tuple[MuGrid, bool]:
        """The grid for the next pass from this one's posterior density of mu at its nodes.

        Spans where the density exceeds :data:`PRUNE` of its peak (one node wider), widened
        by its width at an end that still holds mass; centred at the posterior median with a
        bulk of half the central 68% interval. Also whether it is settled.
        """
        keep = np.flatnonzero(density > PRUNE * density.max())
        width = self.hi - self.lo
        at_lo, at_hi = keep[0] == 0, keep[-1] == mu.size - 1
        lo = self.lo - width if at_lo else float(mu[keep[0] - 1])
        hi = self.hi + width if at_hi else float(mu[keep[-1] + 1])
        _, cell = self.nodes(mu.size)
        cum = np.cumsum(density * cell)
        cum /= cum[-1]
        q16, centre, q84 = np.interp([0.16, 0.5, 0.84], cum, mu)
        bulk = max(float(q84 - q16) / 2, 1e-9 * max(abs(centre), 1.0))
        settled = not (at_lo or at_hi) and 0.5 < bulk / self.bulk < 2
        return MuGrid(float(centre), bulk, lo, hi), settled


def _trapezoid(points: int) -> np.ndarray:
    weights = np.ones(points)
    weights[[0, -1]] = 0.5
    return weights
