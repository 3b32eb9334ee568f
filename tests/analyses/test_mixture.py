"""Gaussian mixtures: membership maths, model choice, bad input, and (slow) recovery."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analyses import mixture as m
from analyses.core.base import DataError, Settings
from analyses.core.results import MISSING
from analyses.mixture import model as mm
from analyses.mixture.fit import ELPD_MARGIN, LOO_ROWS, _compare
from analyses.mixture.results import CountCompared
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
    rows = [
        CountCompared(
            components=k, elpd=d, se=1.0, elpd_diff=d, dse=se, p_loo=3.0, weight=0.0, diagnostics=()
        )
        for k, d, se in diffs
    ]
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
    assert fit.diagnostics.ok, fit.diagnostics
    order = np.argsort(truth["means"])
    for comp, i in zip(fit.results.components, order, strict=True):
        for key, true in (
            ("mean", truth["means"][i]),
            ("sd", truth["sds"][i]),
            ("weight", truth["weights"][i]),
        ):
            low, high = getattr(comp, key).hdi
            assert low <= true <= high, (key, true, getattr(comp, key))
    assert fit.results.assignment.confident + fit.results.assignment.ambiguous == 1000
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
    assert fit.results.chosen_components == 3
    assert [r.components for r in fit.results.comparison][0] == 3


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
    assert first.diagnostics.method.startswith("Pareto-smoothed importance sampling")
    assert first.diagnostics.method.endswith("memberships marginalised, ordered means")
    assert first.diagnostics.pareto_k <= first.diagnostics.pareto_k_limit
    assert first.results.components == second.results.components
    assert first.diagnostics == second.diagnostics


@pytest.mark.slow
def test_importance_sampling_agrees_with_nuts(monkeypatch):
    """Two components by importance sampling and by PyMC's NUTS (forced by a Pareto k limit
    no draws meet): every weight, mean and spread agrees within five combined Monte Carlo
    standard errors, its HDI's width within 10%, and both lie near the truth."""
    from analyses.core import importance

    y = two_groups()
    # 4,000 draws each: an HDI's width from 1,000 draws varies by about 5% from run to run.
    settings = Settings(draws=2000, tune=1000, chains=2, seed=3, cores=2)
    fast = m.fit(spec(components=2), y, settings)
    monkeypatch.setattr(importance, "K_HAT_MAX", -np.inf)
    nuts = m.fit(spec(components=2), y, settings)
    assert nuts.diagnostics.method.startswith("NUTS (PyMC)")
    assert nuts.diagnostics.pareto_k is MISSING
    assert nuts.diagnostics.ok, nuts.diagnostics
    ess = combined_ess(fast, nuts)
    truth = {"weight": [0.35, 0.65], "mean": [-3.0, 2.0], "sd": [1.0, 1.5]}
    for a, b in zip(fast.results.components, nuts.results.components, strict=True):
        for key in ("weight", "mean", "sd"):
            assert_agree(getattr(a, key), getattr(b, key), ess, key)
            # Near the truth too: within four posterior sds (six values, each inside its
            # 94% HDI only 94% of the time).
            sd = (getattr(b, key).hdi[1] - getattr(b, key).hdi[0]) / HDI_SDS
            true = truth[key][a.component]
            assert getattr(a, key).mean == pytest.approx(true, abs=4 * sd), (key, getattr(a, key))


# --------------------------------------------------------------------------- shapes


def shapes():
    """``data/mixture_shapes.py``: the generated shapes with their truth."""
    import importlib.util

    found = importlib.util.spec_from_file_location("mixture_shapes", DATA / "mixture_shapes.py")
    module = importlib.util.module_from_spec(found)
    sys.modules[found.name] = module  # a dataclass needs its module registered
    found.loader.exec_module(module)
    return module


def reference_em(y, truth, steps=5000):
    """Maximum likelihood by plain EM started at the truth, written out here apart from
    ``analyses.mixture.em``: the fit an analyst would check the posterior against."""
    w, mu, sd = (np.array(v, dtype=float) for v in (truth.weights, truth.means, truth.sds))
    previous = -np.inf
    for _ in range(steps):
        dens = w * sps.norm.pdf(y[:, None], mu, sd)
        total = dens.sum(axis=1)
        r = dens / total[:, None]
        nk = r.sum(axis=0)
        w, mu = nk / len(y), (r * y[:, None]).sum(axis=0) / nk
        sd = np.sqrt((r * (y[:, None] - mu) ** 2).sum(axis=0) / nk)
        value = np.log(total).sum()
        if value - previous < 1e-10 * len(y):
            break
        previous = value
    return {"weight": w, "mean": mu, "sd": sd}


