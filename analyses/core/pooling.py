"""The normal hierarchical model, integrated exactly: partial pooling without MCMC.

The model (the same as ``analyses.hierarchical``'s PyMC model)::

    mu       ~ Normal(mu_mean, mu_sd)
    mu_g     ~ Normal(mu, sigma_group)        g = 1..G  (mu_1 = mu when there are no groups)
    theta_i  ~ Normal(mu_{g_i}, sigma_unit)
    y_i      ~ Normal(theta_i, se_i)          se_i known
    sigma_unit, sigma_group ~ HalfNormal(scale)

Given the two spreads everything else is jointly normal, so the unit effects, the group means
and the overall mean are integrated out analytically and the posterior of
``(sigma_unit, sigma_group)`` is computed on an adaptive grid: exact to the grid's
resolution, with no Monte Carlo error and no sampler to diagnose. The cost is one pass over
the units per grid value of ``sigma_unit`` (their sufficient statistics per group), so a
million units take seconds and memory stays bounded.

Quantities that are normal given the spreads (the overall mean, the average over these
units, a new unit, each group mean) are summarised as exact mixtures of normals over the
grid: their intervals carry no Monte Carlo error at all. Individual units are summarised from
draws of the spreads and group means (``unit_summaries``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Grid points per spread: a coarse pass finds where the posterior lives, a fine pass
#: resolves it (with two spreads, 64 x 64 nodes: several per posterior standard deviation,
#: where the trapezoid rule is already exact to many digits for a smooth posterior).
COARSE, FINE, FINE_2D = 40, 120, 64
#: The grid spans where the density exceeds this share of its peak.
PRUNE = 1e-12
#: The mixtures keep the heaviest nodes holding all but this share of the mass.
NEGLIGIBLE = 1e-10
#: The posterior mass allowed within the outermost grid cells before the grid is widened.
EDGE = 1e-6
LOG_2PI = float(np.log(2 * np.pi))


HALF_NORMAL_SD = float(np.sqrt(1 - 2 / np.pi))


@dataclass(frozen=True)
class PoolingPrior:
    """Priors of the pooling model, scaled to the spread of the estimates by default."""

    mu_mean: float
    mu_sd: float
    scale: float

    @classmethod
    def scaled(cls, y: np.ndarray, se: np.ndarray) -> PoolingPrior:
        """Weak priors scaled to the data.

        The overall mean normal around the median estimate with twice the estimates' spread, the
        spreads half-normal with that spread.
        """
        spread = float(np.std(y, ddof=1)) if len(y) > 1 else 0.0
        spread = spread or float(np.mean(se))
        return cls(mu_mean=float(np.median(y)), mu_sd=2 * spread, scale=spread)

    def influence(self, summaries: dict) -> float:
        """The largest ratio of a hyperparameter's posterior to prior standard deviation (near 0.

        The data decide; near 1: the prior does).
        """
        ratios = [summaries["mu"]["sd"] / self.mu_sd]
        for name in ("sigma_unit", "sigma_group"):
            if name in summaries:
                ratios.append(summaries[name]["sd"] / (self.scale * HALF_NORMAL_SD))
        return float(max(ratios))


@dataclass
class GroupStats:
    """Per ``sigma_unit`` grid value: each group's precision-weighted mean and constants."""

    W: np.ndarray  # (m, G) sum of 1 / (sigma_unit^2 + se^2)
    Ybar: np.ndarray  # (m, G) precision-weighted mean
    const: np.ndarray  # (m,) log-likelihood terms not depending on the group means
    K0: np.ndarray  # (m,) sum of (1 - B_i) y_i
    S: np.ndarray  # (m, G) sum of B_i per group
    C: np.ndarray  # (m,) sum of the units' conditional variances


