"""The programme model: a prior learned from past experiments, the winner's curse corrected.

Checked against ground truth (simulated programmes with known lifts from fat-tailed
populations), against an independent brute-force calculation of the same model (the exact
Student-t density, other grids, numerical quadrature over the true lift), against a refit for
the leave-one-out prior, and against PyMC's NUTS (slow).
"""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from analyses.core import programme as pg
from analyses.core.base import CI_PROB

Z94 = special.ndtri(0.5 + CI_PROB / 2)


def simulate(rng, n, truth="t3"):
    """True lifts (log scale), estimates and SEs of a simulated programme."""
    if truth == "t3":
        z = 0.002 + 0.01 * rng.standard_t(3, n)
    elif truth == "spike":
        slab = rng.random(n) < 0.3
        z = np.where(slab, 0.003 + 0.03 * rng.standard_normal(n), 0.0005 * rng.standard_normal(n))
    else:
        raise ValueError(truth)
    s = np.exp(rng.uniform(np.log(0.005), np.log(0.03), n))
    return z, z + s * rng.standard_normal(n), s


# --------------------------------------------------------------------------- the t, binned


@pytest.mark.parametrize("df", [1.0, 3.0, 10.0])
def test_binned_student_t_matches_the_t_density_convolved_with_the_noise(df):
    """The Student-t family's marginal density of an estimate agrees with the exact one.

    Exact: the t density convolved with the estimate's normal noise by adaptive quadrature.
    Within 2.5% out to eight scales (the docstring's claim).
    """
    scales = 1e-3 * 2.0 ** (np.arange(200) / pg.PER_OCTAVE)
    tau_node = 120
    fam = pg.family("student_t", scales, prior_scale=100.0, df=df)
    row = fam.mixing[np.flatnonzero(np.isclose(fam.params["tau"], scales[tau_node]))[0]]
    tau = scales[tau_node]
    t_const = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    for ratio in (0.1, 1.0, 3.0):
        s = ratio * tau
        for distance in (0.0, 3.0, 8.0):
            y = distance * tau
            binned = np.sum(row * stats.norm.pdf(y, 0, np.sqrt(s**2 + scales**2)))

            def integrand(z, y=y, s=s):
                noise = math.exp(-0.5 * ((y - z) / s) ** 2) / (s * math.sqrt(2 * math.pi))
                return noise * t_const / tau * (1 + (z / tau) ** 2 / df) ** (-(df + 1) / 2)

            exact = sum(
                integrate.quad(integrand, a, b, epsabs=0, epsrel=1e-10, limit=400)[0]
                for a, b in ((-np.inf, -40 * tau), (-40 * tau, 40 * tau), (40 * tau, np.inf))
            )
            assert binned == pytest.approx(exact, rel=0.025), (df, ratio, distance)


# --------------------------------------------------------------------------- brute force


def log_t_density(z, df, mu, tau):
    """Log density of a Student-t (a normal where df is infinite), broadcasting."""
    u = (z - mu) / tau
    if np.isinf(df):
        return -0.5 * u**2 - np.log(tau) - 0.5 * np.log(2 * np.pi)
    const = special.gammaln((df + 1) / 2) - special.gammaln(df / 2) - 0.5 * np.log(df * np.pi)
    return const - np.log(tau) - (df + 1) / 2 * np.log1p(u**2 / df)


