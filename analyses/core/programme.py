"""The programme: a prior learned from past experiments, and the winner's curse corrected.

One hierarchical model over the primary-metric lifts of a programme's experiments::

    z_i   = log(1 + lift_i)                        the true lift, on the log scale
    y_i  ~ Normal(z_i, s_i)                         each experiment's estimate and its SE
    z_i  ~ mu + sigma_i * e_i,  e_i ~ Normal(0, 1)  a scale mixture of normals around mu:
        student_t     sigma_i^2 = tau^2 * lambda_i, lambda_i ~ InvGamma(nu / 2, nu / 2)
        normal        sigma_i = tau
        two_normal    sigma_i = tau_narrow or, with probability ``share``, tau_wide
    mu flat; tau (and each of tau_narrow < tau_wide) ~ HalfNormal(the finished estimates' sd,
    at least their median SE); nu uniform on DF_GRID (1 to 50 and infinity: the normal);
    share uniform.

**The log scale.** An experiment's relative lift is a ratio of two means; its posterior is
skewed (bounded below by -100%, long to the right), and the log of the ratio is the quantity
whose estimate is close to normal (a difference of two logs). Estimates and SEs come in as
``y = log(1 + lift)`` and ``s = se / (1 + lift)`` (:func:`from_lift`) or as the mean and sd of
``log(1 + draws)`` (:func:`from_draws`); every summary goes back to the lift scale (means of
``exp(z) - 1``, HDIs of the lift itself).

**Exact on grids.** Every family is a mixture of normals around ``mu`` whose scales live on
one fixed geometric grid of :data:`PER_OCTAVE` scales per octave (``sigma_k``), so an
experiment's marginal likelihood given the hyperparameters is a sum of normal densities,
``p(y_i | mu, theta) = sum_k pi_k(theta) Normal(y_i | mu, s_i^2 + sigma_k^2)``: the true lift
is integrated out exactly, and for every value of ``mu`` the marginals of all experiments
under all values of the other hyperparameters are one matrix product. The Student-t's mixing
law is binned onto the grid (its density agrees with the t's within 2.5% out to eight scales
for nu from 1 to 10); ``tau`` sits on the grid's nodes. ``mu`` is on an adaptive grid dense in
its posterior's bulk and sparse in its tails (:class:`MuGrid`), found by coarse passes as in
``analyses.pooling``. The hyperparameters' posterior is exact to the grids' resolution: no
Monte Carlo error in it, no sampler to diagnose.

**What comes out.** Given the hyperparameters an experiment's true lift is a mixture of
normals (the conjugate update of each component), so every experiment's programme posterior
is a mixture over (mu node, scale node): means and probabilities are exact sums; the HDIs of
all experiments at once come from draws of the mixtures (:data:`DRAWS`, seeded), a single
experiment's (:func:`posterior`) from its distribution function. An experiment of the fit is
summarised "given the others": its prior is the posterior predictive of the fit without it,
reached by reweighting the grid's nodes by ``1 / p(y_i | node)`` (exact on the grid, no
refit), and its likelihood is its own. Running experiments (``finished`` false) do not teach
the prior; they are read with the prior learned from the finished ones. Where an experiment's
own posterior draws exist (from its weak prior), :func:`posterior_from_draws` reweights them
by the learned prior's density, with a Pareto-k check, and falls back to the normal path.

**The family, measured** (``bench/programme.py families``; docs/programme.md has the tables):
on simulated programmes (true lifts from a t with 3 df, two normals, a spike and a slab,
skewed wins and a plain normal; 10 to 500 experiments; SEs 0.5% to 3%) the Student-t with a
learned df erred as little as any family (0.3 to 0.5 of the alone estimates' squared error),
predicted the estimates better than the normal on every fat-tailed truth and covered the
largest lifts better; the two-normal mixture matched its error at 5 to 20 times the cost.
:data:`FAMILY` is the Student-t. No symmetric family keeps the largest true lifts inside their
HDIs 94% of the time (60 to 80%): the price of shrinkage, highest where big wins are all
positive.

**Small programmes**: :data:`MIN_EXPERIMENTS` finished experiments share a primary-metric
kind before the learned prior is used (:func:`prior_choice`). The learned prior never hurt the
error or the coverage on average, even with 3 experiments; from 10 the winners' average is
within 0.3 points of their true average in every simulated truth (0.2 to 0.9 points above it
with 3 to 5), and the leave-one-out check has something to say.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyses.core.base import CI_PROB, SEED

#: Scales per octave of the fixed grid of component scales (ratio 2^(1/8), about 9%).
PER_OCTAVE = 8
#: Degrees of freedom the Student-t family may take (uniform prior); infinity is the normal.
DF_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0, np.inf)
#: The family used unless asked otherwise (chosen by measuring: see the module's docstring).
FAMILY = "student_t"
FAMILIES = ("student_t", "normal", "two_normal")
#: Shares of the wide component the two-normal family may take (uniform prior).
SHARE_GRID = tuple(np.round(np.arange(0.05, 1.0, 0.1), 2))
#: Points of the coarse passes and of the fine pass of the adaptive grid of ``mu``.
MU_COARSE, MU_POINTS = 24, 32
#: The coarse passes use every this-many-th scale node for the scales a family learns.
COARSE_STRIDE = 4
#: Rows (experiments x mu values) per matrix product.
ROWS = 8192
#: The grid of ``mu`` spans where the posterior exceeds this share of its peak.
PRUNE = 1e-12
#: Hyperparameter nodes are kept until all but this share of the posterior mass is held.
NEGLIGIBLE = 1e-10
#: The grid of mu is widened while a leave-one-out posterior has more mass than this at an end.
EDGE = 1e-6
#: Draws per experiment behind an HDI (the means and probabilities are exact).
DRAWS = 4000
#: Below this many finished experiments sharing a primary-metric kind the weak prior stays.
MIN_EXPERIMENTS = 10
LOG_2PI = float(np.log(2 * np.pi))


# --------------------------------------------------------------------------- inputs


def from_lift(lift: Sequence[float], se: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and SEs of relative lifts, on the log scale the model works on.

    ``y = log(1 + lift)`` and, by the delta method, ``s = se / (1 + lift)``.

    Parameters
    ----------
    lift, se
        Each experiment's estimated relative lift (0.02 for +2%) and its standard error.

    Returns
    -------
    tuple of numpy.ndarray
        ``(y, s)``.
    """
    lift, se = np.asarray(lift, dtype=float), np.asarray(se, dtype=float)
    _check(lift, se, "lift")
    if np.any(lift <= -1):
        raise ValueError("a relative lift must be above -1 (-100%): log(1 + lift) is modelled")
    return np.log1p(lift), se / (1 + lift)