def group_stats(
    y: np.ndarray, se: np.ndarray, g: np.ndarray, n_groups: int, tau_u: np.ndarray
) -> GroupStats:
    """One pass over the units per value of ``sigma_unit``: sums per group."""
    m = len(tau_u)
    counts = np.bincount(g, minlength=n_groups)
    W = np.empty((m, n_groups))
    Ybar = np.empty((m, n_groups))
    const = np.empty(m)
    K0 = np.empty(m)
    S = np.empty((m, n_groups))
    C = np.empty(m)
    se2 = se**2
    for j, t in enumerate(tau_u):
        v = t * t + se2
        w = 1.0 / v
        Wj = np.bincount(g, w, n_groups)
        S1 = np.bincount(g, w * y, n_groups)
        Q = np.bincount(g, w * y * y, n_groups)
        L = np.bincount(g, np.log(v), n_groups)
        Yb = S1 / Wj
        W[j], Ybar[j] = Wj, Yb
        # log p(data_g | mu_g) = log N(Ybar_g | mu_g, 1/W_g) + const_g
        const[j] = np.sum(
            -0.5 * (L + Q - Wj * Yb * Yb) - 0.5 * np.log(Wj) + 0.5 * LOG_2PI * (1 - counts)
        )
        B = se2 / v  # the pull of each unit toward its group mean
        K0[j] = np.sum((1 - B) * y)
        S[j] = np.bincount(g, B, n_groups)
        C[j] = np.sum((1 - B) * se2)
    return GroupStats(W, Ybar, const, K0, S, C)


def _half_normal_logpdf(x: np.ndarray, scale: float) -> np.ndarray:
    return -0.5 * (x / scale) ** 2


@dataclass
class Nodes:
    """The grid's nodes (with their posterior weight) and everything normal given them."""

    tau_u: np.ndarray  # (N,)
    tau_g: np.ndarray  # (N,)
    weight: np.ndarray  # (N,) sums to one
    j: np.ndarray  # (N,) index of tau_u in the group stats
    mu_mean: np.ndarray  # (N,) b / P
    mu_var: np.ndarray  # (N,) 1 / P
    r: np.ndarray  # (N, G) mu_g | mu, data ~ N(r mu + a, d)
    a: np.ndarray  # (N, G)
    d: np.ndarray  # (N, G)


@dataclass
class Pooled:
    """The exact posterior of the pooling model."""

    prior: PoolingPrior
    grouped: bool
    nodes: Nodes
    stats: GroupStats
    tau_u_grid: np.ndarray
    tau_g_grid: np.ndarray
    density: np.ndarray  # (m, K) normalised posterior mass per node
    edge_mass: float
    extras: dict = field(default_factory=dict)


def _log_posterior(
    stats: GroupStats, tau_u: np.ndarray, tau_g: np.ndarray, prior: PoolingPrior, grouped: bool
):
    """Log posterior of every (sigma_unit, sigma_group) node and the normal pieces given it."""
    m, K = len(tau_u), len(tau_g)
    s0 = prior.mu_sd**2
    V = tau_g[None, :, None] ** 2 + 1.0 / stats.W[:, None, :]  # (m, K, G)
    P = 1.0 / s0 + np.sum(1.0 / V, axis=2)  # (m, K)
    b = prior.mu_mean / s0 + np.sum(stats.Ybar[:, None, :] / V, axis=2)
    logmarg = (
        -0.5 * np.sum(np.log(V), axis=2)
        - 0.5 * np.log(s0)
        - 0.5 * np.log(P)
        - 0.5 * (prior.mu_mean**2 / s0 + np.sum(stats.Ybar[:, None, :] ** 2 / V, axis=2) - b**2 / P)
    )
    logpost = stats.const[:, None] + logmarg + _half_normal_logpdf(tau_u, prior.scale)[:, None]
    if grouped:
        logpost = logpost + _half_normal_logpdf(tau_g, prior.scale)[None, :]
    assert logpost.shape == (m, K)
    return logpost, b, P


def _grid(low: float, high: float, points: int) -> np.ndarray:
    return np.linspace(max(low, 0.0), high, points)


def _trapezoid(points: int) -> np.ndarray:
    weights = np.ones(points)
    weights[[0, -1]] = 0.5
    return weights


def _span(mass: np.ndarray, grid: np.ndarray) -> tuple[float, float]:
    """The range of grid values holding all but a negligible share of the mass."""
    keep = np.flatnonzero(mass > PRUNE * mass.max())
    step = grid[1] - grid[0] if len(grid) > 1 else 0.0
    return grid[keep[0]] - step, grid[keep[-1]] + step


