"""Pareto-smoothed importance sampling from Laplace approximations.

For a posterior of a few parameters that is close to normal, such as the Student-t A/B
model (each arm's location and scale, one degrees of freedom), draws from a multivariate-t
proposal centred on the posterior mode, reweighted to the exact posterior, are as accurate
as NUTS's and take a fraction of its time: nothing is compiled and the log-density is
evaluated for all draws at once in NumPy.

A posterior with several modes gets one multivariate t per mode (:class:`Proposal`, a
mixture weighted by each mode's Laplace estimate of its mass), and a posterior that is
skewed gets a proposal adapted to it (:func:`adapt`: a few rounds of fitting a mixture of
t distributions to weighted draws). The importance weights always divide by the density of
the whole mixture the draws came from.

Pareto k-hat (Vehtari, Simpson, Gelman, Yao and Gabry 2024, "Pareto smoothed importance
sampling") tells whether the weights can be trusted: above :data:`K_HAT_MAX`, or with too
few effective draws, :func:`sample` and :func:`sample_from` return ``None`` and the caller
samples with NUTS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from analyses.core import stats

#: Above this Pareto k-hat the draws are not trusted. Below 0.5 the weights have a finite
#: variance, so the effective sample size measures the Monte Carlo error. Vehtari et al.
#: (2024) accept up to 0.7 for means, but tails converge more slowly: at k-hat 0.6 the
#: three-component mixture's 94% HDIs came out 4 to 5% narrower than NUTS's, even with
#: 16,000 draws. With fewer than 100 proposals the limit is lower, 1 - 1/log10(S).
K_HAT_MAX = 0.5
#: Degrees of freedom of the multivariate-t proposal: tails heavier than the posterior's,
#: so that no region the posterior reaches is left without proposals.
PROPOSAL_DF = 5
#: Proposals drawn per draw kept: the weighted proposals are resampled to equal weights.
OVERSAMPLE = 4
#: Adapting a proposal (:func:`adapt`): at most this many rounds of this many draws each,
#: stopping early once a round's k-hat is at most :data:`ADAPTED_K`.
ADAPT_ROUNDS = 10
ADAPT_DRAWS = 8000
ADAPTED_K = 0.2
#: Multivariate t components fitted per component of the starting proposal.
ADAPT_COMPONENTS = 4
#: Share of the final proposal kept on the starting (Laplace) one: defensive importance
#: sampling (Hesterberg 1995), so that the adapted mixture cannot leave a region without
#: proposals that the Laplace approximations cover.
DEFENSIVE = 0.1

LogDensity = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Draws:
    """Equally weighted posterior draws (``draws x parameters``) and their diagnostics.

    ``pareto_k`` is the k-hat of the importance weights and ``k_limit`` the largest it was
    allowed to be; ``ess`` the effective number of independent draws the resampled set is
    worth; ``proposal`` says what the draws were proposed from.
    """

    values: np.ndarray
    pareto_k: float
    k_limit: float
    ess: float
    proposal: str = "a Laplace approximation"


@dataclass(frozen=True)
class Proposal:
    """A mixture of multivariate t distributions (degrees of freedom ``df``).

    ``weights`` (components), ``means`` (components x parameters) and ``scales``, the
    Cholesky factors of each component's scale matrix (components x parameters x
    parameters). ``note`` says in words what it is.
    """

    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    df: float = PROPOSAL_DF
    note: str = "a Laplace approximation"

    @classmethod
    def laplace(cls, modes: list[tuple[np.ndarray, np.ndarray, float]]) -> Proposal:
        """One t per mode ``(mode, covariance, log mass)``, weighted by the masses."""
        log_mass = np.array([m[2] for m in modes], dtype=float)
        weights = np.exp(log_mass - log_mass.max())
        note = (
            "a Laplace approximation"
            if len(modes) == 1
            else f"a mixture of Laplace approximations at {len(modes)} modes"
        )
        return cls(
            weights / weights.sum(),
            np.array([m[0] for m in modes]),
            np.array([np.linalg.cholesky(m[1]) for m in modes]),
            note=note,
        )

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points: per component a normal draw divided by sqrt(chi-square / df)."""
        counts = [n] if len(self.weights) == 1 else rng.multinomial(n, self.weights)
        d, df = self.means.shape[1], self.df
        parts = []
        for mean, scale, count in zip(self.means, self.scales, counts, strict=True):
            normal = rng.standard_normal((count, d))
            parts.append(
                mean + (normal / np.sqrt(rng.chisquare(df, count) / df)[:, None]) @ scale.T
            )
        return np.concatenate(parts)

    def component_log_pdf(self, points: np.ndarray) -> np.ndarray:
        """log(weight_j) + each component's log-density (components x points).

        The formula of ``scipy.stats.multivariate_t``.
        """
        from scipy.special import gammaln

        d, df = self.means.shape[1], self.df
        const = gammaln((df + d) / 2) - gammaln(df / 2) - d / 2 * np.log(df * np.pi)
        out = np.empty((len(self.weights), points.shape[0]))
        for j, (weight, mean, scale) in enumerate(
            zip(self.weights, self.means, self.scales, strict=True)
        ):
            distance = np.sum(np.linalg.solve(scale, (points - mean).T) ** 2, axis=0)
            out[j] = (
                np.log(weight)
                + const
                - np.log(np.diag(scale)).sum()
                - (df + d) / 2 * np.log1p(distance / df)
            )
        return out

    def log_pdf(self, points: np.ndarray) -> np.ndarray:
        """The mixture's log-density at each point: what importance weights divide by."""
        from scipy.special import logsumexp

        parts = self.component_log_pdf(points)
        return parts[0] if len(parts) == 1 else logsumexp(parts, axis=0)

    def blend(self, other: Proposal, share: float, note: str) -> Proposal:
        """The mixture with ``share`` of its weight moved onto ``other``'s components."""
        return Proposal(
            np.r_[(1 - share) * self.weights, share * other.weights],
            np.concatenate([self.means, other.means]),
            np.concatenate([self.scales, other.scales]),
            self.df,
            note,
        )


HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


def normal_log_pdf(x: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Log Normal(x | mean, sd), elementwise: a prior's term in a NumPy log-density."""
    return -0.5 * ((x - mean) / sd) ** 2 - np.log(sd) - HALF_LOG_2PI


def half_normal_log_pdf_of_log(log_x: np.ndarray, scale: float) -> np.ndarray:
    """Log-density of HalfNormal(x | scale) at ``x = exp(log_x)``, plus the Jacobian ``log_x``.

    The term PyMC adds for a half-normal on its unconstrained (log) scale.
    """
    x = np.exp(log_x)
    return np.log(2.0) - HALF_LOG_2PI - np.log(scale) - 0.5 * (x / scale) ** 2 + log_x


def psis(log_ratios: np.ndarray, r_eff: float = 1.0) -> tuple[np.ndarray, Any]:
    """Pareto-smoothed log weights (normalised) and k-hat of importance log ratios.

    The largest ``3 sqrt(S / r_eff)`` ratios (``S / 5`` for few draws) are replaced by the
    expected order statistics of a generalised Pareto distribution fitted to them (Zhang and
    Stephens' empirical Bayes fit with Vehtari et al.'s weak prior on k), truncated at the
    largest raw ratio. ``r_eff`` is the draws' relative efficiency (1 for independent
    draws). ``log_ratios`` is one vector of ``S`` ratios, or one such vector per row (as
    PSIS-LOO smooths every observation's); k-hat is then one per row. As ArviZ computes it
    (the tests compare them); in NumPy, because importing ArviZ's statistics takes longer
    than the whole fit. Only the tail is sorted (a partition finds it).
    """
    ratios = np.asarray(log_ratios, dtype=float)
    lw = np.atleast_2d(ratios).copy()
    lw -= lw.max(axis=1, keepdims=True)
    n = lw.shape[1]
    n_tail = int(np.floor(3 * np.sqrt(n / r_eff))) if n * r_eff > 225 else n // 5
    split = np.argpartition(lw, n - n_tail - 1, axis=1)
    rows = np.arange(lw.shape[0])[:, None]
    tail = split[:, n - n_tail :]
    tail = np.take_along_axis(tail, np.argsort(lw[rows, tail], axis=1), axis=1)
    cutoff = np.exp(lw[rows[:, 0], split[:, n - n_tail - 1]])[:, None]
    k, sigma = _gpd_fit(np.exp(lw[rows, tail]) - cutoff)
    p = (np.arange(n_tail) + 0.5) / n_tail
    with np.errstate(divide="ignore", invalid="ignore"):
        quantiles = np.where(
            k[:, None] != 0,
            sigma[:, None] * np.expm1(-k[:, None] * np.log1p(-p)) / k[:, None],
            -sigma[:, None] * np.log1p(-p),
        )
        smoothed = np.minimum(np.log(quantiles + cutoff), 0.0)
    lw[rows, tail] = np.where(np.isfinite(k)[:, None], smoothed, lw[rows, tail])
    lw -= logsumexp(lw)
    if ratios.ndim == 1:
        return lw[0], float(k[0])
    return lw, k


def logsumexp(values: np.ndarray) -> np.ndarray:
    """log(sum(exp(values))) over the last axis, kept as a length-one axis.

    SciPy's own spends more time checking its input than summing for these arrays.
    """
    top = values.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.exp(values - top).sum(axis=-1, keepdims=True))