def brute_force(y, s, prior_scale, mu_grid, tau_grid, z_grid):
    """The same model computed another way: exact t densities, a dense grid of the true lift.

    Hyperparameters on their own grids (mu uniform, tau log-uniform, df on DF_GRID), each
    experiment's marginal likelihood by the trapezoid rule over a dense grid of its true lift,
    the leave-one-out weights by dividing the posterior by each likelihood.
    """
    dz = np.gradient(z_grid)
    like = np.exp(-0.5 * ((y[:, None] - z_grid[None, :]) / s[:, None]) ** 2) / s[:, None]
    like *= dz / np.sqrt(2 * np.pi)  # exp x grid
    mu, tau = (v.ravel() for v in np.meshgrid(mu_grid, tau_grid, indexing="ij"))
    log_prior = np.log(tau) - 0.5 * (tau / prior_scale) ** 2

    def density(df):  # grid x (mu, tau) columns
        return np.exp(log_t_density(z_grid[:, None], df, mu[None, :], tau[None, :]))

    log_marg = [np.log(like @ density(df)) for df in pg.DF_GRID]  # each exp x columns
    log_post = np.array([lm.sum(axis=0) + log_prior for lm in log_marg])  # df x columns
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    predictive = np.zeros(z_grid.size)
    loo_mix = np.zeros((y.size, z_grid.size))
    loo_total = np.zeros(y.size)
    for d, df in enumerate(pg.DF_GRID):
        dens = density(df)
        predictive += dens @ w[d]
        loo = w[d][None, :] / np.exp(log_marg[d])
        loo_mix += loo @ dens.T
        loo_total += loo.sum(axis=1)
    post_z = like / dz * loo_mix / loo_total[:, None]
    post_z /= (post_z * dz).sum(axis=1, keepdims=True)
    return {
        "mu": float(np.sum(w * mu)),
        "tau": float(np.sum(w * tau)),
        "prob_normal": float(w[-1].sum()),
        "post_z": post_z,
        "predictive": predictive,
        "dz": dz,
    }


def grid_summary(z_grid, density, dz):
    """Mean, HDI and P(> 0) of the lift ``exp(z) - 1`` from a density of ``z`` on a grid."""
    mass = density * dz
    mass = mass / mass.sum()
    lift = np.expm1(z_grid)
    # HDI of the lift: its density is f(z) / (1 + lift); lower the level until 94% is held.
    level = density / (1 + lift)
    order = np.argsort(level)[::-1]
    held = np.cumsum(mass[order])
    inside = order[: np.searchsorted(held, CI_PROB) + 1]
    cdf = np.cumsum(mass) - mass / 2  # the trapezoid rule's distribution function
    return {
        "mean": float(np.sum(mass * lift)),
        "median": float(np.expm1(np.interp(0.5, cdf, z_grid))),
        "hdi": [float(lift[inside].min()), float(lift[inside].max())],
        "prob_better": float(1 - np.interp(0.0, z_grid, cdf)),
    }


@pytest.fixture(scope="module")
def small_programme():
    """Twenty experiments from a t with 3 df; the fast fit and the brute force of the same.

    A population twice as wide as the largest SE, so the scales below a quarter of the
    smallest SE (which the brute force's grid of the true lift cannot resolve) hold no mass.
    """
    rng = np.random.default_rng(7)
    z = 0.002 + 0.02 * rng.standard_t(3, 20)
    s = np.exp(rng.uniform(np.log(0.005), np.log(0.01), 20))
    y = z + s * rng.standard_normal(20)
    fit = pg.fit(y, s)
    centre = np.median(y)
    mu_grid = np.linspace(centre - 0.03, centre + 0.03, 41)
    tau_grid = np.exp(np.linspace(np.log(s.min() / 4), np.log(6 * fit.prior_scale), 40))
    z_grid = np.linspace(-0.5, 0.5, 2501)
    brute = brute_force(y, s, fit.prior_scale, mu_grid, tau_grid, z_grid)
    return {"y": y, "s": s, "z": z, "fit": fit, "brute": brute, "z_grid": z_grid}


def test_hyperparameters_agree_with_brute_force(small_programme):
    fit, brute = small_programme["fit"], small_programme["brute"]
    hyper = fit.hyperparameters()
    # The brute force leaves out tau below a quarter of the smallest SE: check it is negligible.
    tau = fit.family.params["tau"][fit.node_col]
    assert fit.mass[tau < small_programme["s"].min() / 4].sum() < 1e-3
    assert hyper["location"] == pytest.approx(brute["mu"], abs=2e-4)
    assert hyper["scale"] == pytest.approx(brute["tau"], rel=0.03)
    assert hyper["prob_normal"] == pytest.approx(brute["prob_normal"], abs=0.01)