def assert_recovered(fit, truth, em, label):
    """Each component's weight, mean and spread: within four posterior sds of the truth, and
    within half a posterior sd plus five Monte Carlo standard errors of the EM fit (the
    posterior mean and the maximum-likelihood fit differ by the weak prior's pull and the
    posterior's skew, both a small fraction of a posterior sd at these sizes)."""
    ess = fit.diagnostics.ess_bulk_min
    true = {"weight": truth.weights, "mean": truth.means, "sd": truth.sds}
    for comp in fit.results.components:
        i = comp.component
        for key in ("weight", "mean", "sd"):
            sd = (getattr(comp, key).hdi[1] - getattr(comp, key).hdi[0]) / HDI_SDS
            got = getattr(comp, key).mean
            assert got == pytest.approx(true[key][i], abs=4 * sd), (
                label,
                key,
                i,
                getattr(comp, key),
            )
            tolerance = 0.5 * sd + 5 * sd / np.sqrt(ess)
            assert got == pytest.approx(em[key][i], abs=tolerance), (label, key, i, em[key][i])


SHAPES = Settings(draws=500, tune=500, chains=2, seed=7, cores=1)


def test_em_from_several_starts_finds_a_far_small_component():
    """The best of the starts is the maximum the reference EM (started at the truth)
    reaches, small far component included."""
    from analyses.mixture import em as mixture_em

    module = shapes()
    truth = module.SHAPES["far-small"]
    y = module.values("far-small", 1000, 3)
    z = (y - y.mean()) / y.std()
    best = mixture_em.fit(z, 3, np.random.default_rng(1))[0]
    em = reference_em(y, truth)
    np.testing.assert_allclose(best.weight, em["weight"], atol=1e-4)
    np.testing.assert_allclose(y.mean() + y.std() * best.mu, em["mean"], atol=1e-3)
    np.testing.assert_allclose(y.std() * best.sigma, em["sd"], atol=1e-3)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_points_made_from_components_round_trip(k):
    rng = np.random.default_rng(k)
    theta = rng.normal(0, 0.8, (6, 3 * k - 1))
    mu, log_sigma, weight, _ = mm.unconstrain(theta, k)
    rows = zip(weight, mu, log_sigma, strict=True)
    back = [mm.to_unconstrained(w, means, np.exp(s)) for w, means, s in rows]
    np.testing.assert_allclose(back, theta, atol=1e-10)


def test_a_far_small_component_is_found_without_nuts():
    """Three components win, by importance sampling from the EM modes (no NUTS), and match
    the truth and the EM fit."""
    module = shapes()
    y = module.values("far-small", 1000, 4)
    fit = m.fit(spec(components=[1, 2, 3]), y, SHAPES)
    assert fit.results.chosen_components == 3
    assert fit.diagnostics.method.startswith("Pareto-smoothed importance sampling")
    assert fit.diagnostics.pareto_k <= fit.diagnostics.pareto_k_limit
    assert fit.results.redundant == () and fit.results.subsampled is None
    truth = module.SHAPES["far-small"]
    assert_recovered(fit, truth, reference_em(y, truth), "far-small")


def test_a_redundant_component_is_recognised_and_not_sampled():
    """Two clusters asked for up to three: three components raise the maximised likelihood
    too little to be worth their parameters (AIC), so they are left out before sampling and
    two are reported, matching the truth and the EM fit."""
    module = shapes()
    y = module.values("redundant", 1000, 5)
    fit = m.fit(spec(components=[1, 2, 3]), y, SHAPES)
    assert fit.results.chosen_components == 2
    (left_out,) = fit.results.redundant
    assert left_out.components == 3 and left_out.compared_with == 2
    assert left_out.elpd_aic_gain <= ELPD_MARGIN
    assert left_out.elpd_aic_gain == pytest.approx(left_out.log_lik_gain - 3)
    assert sorted(r.components for r in fit.results.comparison) == [1, 2]
    assert fit.diagnostics.method.startswith("Pareto-smoothed importance sampling")
    truth = module.SHAPES["redundant"]
    assert_recovered(fit, truth, reference_em(y, truth), "redundant")


def test_a_real_third_component_is_not_judged_redundant():
    """The demo's three groups: three components beat two by far more than the margin."""
    y = pd.read_csv(DATA / "three_groups.csv")["value"].to_numpy()
    z = (y - y.mean()) / y.std()
    from analyses.mixture import em as mixture_em

    best = {k: mixture_em.fit(z, k, np.random.default_rng(k))[0].log_lik for k in (1, 2, 3)}
    assert m.redundant(2, best) is None and m.redundant(3, best) is None
    assert m.redundant(1, best) is None  # nothing smaller to compare with