def fit(
    y: np.ndarray,
    se: np.ndarray,
    g: np.ndarray | None = None,
    n_groups: int = 1,
    prior: PoolingPrior | None = None,
) -> Pooled:
    """The exact posterior of the pooling model on an adaptive grid of the two spreads.

    Parameters
    ----------
    y, se
        Each unit's estimate and its standard error.
    g, n_groups
        Each unit's group index (``None``: one level, no groups).
    prior
        Priors; scaled to the data by default.
    """
    y, se = np.asarray(y, dtype=float), np.asarray(se, dtype=float)
    grouped = g is not None and n_groups > 1
    g = np.zeros(len(y), dtype=int) if not grouped else np.asarray(g, dtype=int)
    n_groups = n_groups if grouped else 1
    prior = prior or PoolingPrior.scaled(y, se)
    upper = 6 * max(prior.scale, float(np.std(y)), 1e-12)
    lo_u, hi_u, lo_g, hi_g = 0.0, upper, 0.0, upper if grouped else 0.0
    for _ in range(4):
        tau_u = _grid(lo_u, hi_u, COARSE)
        tau_g = _grid(lo_g, hi_g, COARSE) if grouped else np.zeros(1)
        stats = group_stats(y, se, g, n_groups, tau_u)
        logpost, _, _ = _log_posterior(stats, tau_u, tau_g, prior, grouped)
        mass = np.exp(logpost - logpost.max())
        new_u = _span(mass.sum(axis=1), tau_u)
        new_g = _span(mass.sum(axis=0), tau_g) if grouped else (0.0, 0.0)
        widened = new_u[1] >= hi_u or (grouped and new_g[1] >= hi_g)
        lo_u, hi_u = max(new_u[0], 0.0), new_u[1] * (2 if new_u[1] >= hi_u else 1)
        lo_g, hi_g = max(new_g[0], 0.0), new_g[1] * (2 if grouped and new_g[1] >= hi_g else 1)
        if not widened:
            break
    fine = FINE_2D if grouped else FINE
    tau_u = _grid(lo_u, hi_u, fine)
    tau_g = _grid(lo_g, hi_g, fine) if grouped else np.zeros(1)
    stats = group_stats(y, se, g, n_groups, tau_u)
    logpost, b, P = _log_posterior(stats, tau_u, tau_g, prior, grouped)
    # Trapezoid weights: the end nodes stand for half a cell (tau = 0 is a true boundary).
    density = np.exp(logpost - logpost.max()) * _trapezoid(len(tau_u))[:, None]
    if grouped:
        density *= _trapezoid(len(tau_g))[None, :]
    density /= density.sum()
    edge = density[-1, :].sum() + (density[:, -1].sum() if grouped else 0.0)
    if tau_u[0] > 0:
        edge += density[0, :].sum()
    if grouped and tau_g[0] > 0:
        edge += density[:, 0].sum()
    order = np.argsort(density, axis=None)[::-1]
    mass = np.cumsum(density.ravel()[order])
    kept = order[: int(np.searchsorted(mass, 1 - NEGLIGIBLE)) + 1]
    jj, kk = np.unravel_index(np.sort(kept), density.shape)
    weight = density[jj, kk]
    weight = weight / weight.sum()
    tg2 = tau_g[kk, None] ** 2
    W = stats.W[jj]
    k = tg2 * W / (tg2 * W + 1.0)  # how far each group mean moves from mu toward its data
    nodes = Nodes(
        tau_u=tau_u[jj],
        tau_g=tau_g[kk],
        weight=weight,
        j=jj,
        mu_mean=b[jj, kk] / P[jj, kk],
        mu_var=1.0 / P[jj, kk],
        r=1.0 - k,
        a=k * stats.Ybar[jj],
        d=tg2 / (1.0 + tg2 * W),
    )
    return Pooled(prior, grouped, nodes, stats, tau_u, tau_g, density, float(edge))


# --------------------------------------------------------------------------- summaries


def _mixture_cdf(x: np.ndarray, means: np.ndarray, sd: np.ndarray, weights: np.ndarray):
    from scipy.special import ndtr

    x = np.atleast_1d(np.asarray(x, dtype=float))
    out = np.zeros(x.shape)
    safe = np.where(sd > 0, sd, 1.0)
    for start in range(0, len(means), 2048):
        part = slice(start, start + 2048)
        z = (x[None, :] - means[part, None]) / safe[part, None]
        step = np.where(sd[part, None] > 0, ndtr(z), (x[None, :] >= means[part, None]) * 1.0)
        out += weights[part] @ step
    return out


