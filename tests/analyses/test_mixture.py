"""Gaussian mixtures: membership maths, model choice, bad input, and (slow) recovery."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analyses import mixture as m
from analyses import mixture_model as mm
from analyses.base import DataError, Settings
from tests.analyses.agreement import HDI_SDS, assert_agree, combined_ess

DATA = Path(__file__).resolve().parents[2] / "data"


def spec(**overrides) -> m.Spec:
    keys = dict(name="m", title="M", analysis="mixture", data="x.csv", value="v")
    return m.Spec(**(keys | overrides))


def test_membership_is_bayes_rule_averaged_over_draws():
    y = np.array([-3.0, 0.1, 2.5])
    weight = np.array([[0.3, 0.7], [0.5, 0.5]])
    mu = np.array([[-2.0, 2.0], [-1.0, 3.0]])
    sigma = np.array([[1.0, 1.0], [1.5, 0.5]])
    out = m.membership(y, weight, mu, sigma)
    expected = np.zeros((3, 2))
    for d in range(2):
        dens = weight[d] * sps.norm.pdf(y[:, None], mu[d], sigma[d])
        expected += dens / dens.sum(axis=1, keepdims=True) / 2
    assert out == pytest.approx(expected)
    assert out.sum(axis=1) == pytest.approx(np.ones(3))


@pytest.mark.parametrize("k", [1, 3])
def test_pointwise_log_likelihood_matches_pymc(k):
    """The vectorised log-likelihood LOO reads is PyMC's own, draw by draw."""
    import pymc as pm
    import xarray as xr

    rng = np.random.default_rng(k)
    y = np.concatenate([rng.normal(-2, 1, 40), rng.normal(3, 0.5, 30)])
    model, _ = mm.mixture_model(y, k)
    shape = (2, 5, k)
    mu = np.sort(rng.normal(0, 2, shape), axis=-1)
    sigma = rng.uniform(0.3, 2.0, shape)
    weight = rng.dirichlet(np.ones(k), shape[:2]) if k > 1 else np.ones(shape)
    dims = ("chain", "draw", "component")
    post = xr.Dataset({"mu": (dims, mu), "sigma": (dims, sigma), "weight": (dims, weight)})
    if k == 1:
        post = post.drop_vars("weight")
    # In blocks of 7 observations (LOO never holds all of them at once), chains pooled.
    blocks = m.pointwise_blocks(y, post.assign({"weight": (dims, weight)}), block=7)
    ours = np.concatenate(list(blocks), axis=1)
    theirs = pm.compute_log_likelihood(
        xr.DataTree.from_dict({"posterior": post}), model=model, progressbar=False
    )
    expected = theirs["log_likelihood"]["y"].values
    assert expected.shape == (2, 5, y.size)
    assert ours == pytest.approx(expected.reshape(10, y.size), rel=1e-10)


@pytest.mark.parametrize(
    ("diffs", "chosen"),
    [
        ([(3, 0.0, 0.0), (4, -0.2, 0.6), (2, -30.0, 7.8), (1, -210.0, 17.0)], 3),
        ([(4, 0.0, 0.0), (3, -12.0, 3.0), (2, -40.0, 8.0)], 4),
        ([(2, 0.0, 0.0), (3, -1.0, 2.5), (1, -3.0, 2.5)], 1),
    ],
)
def test_the_smallest_count_within_the_noise_of_the_best_is_chosen(diffs, chosen):
    rows = [{"components": k, "elpd_diff": d, "dse": se} for k, d, se in diffs]
    assert m.choose(rows) == chosen


@pytest.mark.parametrize(
    ("frame", "overrides", "fragment"),
    [
        (pd.DataFrame({"w": np.arange(50.0)}), {}, "column 'v' (from value"),
        (pd.DataFrame({"v": ["1", "x"] * 25}), {}, "25 non-numeric value(s)"),
        (pd.DataFrame({"v": [1.0, None] * 25}), {}, "25 missing value(s), in rows 3, 5"),
        (pd.DataFrame({"v": [2.0] * 50}), {}, "is constant"),
        (pd.DataFrame({"v": [1.0, np.inf] * 25}), {}, "25 value(s) that are not finite"),
        (pd.DataFrame({"v": [1.0, 1e308] * 25}), {}, "not finite numbers"),
        (
            pd.DataFrame({"v": np.arange(25.0)}),
            {"components": [2, 3]},
            "25 rows are too few for 3 components",
        ),
    ],
)
def test_unusable_data_is_refused_naming_the_column(frame, overrides, fragment, rows):
    with pytest.raises(DataError) as info:
        rows("mixture", spec(**overrides), frame)
    assert fragment in str(info.value)


def test_component_lists_are_validated():
    with pytest.raises(ValueError, match="1 to 10"):
        spec(components=[0, 2])
    assert spec(components=[3, 1, 2]).counts == [1, 2, 3]