def test_learned_prior_agrees_with_brute_force(small_programme):
    fit, brute, z_grid = small_programme["fit"], small_programme["brute"], small_programme["z_grid"]
    exact = grid_summary(z_grid, brute["predictive"], brute["dz"])
    learned = fit.learned_prior()["predictive"]
    width = exact["hdi"][1] - exact["hdi"][0]
    # The median, not the mean: a t on the log scale has no mean of exp(z).
    assert learned["median"] == pytest.approx(exact["median"], abs=0.01 * width)
    assert learned["prob_positive"] == pytest.approx(exact["prob_better"], abs=0.005)
    # The HDI's ends, where a fat-tailed density is low: within 3% of the width.
    assert learned["hdi"] == pytest.approx(exact["hdi"], abs=0.03 * width)


def test_each_experiment_given_the_others_agrees_with_brute_force(small_programme):
    fit, brute, z_grid = small_programme["fit"], small_programme["brute"], small_programme["z_grid"]
    post = fit.posteriors(draws=40_000)
    for i in range(small_programme["y"].size):
        exact = grid_summary(z_grid, brute["post_z"][i], brute["dz"])
        width = exact["hdi"][1] - exact["hdi"][0]
        assert post["mean"][i] == pytest.approx(exact["mean"], abs=0.01 * width), i
        assert post["prob_better"][i] == pytest.approx(exact["prob_better"], abs=0.005), i
        assert post["hdi"][i] == pytest.approx(exact["hdi"], abs=0.03 * width), i


def test_leave_one_out_weights_match_a_refit_without_the_experiment(small_programme):
    """The prior of experiment i given the others, from weights, equals a fit on the others."""
    y, s, fit = small_programme["y"], small_programme["s"], small_programme["fit"]
    check = pg.loo_check(fit)
    for i in (0, int(np.argmax(np.abs(y))), 7):
        others = np.ones(y.size, bool)
        others[i] = False
        refit = pg.fit(y, s, finished=others, prior_scale=fit.prior_scale)
        # Experiment i is not finished in the refit: it is read with the prior of the others.
        prior = refit.priors()
        row = prior.weights[i]
        total = np.sqrt(prior.sds**2 + s[i] ** 2)
        pit = float(np.sum(row * special.ndtr((y[i] - prior.means) / total)))
        assert check["pit"][i] == pytest.approx(pit, abs=2e-3), i
        alone_post = refit.posteriors(draws=20_000)
        full_post = fit.posteriors(draws=20_000)
        assert full_post["mean"][i] == pytest.approx(alone_post["mean"][i], abs=2e-4), i
        assert full_post["prob_better"][i] == pytest.approx(alone_post["prob_better"][i], abs=2e-3)


# --------------------------------------------------------------------------- ground truth


@pytest.fixture(scope="module")
def simulated():
    """Ten programmes of 200 experiments, lifts from a t with 3 df; alone and programme."""
    rng = np.random.default_rng(11)
    rows = []
    for r in range(10):
        z, y, s = simulate(rng, 200)
        post = pg.fit(y, s).posteriors(seed=r)
        rows.append((z, y, s, post))
    cat = {
        "lift": np.concatenate([np.expm1(r[0]) for r in rows]),
        "y": np.concatenate([r[1] for r in rows]),
        "s": np.concatenate([r[2] for r in rows]),
    }
    for key in ("mean", "prob_better"):
        cat[key] = np.concatenate([r[3][key] for r in rows])
    cat["hdi"] = np.concatenate([r[3]["hdi"] for r in rows])
    return cat


def test_programme_estimates_err_far_less_than_the_alone_estimates(simulated):
    alone = np.expm1(simulated["y"] + simulated["s"] ** 2 / 2)
    mse_alone = np.mean((alone - simulated["lift"]) ** 2)
    mse_prog = np.mean((simulated["mean"] - simulated["lift"]) ** 2)
    assert mse_prog < 0.6 * mse_alone


def test_programme_hdis_hold_the_true_lifts_94_percent_of_the_time(simulated):
    lift, hdi = simulated["lift"], simulated["hdi"]
    covered = np.mean((hdi[:, 0] <= lift) & (lift <= hdi[:, 1]))
    # 2,000 experiments: a Monte Carlo sd of 0.53 points; four of them.
    assert covered == pytest.approx(CI_PROB, abs=4 * np.sqrt(0.94 * 0.06 / lift.size))


