"""Plain NumPy statistics behind the decisions: intervals, probabilities, losses, tests.

Every function takes arrays of posterior draws (or counts) and returns plain floats, so
each one can be checked against hand calculations and independent numerical integration.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from analyses.core.base import CI_PROB

if TYPE_CHECKING:
    import xarray as xr

#: Convergence thresholds (Vehtari et al. 2021): R-hat at most 1.01, bulk ESS at least 400.
R_HAT_MAX = 1.01
ESS_BULK_MIN = 400
#: Sample-ratio mismatch is flagged below this chi-square p-value.
SRM_ALPHA = 0.001
#: "Strong evidence" of a sign: at least this posterior probability (matches a 94% HDI).
STRONG_EVIDENCE = 0.97


def limits() -> dict[str, float]:
    """The convergence limits, stored with every bundle's diagnostics so reports quote them."""
    return {"r_hat_limit": R_HAT_MAX, "ess_limit": ESS_BULK_MIN}


def hdi(draws: np.ndarray, prob: float = CI_PROB) -> list[float]:
    """Highest-density interval of a 1-D sample of draws, as ``[low, high]``.

    ArviZ's rule (see :func:`hdi_columns`) in NumPy: importing ArviZ's statistics takes two
    seconds, a hundred times longer than an exact readout's whole fit.
    """
    low, high = hdi_columns(np.asarray(draws, dtype=float).reshape(-1, 1), prob)[0]
    return [float(low), float(high)]


def summary(draws: np.ndarray, prob: float = CI_PROB) -> dict[str, float | list[float]]:
    """Posterior mean and HDI of draws: ``{"mean": m, "hdi": [low, high]}``."""
    draws = np.asarray(draws, dtype=float)
    return {"mean": float(draws.mean()), "hdi": hdi(draws, prob)}


def prob_greater(a: np.ndarray, b: np.ndarray | float) -> float:
    """Posterior probability that ``a`` exceeds ``b`` (paired draws or a constant)."""
    return float(np.mean(np.asarray(a) > np.asarray(b)))


def expected_loss(control: np.ndarray, treatment: np.ndarray) -> float:
    """Expected loss of shipping ``treatment``: E[max(control - treatment, 0)].

    The average shortfall, counting zero in the draws where the treatment is better.
    """
    return float(np.mean(np.maximum(np.asarray(control) - np.asarray(treatment), 0.0)))


def prob_best(draws: np.ndarray) -> np.ndarray:
    """Probability each row of ``draws`` (arms x draws) is the largest."""
    draws = np.asarray(draws)
    winners = np.argmax(draws, axis=0)
    return np.bincount(winners, minlength=draws.shape[0]) / draws.shape[1]