def from_draws(lift_draws: np.ndarray) -> tuple[float, float]:
    """An experiment's estimate and SE on the log scale from its posterior draws of the lift.

    The mean and standard deviation of ``log(1 + lift)``: under a weak prior, the normal
    approximation of the likelihood where it is closest to normal.
    """
    z = np.log1p(np.asarray(lift_draws, dtype=float).ravel())
    return float(z.mean()), float(z.std(ddof=1))


def _check(y: np.ndarray, s: np.ndarray, name: str) -> None:
    if y.shape != s.shape or y.ndim != 1 or y.size == 0:
        raise ValueError(f"{name} and se must be two 1-D arrays of the same, non-zero length")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(s)) and np.all(s > 0)):
        raise ValueError(f"every {name} must be finite and every se finite and above 0")


# --------------------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    """One family's hyperparameter values other than ``mu``, as columns of the grid.

    ``mixing`` (columns x scales) is each column's population distribution as weights over
    the grid of scales; ``log_prior`` its prior mass (log); ``params`` its parameters by name.
    """

    name: str
    mixing: np.ndarray
    log_prior: np.ndarray
    params: dict[str, np.ndarray]


def scale_grid(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The component scales: from a sixteenth of the smallest SE to 16 times the spread.

    Narrower components are indistinguishable from a point mass by any of the estimates,
    wider ones from a flat density over them; mass beyond the ends is put on the end nodes.
    """
    low = float(s.min()) / 16
    spread = max(float(np.max(np.abs(y - np.median(y)))), float(s.max()))
    octaves = np.log2(16 * spread / low)
    return low * 2.0 ** (np.arange(int(np.ceil(octaves * PER_OCTAVE)) + 1) / PER_OCTAVE)


def _tau_nodes(scales: np.ndarray, prior_scale: float, stride: int = 1) -> np.ndarray:
    """The scale nodes ``tau`` may take: up to six prior scales (the half-normal's tail)."""
    allowed = np.flatnonzero(scales <= 6 * prior_scale)
    if allowed.size < 2:
        allowed = np.arange(min(2, scales.size))
    return allowed[::stride]