def k_limit(n: int, cap: float | None = None) -> float:
    """The largest Pareto k-hat trusted with ``n`` draws.

    1 - 1/log10(n), at most ``cap`` (:data:`K_HAT_MAX` unless given).
    """
    cap = K_HAT_MAX if cap is None else cap
    return float(min(cap, 1 - 1 / np.log10(n))) if n > 1 else cap


def _gpd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape k and scale sigma of a generalised Pareto distribution, per row of ``x``.

    Each row sorted increasing; NaN for a row whose lowest quarter is all equal.
    """
    from scipy.special import logsumexp

    n = x.shape[1]
    m = 30 + int(np.sqrt(n))
    quartile = x[:, int(n / 4 + 0.5) - 1 : int(n / 4 + 0.5)]
    degenerate = (quartile <= x[:, :1])[:, 0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        theta = 1 / x[:, -1:] + (1 - np.sqrt(m / (np.arange(1, m + 1) - 0.5))) / (3 * quartile)
        k = np.log1p(-theta[:, :, None] * x[:, None, :]).mean(axis=2)
        log_lik = n * (np.log(-theta / k) - k - 1)
        weights = np.exp(log_lik - logsumexp(log_lik, axis=1, keepdims=True))
        weights = np.where(weights >= 10 * np.finfo(float).eps, weights, 0.0)
        theta_hat = (weights * theta).sum(axis=1) / weights.sum(axis=1)
        k_hat = np.log1p(-theta_hat[:, None] * x).mean(axis=1)
        sigma = -k_hat / theta_hat
    # Weakly informative prior: k is shrunk towards 0.5 as if by 10 more draws.
    k_hat = (n * k_hat + 10 * 0.5) / (n + 10)
    return np.where(degenerate, np.nan, k_hat), np.where(degenerate, np.nan, sigma)


def laplace(
    log_density: LogDensity, start: np.ndarray, max_steps: int = 100
) -> tuple[np.ndarray, np.ndarray] | None:
    """Mode and covariance (the inverse of the negative Hessian) of a log-density.

    ``log_density`` takes ``(points x parameters)`` and returns one value per point; the
    parameters should be of order one (the callers standardise the data). Newton's method
    with finite-difference derivatives, every step's points evaluated in one call (SciPy's
    optimisers take longer to import than this takes to run). ``None`` when no maximum is
    found.
    """
    x = np.asarray(start, dtype=float)
    value = float(_evaluate(log_density, x[None, :])[0])
    if not np.isfinite(value):
        return None
    for _ in range(max_steps):
        gradient, hessian = derivatives(log_density, x)
        try:  # Newton's step where the curvature is that of a maximum, else gradient ascent
            step = np.linalg.solve(-hessian, gradient)
            np.linalg.cholesky(-hessian)
        except np.linalg.LinAlgError:
            step = gradient / max(1.0, float(np.abs(gradient).max()))
        if float(gradient @ step) < 1e-10:
            break
        for _ in range(30):  # halve the step until the density rises
            candidate = x + step
            new = float(_evaluate(log_density, candidate[None, :])[0])
            if np.isfinite(new) and new >= value:
                break
            step = step / 2
        else:
            break  # no rise within rounding: at the mode as nearly as it can be found
        x, value = candidate, new
    else:
        return None
    try:
        covariance = np.linalg.inv(-hessian)
        np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        return None
    return x, covariance


def _evaluate(log_density: LogDensity, points: np.ndarray) -> np.ndarray:
    """The log-density at points, without NumPy's warnings about far-out points.

    Such points may overflow to a non-finite value, which the callers treat as outside the
    posterior.
    """
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        return log_density(points)


def derivatives(
    log_density: LogDensity, x: np.ndarray, step: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian by central differences, every point evaluated in one call.

    The point itself and one step either way along each axis give the gradient and the
    Hessian's diagonal; four corners per pair of axes (each pair once) the rest. A
    ``log_density`` that returns several values per point (points x rows, e.g. one per
    observation) gets one gradient and Hessian per row: shapes (d, rows) and (d, d, rows).
    """
    d = x.size
    values = _evaluate(log_density, stencil(x, step))
    centre, up, down = values[0], values[1 : 1 + d], values[1 + d : 1 + 2 * d]
    gradient = (up - down) / (2 * step)
    hessian = np.zeros((d, d, *values.shape[1:]))
    diagonal = np.arange(d)
    hessian[diagonal, diagonal] = (up - 2 * centre + down) / step**2
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    if pairs:
        c = values[1 + 2 * d :].reshape(len(pairs), 4, *values.shape[1:])
        mixed = (c[:, 0] - c[:, 1] - c[:, 2] + c[:, 3]) / (4 * step**2)
        rows, cols = np.array(pairs).T
        hessian[rows, cols] = hessian[cols, rows] = mixed
    return gradient, hessian