@pytest.mark.slow
def test_three_groups_are_recovered_within_their_hdis():
    truth = json.loads((DATA / "ground_truth.json").read_text())["three_groups.csv"]
    y = pd.read_csv(DATA / "three_groups.csv")["value"].to_numpy()
    fit = m.fit(
        spec(value="value", components=3), y, Settings(draws=1000, tune=600, chains=4, cores=2)
    )
    assert fit.diagnostics["ok"], fit.diagnostics
    order = np.argsort(truth["means"])
    for comp, i in zip(fit.results["components"], order, strict=True):
        for key, true in (
            ("mean", truth["means"][i]),
            ("sd", truth["sds"][i]),
            ("weight", truth["weights"][i]),
        ):
            low, high = comp[key]["hdi"]
            assert low <= true <= high, (key, true, comp[key])
    assert fit.results["assignment"]["confident"] + fit.results["assignment"]["ambiguous"] == 1000
    assert fit.warnings == []
    members = fit.tables["membership"]
    assert (
        members[["p_component_1", "p_component_2", "p_component_3"]]
        .sum(axis=1)
        .round(9)
        .eq(1)
        .all()
    )


@pytest.mark.slow
def test_loo_prefers_three_components_over_one_and_two():
    y = pd.read_csv(DATA / "three_groups.csv")["value"].to_numpy()
    fit = m.fit(spec(components=[1, 2, 3]), y, Settings(draws=400, tune=400, chains=2, cores=2))
    assert fit.results["chosen_components"] == 3
    assert [r["components"] for r in fit.results["comparison"]][0] == 3


@pytest.mark.parametrize("k", [1, 2, 3])
def test_log_density_is_pymcs(k):
    """The NumPy log-density importance sampling reweights to is PyMC's, transforms and
    Jacobians included (ordered means, log spreads, simplex weights)."""
    rng = np.random.default_rng(k)
    y = np.concatenate([rng.normal(-2, 1, 40), rng.normal(3, 0.5, 30)])
    model, prior = mm.mixture_model(y, k)
    logp = model.compile_logp()
    sizes = {"mu": k, "mu_ordered__": k, "sigma_log__": k, "weight_simplex__": k - 1}
    names = [v.name for v in model.value_vars]
    points = rng.normal(0, 0.7, (5, sum(sizes[n] for n in names)))
    ours = mm.log_density(points, y, k, prior)
    for point, value in zip(points, ours, strict=True):
        split = np.split(point, np.cumsum([sizes[n] for n in names])[:-1])
        assert value == pytest.approx(float(logp(dict(zip(names, split, strict=True)))), rel=1e-12)


def two_groups(n=400, seed=5):
    rng = np.random.default_rng(seed)
    group = rng.random(n) < 0.35
    return np.where(group, rng.normal(-3.0, 1.0, n), rng.normal(2.0, 1.5, n))


TWO = Settings(draws=500, tune=500, chains=2, seed=3, cores=2)


def test_importance_draws_are_reproducible_and_say_how_they_were_made():
    y = two_groups()
    first, second = (m.fit(spec(components=2), y, TWO) for _ in range(2))
    assert first.diagnostics["method"].startswith("Pareto-smoothed importance sampling")
    assert first.diagnostics["method"].endswith("memberships marginalised, ordered means")
    assert first.diagnostics["pareto_k"] <= first.diagnostics["pareto_k_limit"]
    assert first.results["components"] == second.results["components"]
    assert first.diagnostics == second.diagnostics


@pytest.mark.slow
def test_importance_sampling_agrees_with_nuts(monkeypatch):
    """Two components by importance sampling and by PyMC's NUTS (forced by a Pareto k limit
    no draws meet): every weight, mean and spread agrees within five combined Monte Carlo
    standard errors, its HDI's width within 10%, and both lie near the truth."""
    from analyses import importance

    y = two_groups()
    # 4,000 draws each: an HDI's width from 1,000 draws varies by about 5% from run to run.
    settings = Settings(draws=2000, tune=1000, chains=2, seed=3, cores=2)
    fast = m.fit(spec(components=2), y, settings)
    monkeypatch.setattr(importance, "K_HAT_MAX", -np.inf)
    nuts = m.fit(spec(components=2), y, settings)
    assert nuts.diagnostics["method"].startswith("NUTS (PyMC)")
    assert "pareto_k" not in nuts.diagnostics
    assert nuts.diagnostics["ok"], nuts.diagnostics
    ess = combined_ess(fast, nuts)
    truth = {"weight": [0.35, 0.65], "mean": [-3.0, 2.0], "sd": [1.0, 1.5]}
    for a, b in zip(fast.results["components"], nuts.results["components"], strict=True):
        for key in ("weight", "mean", "sd"):
            assert_agree(a[key], b[key], ess, key)
            # Near the truth too: within four posterior sds (six values, each inside its
            # 94% HDI only 94% of the time).
            sd = (b[key]["hdi"][1] - b[key]["hdi"][0]) / HDI_SDS
            true = truth[key][a["component"]]
            assert a[key]["mean"] == pytest.approx(true, abs=4 * sd), (key, a[key])