def _log_half_normal_on_log(tau: np.ndarray, scale: float) -> np.ndarray:
    """Log prior mass of a half-normal on a grid uniform in ``log tau`` (Jacobian ``tau``)."""
    return np.log(tau) - 0.5 * (tau / scale) ** 2


def _t_offsets(df: float, n: int) -> np.ndarray:
    """Mass of a t's mixing law on scale offsets ``-(n-1) .. n-1`` nodes from ``tau``.

    ``lambda ~ InvGamma(df/2, df/2)`` binned by ``log sqrt(lambda)`` into cells one node
    wide; the end cells hold the tails. Each cell's mass is a difference of regularised
    incomplete gamma functions, taken on the side where it does not cancel.
    """
    from scipy.special import gammainc, gammaincc

    a = df / 2
    h = np.log(2.0) / PER_OCTAVE
    d = np.arange(-(n - 1), n)
    lo, hi = np.exp((2 * d - 1) * h), np.exp((2 * d + 1) * h)
    mass = np.where(
        d > 0,
        gammainc(a, a / lo) - gammainc(a, a / hi),
        gammaincc(a, a / hi) - gammaincc(a, a / lo),
    )
    mass[0] += gammaincc(a, a / lo[0])
    mass[-1] += gammainc(a, a / hi[-1])
    return mass


def _shifted(offsets: np.ndarray, nodes: np.ndarray, n: int) -> np.ndarray:
    """Rows of a mixing law centred on each node, tails beyond the grid put on its ends."""
    k = np.arange(n)
    index = k[None, :] - nodes[:, None] + (n - 1)
    rows = offsets[index]
    cum = np.concatenate([[0.0], np.cumsum(offsets)])
    rows[:, 0] += cum[index[:, 0]]
    rows[:, -1] += cum[-1] - cum[index[:, -1] + 1]
    return rows


def _student_t(scales: np.ndarray, prior_scale: float, df: float | None) -> Family:
    """Columns (tau, df): the t's mixing law binned onto the scales, centred on tau's node."""
    n, taus = scales.size, _tau_nodes(scales, prior_scale)
    dfs = DF_GRID if df is None else (float(df),)
    blocks = []
    for value in dfs:
        if np.isinf(value):
            blocks.append(np.eye(n)[taus])
        else:
            blocks.append(_shifted(_t_offsets(value, n), taus, n))
    tau = np.tile(scales[taus], len(dfs))
    return Family(
        "student_t",
        np.vstack(blocks),
        _log_half_normal_on_log(tau, prior_scale) - np.log(len(dfs)),
        {"tau": tau, "df": np.repeat(np.asarray(dfs, dtype=float), taus.size)},
    )


def _normal(scales: np.ndarray, prior_scale: float, df: float | None) -> Family:
    """Columns (tau): all the mass on tau's node."""
    taus = _tau_nodes(scales, prior_scale)
    tau = scales[taus]
    return Family(
        "normal", np.eye(scales.size)[taus], _log_half_normal_on_log(tau, prior_scale), {"tau": tau}
    )


def _two_normal(scales: np.ndarray, prior_scale: float, df: float | None) -> Family:
    """Columns (tau_narrow < tau_wide, share_wide), every other node for each scale."""
    taus = _tau_nodes(scales, prior_scale, stride=2)
    narrow, wide = np.triu_indices(taus.size, k=1)
    shares = np.asarray(SHARE_GRID)
    j1 = np.repeat(taus[narrow], shares.size)
    j2 = np.repeat(taus[wide], shares.size)
    share = np.tile(shares, narrow.size)
    mixing = np.zeros((j1.size, scales.size))
    rows = np.arange(j1.size)
    mixing[rows, j1] = 1 - share
    mixing[rows, j2] = share
    log_prior = _log_half_normal_on_log(scales[j1], prior_scale)
    log_prior += _log_half_normal_on_log(scales[j2], prior_scale)
    params = {"tau_narrow": scales[j1], "tau_wide": scales[j2], "share_wide": share}
    return Family("two_normal", mixing, log_prior, params)


_BUILDERS = {"student_t": _student_t, "normal": _normal, "two_normal": _two_normal}


