"""Hierarchical pooling: the exact grid path against an independent numerical integration and
against the plain PyMC model, exact conditionals, raw-row summaries, bad input, recovery."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy import stats as sps

from analyses import hierarchical as h
from analyses.core import pooling, stats
from analyses.core.base import DataError, Settings
from analyses.core.results import MISSING
from analyses.hierarchical import units as hierarchical_units

DATA = Path(__file__).resolve().parents[2] / "data"
EIGHT_Y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
EIGHT_SE = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])


def spec(**overrides) -> h.Spec:
    keys = dict(name="h", title="H", analysis="hierarchical", data="x.csv", unit="unit")
    if "arm" not in overrides:
        keys |= {"estimate": "estimate", "std_error": "se"}
    return h.Spec(**(keys | overrides))


def eight_units() -> h.Units:
    return h.Units(
        unit=np.array(list("ABCDEFGH"), dtype=object),
        estimate=EIGHT_Y,
        se=EIGHT_SE,
        group=np.array(["all"] * 8),
    )


# --------------------------------------------------------------------------- the exact path


class Quadrature:
    """Eight schools by one-dimensional quadrature over sigma_unit, written independently of
    ``analyses.core.pooling``: mu is integrated analytically (BDA3, section 5.4, with the same
    normal prior on mu and half-normal prior on the spread)."""

    def __init__(self, prior: pooling.PoolingPrior):
        self.prior = prior
        self.z = integrate.quad(self.density, 0, 400, limit=400)[0]

    def _mu(self, tau):
        v = EIGHT_SE**2 + tau**2
        s0 = self.prior.mu_sd**2
        precision = 1 / s0 + np.sum(1 / v)
        return (self.prior.mu_mean / s0 + np.sum(EIGHT_Y / v)) / precision, 1 / precision

    def density(self, tau):
        cov = np.diag(EIGHT_SE**2 + tau**2) + self.prior.mu_sd**2
        like = sps.multivariate_normal(np.full(8, self.prior.mu_mean), cov).pdf(EIGHT_Y)
        return like * sps.halfnorm(scale=self.prior.scale).pdf(tau)

    def expect(self, f):
        return integrate.quad(lambda t: self.density(t) * f(t), 0, 400, limit=400)[0] / self.z

    def school_mean(self, j):
        def given(tau):
            m, _ = self._mu(tau)
            if tau == 0:
                return m
            w = (1 / EIGHT_SE[j] ** 2) / (1 / EIGHT_SE[j] ** 2 + 1 / tau**2)
            return w * EIGHT_Y[j] + (1 - w) * m

        return self.expect(given)

    def prob(self, f_mean_var):
        def given(tau):
            m, v = f_mean_var(tau, self._mu(tau))
            return sps.norm.sf(0, m, np.sqrt(v))

        return self.expect(given)


@pytest.fixture(scope="module")
def eight():
    units = eight_units()
    prior = pooling.PoolingPrior.scaled(units.estimate, units.se)
    fitted = pooling.fit(units.estimate, units.se, prior=prior)
    return fitted, pooling.summaries(fitted, 8, 0.94), Quadrature(prior)


def test_the_exact_path_matches_an_independent_quadrature_for_eight_schools(eight):
    """The grid is exact to its resolution: agreement to a few parts in ten thousand of the
    posterior's spread, far below the rounding any report shows."""
    fitted, summary, quad = eight
    mu_sd = summary["mu"]["sd"]
    assert summary["mu"]["mean"] == pytest.approx(
        quad.expect(lambda t: quad._mu(t)[0]), abs=1e-3 * mu_sd
    )
    tau_mean = quad.expect(lambda t: t)
    assert summary["sigma_unit"]["mean"] == pytest.approx(tau_mean, rel=2e-3)
    new = quad.prob(lambda t, mv: (mv[0], mv[1] + t**2))
    assert summary["new_unit"]["prob_positive"] == pytest.approx(new, abs=1e-3)
    exact = pooling.unit_exact(fitted, EIGHT_Y, EIGHT_SE, None, range(8), 0.94)
    for j in range(8):
        assert exact[j]["mean"] == pytest.approx(quad.school_mean(j), abs=2e-3 * exact[j]["sd"])