def mixture_summary(
    means: np.ndarray, variances: np.ndarray, weights: np.ndarray, prob: float, points: int = 600
) -> dict:
    """Mean, HDI and probability above zero of a mixture of normals, without sampling.

    The HDI is the shortest interval holding ``prob`` of the mixture's mass: found on a grid
    of the distribution function over twelve standard deviations either side, then refined
    on fine grids around both ends (resolution about 1e-5 of the mixture's spread, far below
    any rounding a report shows).
    """
    from scipy.special import ndtr

    sd = np.sqrt(np.maximum(variances, 0.0))
    mean = float(np.sum(weights * means))
    spread = float(np.sqrt(max(np.sum(weights * (variances + means**2)) - mean**2, 0.0)))
    safe = np.where(sd > 0, sd, 1.0)
    positive = float(np.sum(weights * np.where(sd > 0, ndtr(means / safe), means > 0)))
    if spread == 0:
        return {"mean": mean, "hdi": [mean, mean], "prob_positive": positive, "sd": 0.0}
    x = np.linspace(mean - 12 * spread, mean + 12 * spread, points)
    cdf = _mixture_cdf(x, means, sd, weights)
    # Each candidate lower end's upper end, interpolated: widths read off the grid's steps
    # would tie over several candidates and the first (leftmost) would win, shifting the
    # interval left by up to a step.
    upper_ends = np.interp(cdf + prob, cdf, x)
    widths = np.where(cdf + prob <= cdf[-1], upper_ends - x, np.inf)
    i = int(np.argmin(widths))
    step = x[1] - x[0]
    if np.all(sd > 0):
        ends = _hdi_newton(float(x[i]), float(upper_ends[i]), means, sd, weights, prob, step)
        if ends is not None:
            return {"mean": mean, "hdi": ends, "prob_positive": positive, "sd": spread}
    j = int(min(np.searchsorted(x, upper_ends[i]), points - 1))
    # Fine grids around both ends: every candidate lower end, and the upper end each implies.
    low = np.linspace(x[max(i - 2, 0)], x[min(i + 2, points - 1)], 401)
    high = np.linspace(x[max(j - 3, 0)], x[min(j + 3, points - 1)] + step, 601)
    f_low = _mixture_cdf(low, means, sd, weights)
    f_high = _mixture_cdf(high, means, sd, weights)
    target = np.clip(f_low + prob, f_high[0], f_high[-1])
    upper = np.interp(target, f_high, high)
    k = int(np.argmin(upper - low))
    return {
        "mean": mean,
        "hdi": [float(low[k]), float(upper[k])],
        "prob_positive": positive,
        "sd": spread,
    }


def _hdi_newton(
    low: float,
    high: float,
    means: np.ndarray,
    sd: np.ndarray,
    weights: np.ndarray,
    prob: float,
    step: float,
) -> list[float] | None:
    """The HDI's ends refined from a grid's guess by Newton's method, or None if it fails.

    The shortest interval holding ``prob`` has equal density at both ends: Newton solves
    ``F(b) - F(a) = prob`` and ``f(a) = f(b)`` from the grid's ends (each step evaluates the
    mixture at two points, where the fine grids took a thousand). It must converge to
    within a millionth of a grid step while staying within two steps of the guess, else the
    fine grids decide.
    """
    from scipy.special import ndtr

    def at(x: float) -> tuple[float, float, float]:
        z = (x - means) / sd
        density = np.exp(-0.5 * z * z) / (sd * np.sqrt(2 * np.pi))
        return (
            float(weights @ ndtr(z)),
            float(weights @ density),
            float(weights @ (-z / sd * density)),
        )

    a, b = low, high
    for _ in range(40):
        (fa_cdf, fa, da), (fb_cdf, fb, db) = at(a), at(b)
        g1, g2 = fb_cdf - fa_cdf - prob, fb - fa
        det = -fa * db + fb * da  # the Jacobian [[-fa, fb], [-da, db]]
        if not np.isfinite(det) or det == 0:
            return None
        move_a = (db * g1 - fb * g2) / det
        move_b = (da * g1 - fa * g2) / det
        a, b = a - move_a, b - move_b
        if abs(a - low) > 2 * step or abs(b - high) > 2 * step or not np.isfinite(a + b):
            return None
        if max(abs(move_a), abs(move_b)) < 1e-6 * step:
            (fa_cdf, _, _), (fb_cdf, _, _) = at(a), at(b)
            return [a, b] if abs(fb_cdf - fa_cdf - prob) < 1e-9 else None
    return None


