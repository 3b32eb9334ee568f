"""Every unit's summary (``pooling.unit_summaries``) against the plain sorting implementation.

The fast path lays the draws out unit by unit, computes each unit's pull once per distinct
``sigma_unit`` and partitions instead of sorting; the reference below is the plain rule: a
(draws x units) array of conditional means, one draw of each unit per hyperparameter draw,
every column sorted.
"""

import numpy as np
import pytest
from scipy import special

from analyses.core import pooling


def _reference(y, se, g, mu_group, sigma_unit, prob, seed):
    rng = np.random.default_rng(seed)
    s2, tau2 = se[None, :] ** 2, sigma_unit[:, None] ** 2
    pull = s2 / (s2 + tau2)
    m = pull * mu_group[:, g] + (1 - pull) * y[None, :]
    sd = np.sqrt((1 - pull) * s2)
    draws = np.sort(m + sd * rng.standard_normal(m.shape), axis=0)
    n = draws.shape[0]
    k = int(np.floor(prob * n))
    start = np.argmin(draws[k:] - draws[: n - k], axis=0)
    cols = np.arange(draws.shape[1])
    return {
        "mean": m.mean(axis=0),
        "prob_positive": special.ndtr(m / sd).mean(axis=0),
        "shrinkage": pull.mean(axis=0),
        "hdi": np.stack([draws[start, cols], draws[start + k, cols]], axis=1),
    }


def test_unit_summaries_agree_with_sorting_every_unit_s_draws():
    # 1,200 units (more than one chunk) in 5 groups; SEs over a 30x range, so some units are
    # pulled almost entirely to their group mean (a posterior made mostly of the group mean's
    # uncertainty) and some barely; spreads from a grid (few distinct values), as the exact
    # path draws them.
    rng = np.random.default_rng(3)
    n, groups, draws = 1200, 5, 2000
    g = rng.integers(0, groups, n)
    se = np.exp(rng.uniform(np.log(0.03), np.log(0.9), n))
    effect = rng.normal(0.2, 0.3, groups)[g] + 0.25 * rng.standard_normal(n)
    y = effect + se * rng.standard_normal(n)
    fitted = pooling.fit(y, se, g, groups)
    drawn = pooling.draws(fitted, draws, np.random.default_rng(4))
    args = (y, se, g, drawn["mu_group"], drawn["sigma_unit"], 0.94)
    fast = pooling.unit_summaries(*args, seed=5)
    # The averages of exact conditionals are the same numbers (summed in another order).
    reference = _reference(*args, seed=5)
    for key in ("mean", "prob_positive", "shrinkage"):
        assert fast[key] == pytest.approx(reference[key], rel=1e-9, abs=1e-12)
    # The HDI is a Monte Carlo estimate from one draw per hyperparameter draw: the fast path
    # and the reference use different draws, so they differ by Monte Carlo error. Each end's
    # error is measured by repeating the reference over seeds; across the units, the
    # differences must look like that error and nothing more (no bias, no wider spread).
    repeats = np.array([_reference(*args, seed=s)["hdi"] for s in range(6, 14)])
    error = repeats.std(axis=0, ddof=1)  # per unit and end
    centre = repeats.mean(axis=0)
    z = (fast["hdi"] - centre) / (error * np.sqrt(1 + 1 / len(repeats)))
    # Were they independent estimates of the same interval, z would follow Student's t with
    # repeats - 1 degrees of freedom (the error is itself estimated from the repeats).
    df = len(repeats) - 1
    assert np.abs(np.mean(z, axis=0)).max() < 0.15  # no bias (SE of the mean about 0.03)
    assert np.std(z) == pytest.approx(np.sqrt(df / (df - 2)), rel=0.1)  # MC error ~2%
    # And the interval is the same interval: the mean width agrees to a fraction of a percent.
    widths = np.diff(fast["hdi"], axis=1)[:, 0], np.diff(centre, axis=1)[:, 0]
    assert np.mean(widths[0] / widths[1]) == pytest.approx(1.0, abs=0.005)


@pytest.mark.parametrize(
    ("means", "sds", "weights"),
    [
        ([0.0, 0.5, 2.0], [1.0, 0.7, 0.5], [0.5, 0.3, 0.2]),  # skewed
        ([-3.0, 3.0], [1.0, 1.0], [0.45, 0.55]),  # two modes: one interval over both
        ([0.0, 0.2, 6.0], [0.3, 1.5, 0.4], [0.5, 0.45, 0.05]),  # a far small bump
        ([10.0 + 0.01 * i for i in range(200)], [0.05] * 200, [1 / 200] * 200),  # many
    ],
)
def test_mixture_hdi_is_the_shortest_interval_holding_prob(means, sds, weights):
    """Against a brute-force search: for every lower end on a fine grid, the upper end
    holding 94% by root finding; the shortest kept, refined by a bounded minimiser."""
    from scipy.optimize import brentq, minimize_scalar

    means, sds, weights = np.array(means), np.array(sds), np.array(weights)
    found = pooling.mixture_summary(means, sds**2, weights, 0.94)
    spread = found["sd"]

    def cdf(x):
        return float(weights @ special.ndtr((x - means) / sds))

    def width(lo):
        return brentq(lambda h: cdf(h) - cdf(lo) - 0.94, lo, means.max() + 20 * sds.max()) - lo

    top = brentq(lambda x: cdf(x) - 0.06, means.min() - 20 * sds.max(), means.max())
    grid = np.linspace(means.min() - 10 * sds.max(), top, 400)
    start = grid[np.argmin([width(lo) for lo in grid])]
    step = grid[1] - grid[0]
    best = minimize_scalar(
        width, bounds=(start - step, start + step), method="bounded", options={"xatol": 1e-10}
    )
    assert found["hdi"][1] - found["hdi"][0] == pytest.approx(best.fun, abs=1e-7 * spread)
    assert found["hdi"][0] == pytest.approx(best.x, abs=1e-3 * spread)
    assert cdf(found["hdi"][1]) - cdf(found["hdi"][0]) == pytest.approx(0.94, abs=1e-8)


def test_unit_summaries_do_not_depend_on_how_many_units_are_summarised_at_once(monkeypatch):
    # The same numbers, bit for bit, whatever the chunk: the buffers are reused, the random
    # draws are taken in the same order, and each unit is summarised along its own row.
    rng = np.random.default_rng(8)
    n, groups, draws = 300, 4, 1000
    g = rng.integers(0, groups, n)
    se = np.exp(rng.uniform(np.log(0.05), np.log(0.8), n))
    y = rng.normal(0.2, 0.4, n)
    mu_group = rng.normal(0.2, 0.1, (draws, groups))
    sigma_unit = rng.choice([0.2, 0.3, 0.4], draws)
    args = (y, se, g, mu_group, sigma_unit, 0.94, 5)
    default = pooling.unit_summaries(*args)
    monkeypatch.setattr(pooling, "CHUNK", 7)  # 300 is not a multiple: a short last chunk
    chunked = pooling.unit_summaries(*args)
    for key in default:
        assert np.array_equal(default[key], chunked[key]), key