def stencil(x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """The points :func:`derivatives` evaluates around ``x``: ``1 + 2d + 2d(d - 1)`` rows."""
    d = x.size
    eye = np.eye(d) * step
    corners = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    return np.array(
        [x, *(x + eye), *(x - eye)]
        + [x + a * eye[i] + b * eye[j] for i, j in pairs for a, b in corners]
    )


def sample(
    log_density: LogDensity,
    start: np.ndarray,
    n_draws: int,
    rng: np.random.Generator,
    ess_min: float = stats.ESS_BULK_MIN,
) -> Draws | None:
    """``n_draws`` posterior draws by PSIS from a Laplace approximation, or ``None``.

    ``None`` when the mode cannot be found, when k-hat exceeds its limit, or when
    the resampled draws are worth fewer than ``ess_min`` independent ones: then importance
    sampling cannot be trusted with this posterior.
    """
    found = laplace(log_density, start)
    if found is None:
        return None
    return sample_from(log_density, Proposal.laplace([(*found, 0.0)]), n_draws, rng, ess_min)


def weigh(log_density: LogDensity, proposal: Proposal, points: np.ndarray):
    """The points inside the posterior's support and their log importance ratios."""
    target = _evaluate(log_density, points)
    # A proposal outside the posterior's support (weight zero) is dropped.
    finite = np.isfinite(target)
    return points[finite], target[finite] - proposal.log_pdf(points[finite])


def sample_from(
    log_density: LogDensity,
    proposal: Proposal,
    n_draws: int,
    rng: np.random.Generator,
    ess_min: float = stats.ESS_BULK_MIN,
) -> Draws | None:
    """``n_draws`` posterior draws by PSIS from ``proposal``, or ``None``.

    :data:`OVERSAMPLE` proposals per draw, weighted by the posterior over the whole
    mixture's density, Pareto-smoothed and resampled to equal weights. ``None`` when
    k-hat exceeds its limit or the draws are worth fewer than ``ess_min`` independent ones.
    """
    points, log_ratios = weigh(log_density, proposal, proposal.draw(OVERSAMPLE * n_draws, rng))
    if points.shape[0] < n_draws:
        return None
    log_weights, k = psis(log_ratios)
    limit = k_limit(log_ratios.size)
    if not k <= limit:
        return None
    weights = np.exp(log_weights)
    kish = 1.0 / float(np.sum(weights**2))
    # Systematic resampling to equal weights, in random order.
    positions = (rng.random() + np.arange(n_draws)) / n_draws
    chosen = np.minimum(np.searchsorted(np.cumsum(weights), positions), weights.size - 1)
    values = points[rng.permutation(chosen)]
    # Resampling n from weighted draws worth `kish` independent ones: 1/ess = 1/n + 1/kish.
    ess = 1.0 / (1.0 / n_draws + 1.0 / kish)
    if ess < ess_min:
        return None
    return Draws(values, k, float(limit), ess, proposal.note)


def adapt(log_density: LogDensity, start: Proposal, rng: np.random.Generator) -> Proposal | None:
    """A proposal adapted to the posterior: mixture population Monte Carlo.

    Each round draws :data:`ADAPT_DRAWS` points from the current proposal, weighs them
    (Pareto-smoothed) and fits a mixture of :data:`ADAPT_COMPONENTS` t distributions per
    starting component to the weighted points by EM (Cappé, Douc, Guillin, Marin and Robert
    2008, "Adaptive importance sampling in general mixture classes"). It stops once a round's
    k-hat is at most :data:`ADAPTED_K`, after :data:`ADAPT_ROUNDS` rounds at most, and returns
    the round's best proposal with :data:`DEFENSIVE` of its weight on ``start``, or ``None``
    when no round improved on ``start`` (drawing from it again would only be a second try
    at the same check). The rounds' draws only shape the proposal: the caller draws afresh
    from it (:func:`sample_from`), so the final weights are those of one fixed proposal.
    """
    best, best_k, current = start, np.inf, start
    components = ADAPT_COMPONENTS * len(start.weights)
    rounds = 0
    while rounds < ADAPT_ROUNDS:
        rounds += 1
        points, log_ratios = weigh(log_density, current, current.draw(ADAPT_DRAWS, rng))
        if points.shape[0] < components * (points.shape[1] + 2):
            break
        log_weights, k = psis(log_ratios)
        if k < best_k:
            best, best_k = current, k
        if k <= ADAPTED_K:
            break
        fitted = _fit_mixture(points, np.exp(log_weights), components, current.df, rng)
        if fitted is None:
            break
        current = fitted
    note = f"{start.note}, adapted to the posterior in {rounds} round{'s' if rounds > 1 else ''}"
    return None if best is start else best.blend(start, DEFENSIVE, note)


def _fit_mixture(
    points: np.ndarray, weights: np.ndarray, components: int, df: float, rng: np.random.Generator
) -> Proposal | None:
    """A mixture of t distributions fitted to weighted points (weighted EM of normals).

    Started from k-means++ centres; each normal's covariance becomes the t's scale matrix
    with the same covariance. ``None`` when no component keeps a proper covariance.
    """
    from scipy.special import logsumexp

    n, d = points.shape
    # k-means++ centres drawn by weight.
    centres = [rng.choice(n, p=weights)]
    for _ in range(components - 1):
        gap = np.min(((points[:, None, :] - points[centres][None]) ** 2).sum(axis=2), axis=1)
        spread = gap * weights
        if spread.sum() <= 0:
            break
        centres.append(rng.choice(n, p=spread / spread.sum()))
    means = points[centres]
    overall = np.cov(points.T, aweights=weights) + 1e-9 * np.eye(d)
    covs = np.repeat(overall[None], len(centres), axis=0)
    shares = np.full(len(centres), 1.0 / len(centres))
    for _ in range(EM_STEPS):
        log_p = np.empty((len(shares), n))
        for j in range(len(shares)):
            chol = np.linalg.cholesky(covs[j])
            distance = np.sum(np.linalg.solve(chol, (points - means[j]).T) ** 2, axis=0)
            log_p[j] = np.log(shares[j]) - np.log(np.diag(chol)).sum() - 0.5 * distance
        resp = np.exp(log_p - logsumexp(log_p, axis=0)) * weights
        mass = resp.sum(axis=1)
        keep = mass > 1e-4
        resp, mass = resp[keep], mass[keep]
        shares = mass / mass.sum()
        means = resp @ points / mass[:, None]
        covs = np.array(
            [
                ((resp[j][:, None] * (points - means[j])).T @ (points - means[j])) / mass[j]
                + 1e-9 * np.eye(d)
                for j in range(len(mass))
            ]
        )
    scales = []
    for cov in covs * (df - 2) / df:  # a t's covariance is df / (df - 2) times its scale
        try:
            scales.append(np.linalg.cholesky(cov))
        except np.linalg.LinAlgError:
            return None
    return Proposal(shares, means, np.array(scales), df)


#: EM steps when fitting a mixture to weighted draws.
EM_STEPS = 25


def diagnostics(found: Draws) -> dict[str, object]:
    """A bundle's ``diagnostics`` for importance draws.

    Independent draws (R-hat 1, no divergences), their effective number, and Pareto k with
    its limit.
    """
    return {
        "r_hat_max": 1.0,
        "ess_bulk_min": found.ess,
        "divergences": 0,
        "ok": True,
        **stats.limits(),
        "pareto_k": found.pareto_k,
        "pareto_k_limit": found.k_limit,
        "method": (
            f"Pareto-smoothed importance sampling from {found.proposal} "
            f"(Pareto k {found.pareto_k:.2f}; independent draws)"
        ),
    }