def normal_cdf(z: float) -> float:
    """The standard normal distribution function at ``z`` (``scipy.special.ndtr``)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """The standard normal quantile of ``p`` (``scipy.special.ndtri``; Wichura's AS241)."""
    return statistics.NormalDist().inv_cdf(p)


def chi2_sf(statistic: float, df: int) -> float:
    """The chance a chi-square variable of ``df`` (a whole number) degrees exceeds ``statistic``.

    ``scipy.special.chdtrc`` for whole degrees, from the finite series of the regularised
    upper incomplete gamma function at whole and half-whole shapes (Abramowitz & Stegun
    26.4.4 and 26.4.5): with h = statistic / 2, ``exp(-h) * sum(h**i / i!)`` for i below
    df / 2 when df is even; ``erfc(sqrt(h)) + exp(-h) * sum(h**(i - 1/2) / gamma(i + 1/2))``
    for i from 1 to (df - 1) / 2 when it is odd. Every term is positive: no cancellation.
    A binary A/B readout's sample-ratio check needs no SciPy (a third of a second to import).
    """
    if df < 1 or int(df) != df:
        raise ValueError(f"chi2_sf needs whole degrees of freedom, not {df}")
    if statistic <= 0:
        return 1.0
    h = statistic / 2.0
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, df // 2):
            term *= h / i
            total += term
        return min(1.0, math.exp(-h) * total)
    term = 2.0 * math.sqrt(h / math.pi)  # h**(1/2) / gamma(3/2)
    total = 0.0
    for i in range(1, (df - 1) // 2 + 1):
        total += term
        term *= h / (i + 0.5)
    return min(1.0, math.erfc(math.sqrt(h)) + math.exp(-h) * total)


def log_beta(a: float, b: float) -> float:
    """The logarithm of B(a, b) = log Γ(a) + log Γ(b) - log Γ(a + b) (``scipy.special.betaln``).

    Where the larger shape is 100 or more, log Γ(a + b) - log Γ(a) is taken from Stirling's
    series term by term (to 1 / z^5; what is left is below 1e-17): the difference of two
    large log-gammas would lose their common digits.
    """
    a, b = max(a, b), min(a, b)
    if a < 100:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def series(z: float) -> float:
        return 1 / (12 * z) - 1 / (360 * z**3) + 1 / (1260 * z**5)

    ratio = (a - 0.5) * math.log1p(b / a) + b * math.log(a + b) - b + series(a + b) - series(a)
    return math.lgamma(b) - ratio


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz).

    Converges fast for ``x < (a + 1) / (a + b + 2)``, where :func:`beta_reg` uses it.
    """
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


def beta_reg(a: float, b: float, x: float, y: float | None = None) -> float:
    """The regularised incomplete beta function I_x(a, b) (``scipy.special.betainc``).

    ``y``: 1 - x where the caller knows it more exactly than the subtraction would give (a
    t test's x is within 1e-15 of 1 at millions of degrees). Its continued fraction where
    that converges fast, else through I_x(a, b) = 1 - I_y(b, a) (Numerical Recipes, 6.4).
    """
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    # Each logarithm from the smaller of x and y (log(1 - u) as log1p(-u)): a shape of
    # millions times log(x) near x = 1 would magnify x's last digit.
    log_x = math.log(x) if x < 0.5 else math.log1p(-y)
    log_y = math.log(y) if y < 0.5 else math.log1p(-x)
    log_front = -log_beta(a, b) + a * log_x + b * log_y
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, y) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function at ``t`` (``scipy.special.stdtr``).

    ``df`` > 0 degrees of freedom, not necessarily whole: I_(df / (df + t^2))(df / 2, 1 / 2)
    / 2 is the chance of a value beyond ``|t|`` on one side. Against SciPy, to about 1e-13 of
    the smaller tail below 1,000 degrees; beyond, the continued fraction near x = 1 loses
    about df x 1e-16 (1e-9 at 1e7 degrees, 5e-8 at 1e9), far below any digit a report shows.
    Infinite degrees give the normal distribution; NaN gives NaN.

    A continuous A/B readout's Welch test (non-whole degrees) needs no SciPy with it.
    """
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return math.nan
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    if math.isinf(df):
        return normal_cdf(t)
    tail = 0.5 * beta_reg(df / 2.0, 0.5, df / (df + t * t), t * t / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees (``scipy.special.stdtrit``).

    Solved on the lower tail, where :func:`t_cdf` keeps its digits, for the smaller of ``p``
    and 1 - ``p`` (the root reflected above 1/2): Newton's steps from the normal quantile,
    kept inside a bracket that halves when a step would leave it, until a step moves the
    root by less than 1e-13 of itself. Accurate as :func:`t_cdf` is.
    """
    if math.isnan(p) or math.isnan(df) or df <= 0:
        return math.nan
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile needs 0 < p < 1, not {p}")
    if p == 0.5:
        return 0.0
    if math.isinf(df):
        return normal_quantile(p)
    q = min(p, 1.0 - p)
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    low, high = -1.0, 0.0
    while t_cdf(low, df) > q:  # the t's tails are heavier than the normal's
        low, high = 2.0 * low, low
    x = min(max(normal_quantile(q), low), high)
    for _ in range(200):
        gap = t_cdf(x, df) - q
        if gap > 0:
            high = x
        else:
            low = x
        density = math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))
        step = x - gap / density if density > 0 else (low + high) / 2
        if not low < step < high:
            step = (low + high) / 2
        done = abs(step - x) <= 1e-13 * abs(step) or high - low <= 1e-15 * abs(low)
        x = step
        if done:
            break
    return x if p < 0.5 else -x


def root(f, a: float, b: float, xtol: float = 1e-12, maxiter: int = 200) -> float:
    """A root of ``f`` between ``a`` and ``b``, where ``f`` changes sign: Brent's method.

    What ``scipy.optimize.brentq`` finds, without importing ``scipy.optimize`` (half a
    second): inverse quadratic interpolation or secant steps where they stay well inside
    the bracket, bisection where not (Brent 1973, ch. 4, "zeroin"). Returns a point within
    ``xtol`` plus four machine epsilons of itself (8.9e-16 |x|) of a sign change of ``f``.
    """
    fa, fb = f(a), f(b)
    if fa == 0:
        return a
    if fb == 0:
        return b
    if (fa > 0) == (fb > 0):
        raise ValueError(f"root: f changes no sign between {a} (f = {fa}) and {b} (f = {fb})")
    c, fc = a, fa
    d = e = b - a
    for _ in range(maxiter):
        if (fb > 0) == (fc > 0):  # keep the root between b and c
            c, fc = a, fa
            d = e = b - a
        if abs(fc) < abs(fb):  # b: the better guess
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = 2 * np.finfo(float).eps * abs(b) + 0.5 * xtol
        half = 0.5 * (c - b)
        if abs(half) <= tol or fb == 0:
            return b
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:  # secant
                p, q = 2 * half * s, 1 - s
            else:  # inverse quadratic interpolation
                q, r = fa / fc, fb / fc
                p = s * (2 * half * q * (q - r) - (b - a) * (r - 1))
                q = (q - 1) * (r - 1) * (s - 1)
            if p > 0:
                q = -q
            p = abs(p)
            if 2 * p < min(3 * half * q - abs(tol * q), abs(e * q)):
                e, d = d, p / q  # the interpolation is accepted
            else:
                d = e = half
        else:
            d = e = half
        a, fa = b, fb
        b += d if abs(d) > tol else math.copysign(tol, half)
        fb = f(b)
    raise RuntimeError(f"root: no convergence in {maxiter} steps between {a} and {b}")


def sample_ratio_test(counts: Sequence[int], expected_split: Sequence[float]) -> dict:
    """Chi-square test of observed arm sizes against the intended split.

    Returns ``{"p_value", "ok", "observed", "expected"}``; ``ok`` is False below
    :data:`SRM_ALPHA`.
    """
    counts = np.asarray(counts, dtype=float)
    split = np.asarray(expected_split, dtype=float)
    expected = counts.sum() * split / split.sum()
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    p_value = chi2_sf(statistic, len(counts) - 1)
    return {
        "p_value": p_value,
        "alpha": SRM_ALPHA,
        "ok": p_value >= SRM_ALPHA,
        "observed": [int(c) for c in counts],
        "expected": [float(e) for e in expected],
    }


def two_proportion_ztest(x_a: int, n_a: int, x_b: int, n_b: int) -> dict:
    """Two-sided two-proportion z-test of B against A and a 95% CI for ``p_b - p_a``.

    The CI is Wald's, except where an arm's rate is 0 or 1: Wald's standard error of that
    arm is then 0 and its interval shrinks to a point, so the Agresti-Caffo interval (one
    success and one failure added to each arm; Agresti & Caffo 2000) is used and named in
    ``test``. With every unit converting (or none) the z statistic is 0 and p is 1: the
    data show no difference.
    """
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (p_b - p_a) / se_pooled if se_pooled > 0 else 0.0
    name = "two-proportion z-test"
    centre = p_b - p_a
    if {p_a, p_b} & {0.0, 1.0}:
        name += " (Agresti-Caffo interval)"
        a, b = (x_a + 1) / (n_a + 2), (x_b + 1) / (n_b + 2)
        centre = b - a
        se = np.sqrt(a * (1 - a) / (n_a + 2) + b * (1 - b) / (n_b + 2))
    else:
        se = np.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    half = normal_quantile(0.975) * se
    # A difference of two rates lies between -1 and 1 (Agresti-Caffo's may reach beyond).
    low, high = max(centre - half, -1.0), min(centre + half, 1.0)
    return {
        "test": name,
        "statistic": float(z),
        "p_value": 2 * normal_cdf(-abs(float(z))),
        "estimate": float(p_b - p_a),
        "ci": [float(low), float(high)],
        "ci_prob": 0.95,
    }


def welch_from_moments(
    n_a: float, mean_a: float, var_a: float, n_b: float, mean_b: float, var_b: float
) -> dict:
    """Welch's two-sided t-test of ``mean_b - mean_a`` from each group's count.

    Mean and variance (``ddof=1``), with its 95% confidence interval.
    """
    se2_a, se2_b = var_a / n_a, var_b / n_b
    se = float(np.sqrt(se2_a + se2_b))
    diff = mean_b - mean_a
    if se == 0 or min(n_a, n_b) < 2:
        # No spread to test against: equal means are no evidence of a difference, unequal
        # ones (every value of each arm the same) are a certain one.
        return {
            "test": "Welch t-test",
            "statistic": 0.0 if diff == 0 else None,  # infinite (JSON has no infinity)
            "p_value": 1.0 if diff == 0 else 0.0,
            "estimate": float(diff),
            "ci": [float(diff), float(diff)],
            "ci_prob": 0.95,
        }
    df = (se2_a + se2_b) ** 2 / (se2_a**2 / (n_a - 1) + se2_b**2 / (n_b - 1))
    t = diff / se
    half = t_quantile(0.975, df) * se
    return {
        "test": "Welch t-test",
        "statistic": float(t),
        "p_value": float(2 * t_cdf(-abs(t), df)),
        "estimate": float(diff),
        "ci": [float(diff - half), float(diff + half)],
        "ci_prob": 0.95,
    }


def z_test(estimate: float, se: float, name: str) -> dict:
    """A two-sided z-test of a normally distributed estimate against zero, with a 95% CI."""
    if se > 0:
        z = estimate / se
    else:  # no uncertainty: a difference of exactly 0 or a certain one
        z = 0.0 if estimate == 0 else float(np.sign(estimate) * np.inf)
    half = normal_quantile(0.975) * se
    return {
        "test": name,
        "statistic": float(z) if np.isfinite(z) else None,  # JSON has no infinity
        "p_value": 2 * normal_cdf(-abs(float(z))),
        "estimate": float(estimate),
        "ci": [float(estimate - half), float(estimate + half)],
        "ci_prob": 0.95,
    }


def ranks(draws: np.ndarray) -> np.ndarray:
    """Ranks of (chains x draws) among all draws, for rank plots: uniform when converged."""
    flat = np.asarray(draws, dtype=float).ravel()
    return _average_ranks(flat).reshape(np.shape(draws))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties given their average rank (``rankdata``'s default)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    cuts = np.flatnonzero(np.diff(ordered)) + 1
    starts, ends = np.r_[0, cuts], np.r_[cuts, values.size]
    ranks = np.empty(values.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def _z_scale(draws: np.ndarray) -> np.ndarray:
    """Rank-normalise (chains x draws): normal scores of the pooled ranks (Blom's offset)."""
    from scipy.special import ndtri

    ranks = _average_ranks(draws.ravel())
    return ndtri((ranks - 3 / 8) / (ranks.size + 1 / 4)).reshape(draws.shape)


def _split(draws: np.ndarray) -> np.ndarray:
    """Each chain's first and last halves as separate chains."""
    half = draws.shape[1] // 2
    return np.vstack((draws[:, :half], draws[:, -half:]))


def _rhat_of(draws: np.ndarray) -> float:
    n = draws.shape[1]
    between = n * np.var(draws.mean(axis=1), ddof=1)
    within = np.mean(np.var(draws, axis=1, ddof=1))
    return float(np.sqrt((between / within + n - 1) / n))


def rhat(draws: np.ndarray) -> float:
    """Rank-normalised split R-hat of (chains x draws), the larger of bulk and tail.

    Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), as ArviZ computes it; the tests
    check it against ArviZ. In NumPy because importing ArviZ's statistics takes two seconds.
    """
    draws = np.asarray(draws, dtype=float)
    if draws.shape[0] < 2 or draws.shape[1] < 4 or not np.isfinite(draws).all():
        return float("nan")
    split = _split(draws)
    bulk = _rhat_of(_z_scale(split))
    tail = _rhat_of(_z_scale(np.abs(split - np.median(split))))
    return max(bulk, tail)


def _autocov(draws: np.ndarray) -> np.ndarray:
    """Autocovariance of each chain at every lag (zero-padded FFT, biased estimate)."""
    n = draws.shape[1]
    centred = draws - draws.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * n, axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=2 * n, axis=1)[:, :n] / n


def _ess_of(draws: np.ndarray) -> float:
    """Effective sample size of (chains x draws): Geyer's initial monotone sequence."""
    n_chain, n_draw = draws.shape
    if np.ptp(draws) < np.finfo(float).resolution:
        return float(draws.size)
    acov = _autocov(draws)
    mean_var = np.mean(acov[:, 0]) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(draws.mean(axis=1), ddof=1)
    rho = np.zeros(n_draw)
    rho_even, rho_odd = 1.0, 1.0 - (mean_var - np.mean(acov[:, 1])) / var_plus
    rho[0], rho[1] = rho_even, rho_odd
    t = 1
    while t < n_draw - 3 and rho_even + rho_odd > 0.0:
        rho_even = 1.0 - (mean_var - np.mean(acov[:, t + 1])) / var_plus
        rho_odd = 1.0 - (mean_var - np.mean(acov[:, t + 2])) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t + 1], rho[t + 2] = rho_even, rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho[max_t + 1] = rho_even
    t = 1
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])
    tau = max(tau, 1 / np.log10(draws.size))
    return float("nan") if np.isnan(rho).any() else float(draws.size / tau)


