"""Continuous metrics: the exact normal posterior on the log scale, and the Student-t model
(real NUTS sampling, kept small)."""

import numpy as np
import pandas as pd
import pytest

from analyses import ab_test
from analyses.core.base import Settings
from tests.analyses import ab_inputs

SMALL = Settings(draws=500, tune=500, chains=2, seed=11)


def spec(**overrides) -> ab_test.Spec:
    """A continuous A/B entry (:func:`tests.analyses.ab_inputs.spec`)."""
    return ab_inputs.spec("continuous", **overrides)


def lognormal_frame(seed: int, log_means=(11.42, 11.70), sizes=(1103, 384), sd=0.6):
    rng = np.random.default_rng(seed)
    parts = [
        pd.DataFrame({"arm": arm, "y": rng.lognormal(mu, sd, n)})
        for arm, mu, n in zip(("A", "B"), log_means, sizes, strict=True)
    ]
    return pd.concat(parts, ignore_index=True)


def test_log_scale_lift_is_recovered_and_agrees_with_welch(rows):
    frame = lognormal_frame(5)
    s = spec(log_transform=True)
    fit = ab_test.fit(s, rows("ab_test", s, frame)[0], SMALL)
    comp = fit.results.comparisons[0]
    low, high = comp.lift_log.hdi
    assert low < 0.28 < high
    # With weak priors the posterior mean of the log lift matches the difference of the
    # observed log means, within a tenth of its standard error (Monte Carlo error).
    logs = np.log(frame["y"])
    observed = logs[frame["arm"] == "B"].mean() - logs[frame["arm"] == "A"].mean()
    se = np.sqrt(logs[frame["arm"] == "B"].var() / 384 + logs[frame["arm"] == "A"].var() / 1103)
    assert comp.lift_log.mean == pytest.approx(observed, abs=0.05 * se)
    # The 94% HDI is close to the Welch interval at the same level.
    welch_width = 2 * 1.881 * se
    assert high - low == pytest.approx(welch_width, rel=0.05)
    # The ratio of geometric means is exp(log lift).
    assert 1 + comp.lift_rel.mean == pytest.approx(np.exp(comp.lift_log.mean), rel=0.01)
    assert fit.diagnostics.ok
    assert comp.frequentist.scale == "log"


@pytest.mark.slow
def test_robust_model_resists_outliers(rows):
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(
        {
            "arm": np.repeat(["A", "B"], 300),
            "y": np.r_[rng.normal(10, 2, 300), rng.normal(11, 2, 300)],
        }
    )
    frame.loc[5, "y"] = 400.0  # one wild value in the control arm
    normal = ab_test.fit(spec(), rows("ab_test", spec(), frame)[0], SMALL)
    s = spec(robust=True)
    robust = ab_test.fit(s, rows("ab_test", s, frame)[0], SMALL).results.comparisons[0]
    normal = normal.results.comparisons[0]
    # The true difference is +1; the outlier drags the normal model's estimate far off.
    assert abs(robust.lift_abs.mean - 1.0) < 0.5
    assert abs(normal.lift_abs.mean - 1.0) > abs(robust.lift_abs.mean - 1.0)
    low, high = robust.lift_abs.hdi
    assert low < 1.0 < high


@pytest.mark.slow
def test_robust_on_the_log_scale_models_the_logs(rows):
    """robust + log_transform: the Student-t model of the logs agrees with the exact normal
    model of the logs on log-normal data (no outliers), and reports the same scales."""
    frame = lognormal_frame(9)
    exact_spec = spec(log_transform=True)
    exact = ab_test.fit(exact_spec, rows("ab_test", exact_spec, frame)[0], SMALL)
    robust_spec = spec(log_transform=True, robust=True)
    robust = ab_test.fit(robust_spec, rows("ab_test", robust_spec, frame)[0], SMALL)
    e, r = exact.results.comparisons[0], robust.results.comparisons[0]
    logs = np.log(frame["y"])
    se = np.sqrt(logs[frame["arm"] == "B"].var() / 384 + logs[frame["arm"] == "A"].var() / 1103)
    # Same quantity on the same scale: within a fifth of a standard error (the t model's
    # heavier tails and 2 x 500 draws of Monte Carlo error account for the rest).
    assert r.lift_log.mean == pytest.approx(e.lift_log.mean, abs=0.2 * se)
    assert 1 + r.lift_rel.mean == pytest.approx(np.exp(r.lift_log.mean), rel=0.01)
    # The arms' values are geometric means (tens of thousands), not logs (about 11).
    assert robust.results.arms[0].mean > 1000