def test_the_new_unit_interval_is_the_posterior_predictive_not_the_mean(eight):
    """A new school's effect is mu + sigma_unit * z: its interval, from draws of the
    posterior predictive, matches the exact one and is far wider than mu's."""
    fitted, summary, _ = eight
    drawn = pooling.draws(fitted, 400_000, np.random.default_rng(9))
    predictive = drawn["mu"] + drawn["sigma_unit"] * np.random.default_rng(10).standard_normal(
        400_000
    )
    low, high = stats.hdi(predictive, 0.94)
    # Monte Carlo error of a 94% HDI endpoint from 400,000 draws: well under 0.2 points.
    assert summary["new_unit"]["hdi"][0] == pytest.approx(low, abs=0.25)
    assert summary["new_unit"]["hdi"][1] == pytest.approx(high, abs=0.25)
    mu_width = np.diff(summary["mu"]["hdi"])[0]
    assert np.diff(summary["new_unit"]["hdi"])[0] > 1.5 * mu_width


def test_the_average_over_these_units_does_not_depend_on_the_seed():
    units = eight_units()
    one = h.fit(spec(), units, Settings(seed=1))
    two = h.fit(spec(), units, Settings(seed=2))
    assert one.results.average.hdi == pytest.approx(two.results.average.hdi, abs=1e-9)
    assert one.results.new_unit.hdi == pytest.approx(two.results.new_unit.hdi)


def test_unit_summaries_match_the_normal_conditional_by_hand():
    rng = np.random.default_rng(0)
    y = np.array([1.5, -0.3, 0.2, 2.0])
    se = np.array([1.0, 0.2, 0.5, 3.0])
    g = np.array([0, 0, 1, 1])
    draws = 1000
    mu_group = rng.normal([0.4, -0.2], 0.05, size=(draws, 2))
    sigma_unit = np.abs(rng.normal(0.6, 0.05, size=draws))
    out = pooling.unit_summaries(y, se, g, mu_group, sigma_unit, 0.94, seed=1)
    tau2 = sigma_unit[:, None] ** 2
    w = (1 / se**2) / (1 / se**2 + 1 / tau2)
    cond_mean = w * y + (1 - w) * mu_group[:, g]
    assert out["mean"] == pytest.approx(cond_mean.mean(axis=0))
    assert out["shrinkage"] == pytest.approx((1 - w).mean(axis=0))
    cond_sd = np.sqrt(1 / (1 / se**2 + 1 / tau2))
    assert out["prob_positive"] == pytest.approx(sps.norm.cdf(cond_mean / cond_sd).mean(axis=0))
    brute = [
        stats.hdi_columns(
            cond_mean + cond_sd * np.random.default_rng(s).standard_normal(cond_mean.shape), 0.94
        )
        for s in range(10)
    ]
    spread = np.std(brute, axis=0, ddof=1)
    assert np.all(np.abs(out["hdi"] - np.mean(brute, axis=0)) < 4 * spread + 1e-9)
    assert np.argmax(out["shrinkage"]) == 3


def predictive_draws(mean, sigma, per_draw=250, seed=11):
    """A new unit's effect drawn independently: ``per_draw`` draws of mean + sigma * z for
    each posterior draw of ``mean`` and ``sigma``."""
    z = np.random.default_rng(seed).standard_normal((len(mean), per_draw))
    return (np.asarray(mean)[:, None] + np.asarray(sigma)[:, None] * z).ravel()


def assert_predictive(summary, draws, prob=0.94):
    """A summary of a new unit against draws of its predictive given the same posterior
    draws. The mass inside its interval: a binomial share of over 500,000 draws (standard
    error 0.0003, within draws of one posterior draw a little more); its width: the
    shortest holding ``prob`` (an HDI of the draws is as wide to well within 1%, its
    position near the optimum being the noisy part); the chance above zero and the mean."""
    low, high = summary.hdi
    assert np.mean((draws >= low) & (draws <= high)) == pytest.approx(prob, abs=0.002)
    sample_low, sample_high = stats.hdi(draws, prob)
    assert high - low == pytest.approx(sample_high - sample_low, rel=0.01)
    assert summary.prob_positive == pytest.approx(np.mean(draws > 0), abs=0.002)
    assert summary.mean == pytest.approx(draws.mean(), abs=0.01 * (high - low))