def ess_bulk(draws: np.ndarray) -> float:
    """Bulk effective sample size of (chains x draws): rank-normalised split chains."""
    draws = np.asarray(draws, dtype=float)
    if draws.shape[1] < 4 or not np.isfinite(draws).all():
        return float("nan")
    return _ess_of(_z_scale(_split(draws)))


def ess_mean(draws: np.ndarray) -> float:
    """Effective sample size of (chains x draws) for the mean: split chains, raw values."""
    draws = np.asarray(draws, dtype=float)
    if draws.shape[1] < 4 or not np.isfinite(draws).all():
        return float("nan")
    return _ess_of(_split(draws))


def convergence(posterior: xr.Dataset, divergences: int) -> dict:
    """R-hat (rank-normalised) and bulk ESS over every variable of a posterior.

    Parameters
    ----------
    posterior
        Draws with leading ``chain`` and ``draw`` dimensions.
    divergences
        Number of divergent transitions reported by the sampler.
    """
    r_hats, esses = [], []
    for var in posterior.data_vars.values():
        values = var.transpose("chain", "draw", ...).values
        columns = values.reshape(values.shape[0], values.shape[1], -1)
        for i in range(columns.shape[2]):
            r_hats.append(rhat(columns[:, :, i]))
            esses.append(ess_bulk(columns[:, :, i]))
    r_hat_max, ess_bulk_min = float(np.max(r_hats)), float(np.min(esses))
    return {
        "r_hat_max": r_hat_max,
        "ess_bulk_min": ess_bulk_min,
        "divergences": int(divergences),
        "ok": bool(r_hat_max <= R_HAT_MAX and ess_bulk_min >= ESS_BULK_MIN and divergences == 0),
        **limits(),
    }


