"""PSIS-LOO and the model comparison in NumPy against ArviZ's, number for number."""

import warnings

import numpy as np
import pytest
import xarray as xr

from analyses.core import importance, loo


def fitted(rng, y, shift, chains=4, draws=250, autocorrelated=False):
    """A normal model's draws of (mu, sigma) around the data and the pointwise log-likelihood
    of ``y``, as a DataTree like a sampler's."""
    mu = y.mean() + shift + rng.normal(0, 0.15, (chains, draws))
    if autocorrelated:  # chains that move slowly, so the relative efficiency is below 1
        mu = y.mean() + shift + np.cumsum(rng.normal(0, 0.05, (chains, draws)), axis=1)
    sigma = np.exp(np.log(y.std()) + rng.normal(0, 0.1, (chains, draws)))
    z = (y[None, None, :] - mu[..., None]) / sigma[..., None]
    log_lik = -0.5 * z**2 - np.log(sigma[..., None]) - 0.5 * np.log(2 * np.pi)
    dims = ("chain", "draw")
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"mu": (dims, mu), "sigma": (dims, sigma)}),
            "log_likelihood": xr.Dataset({"y": ((*dims, "obs"), log_lik)}),
        }
    )


def ours(tree):
    post = tree["posterior"].to_dataset()
    log_lik = tree["log_likelihood"]["y"].values
    return loo.loo(
        log_lik.reshape(-1, log_lik.shape[-1]),
        loo.relative_efficiency({n: v.values for n, v in post.data_vars.items()}),
    )


@pytest.mark.parametrize(
    ("n", "outlier"),
    [(500, None), (60, None), (300, 40.0)],  # many rows; under 100 rows; one extreme row
)
def test_comparison_matches_arviz(n, outlier):
    import arviz as az

    rng = np.random.default_rng(n)
    y = rng.normal(1.0, 2.0, n)
    if outlier is not None:
        y[0] = outlier
    trees = {
        "a": fitted(rng, y, 0.0),
        "b": fitted(rng, y, 0.3, autocorrelated=True),
        "c": fitted(rng, y, 0.1, chains=1, draws=1000),
    }
    rows = loo.compare({name: ours(tree) for name, tree in trees.items()})
    with warnings.catch_warnings():  # ArviZ warns of high k-hat; the notes below say it too
        warnings.simplefilter("ignore", UserWarning)
        table = az.compare(trees, round_to="none")
    assert [r["name"] for r in rows] == list(table.index)
    for row in rows:
        theirs = table.loc[row["name"]]
        for key, their_key in [
            ("elpd", "elpd"),
            ("se", "se"),
            ("elpd_diff", "elpd_diff"),
            ("dse", "dse"),
            ("p_loo", "p"),
        ]:
            assert row[key] == pytest.approx(float(theirs[their_key]), rel=1e-10, abs=1e-10)
        assert row["weight"] == pytest.approx(float(theirs["weight"]), abs=1e-6)
        expected = [str(theirs[c]) for c in ("diag_elpd", "diag_diff") if str(theirs[c]).strip()]
        assert row["diagnostics"] == expected
    if outlier is not None:
        assert any("k̂ >" in note for row in rows for note in row["diagnostics"])
    if n < 100:
        assert all("N < 100" in row["diagnostics"] for row in rows[1:])


def test_pointwise_smoothing_matches_arviz_with_a_relative_efficiency():
    from arviz_stats.base import array_stats

    rng = np.random.default_rng(7)
    log_lik = rng.standard_t(4, (6, 2000))
    log_weights, k = importance.psis(-log_lik, r_eff=0.4)
    expected, expected_k = array_stats.psislw(log_lik, r_eff=0.4)
    np.testing.assert_allclose(k, expected_k, rtol=1e-12)
    np.testing.assert_allclose(log_weights, expected, atol=1e-12)


def test_observations_split_into_blocks_give_the_same_loo():
    rng = np.random.default_rng(3)
    log_lik = rng.normal(-1.0, 0.3, (1000, 50)) + rng.normal(0, 1, 50)
    whole = loo.loo(log_lik)
    split = loo.loo(iter(np.array_split(log_lik, [7, 30], axis=1)))
    for field in ("elpd_i", "pareto_k", "p_loo_i"):
        np.testing.assert_array_equal(getattr(split, field), getattr(whole, field))


def test_subsampled_loo_and_its_comparison_match_arviz():
    """PSIS-LOO of 150 of 600 observations, extended to all by the difference estimator
    (each observation's approximation: its log predictive density): the ELPD, its standard
    errors and the effective parameters as ArviZ's ``loo_subsample`` gives them, and the
    comparison of two such models as its ``compare`` gives it."""
    import arviz as az
    from arviz_stats import loo_subsample

    rng = np.random.default_rng(11)
    y = rng.normal(1.0, 2.0, 600)
    trees = {"a": fitted(rng, y, 0.0), "b": fitted(rng, y, 0.4)}
    rows = np.sort(rng.choice(600, 150, replace=False))
    ours, theirs = {}, {}
    for name, tree in trees.items():
        log_lik = tree["log_likelihood"]["y"].values.reshape(-1, 600)
        approx = importance.logsumexp(log_lik.T)[:, 0] - np.log(log_lik.shape[0])
        ours[name] = loo.loo_subsample(log_lik[:, rows], approx, rows, 0.8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            theirs[name] = loo_subsample(tree, observations=rows, reff=0.8, pointwise=True)
        assert ours[name].elpd == pytest.approx(float(theirs[name].elpd), rel=1e-10)
        assert ours[name].se == pytest.approx(float(theirs[name].se), rel=1e-8)
        assert ours[name].subsampling_se == pytest.approx(
            float(theirs[name].subsampling_se), rel=1e-8
        )
        assert ours[name].p_loo == pytest.approx(float(theirs[name].p), rel=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table = az.compare(theirs, round_to="none")
    for row in loo.compare(ours):
        expected = table.loc[row["name"]]
        for key in ("elpd_diff", "dse", "subsampling_dse"):
            assert row[key] == pytest.approx(float(expected[key]), rel=1e-8, abs=1e-10), key