@pytest.mark.slow
def test_the_full_path_predicts_a_new_unit_from_its_posterior_draws():
    """Eight schools on the PyMC path: a new school's effect (overall, and in the one group,
    the same thing here) is mu + sigma_unit * z over the posterior's own draws. It was once
    summarised from one noisy draw per posterior draw, and the group's as mu's interval
    alone (no spread between schools: far too narrow)."""
    fitted = h.fit(
        spec(method="full"),
        eight_units(),
        Settings(draws=1000, tune=1000, chains=2, cores=2, seed=3),
    )
    assert fitted.diagnostics.ok, fitted.diagnostics
    post = fitted.posterior["posterior"].to_dataset()
    # The chains kept apart (the diagnostic figure compares them); no groups, no spread
    # between them (it was stored as zeros and drawn as a panel of its own).
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 1000
    assert "sigma_group" not in post
    draws = predictive_draws(post["mu"].values.ravel(), post["sigma_unit"].values.ravel())
    assert_predictive(fitted.results.new_unit, draws)
    assert_predictive(fitted.results.groups[0].new_unit, draws)
    mu_width = np.diff(fitted.results.hyper.mu.hdi)[0]
    assert np.diff(fitted.results.groups[0].new_unit.hdi)[0] > 1.5 * mu_width


# --------------------------------------------------------------------------- the data path


def test_raw_rows_give_difference_in_means_and_welch_standard_errors(rows):
    frame = pd.DataFrame(
        {
            "unit": ["a"] * 6 + ["b"] * 6 + ["c"] * 5,
            "arm": ["c", "c", "c", "t", "t", "t"] * 2 + ["c", "c", "t", "t", "t"],
            "y": [1, 2, 3, 5, 6, 8, 0, 0, 1, 1, 2, 2, 3, 4, 4, 6, 5],
        }
    )
    units, warnings = rows("hierarchical", spec(arm="arm", control="c", metric="y"), frame)
    a = list(units.unit).index("a")
    assert units.estimate[a] == pytest.approx(np.mean([5, 6, 8]) - np.mean([1, 2, 3]))
    se = np.sqrt(np.var([5, 6, 8], ddof=1) / 3 + np.var([1, 2, 3], ddof=1) / 3)
    assert units.se[a] == pytest.approx(se)
    assert units.users[a] == 6
    assert warnings == []


def test_units_with_too_few_users_are_reported_not_silently_dropped(rows):
    frame = pd.DataFrame(
        {
            "unit": ["a"] * 4 + ["b"] * 4 + ["c"] * 4 + ["d"] * 3,
            "arm": ["c", "c", "t", "t"] * 3 + ["c", "c", "c"],
            "y": np.arange(15, dtype=float),
        }
    )
    units, warnings = rows("hierarchical", spec(arm="arm", control="c", metric="y"), frame)
    assert sorted(units.unit) == ["a", "b", "c"]
    assert warnings == [
        {"code": "units_too_few_users", "count": 1, "empty_arm": 1, "minimum": 2, "examples": ["d"]}
    ]


def summary_frame(**columns):
    base = {"unit": list("abcd"), "estimate": [1.0, 2.0, 0.5, -1.0], "se": [1.0, 0.5, 2.0, 1.0]}
    return pd.DataFrame(base | columns)


def test_bad_standard_errors_are_dropped_with_a_counted_warning(rows):
    frame = pd.DataFrame(
        {
            "unit": list("abcde"),
            "estimate": [1.0, 2.0, 0.5, -1.0, 0.3],
            "se": [1.0, 0.0, -2.0, 1.0, 0.7],
        }
    )
    units, warnings = rows("hierarchical", spec(), frame)
    assert list(units.unit) == ["a", "d", "e"]
    assert warnings[0]["code"] == "bad_std_error" and warnings[0]["count"] == 2
    assert warnings[0]["examples"] == ["b", "c"]


