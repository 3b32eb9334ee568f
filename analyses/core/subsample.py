"""A log-likelihood over many rows estimated from a few of them, with its standard error.

Importance sampling evaluates the log-likelihood at every proposal: 16,000 proposals of a
200,000-row mixture are 3.2 billion row evaluations per component. The difference
estimator of Quiroz, Kohn, Villani and Tran (2019, "Speeding up MCMC by efficient data
subsampling") needs a few hundred rows per proposal instead:

    sum_i l_i(theta) = sum_i q_i(theta) + sum_i (l_i(theta) - q_i(theta))

where ``q_i`` is row ``i``'s second-order Taylor expansion around a centre (a posterior
mode). The first sum is exact at every ``theta`` from the rows' summed value, gradient and
Hessian at the centre (one pass over the data); the second is small near the centre and is
estimated from a stratified sample: the rows sorted by a key (for one-dimensional data the
value itself, along which the remainder varies smoothly) and cut into strata, half of
them of equal counts and half of equal widths of the key (so that sparse stretches, where
the remainder changes fastest, are not lumped together), two rows drawn at random from
each stratum and every row of a stratum of one. The standard error is that of stratified
random sampling. With several centres (several modes), each point uses the nearest (in its
mode's own metric).

"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analyses.core import importance

#: ``row_log_lik(points, rows)``: the log-likelihood of the given rows (an index array) at
#: each point, shape (points, rows).
RowLogLik = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: Rows per pass when summing the expansions over every row, and points x rows per block
#: when estimating (both bound the memory).
BLOCK = 10_000
CELLS = 2_000_000


@dataclass(frozen=True)
class Expansion:
    """The rows' second-order expansion around one centre.

    ``total``, ``gradient`` and ``hessian`` are summed over every row; ``value``,
    ``row_gradient`` (rows x d) and ``row_hessian`` (rows x d(d+1)/2, the upper triangle
    with off-diagonal terms doubled) are those of the sampled rows alone. ``precision``
    measures distance from the centre.
    """

    centre: np.ndarray
    precision: np.ndarray
    total: float
    gradient: np.ndarray
    hessian: np.ndarray
    value: np.ndarray
    row_gradient: np.ndarray
    row_hessian: np.ndarray


def _metric(hessian: np.ndarray) -> np.ndarray:
    """The negative Hessian where it is positive definite (a mode's metric), else identity."""
    try:
        np.linalg.cholesky(-hessian)
    except np.linalg.LinAlgError:
        return np.eye(hessian.shape[0])
    return -hessian


def _pairs(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The upper triangle's indices and factors: 1 on the diagonal, 2 off it."""
    i, j = np.triu_indices(d)
    return i, j, np.where(i == j, 1.0, 2.0)


@dataclass(frozen=True)
class Subsampled:
    """The difference estimator of ``sum_i l_i(theta)`` over ``n`` rows.

    ``rows`` holds two rows from each stratum of two or more rows (pairs adjacent; ``sizes``
    those strata's numbers of rows), then the rows of strata of one, counted exactly.
    """

    row_log_lik: RowLogLik
    n: int
    rows: np.ndarray
    sizes: np.ndarray
    expansions: tuple[Expansion, ...]

    @classmethod
    def around(
        cls,
        row_log_lik: RowLogLik,
        key: np.ndarray,
        centres: list[np.ndarray],
        m: int,
        rng: np.random.Generator,
    ) -> Subsampled:
        """Expansions around each centre, and about ``m`` rows in strata of ``key``.

        ``m / 4`` strata of equal counts and ``m / 4`` of equal widths (their edges merged),
        two rows from each; with ``m`` at least the number of rows, every row. One pass
        over every row per centre, by finite differences
        (:func:`analyses.core.importance.derivatives`); the sums are exactly those of the rows'
        own expansions, so the estimator is unbiased whatever the step's rounding.
        """
        n = key.size
        order = np.argsort(key, kind="stable")
        if m >= n:
            edges = np.arange(n + 1)  # strata of one: every row read
        else:
            ranked, strata = key[order], max(1, m // 4)
            by_count = np.linspace(0, n, strata + 1).round().astype(int)
            by_width = np.linspace(ranked[0], ranked[-1], strata + 1)[1:-1]
            edges = np.unique(np.r_[by_count, np.searchsorted(ranked, by_width)])
        sizes = np.diff(edges)
        pairs = [
            edges[h] + rng.choice(sizes[h], 2, replace=False) for h in np.flatnonzero(sizes > 1)
        ]
        singles = edges[:-1][sizes == 1]
        rows = order[np.concatenate([*pairs, singles]).astype(int)]
        sizes = sizes[sizes > 1]
        expansions = []
        for centre in centres:
            d = centre.size
            i, j, factor = _pairs(d)
            total, gradient, hessian = 0.0, np.zeros(d), np.zeros((d, d))
            for start in range(0, n, BLOCK):
                block = np.arange(start, min(start + BLOCK, n))
                g, h = importance.derivatives(lambda p, b=block: row_log_lik(p, b), centre)
                total += float(row_log_lik(centre[None, :], block).sum())
                gradient += g.sum(axis=1)
                hessian += h.sum(axis=2)
            g, h = importance.derivatives(lambda p: row_log_lik(p, rows), centre)
            expansions.append(
                Expansion(
                    centre=centre,
                    precision=_metric(hessian),
                    total=total,
                    gradient=gradient,
                    hessian=hessian,
                    value=row_log_lik(centre[None, :], rows)[0],
                    row_gradient=g.T,
                    row_hessian=(h[i, j] * factor[:, None]).T,
                )
            )
        return cls(row_log_lik, n, rows, sizes, tuple(expansions))

    def nearest(self, theta: np.ndarray) -> np.ndarray:
        """Which expansion each point uses: its centre's, by that centre's own metric."""
        if len(self.expansions) == 1:
            return np.zeros(theta.shape[0], dtype=int)
        distance = [
            np.einsum("pi,ij,pj->p", theta - e.centre, e.precision, theta - e.centre)
            for e in self.expansions
        ]
        return np.argmin(np.array(distance), axis=0)

    def estimate(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The estimated log-likelihood at each point and its standard error.

        Points are taken a block at a time, so that memory stays bounded.
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        values, se = np.empty(theta.shape[0]), np.empty(theta.shape[0])
        size = max(1, CELLS // self.rows.size)
        for start in range(0, theta.shape[0], size):
            part = slice(start, start + size)
            values[part], se[part] = self._estimate(theta[part])
        return values, se

    def _estimate(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values, se = np.empty(theta.shape[0]), np.empty(theta.shape[0])
        exact = self.row_log_lik(theta, self.rows)
        nearest = self.nearest(theta)
        for index, e in enumerate(self.expansions):
            at = nearest == index
            if not at.any():
                continue
            step = theta[at] - e.centre
            i, j, _ = _pairs(step.shape[1])
            quadratic = 0.5 * (step[:, i] * step[:, j]) @ e.row_hessian.T
            residual = exact[at] - (e.value + step @ e.row_gradient.T + quadratic)
            paired = 2 * self.sizes.size
            pairs = residual[:, :paired].reshape(residual.shape[0], -1, 2)
            whole = e.total + step @ e.gradient
            whole += 0.5 * np.einsum("pi,ij,pj->p", step, e.hessian, step)
            whole += residual[:, paired:].sum(axis=1)
            values[at] = whole + pairs.mean(axis=2) @ self.sizes
            # Within a stratum of N rows, two drawn: variance N^2 (1 - 2/N) s^2 / 2, with
            # s^2 = (a - b)^2 / 2 the pair's sample variance.
            spread = (pairs[:, :, 0] - pairs[:, :, 1]) ** 2 / 4
            se[at] = np.sqrt(spread @ (self.sizes**2 * (1 - 2 / self.sizes)))
        return values, se

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        """The estimate alone: usable wherever a log-likelihood is."""
        return self.estimate(theta)[0]
