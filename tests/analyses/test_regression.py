"""Regression with known measurement error: errors, bad input, and (slow) calibration."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyses import regression as r
from analyses.core.base import DataError, Settings
from tests.analyses.agreement import assert_agree, combined_ess
from tests.conftest import fetch_rows

DATA = Path(__file__).resolve().parents[2] / "data"
FEATURES = ["degree_centrality", "reply_rate", "account_age_years"]


def spec(**overrides) -> r.Spec:
    keys = dict(
        name="r", title="R", analysis="regression", data="x.csv", target="y", features=["a", "b"]
    )
    return r.Spec(**(keys | overrides))


def frame(n=40, seed=0, **columns) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = {
        "a": rng.normal(size=n),
        "b": rng.normal(size=n),
        "y": rng.normal(size=n),
        "err": rng.uniform(0.1, 1, n),
    }
    return pd.DataFrame(base | columns)


def test_binomial_error_matches_the_formula_and_floors_extreme_shares():
    share, count = np.array([0.1, 0.1, 0.0, 1.0]), np.array([10, 100, 10, 20])
    error = r.binomial_error(share, count)
    assert error[:2] == pytest.approx(np.sqrt(0.1 * 0.9 / np.array([10, 100])))
    assert error[2] == pytest.approx(np.sqrt(0.05 * 0.95 / 10))
    assert error[3] == pytest.approx(np.sqrt(0.025 * 0.975 / 20))
    # 1/10 and 10/100 are both 10%, but the first is far less certain.
    assert error[0] > 3 * error[1]


@pytest.mark.parametrize(
    ("data", "overrides", "fragment"),
    [
        (frame().drop(columns="b"), {}, "column 'b' (from features"),
        (frame(b=["x"] * 40), {}, "non-numeric value(s)"),
        (frame(b=[1.0] * 40), {}, "feature 'b' is constant"),
        (frame(n=12), {}, "12 rows are too few for 2 feature(s)"),
        (
            frame(err=[0.5] * 39 + [0.0]),
            {"target_error": "err"},
            "1 zero or negative value(s), in rows 41",
        ),
        (frame(err=[-1.0] * 40), {"target_error": "err"}, "zero or negative"),
        (
            frame(y=[np.nan] + [0.1] * 39),
            {},
            "column 'y' (target) has 1 missing value(s), in rows 2",
        ),
        (frame(y=[np.inf] + [0.1] * 39), {}, "not finite numbers"),
        (frame(err=[10] * 40), {"count": "err"}, "outside 0 to 1"),
        (frame(y=[0.55] * 40, err=[10] * 40), {"count": "err"}, "not whole numbers of events"),
    ],
)
def test_unusable_data_is_refused_naming_the_column(data, overrides, fragment, rows):
    with pytest.raises(DataError) as info:
        rows("regression", spec(**overrides), data)
    assert fragment in str(info.value)


def test_a_predict_file_without_the_features_is_named_as_such(tmp_path, rows):
    path = tmp_path / "new.csv"
    pd.DataFrame({"a": [1.0], "c": [2.0]}).to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        rows("regression", spec(predict="new.csv"), frame(), files={"new.csv": path})
    message = str(info.value)
    assert str(path) in message and "column 'b' (from features" in message


def test_config_rejects_the_target_as_a_feature_and_two_error_sources():
    with pytest.raises(ValueError, match="target cannot also be a feature"):
        spec(features=["a", "y"])
    with pytest.raises(ValueError, match="not both"):
        spec(target_error="err", count="n")


def generator():
    module_spec = importlib.util.spec_from_file_location("generate", DATA / "generate.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_the_count_likelihood_is_pymcs_binomial_up_to_a_constant():
    """Dropping log(n choose k) leaves the posterior as it is: the model's log-density and
    that of the same model with pm.Binomial differ by that sum at every parameter value."""
    import pymc as pm
    import pytensor.tensor as pt
    from scipy.special import gammaln

    rng = np.random.default_rng(3)
    n = 120
    x = rng.normal(size=(n, 2))
    count = rng.integers(5, 300, n)
    events = rng.binomial(count, np.clip(0.3 + 0.1 * x[:, 0], 0.01, 0.99))
    data = r.Data(y=events / count, x=x, count=count.astype(float))
    s = spec(count="n")
    centre, scale = x.mean(axis=0), x.std(axis=0)
    ours, prior, kind = r.model(s, data, centre, scale)
    assert kind == "count"
    with pm.Model(coords={"feature": s.features}) as binomial:
        intercept = pm.Normal("intercept_std", prior["intercept_mean"], prior["intercept_sd"])
        beta = pm.Normal("beta_std", 0.0, prior["beta_sd"], dims="feature")
        share = pt.clip(intercept + ((x - centre) / scale) @ beta, 1e-6, 1 - 1e-6)
        pm.Binomial("y", n=count, p=share, observed=events)
    logp_ours, logp_binomial = ours.compile_logp(), binomial.compile_logp()
    constant = np.sum(gammaln(count + 1) - gammaln(events + 1) - gammaln(count - events + 1))
    for _ in range(6):
        point = {"intercept_std": rng.uniform(0.1, 0.5), "beta_std": rng.normal(0, 0.1, 2)}
        assert logp_binomial(point) - logp_ours(point) == pytest.approx(constant, rel=1e-9)


@pytest.mark.parametrize("kind", ["plain", "error", "count"])
def test_the_numpy_log_density_is_pymcs(kind):
    """Importance sampling weighs draws with the model's log-density written in NumPy: it
    equals PyMC's at every point, for each likelihood."""
    rng = np.random.default_rng(7)
    n = 50
    x = rng.normal(size=(n, 2))
    count = rng.integers(5, 60, n).astype(float) if kind == "count" else None
    y = rng.binomial(count.astype(int), 0.3) / count if kind == "count" else rng.normal(4, 3, n)
    error = rng.uniform(0.5, 2.0, n) if kind == "error" else None
    s = spec(
        **({"count": "n"} if kind == "count" else {"target_error": "e"} if kind == "error" else {})
    )
    centre, scale = x.mean(axis=0), x.std(axis=0)
    built, prior, found_kind = r.model(s, r.Data(y=y, x=x, error=error, count=count), centre, scale)
    assert found_kind == kind
    logp = built.compile_logp()
    values = np.round(y * count) if kind == "count" else y
    for _ in range(5):
        theta = rng.normal(0, 0.2, 3 if kind == "count" else 4)
        theta[0] += 0.3 if kind == "count" else 4.0
        point = {"intercept_std": theta[0], "beta_std": theta[1:3]}
        if kind != "count":
            point["sigma_log__"] = theta[3]
        ours = r.log_density(theta, kind, (x - centre) / scale, values, prior, error, count)[0]
        assert ours == pytest.approx(float(logp(point)), rel=1e-12)


