"""readout's quantile metrics against GrowthBook's gbstats on the same data.

The numbers were produced by gbstats 0.8.0 (Python 3.11, pandas below 2) with
``tests/gbstats/make_quantile_numbers.py``; ``quantile_numbers.json`` holds each scenario's
data (value -> count per arm), gbstats' inputs and its outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analyses.ab_test.metrics import Metric
from analyses.ab_test.quantile import histogram, relative_test, statistic, summarise

NUMBERS = json.loads(Path(__file__).with_name("quantile_numbers.json").read_text())
SCENARIOS = NUMBERS["scenarios"]
ARMS = ["control", "treatment"]


def bins_of(scenario):
    data = scenario["data"]
    return {
        arm: histogram(np.repeat(data[arm]["values"], data[arm]["counts"]).astype(float))
        for arm in ARMS
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_the_traditional_test_is_gbstats_own_on_the_same_inputs(scenario):
    """Given gbstats' per-arm inputs, readout's t-test is gbstats' to rounding."""
    found = relative_test(scenario["inputs"]["control"], scenario["inputs"]["treatment"])
    expected = scenario["frequentist"]
    assert found["estimate"] == pytest.approx(expected["estimate"], abs=1e-12)
    assert found["ci"] == pytest.approx(expected["ci"], abs=1e-10)
    assert found["p_value"] == pytest.approx(expected["p_value"], abs=1e-10)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_from_the_histogram_the_numbers_stay_within_its_accuracy(scenario):
    """From the engine's histogram (0.2% bins), not the exact values.

    Each quantile (and its order-statistic bounds) within 0.2% of the exact one, so the
    relative difference within 0.4 points and the CI's ends within 0.6 (the bounds move the
    spread too); the p-value within 0.01.
    """
    q = scenario["quantile"]
    bins = bins_of(scenario)
    seen = {arm: statistic(bins[arm], q) for arm in ARMS}
    for arm in ARMS:
        for key in ("quantile_hat", "quantile_lower", "quantile_upper"):
            assert seen[arm][key] == pytest.approx(scenario["inputs"][arm][key], rel=0.002)
        assert seen[arm]["n"] == scenario["inputs"][arm]["n"]
    found = relative_test(seen["control"], seen["treatment"])
    expected = scenario["frequentist"]
    assert found["estimate"] == pytest.approx(expected["estimate"], abs=0.004)
    assert found["ci"] == pytest.approx(expected["ci"], abs=0.006)
    assert found["p_value"] == pytest.approx(expected["p_value"], abs=0.01)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_the_bayesian_bootstrap_agrees_with_gbstats_bayesian_test(scenario):
    """Chance to win and the relative difference's 95% interval, lower is better.

    gbstats' Bayesian test is a normal approximation (delta method on the order-statistic
    variance, flat prior); readout's the Bayesian bootstrap over units. They agree as the
    units grow; over these scenarios (800 to 6,000 units an arm) the largest gaps are 0.011
    in the chance to win and 6% of the interval's width in its mean and ends (the p99, whose
    posterior is the most skewed). Allowed: 0.02 and 12% of the width. Monte Carlo error of
    40,000 draws: below 0.002 in a chance and 1% of the width in an end.
    """
    q = scenario["quantile"]
    metric = Metric(
        name="load", label="page load", kind="quantile", higher_is_better=False, quantile=q
    )
    summary, _ = summarise(
        metric, bins_of(scenario), q, ARMS, 40_000, 0.95, None, np.random.default_rng(11)
    )
    comp = summary.comparisons[0]
    expected = scenario["bayesian"]
    width = expected["ci"][1] - expected["ci"][0]
    assert comp.prob_better == pytest.approx(expected["chance_to_win_lower_is_better"], abs=0.02)
    assert comp.lift_rel.mean == pytest.approx(expected["mean"], abs=0.12 * width)
    assert comp.lift_rel.hdi == pytest.approx(expected["ci"], abs=0.12 * width)
    # The treatment's factor is the truth: inside the 95% interval in every scenario.
    truth = scenario["true_factor"] - 1
    assert comp.lift_rel.hdi[0] <= truth <= comp.lift_rel.hdi[1]