def test_winners_average_lift_is_close_to_their_true_average(simulated):
    """The winner's curse: among alone winners the programme means average near the truth."""
    y, s, lift = simulated["y"], simulated["s"], simulated["lift"]
    ship = y / s >= special.ndtri(0.97)
    alone = np.expm1(y + s**2 / 2)
    true_mean = lift[ship].mean()
    # Monte Carlo error of the programme's average error over the winners.
    sd = np.std(simulated["mean"][ship] - lift[ship], ddof=1) / np.sqrt(ship.sum())
    assert simulated["mean"][ship].mean() == pytest.approx(true_mean, abs=4 * sd)
    assert alone[ship].mean() - true_mean > 10 * sd


def test_coverage_holds_for_a_spike_and_slab_population():
    rng = np.random.default_rng(12)
    covered, total = 0, 0
    for r in range(6):
        z, y, s = simulate(rng, 250, "spike")
        post = pg.fit(y, s).posteriors(seed=r)
        lift = np.expm1(z)
        covered += np.sum((post["hdi"][:, 0] <= lift) & (lift <= post["hdi"][:, 1]))
        total += lift.size
    assert covered / total == pytest.approx(CI_PROB, abs=4 * np.sqrt(0.94 * 0.06 / total))


# --------------------------------------------------------------------------- own draws


def log_ratio_density(z_grid, a_t, b_t, a_c, b_c):
    """Density of log(p_t / p_c) for independent Beta posteriors, by numerical convolution."""

    def log_density_of_log_p(u, a, b):  # p ~ Beta(a, b), u = log p
        return a * u + (b - 1) * np.log1p(-np.exp(u)) - special.betaln(a, b)

    centre = special.digamma(a_c) - special.digamma(a_c + b_c)
    spread = np.sqrt(special.polygamma(1, a_c) - special.polygamma(1, a_c + b_c))
    u = np.linspace(centre - 12 * spread, min(centre + 12 * spread, -1e-9), 4001)
    f_c = np.exp(log_density_of_log_p(u, a_c, b_c))
    shifted = np.minimum(u[None, :] + z_grid[:, None], -1e-12)
    f_t = np.exp(log_density_of_log_p(shifted, a_t, b_t))
    return f_t @ f_c * (u[1] - u[0])


def test_reweighted_draws_agree_with_the_exact_posterior_of_a_lift():
    """A binary experiment's own draws, reweighted by a learned prior.

    Exact: the density of log(p_t / p_c) under the Beta posteriors times the learned prior's
    density, on a grid. Tolerances of five Monte Carlo errors of the reweighted draws.
    """
    rng = np.random.default_rng(5)
    _, y, s = simulate(rng, 60)
    prior = pg.fit(y, s).prior()
    a_t, b_t, a_c, b_c = 1 + 2080, 1 + 17920, 1 + 2000, 1 + 18000
    draws = rng.beta(a_t, b_t, 100_000) / rng.beta(a_c, b_c, 100_000) - 1
    got = pg.posterior_from_draws(prior, draws)
    assert got["method"] == "reweighted_draws"
    assert got["pareto_k"] < 0.5
    z_grid = np.linspace(-0.3, 0.4, 3501)
    dens = log_ratio_density(z_grid, a_t, b_t, a_c, b_c) * np.exp(prior.log_pdf(z_grid))
    exact = grid_summary(z_grid, dens, np.gradient(z_grid))
    sd = (exact["hdi"][1] - exact["hdi"][0]) / 3.8
    error = 5 / np.sqrt(got["ess"])
    assert got["mean"] == pytest.approx(exact["mean"], abs=error * sd)
    p = exact["prob_better"]
    assert got["prob_better"] == pytest.approx(p, abs=error * np.sqrt(p * (1 - p)))
    assert got["hdi"] == pytest.approx(exact["hdi"], abs=3 * error * sd)
    # The normal path, from the draws' mean and sd of log(1 + lift): close, not equal.
    normal = pg.posterior(prior, *pg.from_draws(draws))
    assert normal["mean"] == pytest.approx(exact["mean"], abs=0.05 * sd)
    assert normal["prob_better"] == pytest.approx(p, abs=0.01)