@pytest.mark.slow
def test_importance_sampling_agrees_with_nuts(monkeypatch):
    """The topic-share model by importance sampling and by NUTS (forced by a Pareto k limit
    no draws meet): every coefficient's mean within five combined Monte Carlo standard
    errors, and its HDI's width within 10%."""
    from analyses.core import importance

    gen = generator()
    s = spec(target="share", features=FEATURES, count="messages")
    train = gen._topic_rows(np.random.default_rng(77), 300)
    data = r.Data(
        y=train["share"].to_numpy(float),
        x=train[FEATURES].to_numpy(float),
        count=train["messages"].to_numpy(float),
    )
    settings = Settings(draws=500, tune=500, chains=2, cores=2, seed=5)
    fast = r.fit(s, data, settings)
    assert fast.diagnostics.method.startswith("Pareto-smoothed importance sampling")
    monkeypatch.setattr(importance, "K_HAT_MAX", -np.inf)
    nuts = r.fit(s, data, settings)
    assert nuts.diagnostics.method == "NUTS (PyMC)" and nuts.diagnostics.ok
    ess = combined_ess(fast, nuts)
    for a, b in zip(fast.results.coefficients, nuts.results.coefficients, strict=True):
        assert_agree(a, b, ess, a.name)


@pytest.mark.slow
def test_coefficients_and_predictions_are_calibrated_over_simulated_data_sets(tmp_path):
    """Across 20 independent data sets the 94% HDIs cover the true coefficients, and the
    prediction intervals the true shares of new rows, at about the nominal rate."""
    gen = generator()
    s = spec(target="share", features=FEATURES, count="messages", predict="new.csv")
    truth = np.array([gen.TOPIC_COEFFICIENTS[f] for f in FEATURES])
    settings = Settings(draws=300, tune=300, chains=2, cores=2)
    coef_hits, pred_cover = [], []
    for seed in range(20):
        rng = np.random.default_rng(1000 + seed)
        train, new = gen._topic_rows(rng, 300), gen._topic_rows(rng, 40)
        new.to_csv(tmp_path / "new.csv", index=False)
        data, _ = fetch_rows("regression", s, train, tmp_path, {"new.csv": tmp_path / "new.csv"})
        fit = r.fit(s, data, settings)
        assert fit.diagnostics.ok
        hdi = np.array([c.hdi for c in fit.results.coefficients])
        coef_hits.extend((hdi[:, 0] <= truth) & (truth <= hdi[:, 1]))
        table = fit.tables["predictions"]
        pred_cover.append(
            np.mean(
                (table["mean_low"] <= new["true_share"]) & (new["true_share"] <= table["mean_high"])
            )
        )
    # 60 coefficient checks: binomial sd of the rate is sqrt(.94 * .06 / 60) = 0.031.
    assert abs(np.mean(coef_hits) - 0.94) < 3.5 * np.sqrt(0.94 * 0.06 / 60)
    # Prediction coverage per data set varies together with its coefficients; judge the
    # mean over data sets by its own spread.
    spread = np.std(pred_cover, ddof=1) / np.sqrt(len(pred_cover))
    assert abs(np.mean(pred_cover) - 0.94) < max(3.5 * spread, 0.02)


@pytest.mark.slow
def test_known_errors_weight_rows_and_an_ordinary_regression_works_without_them(rows):
    rng = np.random.default_rng(4)
    n = 200
    a = rng.normal(size=n)
    err = np.where(rng.random(n) < 0.5, 0.05, 2.0)
    y = 1.0 + 0.5 * a + err * rng.standard_normal(n)
    data = pd.DataFrame({"a": a, "b": rng.normal(size=n), "y": y, "err": err})
    settings = Settings(draws=400, tune=400, chains=2, cores=2)
    with_error = r.fit(
        spec(target_error="err"), rows("regression", spec(target_error="err"), data)[0], settings
    )
    plain = r.fit(spec(), rows("regression", spec(), data)[0], settings)
    a_err, a_plain = with_error.results.coefficients[0], plain.results.coefficients[0]
    assert a_err.hdi[0] < 0.5 < a_err.hdi[1]
    # Knowing which rows are precise gives a much narrower interval.
    assert np.diff(a_err.hdi)[0] < 0.5 * np.diff(a_plain.hdi)[0]
    assert with_error.results.sigma.hdi[0] < 1 < with_error.results.sigma.hdi[1]