def grid_summary(values: np.ndarray, mass: np.ndarray, prob: float) -> dict:
    """Mean and HDI of a quantity whose posterior lives on grid values with these masses."""
    order = np.argsort(values)
    values, mass = values[order], mass[order] / mass.sum()
    cum = np.concatenate([[0.0], np.cumsum(mass)])
    ends = np.searchsorted(cum, cum[:-1] + prob - 1e-12)
    valid = ends <= len(values)
    widths = np.where(valid, values[np.minimum(ends, len(values)) - 1] - values, np.inf)
    i = int(np.argmin(widths))
    mean = float(np.sum(values * mass))
    return {
        "mean": mean,
        "hdi": [float(values[i]), float(values[min(ends[i], len(values)) - 1])],
        "sd": float(np.sqrt(max(np.sum(values**2 * mass) - mean**2, 0.0))),
    }


def summaries(pooled: Pooled, n_units: int, prob: float) -> dict:
    """Exact summaries.

    The overall mean, the average over these units, a new unit, each group's mean and a new unit in
    each group, and the two spreads.
    """
    nd, st = pooled.nodes, pooled.stats
    w = nd.weight
    group_mean = nd.r * nd.mu_mean[:, None] + nd.a  # (N, G)
    group_var = nd.d + nd.r**2 * nd.mu_var[:, None]
    share = st.S[nd.j] / n_units  # (N, G)
    avg_mean = st.K0[nd.j] / n_units + np.sum(share * (nd.r * nd.mu_mean[:, None] + nd.a), axis=1)
    avg_var = (
        st.C[nd.j] / n_units**2
        + np.sum(share**2 * nd.d, axis=1)
        + np.sum(share * nd.r, axis=1) ** 2 * nd.mu_var
    )
    new_var = nd.mu_var + nd.tau_g**2 + nd.tau_u**2
    out = {
        "mu": mixture_summary(nd.mu_mean, nd.mu_var, w, prob),
        "average": mixture_summary(avg_mean, avg_var, w, prob),
        "new_unit": mixture_summary(nd.mu_mean, new_var, w, prob),
        "groups": [
            {
                **mixture_summary(group_mean[:, i], group_var[:, i], w, prob),
                "new_unit": mixture_summary(
                    group_mean[:, i], group_var[:, i] + nd.tau_u**2, w, prob
                ),
            }
            for i in range(group_mean.shape[1])
        ],
        "sigma_unit": grid_summary(pooled.tau_u_grid, pooled.density.sum(axis=1), prob),
    }
    if pooled.grouped:
        out["sigma_group"] = grid_summary(pooled.tau_g_grid, pooled.density.sum(axis=0), prob)
    return out