@pytest.mark.slow
def test_200000_values_read_a_subsampled_likelihood_within_its_stated_error():
    """200,000 values of the three-group shape: three components, matching the truth and the
    EM fit; the subsampled log-likelihood's error is stated and within its limit."""
    from analyses.mixture import posterior as mixture_posterior

    module = shapes()
    y = module.values("three-groups", 200_000, 6)
    fit = m.fit(spec(components=[1, 2, 3]), y, SHAPES)
    assert fit.results.chosen_components == 3
    truth = module.SHAPES["three-groups"]
    assert_recovered(fit, truth, reference_em(y, truth), "200,000")
    sub = fit.results.subsampled
    assert sub.likelihood.of == 200_000
    assert sub.likelihood.rows <= mixture_posterior.SUBSAMPLE_ROWS
    assert sub.likelihood.error_max <= sub.likelihood.limit
    assert sub.loo_rows == LOO_ROWS
    assert all(r.subsampling_dse is not MISSING for r in fit.results.comparison)


def test_the_subsampled_likelihood_is_within_its_limit_at_every_draw():
    """The claim behind the bundle's ``subsampled.likelihood``: at every posterior draw (not
    only the checked ones) the estimate is within SUBSAMPLE_ERROR_MAX of the exact
    log-likelihood, and within five of its own standard errors (plus rounding)."""
    from analyses.core import importance
    from analyses.mixture import em as mixture_em
    from analyses.mixture import posterior as mp

    y = shapes().values("three-groups", 20_000, 8)
    z = (y - y.mean()) / y.std()
    k, rng = 3, np.random.default_rng(2)
    prior = mm.priors(z)
    estimator, modes = mp._subsampled_modes(z, k, prior, mixture_em.fit(z, k, rng), rng)

    def target(theta):
        return mm.log_prior(theta, k, prior) + estimator(theta)

    found = importance.sample_from(target, importance.Proposal.laplace(modes), 2000, rng)
    assert found is not None
    estimate, se = estimator.estimate(found.values)
    mu, log_sigma, weight, _ = mm.unconstrain(found.values, k)
    exact = mm.log_likelihood(z, weight, mu, np.exp(log_sigma)).sum(axis=1)
    error = np.abs(estimate - exact)
    assert error.max() <= mp.SUBSAMPLE_ERROR_MAX
    assert np.all(error <= 5 * se + 1e-9)


def test_subsampled_loo_agrees_with_loo_on_every_value():
    """20,000 values, two and three components: the subsampled comparison's difference is
    within four of its subsampling standard errors of the one PSIS-LOO gives on every value."""
    from analyses.core import loo
    from analyses.mixture import em as mixture_em
    from analyses.mixture import posterior as mp

    y = shapes().values("three-groups", 20_000, 9)
    z = (y - y.mean()) / y.std()
    settings = Settings(draws=500, chains=2, seed=4)
    posteriors = {}
    for k in (2, 3):
        solutions = mixture_em.fit(z, k, np.random.default_rng(k))
        posteriors[k] = mp.by_importance(y, k, solutions, settings)[0]
    sub = {r.components: r for r in _compare(posteriors, y, settings.seed)}
    full = {
        k: loo.loo(
            m.pointwise_blocks(y, post, loo.BLOCK),
            loo.relative_efficiency({n: v.values for n, v in post.data_vars.items()}),
        )
        for k, post in posteriors.items()
    }
    assert sub[3].elpd_diff == 0 and sub[2].subsampling_dse > 0
    exact = full[2].elpd - full[3].elpd
    assert sub[2].elpd_diff == pytest.approx(exact, abs=4 * sub[2].subsampling_dse)
    assert m.choose(list(sub.values())) == 3


@pytest.mark.slow
def test_an_adapted_proposal_agrees_with_nuts_on_a_skewed_posterior(monkeypatch):
    """The demo's three overlapping groups: the three-component posterior is skewed, the
    Laplace mixture is refused and the adapted proposal passes Pareto k. Its summaries and
    NUTS's agree within five combined Monte Carlo standard errors, HDI widths within 10%."""
    from analyses.core import importance

    y = pd.read_csv(DATA / "three_groups.csv")["value"].to_numpy()
    settings = Settings(draws=2000, tune=1000, chains=2, seed=3, cores=2)
    fast = m.fit(spec(components=3), y, settings)
    assert "adapted to the posterior" in fast.diagnostics.method
    assert fast.diagnostics.pareto_k <= fast.diagnostics.pareto_k_limit
    monkeypatch.setattr(importance, "K_HAT_MAX", -np.inf)
    nuts = m.fit(spec(components=3), y, settings)
    assert nuts.diagnostics.method.startswith("NUTS (PyMC)") and nuts.diagnostics.ok
    ess = combined_ess(fast, nuts)
    for a, b in zip(fast.results.components, nuts.results.components, strict=True):
        for key in ("weight", "mean", "sd"):
            assert_agree(getattr(a, key), getattr(b, key), ess, (a.component, key))