def family(name: str, scales: np.ndarray, prior_scale: float, df: float | None = None) -> Family:
    """The hyperparameter columns of a family on a grid of scales.

    Parameters
    ----------
    name
        ``student_t``, ``normal`` or ``two_normal``.
    scales
        The component scales (:func:`scale_grid`).
    prior_scale
        The half-normal prior's scale for ``tau`` (and each of the two-normal's scales).
    df
        ``student_t`` only: fix the degrees of freedom instead of learning them.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown family {name!r}: one of {', '.join(FAMILIES)}")
    return _BUILDERS[name](scales, prior_scale, df)


# --------------------------------------------------------------------------- the fit


def _one_blas_thread():
    """A context in which BLAS runs on one thread.

    The fit is many mid-sized matrix products; on two cores shared with other processes a
    two-thread OpenBLAS took 30 ms for a product that one thread does in 0.7 ms (measured).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _log_marginals(
    y: np.ndarray, var: np.ndarray, mu: np.ndarray, mixing: np.ndarray
) -> np.ndarray:
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
        with _one_blas_thread():
            prod = (np.exp(log_a - top).reshape(-1, k) @ mixing.T).reshape(part.size, n, -1)
        with np.errstate(divide="ignore"):
            out[start : start + part.size] = np.log(prod) + top
    return out


def _log_posterior(y, var, fam, cols, mu):
    """Log posterior of every (mu node, column) on a grid of ``mu`` (flat prior)."""
    return _log_marginals(y, var, mu, fam.mixing[cols]).sum(axis=1) + fam.log_prior[cols][None]


def _node(values: np.ndarray, scales: np.ndarray) -> np.ndarray:
    return np.rint(np.log2(values / scales[0]) * PER_OCTAVE).astype(int)


def _coarse_columns(fam: Family, scales: np.ndarray) -> np.ndarray:
    """The columns of the coarse passes: every :data:`COARSE_STRIDE`-th scale node."""
    keep = np.ones(fam.log_prior.size, bool)
    for name, values in fam.params.items():
        if name.startswith("tau"):
            keep &= _node(values, scales) % COARSE_STRIDE == 0
    return np.flatnonzero(keep)


def _fine_columns(fam: Family, scales: np.ndarray, kept: np.ndarray) -> np.ndarray:
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
        with _one_blas_thread():
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


def _trapezoid(points: int) -> np.ndarray:
    weights = np.ones(points)
    weights[[0, -1]] = 0.5
    return weights


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
    _check(y, s, "estimate")
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
    cols = _coarse_columns(fam, scales)
    grid = MuGrid(
        float(np.median(yf)),
        float(np.median(sf)) / np.sqrt(yf.size),
        float(yf.min() - sf.max()),
        float(yf.max() + sf.max()),
    )
    for _ in range(12):  # coarse passes: widened to hold mu's posterior, centred on its bulk
        mu, _ = grid.nodes(MU_COARSE)
        logpost = _log_posterior(yf, var, fam, cols, mu)
        mass = np.exp(logpost - logpost.max())
        grid, settled = grid.refined(mu, mass.sum(axis=1))
        if settled:
            break
    cols = _fine_columns(fam, scales, cols[mass.sum(axis=0) > PRUNE * mass.sum(axis=0).max()])
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
    log_marg = _log_marginals(yf, var, mu, fam.mixing[cols])  # mu x experiments x columns
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


# --------------------------------------------------------------------------- posteriors


def update(prior: Mixture, y: np.ndarray, s: np.ndarray) -> Mixture:
    """Each experiment's posterior: its prior (a mixture) times its normal likelihood.

    ``prior.weights`` is (experiments x components); each component is updated as a
    normal prior would be, and reweighted by how well it predicted the estimate.
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


def _draw(mix: Mixture, draws: int, rng: np.random.Generator) -> np.ndarray:
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
        v[index % w.shape[1]] if v.ndim == 1 else np.ravel(v)[index] for v in (mix.means, mix.sds)
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
    from scipy.special import ndtr

    from analyses.core.stats import hdi_columns

    w = np.atleast_2d(post.weights)
    means = np.broadcast_to(post.means, w.shape)
    sds = np.broadcast_to(post.sds, w.shape)
    d = np.asarray(direction, dtype=float)[:, None]
    mean = np.sum(w * np.exp(means + 0.5 * sds**2), axis=1) - 1
    safe = np.where(sds > 0, sds, 1.0)
    better = np.sum(w * np.where(sds > 0, ndtr(d * means / safe), d * means > 0), axis=1)
    out = {"mean": mean, "prob_better": better}
    if draws:
        z = _draw(Mixture(w, post.means, post.sds), draws, np.random.default_rng(seed))
        out["hdi"] = hdi_columns(np.expm1(z), prob)
    return out


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
    z = _draw(Mixture(w, priors.means, priors.sds), DRAWS, rng) + s * rng.standard_normal(
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