@pytest.mark.parametrize(
    ("frame", "overrides", "fragment"),
    [
        (summary_frame(unit=list("abca")), {}, "repeats 1 unit(s), e.g. 'a'"),
        (summary_frame(genre=["x"] * 4), {"group": "genre"}, "has one value only"),
        (summary_frame(se=[np.nan] * 4), {}, "no positive standard errors"),
        (summary_frame().drop(columns="se"), {}, "column 'se' (from std_error"),
        (summary_frame(estimate=["1", "x", "2", "3"]), {}, "1 non-numeric value(s), in rows 3"),
        (summary_frame(estimate=[1.0, np.inf, 2.0, 3.0]), {}, "not finite numbers"),
    ],
)
def test_unusable_data_is_refused_naming_the_column(frame, overrides, fragment, rows):
    with pytest.raises(DataError) as info:
        rows("hierarchical", spec(**overrides), frame)
    assert fragment in str(info.value)


def test_config_must_choose_raw_or_summarised_rows():
    with pytest.raises(ValueError, match="not a mix"):
        spec(arm="arm", estimate="estimate", std_error="se", control="c", metric="y")


# --------------------------------------------------------------------------- against PyMC


def simulated(seed=3, n_groups=8, per_group=20):
    rng = np.random.default_rng(seed)
    rows = []
    for gi in range(n_groups):
        mu_g = rng.normal(0.5, 0.5)
        for k in range(per_group):
            se = rng.uniform(0.2, 1.0)
            rows.append(
                {
                    "unit": f"g{gi}-{k}",
                    "group": f"g{gi}",
                    "estimate": rng.normal(rng.normal(mu_g, 0.6), se),
                    "se": se,
                }
            )
    frame = pd.DataFrame(rows)
    return h.Units(
        unit=frame["unit"].to_numpy(dtype=object),
        estimate=frame["estimate"].to_numpy(),
        se=frame["se"].to_numpy(),
        group=frame["group"].to_numpy(),
    )


@pytest.mark.slow
def test_the_exact_path_agrees_with_the_full_pymc_model_where_it_samples_cleanly():
    """Grouped units whose spreads are well determined: the plain model has no funnel here,
    so its draws are a fair yardstick. Tolerances are four Monte Carlo standard errors of
    the sampler (its ESS), the exact path having none."""
    units = simulated()
    exact = h.fit(spec(group="group"), units, Settings(seed=5))
    full = h.fit(
        spec(group="group", method="full", group_parameterisation="non_centred"),
        units,
        Settings(draws=1000, tune=1000, chains=4, cores=2, seed=5),
    )
    assert full.diagnostics.ok, full.diagnostics
    ess = full.diagnostics.ess_bulk_min
    a = exact.tables["units"].set_index("unit")
    b = full.tables["units"].set_index("unit")
    sd = (b["hdi_high"] - b["hdi_low"]) / (2 * 1.881)
    mcse = sd / np.sqrt(ess)
    assert np.all(np.abs(a["mean"] - b["mean"]) < 4 * mcse + 4 * sd / np.sqrt(h.SUMMARY_DRAWS))
    for name in ("mu", "sigma_unit", "sigma_group"):
        e, f = getattr(exact.results.hyper, name), getattr(full.results.hyper, name)
        f_sd = np.diff(f.hdi)[0] / (2 * 1.881)
        assert abs(e.mean - f.mean) < 4 * f_sd / np.sqrt(ess), name
    # Each group's new unit: its average plus the spread between units, from the draws.
    post = full.posterior["posterior"].to_dataset()
    sigma = post["sigma_unit"].values.ravel()
    for i, group in enumerate(full.results.groups):
        mean = post["mu_group"].isel(group=i).values.ravel()
        assert_predictive(group.new_unit, predictive_draws(mean, sigma, per_draw=150))
    avg_e, avg_f = exact.results.average, full.results.average
    avg_sd = np.diff(avg_f.hdi)[0] / (2 * 1.881)
    assert abs(avg_e.mean - avg_f.mean) < 4 * avg_sd / np.sqrt(ess)


