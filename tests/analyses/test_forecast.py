"""How long until a decision: the forecast's pieces against independent calculations, and its
chances against what simulated experiments then do."""

import numpy as np
import pytest

from analyses.ab_test import Decision, decide_comparisons, forecast
from analyses.ab_test import metrics as ab_metrics
from analyses.ab_test.decide import verdicts
from analyses.ab_test.metrics import Metric, Priors
from analyses.core.stats import expected_loss

PROB = 0.94


def test_the_normal_comparison_matches_draws_of_the_same_normals():
    rng = np.random.default_rng(2)
    c = rng.normal(0.100, 0.004, 2_000_000)
    t = rng.normal(0.106, 0.005, 2_000_000)
    for direction in (1.0, -1.0):
        got = forecast.normal_comparison(
            "B",
            "A",
            (np.array([0.100]), np.array([0.004])),
            (np.array([0.106]), np.array([0.005])),
            direction,
            PROB,
        )
        assert got["prob_better"][0] == pytest.approx(np.mean(direction * (t - c) > 0), abs=2e-3)
        loss = expected_loss(direction * c, direction * t) / 0.100
        assert got["expected_loss_rel"][0] == pytest.approx(loss, rel=0.01)
    rel = t / c - 1
    low, high = np.quantile(rel, [0.03, 0.97])
    assert got["low"][0] == pytest.approx(low, abs=0.01)
    assert got["high"][0] == pytest.approx(high, abs=0.01)


def test_the_traffic_is_units_per_day_between_first_and_last_exposure():
    day = forecast.SECONDS_PER_DAY
    assert forecast.traffic(0.0, 10 * day, 5000)["units_per_day"] == pytest.approx(500)
    assert forecast.traffic(0.0, 0.5 * day, 5000) is None  # under a day: no rate
    assert forecast.traffic(float("nan"), day, 10) is None


def test_days_without_exposures_up_to_the_as_of_day_count_as_traffic():
    day = forecast.SECONDS_PER_DAY
    end = forecast.read_end("1970-01-20")  # 20 days after the first exposure at 0
    assert end == pytest.approx(20 * day)
    # Exposures stopped after 10 days: 5,000 over 20 days is 250 a day, not 500.
    assert forecast.traffic(0.0, 10 * day, 5000, end)["units_per_day"] == pytest.approx(250)
    assert forecast.traffic(0.0, 10 * day, 5000, end)["days"] == pytest.approx(20)
    # An as-of moment before the last exposure (clock skew) never shortens the span.
    assert forecast.traffic(0.0, 10 * day, 5000, 5 * day)["units_per_day"] == pytest.approx(500)
    assert forecast.read_end("1970-01-02T12:00:00") == pytest.approx(1.5 * day)
    assert forecast.read_end(None) != forecast.read_end(None)  # NaN: unknown


def conversions(rng, rates, n):
    return {
        arm: {"units": float(n), "n": float(n), "sum": float(rng.binomial(n, p)), "sum2": 0.0}
        for arm, p in zip("AB", rates, strict=True)
    }


def add(a, b):
    return {arm: {k: a[arm][k] + b[arm][k] for k in a[arm]} for arm in a}


def verdict(stats_, decision, seed):
    metric = Metric("buy", "purchase rate", "binary")
    summary, draws = ab_metrics.summarise(
        metric, stats_, ["A", "B"], Priors(), 4000, PROB, None, np.random.default_rng(seed)
    )
    return decide_comparisons(summary.comparisons, decision).verdict, draws