def test_an_experiments_own_draws_reweighted_by_its_prior_from_the_others():
    """Draws of the experiment-alone posterior, reweighted by the prior learned from the
    others, give the programme posterior the fit computes for that experiment."""
    rng = np.random.default_rng(6)
    _, y, s = simulate(rng, 40)
    fit = pg.fit(y, s)
    post = fit.posteriors(draws=40_000)
    for i in (0, int(np.argmax(y))):
        draws = np.expm1(y[i] + s[i] * rng.standard_normal(40_000))
        got = pg.posterior_from_draws(fit.prior_of(i), draws)
        assert got["method"] == "reweighted_draws"
        sd = (post["hdi"][i][1] - post["hdi"][i][0]) / 3.8
        error = 5 / np.sqrt(got["ess"])
        assert got["mean"] == pytest.approx(post["mean"][i], abs=error * sd), i
        p = post["prob_better"][i]
        assert got["prob_better"] == pytest.approx(p, abs=error * np.sqrt(p * (1 - p)) + 1e-4)


def test_draws_far_from_a_narrow_prior_fall_back_to_the_normal_path():
    """A precise estimate of +10% against a normal prior of sd 0.5%: weights too uneven."""
    prior = pg.Mixture(np.array([1.0]), np.array([0.0]), np.array([0.005]))
    rng = np.random.default_rng(2)
    draws = np.expm1(0.1 + 0.004 * rng.standard_normal(4000))
    got = pg.posterior_from_draws(prior, draws)
    assert got["pareto_k"] > 0.5
    assert got["method"] == "normal"
    # Normal prior, normal likelihood: the exact posterior of z is normal.
    y, s = pg.from_draws(draws)
    var = 1 / (1 / 0.005**2 + 1 / s**2)
    mean_z = var * y / s**2
    assert got["mean"] == pytest.approx(np.expm1(mean_z + var / 2), abs=0.02 * np.sqrt(var))
    assert got["prob_better"] == pytest.approx(special.ndtr(mean_z / np.sqrt(var)), abs=1e-6)


# --------------------------------------------------------------------------- checks, impact


def test_loo_check_of_a_well_specified_prior_is_calibrated():
    rng = np.random.default_rng(8)
    z, y, s = simulate(rng, 300)
    check = pg.loo_check(pg.fit(y, s))
    assert check["experiments"] == 300
    n = 300
    assert check["held"] == pytest.approx(CI_PROB * n, abs=4 * np.sqrt(0.94 * 0.06 * n))
    assert check["below"] + check["above"] + check["held"] == n
    assert check["ks_p_value"] > 0.001
    # The predictive intervals are those of the estimates: the PIT says where each fell.
    inside = (check["intervals"][:, 0] <= np.expm1(y)) & (np.expm1(y) <= check["intervals"][:, 1])
    assert abs(int(inside.sum()) - check["held"]) <= 3


def test_loo_check_sees_a_programme_the_prior_does_not_fit():
    """Half the experiments from a much wider population: the estimates fall in the tails."""
    rng = np.random.default_rng(9)
    _, y, s = simulate(rng, 200)
    y[::2] = 0.15 * rng.standard_normal(100)  # a second, far wider kind mixed in
    check = pg.loo_check(pg.fit(y, s, family_name="normal"))
    assert check["ks_p_value"] < 0.001


def test_cumulative_impact_is_the_programme_posterior_of_the_shipped_total():
    rng = np.random.default_rng(10)
    z, y, s = simulate(rng, 80)
    fit = pg.fit(y, s)
    shipped = np.flatnonzero(y / s >= special.ndtri(0.97))
    assert shipped.size >= 3
    post = fit.posteriors(draws=20_000)
    summed = pg.cumulative_impact(fit, shipped, compound=False, draws=40_000)
    # The mean of a sum is the sum of the means (each exact); the draws' error is small.
    sd = (summed["hdi"][1] - summed["hdi"][0]) / 3.8
    assert summed["mean"] == pytest.approx(post["mean"][shipped].sum(), abs=5 * sd / 200)
    assert summed["alone"] == pytest.approx(np.expm1(y[shipped]).sum())
    assert summed["mean"] < summed["alone"]  # the raw winners overstate
    assert summed["experiments"] == shipped.size
    compound = pg.cumulative_impact(fit, shipped, draws=40_000)
    assert compound["alone"] == pytest.approx(np.expm1(y[shipped].sum()))
    assert compound["hdi"][0] < compound["mean"] < compound["hdi"][1]


