"""Segment breakdowns pooled across levels, against the truth of simulated experiments."""

import numpy as np

from analyses.ab_test import segments as ab_segments
from analyses.ab_test.metrics import Metric

METRIC = Metric("buy", "purchase rate", "binary")


def level(rng, n, base, lift):
    out = {}
    for arm, p in (("A", base), ("B", base * (1 + lift))):
        k = float(rng.binomial(n, p))  # 0/1 values: the sum of squares is the sum
        out[arm] = {"units": float(n), "n": float(n), "sum": k, "sum2": k}
    return out


def test_levels_sharing_one_lift_are_pooled_toward_it_and_said_to_share_it():
    rng = np.random.default_rng(3)
    own_err, pooled_err = [], []
    for rep in range(20):
        sizes = rng.integers(300, 6000, 10)
        levels = {f"L{i}": level(rng, int(n), 0.1, 0.10) for i, n in enumerate(sizes)}
        rows, spread = ab_segments.segment_rows(METRIC, levels, "A", "B", "country", 0.94)
        assert len(rows) == 10 and spread.levels == 10
        own_err += [r.own.mean - 0.10 for r in rows]
        pooled_err += [r.pooled.mean - 0.10 for r in rows]
        if rep == 0:
            low, high = spread.sigma.hdi
            assert low < 0.1 * high  # the spread's interval reaches zero
    # Pooling brings the levels' estimates closer to the truth than their own estimates.
    assert np.sqrt(np.mean(np.square(pooled_err))) < 0.6 * np.sqrt(np.mean(np.square(own_err)))


def test_levels_that_differ_keep_their_own_lifts_and_the_spread_excludes_zero():
    rng = np.random.default_rng(4)
    truth = dict(zip("ABCDEFGH", np.linspace(-0.2, 0.4, 8), strict=True))
    levels = {name: level(rng, 40_000, 0.1, lift) for name, lift in truth.items()}
    rows, spread = ab_segments.segment_rows(METRIC, levels, "A", "B", "country", 0.94)
    assert spread.sigma.hdi[0] > 0.05
    misses = sum(not (row.pooled.hdi[0] < truth[row.level] < row.pooled.hdi[1]) for row in rows)
    assert misses <= 2  # a 94% interval misses 0.5 of 8 on average; 3 or more: p < 0.02
    for row in rows:
        assert row.shrinkage < 0.1  # large levels that differ barely move


def test_a_level_too_small_for_its_own_lift_stays_and_is_marked():
    rng = np.random.default_rng(5)
    levels = {name: level(rng, 3000, 0.1, 0.1) for name in ("DE", "FR", "US")}
    levels["IS"] = {"A": {"units": 1.0, "n": 1.0, "sum": 0.0, "sum2": 0.0}}
    levels["NO"] = level(rng, 30, 0.1, 0.1)
    rows, spread = ab_segments.segment_rows(METRIC, levels, "A", "B", "country", 0.94)
    by = {r.level: r for r in rows}
    assert set(by) == {"DE", "FR", "US", "IS", "NO"}
    assert by["IS"].own is None and by["IS"].few_units and by["IS"].n == 1
    assert by["NO"].few_units and by["NO"].own is not None
    assert not by["US"].few_units
    # The unseen level's interval is the population's: around the overall lift, and wider
    # than the overall mean's own interval.
    overall = spread.overall
    assert by["IS"].pooled.hdi[0] <= overall.hdi[0]
    assert by["IS"].pooled.hdi[1] >= overall.hdi[1]


def test_hundreds_of_levels_are_all_kept():
    rng = np.random.default_rng(6)
    levels = {f"c{i:03d}": level(rng, int(rng.integers(2, 400)), 0.1, 0.05) for i in range(500)}
    rows, spread = ab_segments.segment_rows(METRIC, levels, "A", "B", "creator", 0.94)
    assert len(rows) == 500 and spread.levels == 500
    assert all(0 <= r.shrinkage <= 1 for r in rows)


def test_many_levels_summarised_from_draws_agree_with_the_exact_mixture():
    """Beyond EXACT_LEVELS levels the pooled lifts come from posterior draws: each level's
    mean and HDI ends agree with the exact grid mixture within four Monte Carlo errors."""
    from analyses.core import pooling

    rng = np.random.default_rng(7)
    n_levels = ab_segments.EXACT_LEVELS + 40
    levels = {
        f"c{i:03d}": level(rng, int(rng.integers(200, 3000)), 0.1, rng.normal(0.05, 0.1))
        for i in range(n_levels)
    }
    rows, _ = ab_segments.segment_rows(METRIC, levels, "A", "B", "region", 0.94)
    names = sorted(levels)
    pairs = [ab_segments.relative_lift(METRIC, levels[n]["A"], levels[n]["B"]) for n in names]
    y, se = np.array(pairs).T
    fitted = pooling.fit(y, se)
    picks = [0, 17, 55, 99]
    exact = pooling.unit_exact(fitted, y, se, None, picks, 0.94)
    by = {r.level: r for r in rows}
    for i, want in zip(picks, exact, strict=True):
        got = by[names[i]].pooled
        sd = (want["hdi"][1] - want["hdi"][0]) / 3.76
        # Monte Carlo errors with 20,000 draws (measured over 100 levels x 5 seeds): the mean
        # 0.001 sd (it averages exact conditionals), an HDI end 0.04 sd; four of them each.
        assert abs(got.mean - want["mean"]) < 0.004 * sd
        assert abs(got.hdi[0] - want["hdi"][0]) < 0.16 * sd
        assert abs(got.hdi[1] - want["hdi"][1]) < 0.16 * sd