@pytest.mark.slow
def test_pooling_recovers_known_creator_effects_better_than_no_pooling(rows):
    frame = pd.read_csv(DATA / "creators.csv")
    truth = pd.read_csv(DATA / "creators_truth.csv").set_index("creator")["true_effect"]
    s = spec(unit="creator", group="genre", arm="arm", control="control", metric="spend")
    units, _ = rows("hierarchical", s, frame)
    fit = h.fit(s, units, Settings(seed=1))
    table = hierarchical_units.recovery(fit.tables["units"], truth).set_index(["bucket", "method"])
    overall = table.loc["all"]
    assert overall.loc["hierarchical", "mse"] <= 0.5 * overall.loc["no pooling", "mse"]
    assert 0.92 <= overall.loc["hierarchical", "coverage"] <= 0.97
    assert overall.loc["hierarchical", "width"] < overall.loc["no pooling", "width"]
    gain = {
        b: table.loc[(b, "no pooling"), "mse"] - table.loc[(b, "hierarchical"), "mse"]
        for b in ("under 100", "100 to 500", "over 500")
    }
    assert max(gain, key=gain.get) == "under 100"
    low, high = fit.results.hyper.sigma_unit.hdi
    assert low < 0.40 < high


def test_mixture_hdi_is_the_shortest_interval_found_by_root_finding():
    """The exact HDI of a skewed mixture of normals against a brute-force search: for every
    lower end on a fine grid, the upper end holding 94% (root finding), the shortest kept."""
    from scipy.optimize import brentq
    from scipy.special import ndtr

    means, var = np.array([0.0, 0.5, 2.0]), np.array([1.0, 0.5, 0.3])
    weights = np.array([0.5, 0.3, 0.2])
    found = pooling.mixture_summary(means, var, weights, 0.94)["hdi"]

    def cdf(x):
        return float(weights @ ndtr((x - means) / np.sqrt(var)))

    best = min(
        (brentq(lambda h, lo=lo: cdf(h) - cdf(lo) - 0.94, lo, 20.0) - lo, lo)
        for lo in np.linspace(found[0] - 0.2, found[0] + 0.2, 2001)
    )
    width, low = best
    assert found[0] == pytest.approx(low, abs=5e-4)
    assert found[1] - found[0] == pytest.approx(width, abs=1e-5)


def test_a_withheld_verdict_names_the_checks_that_failed():
    """The edge of the grid holding mass fails the computation's check: the verdict is
    withheld and says which check failed; the numbers behind it are still given."""
    fitted = h.fit(spec(), eight_units(), Settings(seed=1))
    ok = h.decide(spec(), fitted.results, fitted.diagnostics)
    assert ok.verdict != "withheld" and ok.failed_checks is MISSING
    broken = fitted.diagnostics.model_copy(update={"ok": False})
    withheld = h.decide(spec(), fitted.results, broken)
    assert withheld.verdict == "withheld" and withheld.failed_checks == ("diagnostics",)
    assert withheld.average_hdi == ok.average_hdi


@pytest.mark.parametrize(
    ("mean", "hdi", "prob", "new_prob", "expected"),
    [
        (0.3, (0.2, 0.4), 0.999, 0.95, "positive"),
        (0.3, (0.2, 0.4), 0.999, 0.75, "mixed"),  # a quarter of new units may well lose
        (-0.3, (-0.4, -0.2), 0.001, 0.05, "negative"),
        (-0.3, (-0.4, -0.2), 0.001, 0.3, "mixed"),
        (0.05, (-0.1, 0.2), 0.7, 0.6, "unclear"),
    ],
)
def test_a_group_is_a_place_to_roll_out_only_where_its_units_gain_too(
    mean, hdi, prob, new_prob, expected
):
    from analyses.hierarchical.decide import group_where
    from analyses.hierarchical.results import Group

    estimate = {"mean": mean, "hdi": hdi, "prob_positive": prob, "sd": 0.05}
    group = Group.model_validate(
        {
            "group": "g",
            **estimate,
            "new_unit": {**estimate, "prob_positive": new_prob, "sd": 0.4},
        }
    )
    assert group_where(group) == expected


@pytest.mark.parametrize(
    ("verdict", "mu_hdi", "expected"),
    [
        ("positive", (0.1, 0.5), True),
        ("positive", (-0.1, 0.5), False),  # these units gain; units in general may not
        ("negative", (-0.5, -0.1), True),
        ("negative", (-0.5, 0.1), False),
    ],
)
def test_a_clear_verdict_says_whether_units_in_general_share_it(verdict, mu_hdi, expected):
    from types import SimpleNamespace

    from analyses.hierarchical.decide import population_clear

    results = SimpleNamespace(hyper=SimpleNamespace(mu=SimpleNamespace(hdi=mu_hdi)))
    assert population_clear(results, verdict) is expected