def draws(pooled: Pooled, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Independent posterior draws of the spreads, the overall mean and the group means."""
    nd = pooled.nodes
    pick = rng.choice(len(nd.weight), size=size, p=nd.weight)
    mu = nd.mu_mean[pick] + np.sqrt(nd.mu_var[pick]) * rng.standard_normal(size)
    mu_group = (
        nd.r[pick] * mu[:, None]
        + nd.a[pick]
        + np.sqrt(nd.d[pick]) * rng.standard_normal((size, nd.r.shape[1]))
    )
    return {
        "mu": mu,
        "mu_group": mu_group,
        "sigma_unit": nd.tau_u[pick],
        "sigma_group": nd.tau_g[pick],
    }


def unit_exact(
    pooled: Pooled, y: np.ndarray, se: np.ndarray, g: np.ndarray | None, index, prob: float
) -> list[dict]:
    """Exact summaries of chosen units (a mixture of normals over the grid for each).

    Given the spreads, unit ``i``'s effect is normal around
    ``B_i * E[mu_g] + (1 - B_i) * y_i`` with variance ``(1 - B_i) se_i^2 + B_i^2 Var[mu_g]``,
    where ``B_i = se_i^2 / (se_i^2 + sigma_unit^2)`` is its pull toward the group mean.
    """
    nd = pooled.nodes
    group_mean = nd.r * nd.mu_mean[:, None] + nd.a
    group_var = nd.d + nd.r**2 * nd.mu_var[:, None]
    out = []
    for i in index:
        gi = int(g[i]) if pooled.grouped else 0
        s2 = se[i] ** 2
        pull = s2 / (s2 + nd.tau_u**2)
        means = pull * group_mean[:, gi] + (1 - pull) * y[i]
        variances = (1 - pull) * s2 + pull**2 * group_var[:, gi]
        summary = mixture_summary(means, variances, nd.weight, prob)
        summary["shrinkage"] = float(np.sum(nd.weight * pull))
        out.append(summary)
    return out


#: Units summarised at once from their conditionals (CHUNK x draws floats per buffer: small
#: enough to stay in the processor's cache, and reused chunk after chunk).
CHUNK = 64


def unit_summaries(
    y: np.ndarray,
    se: np.ndarray,
    g: np.ndarray,
    mu_group: np.ndarray,
    sigma_unit: np.ndarray,
    prob: float,
    seed: int,
) -> dict[str, np.ndarray]:
    """Summaries of every unit's effect from its normal conditional given the hyperparameters.

    Given the hyperparameters, unit ``i``'s effect is normal with mean
    ``m_i = B_i * mu_group[g_i] + (1 - B_i) * y_i`` and variance ``(1 - B_i) * se_i^2``,
    where ``B_i = se_i^2 / (se_i^2 + sigma_unit^2)`` is the pull toward the group mean.
    ``mean``, ``prob_positive`` and ``shrinkage`` average the exact conditionals over the
    draws; ``hdi`` (units x 2) comes from one draw of each unit per hyperparameter draw.

    Units are processed :data:`CHUNK` at a time in buffers allocated once (memory does not
    grow with the units, and no page is mapped afresh per chunk), laid out units x draws so
    every pass runs along contiguous memory. The pull depends on the draw only through
    ``sigma_unit``, which the grid gives few distinct values: it is computed once per
    distinct value. The HDI partitions each unit's draws in place instead of sorting them
    (:func:`analyses.core.stats.hdi_rows`). The numbers do not depend on ``CHUNK``.
    """
    from scipy import special

    from analyses.core.stats import hdi_rows

    rng = np.random.default_rng(seed)
    y, se = np.asarray(y, dtype=float), np.asarray(se, dtype=float)
    taus, which = np.unique(np.asarray(sigma_unit, dtype=float), return_inverse=True)
    share = np.bincount(which, minlength=len(taus)) / len(which)  # of the draws, per value
    by_group = np.ascontiguousarray(np.asarray(mu_group, dtype=float).T)  # groups x draws
    out = {k: np.empty(len(y)) for k in ("mean", "prob_positive", "shrinkage")}
    out["hdi"] = np.empty((len(y), 2))
    shape = (min(CHUNK, len(y)), len(which))
    means, spreads, work = np.empty(shape), np.empty(shape), np.empty(shape)
    for start in range(0, len(y), CHUNK):
        part = slice(start, start + CHUNK)
        yy, s2 = y[part, None], se[part, None] ** 2
        rows = len(yy)
        m, sd, w = means[:rows], spreads[:rows], work[:rows]
        pull_of = s2 / (s2 + taus[None, :] ** 2)  # units x distinct sigma_unit
        sd_of = np.sqrt((1 - pull_of) * s2)
        np.take(by_group, g[part], axis=0, out=m, mode="clip")  # the group mean, then the unit's
        m -= yy
        m *= np.take(pull_of, which, axis=1, out=w, mode="clip")
        m += yy
        np.take(np.where(sd_of > 0, sd_of, 1e-300), which, axis=1, out=sd, mode="clip")
        out["mean"][part] = m.mean(axis=1)
        out["shrinkage"][part] = pull_of @ share
        np.divide(m, sd, out=w)
        out["prob_positive"][part] = special.ndtr(w, out=w).mean(axis=1)
        draws = rng.standard_normal(out=w)
        draws *= sd
        draws += m
        out["hdi"][part] = hdi_rows(draws, prob, overwrite=True)
    return out