@pytest.mark.slow
def test_the_chance_of_a_decision_is_calibrated_on_simulated_experiments():
    """Simulated experiments run for a week, are forecast, and run 14 more days. Among those
    undecided after a week, the share decided later matches the forecast chance, overall and
    in thirds of the forecast (within four standard errors of the simulation plus 0.03 for the
    normal approximation of the update).

    The true lifts are spread evenly over -60% to +60%, far wider than a week's interval, so
    the model's flat prior describes them; a narrower spread of truths would make any flat-
    prior forecast overconfident, which is a statement about the prior, not the forecast.
    """
    rng = np.random.default_rng(17)
    decision = Decision(min_prob_better=0.95, max_expected_loss=0.01)
    per_day = 600
    forecasts, outcomes = [], []
    for i in range(3000):
        base = rng.uniform(0.08, 0.12)
        rates = (base, base * (1 + rng.uniform(-0.6, 0.6)))
        now = conversions(rng, rates, 7 * per_day // 2)
        first, draws = verdict(now, decision, i)
        if first != "keep_collecting":
            continue
        units = {a: now[a]["units"] for a in "AB"}
        chance = forecast.forecast(
            draws,
            units,
            ["A", "B"],
            1.0,
            per_day,
            PROB,
            lambda many: verdicts(many, decision)[0],
            np.random.default_rng(i),
            horizons=(14,),
            simulations=500,
        )[0].prob_decision
        later = add(now, conversions(rng, rates, 14 * per_day // 2))
        outcomes.append(verdict(later, decision, i + 10_000)[0] != "keep_collecting")
        forecasts.append(chance)
    forecasts, outcomes = np.array(forecasts), np.array(outcomes, dtype=float)
    assert len(outcomes) > 600

    def agree(mask):
        f, o = forecasts[mask], outcomes[mask]
        se = np.sqrt(np.mean(f * (1 - f)) / len(o))
        assert abs(o.mean() - f.mean()) < 4 * se + 0.03, (f.mean(), o.mean(), len(o))

    agree(np.ones_like(outcomes, dtype=bool))
    low, high = np.quantile(forecasts, [1 / 3, 2 / 3])
    for mask in (forecasts < low, (forecasts >= low) & (forecasts < high), forecasts >= high):
        agree(mask)
    # Sharper than a constant: experiments given a high chance decide more often.
    assert outcomes[forecasts >= high].mean() > outcomes[forecasts < low].mean() + 0.2


def test_an_experiment_without_exposures_for_days_is_flagged_with_its_last_day():
    from datetime import UTC, datetime

    from analyses.ab_test.data import QUIET_DAYS, ArmData, traffic_warnings

    last = datetime(2026, 11, 11, 17, 30, tzinfo=UTC).timestamp()

    def read(as_of, until=None, exposures=True):
        found = {"last_exposure": last} if exposures else None
        return traffic_warnings(ArmData([], [], {}, exposures=found, as_of=as_of, until=until))

    assert read("2026-11-30") == [
        {
            "code": "no_recent_traffic",
            "last_exposure": "2026-11-11",
            "count": 19,
            "as_of": "2026-11-30",
        }
    ]
    assert read(f"2026-11-{11 + QUIET_DAYS - 1}") == []  # quiet for too few days
    assert read(f"2026-11-{11 + QUIET_DAYS}T09:00:00")[0]["count"] == QUIET_DAYS
    assert read("2026-11-30", until="2026-11-12") == []  # read as of its planned end
    assert read("2026-11-30", exposures=False) == []  # a file: no exposure times
    assert read(None) == []


def test_a_stalled_experiment_is_forecast_at_the_rate_it_had_while_traffic_ran():
    """Review finding 2: 12,000 units over 10 days, then 20 days without any. The forecast
    (conditional on traffic resuming) uses the 1,200 a day it had, not 12,000 / 30 = 400;
    traffic that runs up to the as-of day keeps its rate over the whole span."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from analyses import ab_test
    from analyses.core.base import Settings
    from tests.analyses.ab_inputs import arm_data, spec

    first = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    data = arm_data({"A": (600, 6000), "B": (640, 6000)})
    exposures = {"first_exposure": first, "units": 12_000, "multiple_arms": 0}
    day = forecast.SECONDS_PER_DAY
    stalled = replace(
        data, exposures=exposures | {"last_exposure": first + 10 * day}, as_of="2026-11-30"
    )
    fit = ab_test.fit(spec(), stalled, Settings(exact_draws=4000))
    assert fit.results.forecast.units_per_day == pytest.approx(1200)
    assert [w["code"] for w in fit.warnings] == ["no_recent_traffic"]
    running = replace(
        data, exposures=exposures | {"last_exposure": first + 29.5 * day}, as_of="2026-11-30"
    )
    fit = ab_test.fit(spec(), running, Settings(exact_draws=4000))
    assert fit.results.forecast.units_per_day == pytest.approx(400)
    assert fit.warnings == []