def test_a_running_shipped_experiment_enters_the_total_at_its_own_programme_posterior():
    """Issue 22, review finding 1: a shipped change still running, far out in the prior's tail,
    enters at its programme posterior given its own data, not at what the population expects.

    The check is brute force and independent of the joint draws: draws of each shipped
    experiment's own programme posterior (its prior, from the finished ones, times its
    likelihood: ``Programme.posteriors``), compounded as if independent.
    """
    rng = np.random.default_rng(21)
    _, y, s = simulate(rng, 40)
    y, s = np.append(y, 0.09), np.append(s, 0.025)  # running, +9.4% on its own, 3.6 SE out
    finished = np.arange(41) < 40
    fit = pg.fit(y, s, finished=finished)
    shipped = np.append(np.flatnonzero(finished & (y / s >= special.ndtri(0.97)))[:4], 40)
    post = fit.posteriors(draws=0)
    # Alone, the running one's programme mean: well above what the prior alone expects.
    running = pg.cumulative_impact(fit, [40], compound=False, draws=100_000)
    # 100,000 draws of a lift with sd under 0.02: a Monte Carlo sd under 1e-4. Drawn from
    # the population's hyperparameters alone (the bug), it entered at 0.030 against 0.036.
    assert running["mean"] == pytest.approx(post["mean"][40], abs=0.0005)
    # The sum of lifts: its mean is the sum of the posterior means, exactly, whatever their
    # dependence; 100,000 draws of a total with sd about 0.02 leave a Monte Carlo sd of 7e-5.
    summed = pg.cumulative_impact(fit, shipped, compound=False, draws=100_000)
    assert summed["mean"] == pytest.approx(post["mean"][shipped].sum(), abs=0.001)
    # Compounded: independent draws of each one's posterior, multiplied.
    mix = pg.update(fit.priors(), fit.y, fit.s)
    rows = pg.Mixture(mix.weights[shipped], mix.means[shipped], mix.sds[shipped])
    z = pg.draw_mixture(rows, 200_000, np.random.default_rng(5))
    brute = np.expm1(z.sum(axis=1))
    compound = pg.cumulative_impact(fit, shipped, draws=200_000)
    # The joint draws share the hyperparameters, the brute force does not: the means agree
    # (a product's mean moves with the lifts' covariance, here under 1e-4), the Monte Carlo
    # sd of each mean is about 5e-5.
    assert compound["mean"] == pytest.approx(brute.mean(), abs=0.001)


def test_running_experiments_are_read_with_the_prior_of_the_finished_ones():
    rng = np.random.default_rng(13)
    _, y, s = simulate(rng, 40)
    finished = np.arange(40) < 30
    fit = pg.fit(y, s, finished=finished)
    assert fit.experiments == 30
    learned = fit.prior(exact=True)
    post = fit.posteriors(draws=40_000)
    for i in (30, 35):
        alone = pg.posterior(learned, y[i], s[i])
        assert post["mean"][i] == pytest.approx(alone["mean"], abs=1e-4)
        assert post["prob_better"][i] == pytest.approx(alone["prob_better"], abs=1e-6)
    # The running ones do not move the prior.
    assert fit.hyperparameters() == pg.fit(y[:30], s[:30]).hyperparameters()


def test_learned_prior_round_trips_through_the_bundle_and_is_a_density():
    rng = np.random.default_rng(14)
    _, y, s = simulate(rng, 50)
    fit = pg.fit(y, s)
    bundle = fit.learned_prior()
    assert bundle["family"] == "student_t"
    assert bundle["experiments"] == 50
    assert bundle["df"] in pg.DF_GRID or bundle["df"] is None
    mixture = pg.Mixture.from_dict(bundle["components"])
    lift = np.expm1(np.linspace(-0.6, 0.6, 20001))
    dens = np.exp(mixture.log_pdf_lift(lift))
    assert np.trapezoid(dens, lift) == pytest.approx(1.0, abs=1e-3)
    # The bundle's compressed prior reads an experiment as the exact one does.
    exact = pg.posterior(fit.prior(exact=True), 0.03, 0.01)
    compressed = pg.posterior(mixture, 0.03, 0.01)
    width = exact["hdi"][1] - exact["hdi"][0]
    assert compressed["mean"] == pytest.approx(exact["mean"], abs=0.01 * width)
    assert compressed["prob_better"] == pytest.approx(exact["prob_better"], abs=0.003)