def hdi_columns(draws: np.ndarray, prob: float = CI_PROB) -> np.ndarray:
    """HDI of every column of ``draws`` (draws x items) at once, as an (items, 2) array.

    The narrowest window spanning ``floor(prob * n)`` steps of the sorted draws, the rule
    ArviZ uses for :func:`hdi`, vectorised so thousands of units are summarised in one pass
    (:func:`hdi_rows` on the transpose).
    """
    return hdi_rows(np.asarray(draws, dtype=float).T, prob)


def hdi_rows(draws: np.ndarray, prob: float = CI_PROB, overwrite: bool = False) -> np.ndarray:
    """HDI of every row of ``draws`` (items x draws), as an (items, 2) array.

    The same interval as sorting each row and taking the narrowest window of ``k =
    floor(prob * n)`` steps, without the full sort: every window starts among the
    ``n - k`` smallest draws and ends among the ``n - k`` largest, so one
    partition per row puts both tails in place and only they are sorted (for a 94% HDI,
    6% of the draws at each end). ``overwrite``: partition ``draws`` in place (a float
    array the caller no longer needs), saving a copy.
    """
    values = np.ascontiguousarray(draws, dtype=float)
    n = values.shape[1]
    k = int(np.floor(prob * n))
    starts = n - k  # candidate first draws of the window (and last ones)
    if starts >= k:  # the tails overlap: sort everything
        ordered = np.sort(values, axis=1)
        low, high = ordered[:, :starts], ordered[:, k:]
    else:
        if overwrite:
            values.partition((starts - 1, k), axis=1)
            parted = values
        else:
            parted = np.partition(values, (starts - 1, k), axis=1)
        low = np.sort(parted[:, :starts], axis=1)
        high = np.sort(parted[:, k:], axis=1)
    start = np.argmin(high - low, axis=1)
    rows = np.arange(values.shape[0])
    return np.stack([low[rows, start], high[rows, start]], axis=1)


def normal_interval(mean: np.ndarray, se: np.ndarray, prob: float = CI_PROB) -> np.ndarray:
    """Central interval ``mean ± z * se`` at probability ``prob`` (for normal estimates)."""
    z = normal_quantile(0.5 + prob / 2)
    mean, se = np.asarray(mean, dtype=float), np.asarray(se, dtype=float)
    return np.stack([mean - z * se, mean + z * se], axis=-1)
