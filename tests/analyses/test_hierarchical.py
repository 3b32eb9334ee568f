"""Hierarchical pooling: exact conditionals, raw-row summaries, bad input, and (slow) the
fast path against the plain PyMC model and recovery of known creator effects."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analyses import hierarchical as h
from analyses import stats
from analyses.base import DataError, Settings

DATA = Path(__file__).resolve().parents[2] / "data"


def spec(**overrides) -> h.Spec:
    keys = dict(name="h", title="H", analysis="hierarchical", data="x.csv", unit="unit")
    if "arm" not in overrides:
        keys |= {"estimate": "estimate", "std_error": "se"}
    return h.Spec(**(keys | overrides))


def test_unit_summaries_match_the_normal_conditional_by_hand():
    rng = np.random.default_rng(0)
    y = np.array([1.5, -0.3, 0.2, 2.0])
    se = np.array([1.0, 0.2, 0.5, 3.0])
    g = np.array([0, 0, 1, 1])
    draws = h.SUMMARY_DRAWS  # all of them are used, so the hand calculation is exact
    mu_group = rng.normal([0.4, -0.2], 0.05, size=(draws, 2))
    sigma_unit = np.abs(rng.normal(0.6, 0.05, size=draws))
    out = h.unit_summaries(y, se, g, mu_group, sigma_unit, 0.94, seed=1)
    # Precision-weighted mean of own estimate and group mean, averaged over hyper draws.
    tau2 = sigma_unit[:, None] ** 2
    w = (1 / se**2) / (1 / se**2 + 1 / tau2)
    cond_mean = w * y + (1 - w) * mu_group[:, g]
    assert out["mean"] == pytest.approx(cond_mean.mean(axis=0))
    assert out["shrinkage"] == pytest.approx((1 - w).mean(axis=0))
    cond_sd = np.sqrt(1 / (1 / se**2 + 1 / tau2))
    assert out["prob_positive"] == pytest.approx(sps.norm.cdf(cond_mean / cond_sd).mean(axis=0))
    # The HDI from one draw per hyper draw agrees with a brute-force sample of the mixture
    # within four Monte Carlo standard errors (measured from repeated brute-force samples).
    brute = [
        stats.hdi_columns(
            cond_mean + cond_sd * np.random.default_rng(s).standard_normal(cond_mean.shape), 0.94
        )
        for s in range(10)
    ]
    spread = np.std(brute, axis=0, ddof=1)
    assert np.all(np.abs(out["hdi"] - np.mean(brute, axis=0)) < 4 * spread + 1e-9)
    # The unit with the largest standard error is pulled most.
    assert np.argmax(out["shrinkage"]) == 3


def test_raw_rows_give_difference_in_means_and_welch_standard_errors():
    frame = pd.DataFrame(
        {
            "unit": ["a"] * 6 + ["b"] * 6 + ["c"] * 5,
            "arm": ["c", "c", "c", "t", "t", "t"] * 2 + ["c", "c", "t", "t", "t"],
            "y": [1, 2, 3, 5, 6, 8, 0, 0, 1, 1, 2, 2, 3, 4, 4, 6, 5],
        }
    )
    units, warnings = h.load(
        spec(arm="arm", control="c", metric="y"), frame.astype({"y": float}), "f.csv"
    )
    a = units.set_index("unit").loc["a"]
    assert a["estimate"] == pytest.approx(np.mean([5, 6, 8]) - np.mean([1, 2, 3]))
    se = np.sqrt(np.var([5, 6, 8], ddof=1) / 3 + np.var([1, 2, 3], ddof=1) / 3)
    assert a["se"] == pytest.approx(se)
    assert a["users"] == 6
    assert warnings == []


def test_units_with_too_few_users_are_reported_not_silently_dropped():
    frame = pd.DataFrame(
        {
            "unit": ["a"] * 4 + ["b"] * 4 + ["c"] * 4 + ["d"] * 3,
            "arm": ["c", "c", "t", "t"] * 3 + ["c", "c", "c"],
            "y": np.arange(15, dtype=float),
        }
    )
    units, warnings = h.load(spec(arm="arm", control="c", metric="y"), frame, "f.csv")
    assert sorted(units["unit"]) == ["a", "b", "c"]
    assert warnings == [
        {"code": "units_too_few_users", "count": 1, "empty_arm": 1, "minimum": 2, "examples": ["d"]}
    ]


def summary_frame(**columns):
    base = {"unit": list("abcd"), "estimate": [1.0, 2.0, 0.5, -1.0], "se": [1.0, 0.5, 2.0, 1.0]}
    return pd.DataFrame(base | columns)


def test_bad_standard_errors_are_dropped_with_a_counted_warning():
    frame = pd.DataFrame(
        {
            "unit": list("abcde"),
            "estimate": [1.0, 2.0, 0.5, -1.0, 0.3],
            "se": [1.0, 0.0, -2.0, 1.0, 0.7],
        }
    )
    units, warnings = h.load(spec(), frame, "f.csv")
    assert list(units["unit"]) == ["a", "d", "e"]
    assert warnings[0]["code"] == "bad_std_error" and warnings[0]["count"] == 2
    assert warnings[0]["examples"] == ["b", "c"]


@pytest.mark.parametrize(
    ("frame", "overrides", "fragment"),
    [
        (summary_frame(unit=list("abca")), {}, "repeats 1 unit(s), e.g. 'a'"),
        (summary_frame(genre=["x"] * 4), {"group": "genre"}, "has one value only"),
        (summary_frame(se=[np.nan] * 4), {}, "no positive standard errors"),
        (summary_frame().drop(columns="se"), {}, "column 'se' (from std_error"),
        (summary_frame(estimate=["1", "x", "2", "3"]), {}, "non-numeric"),
    ],
)
def test_unusable_data_is_refused_naming_the_column(frame, overrides, fragment):
    with pytest.raises(DataError) as info:
        h.load(spec(**overrides), frame, "f.csv")
    assert fragment in str(info.value)


def test_config_must_choose_raw_or_summarised_rows():
    with pytest.raises(ValueError, match="not a mix"):
        spec(arm="arm", estimate="estimate", std_error="se", control="c", metric="y")


def eight_schools() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit": list("ABCDEFGH"),
            "estimate": [28.0, 8, -3, 7, -1, 1, 18, 12],
            "se": [15.0, 10, 16, 11, 9, 11, 10, 18],
        }
    )


def simulated(seed=3, n_groups=4, per_group=15):
    rng = np.random.default_rng(seed)
    rows = []
    for gi in range(n_groups):
        mu_g = rng.normal(0.5, 0.5)
        for k in range(per_group):
            se = rng.uniform(0.2, 1.5)
            rows.append(
                {
                    "unit": f"g{gi}-{k}",
                    "group": f"g{gi}",
                    "estimate": rng.normal(rng.normal(mu_g, 0.4), se),
                    "se": se,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["eight_schools", "grouped"])
def test_fast_path_agrees_with_the_full_noncentred_model(case):
    units = eight_schools() if case == "eight_schools" else simulated()
    overrides = {} if case == "eight_schools" else {"group": "group"}
    settings = Settings(draws=1000, tune=1000, chains=4, cores=2, seed=5)
    fast = h.fit(spec(**overrides), units, settings)
    full = h.fit(spec(method="full", **overrides), units, settings)
    a = pd.DataFrame(fast.tables["units"]).set_index("unit")
    b = pd.DataFrame(full.tables["units"]).set_index("unit")
    # Monte Carlo tolerance: four standard errors of the difference of two posterior means,
    # with the posterior sd read off the HDI and the smaller of the two runs' ESS.
    # The fast path summarises units over at most SUMMARY_DRAWS of the hyperparameter draws.
    ess = min(fast.diagnostics["ess_bulk_min"], full.diagnostics["ess_bulk_min"], h.SUMMARY_DRAWS)
    sd = (b["hdi_high"] - b["hdi_low"]) / (2 * 1.881)
    tol = 4 * sd * np.sqrt(2 / ess)
    assert np.all(np.abs(a["mean"] - b["mean"]) < tol)
    assert np.all(np.abs(a["prob_positive"] - b["prob_positive"]) < 4 * np.sqrt(2 * 0.25 / ess))
    assert np.all(np.abs(a["hdi_low"] - b["hdi_low"]) < 2.5 * tol)
    assert np.all(np.abs(a["hdi_high"] - b["hdi_high"]) < 2.5 * tol)
    tau_fast = fast.results["hyper"]["sigma_unit"]["mean"]
    tau_full = full.results["hyper"]["sigma_unit"]["mean"]
    tau_sd = np.diff(full.results["hyper"]["sigma_unit"]["hdi"])[0] / (2 * 1.881)
    assert abs(tau_fast - tau_full) < 4 * tau_sd * np.sqrt(2 / ess)


@pytest.mark.slow
def test_pooling_recovers_known_creator_effects_better_than_no_pooling():
    frame = pd.read_csv(DATA / "creators.csv")
    truth = pd.read_csv(DATA / "creators_truth.csv").set_index("creator")["true_effect"]
    s = spec(unit="creator", group="genre", arm="arm", control="control", metric="spend")
    units, _ = h.load(s, frame, "creators.csv")
    fit = h.fit(s, units, Settings(draws=600, tune=600, chains=2, cores=2, seed=1))
    table = h.recovery(fit.tables["units"], truth).set_index(["bucket", "method"])
    overall = table.loc["all"]
    assert overall.loc["hierarchical", "mse"] <= 0.5 * overall.loc["no pooling", "mse"]
    assert 0.92 <= overall.loc["hierarchical", "coverage"] <= 0.97
    assert overall.loc["hierarchical", "width"] < overall.loc["no pooling", "width"]
    gain = {
        b: table.loc[(b, "no pooling"), "mse"] - table.loc[(b, "hierarchical"), "mse"]
        for b in ("under 100", "100 to 500", "over 500")
    }
    assert max(gain, key=gain.get) == "under 100"
    # The spread between creators is recovered (the generator used 0.40).
    low, high = fit.results["hyper"]["sigma_unit"]["hdi"]
    assert low < 0.40 < high