def test_lower_is_better_turns_the_probability_around():
    rng = np.random.default_rng(15)
    _, y, s = simulate(rng, 30)
    fit = pg.fit(y, s)
    up = fit.posteriors()
    down = fit.posteriors(direction=-1.0)
    np.testing.assert_allclose(up["prob_better"] + down["prob_better"], 1.0, atol=1e-12)


@pytest.mark.parametrize("family", pg.FAMILIES)
def test_every_family_fits_and_reads_its_experiments(family):
    rng = np.random.default_rng(17)
    _, y, s = simulate(rng, 30)
    fit = pg.fit(y, s, family_name=family)
    assert fit.family.name == family
    bundle = fit.learned_prior()
    assert bundle["family"] == family and bundle["experiments"] == 30
    post = fit.posteriors()
    lift = np.expm1(y)
    assert np.all((post["hdi"][:, 0] < post["mean"]) & (post["mean"] < post["hdi"][:, 1]))
    # Shrinkage: every estimate moves toward the population, none past it.
    centre = np.expm1(fit.hyperparameters()["location"])
    assert np.all(np.abs(post["mean"] - centre) <= np.abs(lift - centre) + 1e-4)


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown family 'cauchy'"):
        pg.fit([0.01, 0.02], [0.01, 0.01], family_name="cauchy")


def test_small_programmes_keep_the_weak_prior():
    assert pg.prior_choice(pg.MIN_EXPERIMENTS - 1) == ("weak", "too_few_experiments")
    assert pg.prior_choice(pg.MIN_EXPERIMENTS) == ("learned", "enough_experiments")


@pytest.mark.parametrize(
    ("lift", "se", "message"),
    [
        ([0.01, -1.2], [0.01, 0.01], "above -1"),
        ([0.01, 0.02], [0.01, 0.0], "above 0"),
        ([0.01, np.nan], [0.01, 0.01], "finite"),
        ([0.01], [0.01, 0.02], "same"),
    ],
)
def test_bad_estimates_are_refused_with_the_reason(lift, se, message):
    with pytest.raises(ValueError, match=message):
        pg.from_lift(lift, se)


# --------------------------------------------------------------------------- NUTS


@pytest.mark.slow
def test_fixed_df_fit_agrees_with_nuts():
    """The same model with df fixed at 3, sampled by PyMC's NUTS."""
    import pymc as pm

    rng = np.random.default_rng(16)
    z, y, s = simulate(rng, 25)
    fit = pg.fit(y, s, df=3.0)
    hyper = fit.hyperparameters()
    post = fit.posteriors(draws=20_000)
    with pm.Model():
        mu = pm.Flat("mu")
        tau = pm.HalfNormal("tau", fit.prior_scale)
        e = pm.StudentT("e", nu=3.0, mu=0.0, sigma=1.0, shape=y.size)
        theta = pm.Deterministic("theta", mu + tau * e)
        pm.Normal("y", theta, s, observed=y)
        idata = pm.sample(
            1000, tune=1000, chains=2, random_seed=16, progressbar=False, target_accept=0.95
        )
    p = idata.posterior
    draws_mu, draws_tau = p["mu"].values.ravel(), p["tau"].values.ravel()
    theta = p["theta"].values.reshape(-1, y.size)
    # Effective draws are well above 400; tolerances of five Monte Carlo errors at 400.
    assert hyper["location"] == pytest.approx(draws_mu.mean(), abs=5 * draws_mu.std() / 20)
    assert hyper["scale"] == pytest.approx(draws_tau.mean(), abs=5 * draws_tau.std() / 20)
    lift = np.expm1(theta)
    for i in range(y.size):
        sd = lift[:, i].std()
        assert post["mean"][i] == pytest.approx(lift[:, i].mean(), abs=5 * sd / 20), i
        assert post["prob_better"][i] == pytest.approx(np.mean(lift[:, i] > 0), abs=0.05), i
