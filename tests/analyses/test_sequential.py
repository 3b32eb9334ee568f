"""The sequential rule: its boundary maths against independent calculations (published
boundaries, brute-force simulation, the multivariate normal), its numbers for a look, its
verdict codes, and (slow) its calibration through the readout's own decision code."""

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sps
from scipy.special import ndtr, ndtri

from analyses.ab_test import sequential_calibration as calibration
from analyses.core import sequential

# --------------------------------------------------------------------------- the recursion


@pytest.mark.parametrize("sizes", [(1, 1), (7, 300), (300, 7), (1024, 1025), (2001, 4097)])
def test_the_convolution_is_scipys_fftconvolve(sizes):
    """NumPy's FFT in place of ``scipy.signal.fftconvolve`` (a second to import): the same
    full convolution, to round-off, and the direct sum where it is cheap."""
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(sum(sizes))
    a, b = rng.random(sizes[0]), np.exp(-0.5 * rng.normal(0, 3, sizes[1]) ** 2)
    got = sequential.convolve(a, b)
    want = fftconvolve(a, b)
    assert got.shape == want.shape == (a.size + b.size - 1,)
    assert np.max(np.abs(got - want)) <= 1e-12 * np.max(np.abs(want))
    if a.size * b.size <= 10**6:
        assert np.max(np.abs(got - np.convolve(a, b))) <= 1e-12 * np.max(np.abs(want))


def brownian_crossings(bounds, fractions, drift, paths, seed):
    """First-crossing chances of Z_k = S(f_k) / sqrt(f_k), S a Brownian motion with drift."""
    rng = np.random.default_rng(seed)
    steps = np.diff(np.concatenate([[0.0], fractions]))
    s = np.cumsum(rng.standard_normal((paths, len(steps))) * np.sqrt(steps) + drift * steps, 1)
    over = s / np.sqrt(fractions) >= bounds
    first = np.where(over.any(axis=1), over.argmax(axis=1), -1)
    return np.array([np.mean(first == k) for k in range(len(fractions))])


@pytest.mark.parametrize("drift", [0.0, 2.5])
def test_the_recursion_matches_a_brute_force_simulation_at_irregular_looks(drift):
    fractions = np.array([0.07, 0.2, 0.21, 0.45, 0.8, 1.0, 1.3])
    bounds = np.array([3.4, 2.9, 2.9, 2.4, 2.2, 2.05, 1.9])
    exact = sequential.crossing_probabilities(bounds, fractions, drift)
    paths = 400_000
    sim = brownian_crossings(bounds, fractions, drift, paths, seed=int(10 * drift) + 1)
    se = np.sqrt(np.maximum(exact * (1 - exact), 1e-6) / paths)
    assert np.all(np.abs(sim - exact) <= 4.5 * se), (sim, exact)
    # The simulation's looks are discrete too, so nothing is lost between looks: the total
    # agrees within its own error.
    total_se = np.sqrt(exact.sum() * (1 - exact.sum()) / paths)
    assert sim.sum() == pytest.approx(exact.sum(), abs=4 * total_se)


def test_the_recursion_matches_the_multivariate_normal_distribution():
    # P(no crossing) = P(Z_1 < b_1, Z_2 < b_2, Z_3 < b_3), corr(Z_i, Z_j) = sqrt(f_i / f_j).
    fractions = np.array([0.3, 0.6, 1.0])
    bounds = np.array([2.6, 2.2, 1.95])
    cov = np.sqrt(np.minimum.outer(fractions, fractions) / np.maximum.outer(fractions, fractions))
    none = sps.multivariate_normal(mean=np.zeros(3), cov=cov, abseps=1e-8, maxpts=10**6).cdf(bounds)
    assert sequential.crossing_probabilities(bounds, fractions).sum() == pytest.approx(
        1 - none, abs=2e-6
    )


@pytest.mark.parametrize(
    ("looks", "obrien_fleming", "pocock"),
    # Jennison & Turnbull (2000), Table 2.3 (two-sided 0.05, so 0.025 on each side):
    # O'Brien-Fleming's C_B(K) and Pocock's C_P(K).
    [(2, 1.977, 2.178), (3, 2.004, 2.289), (4, 2.024, 2.361), (5, 2.040, 2.413)],
)
def test_published_obrien_fleming_and_pocock_constants_spend_their_error(
    looks, obrien_fleming, pocock
):
    f = np.arange(1, looks + 1) / looks
    # Three published decimals move the error by at most 3e-5.
    obf = sequential.crossing_probabilities(obrien_fleming / np.sqrt(f), f).sum()
    assert obf == pytest.approx(0.025, abs=1e-4)
    assert sequential.crossing_probabilities(np.full(looks, pocock), f).sum() == pytest.approx(
        0.025, abs=1e-4
    )


def test_lan_demets_obrien_fleming_spending_gives_the_published_boundaries():
    # gsDesign(k = 5, test.type = 1, alpha = 0.025, sfu = sfLDOF): its upper bounds.
    f = np.arange(1, 6) / 5
    bounds = sequential.spending_bounds(f, 0.025, "obrien_fleming", cap=1 - 1e-12)
    assert bounds == pytest.approx([4.8769, 3.3569, 2.6803, 2.2898, 2.0310], abs=5e-4)
    spent = np.cumsum(sequential.crossing_probabilities(bounds, f))
    assert spent == pytest.approx(sequential.spending(f, 0.025, "obrien_fleming"), abs=1e-6)


def test_pocock_spending_spends_its_function_and_all_the_error_at_the_end():
    f = np.array([0.2, 0.5, 0.7, 1.0])
    bounds = sequential.spending_bounds(f, 0.03, "pocock")
    spent = np.cumsum(sequential.crossing_probabilities(bounds, f))
    assert spent == pytest.approx(0.03 * np.log1p((np.e - 1) * f), abs=1e-6)
    with pytest.raises(ValueError, match="spending family"):
        sequential.spending(f, 0.03, "linear")


def test_a_single_look_is_the_normal_tail():
    for bound, drift in [(1.88, 0.0), (2.0, 1.5), (-1.0, 0.3)]:
        got = sequential.crossing_probabilities(np.array([bound]), np.array([1.0]), drift)
        assert got[0] == pytest.approx(1 - ndtr(bound - drift), abs=1e-12)


def test_bad_looks_are_refused():
    with pytest.raises(ValueError, match="fractions increasing"):
        sequential.crossing_probabilities(np.array([2.0, 2.0]), np.array([0.5, 0.5]))


# --------------------------------------------------------------------------- candidates


def test_growthbooks_confidence_sequence_is_its_published_formula_and_stays_honest():
    # gbstats: rho = sqrt((-2 ln(2a) + ln(-2 ln(2a) + 1)) / N*), one-sided half-width /
    # se = sqrt(2 (n rho^2 + 1) / (n rho^2) ln(1 + sqrt(n rho^2 + 1) / (2a))); by hand at
    # n = N* = 5000, a = 0.05: rho^2 N* = 4.6052 + ln(5.6052) = 6.3288.
    nr = 6.3288
    by_hand = np.sqrt(2 * (nr + 1) / nr * np.log(1 + np.sqrt(nr + 1) / 0.1))
    assert sequential.confidence_sequence_bound(5000, 0.05) == pytest.approx(by_hand, rel=1e-4)
    # Anytime valid: 200 looks from 100 to 100,000 units cross less often than alpha.
    units = np.geomspace(100, 100_000, 200)
    bounds = sequential.confidence_sequence_bound(units, 0.03)
    total = sequential.crossing_probabilities(bounds, units / units[-1]).sum()
    assert 0.003 < total < 0.03


def test_the_prior_bound_is_where_the_normal_posterior_reaches_the_threshold():
    tau, se_end = 0.05, 0.035
    for f in (0.1, 0.5, 1.0):
        se = se_end / np.sqrt(f)
        z = sequential.prior_bound(f, ndtri(0.97), se_end / tau)
        estimate = z * se
        # Conjugate normal update of a N(0, tau^2) prior with an estimate of error se.
        post_mean = estimate * tau**2 / (tau**2 + se**2)
        post_sd = np.sqrt(tau**2 * se**2 / (tau**2 + se**2))
        assert ndtr(post_mean / post_sd) == pytest.approx(0.97, abs=1e-12)


# --------------------------------------------------------------------------- the design


@pytest.mark.parametrize(("threshold", "looks"), [(0.97, 25), (0.95, 7), (0.99, 40)])
def test_the_design_spends_exactly_the_fixed_rules_error(threshold, looks):
    design = sequential.design(threshold, looks)
    alpha = 1 - threshold
    assert design.end_threshold == pytest.approx(1 - 5 / 6 * alpha)
    assert design.false_ship_rate() == pytest.approx(alpha, abs=1e-6)
    # Independently: Brownian paths looked at on the design's looks.
    f = design.fractions()
    sim = brownian_crossings(design.bound(f), f, 0.0, 300_000, seed=looks).sum()
    assert sim == pytest.approx(alpha, abs=4 * np.sqrt(alpha / 300_000))


def test_early_looks_need_more_evidence_than_later_ones_and_the_end_the_end_threshold():
    design = sequential.design(0.97, 25)
    needed = design.evidence_needed(np.arange(1, 26) / 25)
    assert np.all(np.diff(needed) <= 0)
    assert needed[0] == pytest.approx(sequential.MAX_EVIDENCE)
    assert needed[-1] == pytest.approx(0.975)
    assert needed[-2] > 0.98  # the day before the end: the O'Brien-Fleming curve
    assert design.evidence_needed(1.7) == pytest.approx(0.975)  # after the end: the same
    assert isinstance(design.evidence_needed(0.5), float)


def test_harm_needs_the_same_evidence_every_day_before_the_end():
    harm = sequential.design(0.97, 25, sequential.HARM_RULE)
    needed = harm.evidence_needed(np.arange(1, 25) / 25)
    assert np.ptp(needed) == pytest.approx(0.0, abs=1e-12)
    assert 0.998 < needed[0] < 0.9995
    assert harm.false_ship_rate() == pytest.approx(0.03, abs=1e-6)


def test_one_look_is_the_fixed_rule_and_bad_designs_are_refused():
    single = sequential.design(0.97, 1)
    assert single.end_threshold == 0.97
    assert single.false_ship_rate() == pytest.approx(0.03, abs=1e-9)
    with pytest.raises(ValueError, match="min_prob_better"):
        sequential.design(1.2, 25)
    with pytest.raises(ValueError, match="looks"):
        sequential.design(0.97, 0)
    with pytest.raises(ValueError, match="rule"):
        sequential.design(0.97, 25, "linear")


def test_the_chosen_rule_keeps_power_within_the_target_of_a_single_look():
    design = sequential.design(0.97, 25)
    for power in (0.5, 0.8, 0.95):
        drift = ndtri(0.97) + ndtri(power)
        assert design.power(drift).sum() >= 0.97 * power


# --------------------------------------------------------------------------- a look


def test_the_information_fraction_counts_closed_windows_or_units():
    # Day 4 with a 3-day window: one day of units counted out of the 25 the end counts.
    assert sequential.information_fraction(4, 28, 3) == (pytest.approx(1 / 25), "days")
    assert sequential.information_fraction(3, 28, 3) == (0.0, "days")
    assert sequential.information_fraction(14, 28) == (0.5, "days")
    # 30,000 planned units of which the end counts 25/28: 12,000 counted is 45%.
    got = sequential.information_fraction(14, 28, 3, units=12_000, planned_units=30_000)
    assert got == (pytest.approx(12_000 / (30_000 * 25 / 28)), "units")
    with pytest.raises(ValueError, match="planned_units"):
        sequential.information_fraction(14, 28, units=10, planned_units=0)
    with pytest.raises(ValueError, match="planned_days"):
        sequential.information_fraction(1, 0)


def test_a_look_carries_the_evidence_needed_today_and_at_the_end():
    numbers = sequential.look(16, 28, 0.97, window_days=3)
    design = sequential.design(0.97, 25)
    assert numbers["fraction"] == pytest.approx(13 / 25)
    assert numbers["evidence_needed"] == pytest.approx(design.evidence_needed(13 / 25))
    assert 0.99 < numbers["evidence_needed"] < 0.9999
    assert numbers["end_threshold"] == pytest.approx(0.975)
    assert numbers["fixed_threshold"] == 0.97
    assert numbers["at_end"] is False
    assert numbers["rule"] == "obrien_fleming" and numbers["harm"]["rule"] == "pocock"
    # Harm needs the same every day: less than a win at first, more towards the end.
    first = sequential.look(4, 28, window_days=3)
    assert first["harm"]["evidence_needed"] < first["evidence_needed"]
    assert numbers["harm"]["evidence_needed"] > numbers["evidence_needed"]
    end = sequential.look(28, 28, 0.97, window_days=3)
    assert end["at_end"] and end["evidence_needed"] == pytest.approx(0.975)
    assert end["harm"]["evidence_needed"] == pytest.approx(0.975)
    # More units than planned: the end has come early.
    early = sequential.look(20, 28, units=40_000, planned_units=30_000)
    assert early["at_end"] and early["fraction_basis"] == "units"


VERDICT = {
    "verdict": "keep_collecting",
    "reason_code": "not_enough_evidence",
    "arm": "B",
    "prob_better": 0.985,
    "lift_rel_hdi": [-0.004, 0.021],
    "expected_loss_rel": 0.001,
}


def test_a_look_that_would_have_shipped_under_the_fixed_rule_says_why_it_did_not():
    numbers = sequential.look(16, 28, window_days=3)
    got = sequential.sequential_verdict(VERDICT, numbers)
    assert got["verdict"] == "keep_collecting"
    assert got["reason_code"] == "sequential_boundary_not_reached"
    assert got["sequential"] is numbers
    weak = sequential.sequential_verdict({**VERDICT, "prob_better": 0.9}, numbers)
    assert weak["reason_code"] == "not_enough_evidence"


def test_no_winner_at_the_planned_end_is_a_conclusion_with_its_interval():
    numbers = sequential.look(28, 28, window_days=3)
    got = sequential.sequential_verdict(VERDICT, numbers)
    assert got["verdict"] == "no_clear_difference"
    assert got["reason_code"] == "planned_end_reached"
    assert got["evidence_reason"] == "not_enough_evidence"
    assert got["lift_rel_hdi"] == [-0.004, 0.021]
    assert got["precision"] == pytest.approx(0.0125)
    ship = {**VERDICT, "verdict": "ship", "reason_code": "clear_winner"}
    assert sequential.sequential_verdict(ship, numbers)["verdict"] == "ship"
    # A winner a guardrail may harm cannot wait for more data at the end: keep the control.
    held = {**VERDICT, "reason_code": "guardrail_unclear", "prob_better": 0.99}
    got = sequential.sequential_verdict(held, numbers)
    assert (got["verdict"], got["reason_code"]) == ("keep_control", "guardrail_unclear_at_end")
    before = sequential.sequential_verdict(held, sequential.look(20, 28, window_days=3))
    assert (before["verdict"], before["reason_code"]) == ("keep_collecting", "guardrail_unclear")


def test_guardrail_harm_stops_at_the_harm_boundary_and_ok_needs_the_fixed_rule():
    numbers = sequential.look(10, 28, window_days=3)
    needed = numbers["harm"]["evidence_needed"]
    assert sequential.guardrail_status(needed, numbers) == "harm"
    assert sequential.guardrail_status(0.995, numbers) == "unclear"  # not yet harm at day 10
    assert sequential.guardrail_status(0.03, numbers) == "ok"
    assert sequential.guardrail_status(0.05, numbers) == "unclear"


# --------------------------------------------------------------------------- calibration


def test_the_exact_chance_of_being_better_matches_adaptive_quadrature():
    cases = [(60, 600, 75, 600), (1500, 15000, 1700, 15000), (3, 30, 9, 30)]
    for xc, nc, xt, nt in cases:
        got = calibration.prob_beta_greater(1 + xt, 1 + nt - xt, 1 + xc, 1 + nc - xc)

        def integrand(x, xc=xc, nc=nc, xt=xt, nt=nt):
            return sps.beta.pdf(x, 1 + xc, 1 + nc - xc) * sps.beta.sf(x, 1 + xt, 1 + nt - xt)

        mean = (1 + xc) / (2 + nc)
        ref, _ = integrate.quad(integrand, 0, 1, epsabs=1e-13, limit=500, points=[mean])
        assert float(got) == pytest.approx(ref, abs=1e-5)


def test_the_simulated_data_count_only_closed_windows():
    scenario = calibration.Scenario()
    rng = np.random.default_rng(3)
    n_c, x_c, n_t, x_t = calibration._data(scenario, 0.1, 400, rng)
    # Look 1 (day 4) counts the first day's 1,200 units; the end counts 25 days of them.
    assert np.all(n_c[:, 0] + n_t[:, 0] == 1200)
    assert np.all(n_c[:, -1] + n_t[:, -1] == 1200 * 25)
    assert (x_t[:, -1] / n_t[:, -1]).mean() == pytest.approx(0.11, abs=0.002)
    assert (x_c[:, -1] / n_c[:, -1]).mean() == pytest.approx(0.10, abs=0.002)
    assert scenario.days[0] == 4 and scenario.days[-1] == 28


def test_the_lift_for_a_power_is_the_one_a_single_look_finds_that_often():
    scenario = calibration.Scenario()
    lift = scenario.lift_for(0.8)
    rule = calibration.candidates(scenario)[0]  # the fixed rule, end only
    assert rule.name.startswith("fixed 0.97, end only")
    assert calibration.exact(scenario, rule, lift)["rate"] == pytest.approx(0.8, abs=1e-6)
    assert calibration.exact(scenario, rule, 0.0)["rate"] == pytest.approx(0.03, abs=1e-6)


def test_the_calibrations_comparison_is_the_one_summarise_makes():
    from analyses.ab_test import metrics as ab_metrics

    stats_ = calibration._stats(9_000.0, 905.0, 9_100.0, 1_003.0)
    for prior in (ab_metrics.Priors(), ab_metrics.Priors(alpha=30.0, beta=270.0)):
        summary, _ = ab_metrics.summarise(
            calibration.METRIC,
            stats_,
            calibration.ARMS,
            prior,
            calibration.DRAWS,
            0.94,
            None,
            np.random.default_rng([7, 1]),
        )
        (got,) = calibration.comparisons_of(stats_, prior, np.random.default_rng([7, 1]))
        want = summary.comparisons[0]
        for key in ("prob_better", "expected_loss_rel", "lift_rel", "lift_abs", "prob_harm"):
            assert getattr(got, key) == getattr(want, key)


# --------------------------------------------------------------------------- slow: calibration


@pytest.mark.slow
def test_leaving_out_looks_that_cannot_decide_changes_no_verdict():
    scenario = calibration.Scenario()
    rules = calibration.candidates(scenario)
    rules = [r for r in rules if r.prior_sd is None][:3] + rules[-1:]
    lift = scenario.lift_for(0.8)
    screened = calibration.simulate(scenario, rules, lift, 10, seed=5)
    every = calibration.simulate(scenario, rules, lift, 10, seed=5, screen=False)
    # Without the screen every look is read until every rule has shipped.
    assert every.calls > 3 * screened.calls
    for rule in rules:
        assert np.array_equal(screened.crossed[rule.name], every.crossed[rule.name]), rule.name


@pytest.mark.slow
def test_daily_looks_through_the_readouts_decision_keep_the_fixed_horizon_error_and_power():
    """The calibration: A/A and true effects, a look every day, the readout's own decision.

    28 days, 1,200 users a day, a 10% purchase rate counted within 3 days of exposure (units
    whose window has not closed are not counted), a look every day from day 4 to day 28.
    Each look is read by ``decide_comparisons`` on the readout's comparison (40,000 draws).
    The sequential rule and a single look at the end read the same experiments, so their
    difference has a small Monte Carlo error (sd of a paired difference: 0.09 per A/A
    experiment, 0.16 per experiment with an effect, in the normal approximation; a little less
    through the readout): 4,000 A/A experiments measure it to about 0.12 points and 600 with
    an effect to 0.7 points. The tolerances are 2.5 of those
    errors (a true equality fails by chance 0.6% of the time); the measured rates must also
    agree with the exact ones of the normal approximation within 3 standard errors.
    """
    scenario = calibration.Scenario()
    wins = calibration.candidates(scenario)
    fixed, chosen = wins[0], wins[-1]
    harms = calibration.harm_candidates(scenario)
    harm_fixed, harm_as_wins, harm = harms[0], harms[2], harms[-1]
    assert fixed.name.startswith("fixed 0.97, end only") and "chosen" in chosen.name
    assert "chosen" in harm.name

    aa = calibration.simulate(scenario, [fixed, chosen, harm_fixed, harm], 0.0, 4000, seed=11)
    lift = scenario.lift_for(0.8)
    effect = calibration.simulate(scenario, [fixed, chosen], lift, 600, seed=12)
    large_harm = calibration.simulate(scenario, [harm_as_wins, harm], -2 * lift, 300, seed=13)

    lines = [f"calibration ({aa.calls + effect.calls + large_harm.calls} looks read):"]
    for run, rules in ((aa, (fixed, chosen, harm_fixed, harm)), (effect, (fixed, chosen))):
        for rule in rules:
            m = calibration.measured(run, rule)
            x = calibration.exact(scenario, rule, run.lift)
            lines.append(
                f"  lift {run.lift:+.1%} {rule.name:<36} {m['rate']:.2%} ± {m['se']:.2%} "
                f"(exact {x['rate']:.2%}), mean day {m['day']:.1f}"
            )
            assert m["rate"] == pytest.approx(x["rate"], abs=3 * m["se"] + 1e-9)
    for rule in (harm_as_wins, harm):
        m = calibration.measured(large_harm, rule)
        lines.append(f"  lift {large_harm.lift:+.1%} {rule.name:<36} mean day {m['day']:.1f}")
    for run, rule, reference in (
        (aa, chosen, fixed),
        (aa, harm, harm_fixed),
        (effect, chosen, fixed),
    ):
        d = calibration.paired_difference(run, rule, reference)
        lines.append(
            f"  lift {run.lift:+.1%} {rule.name} minus {reference.name}: "
            f"{d['difference']:+.2%} ± {d['se']:.2%}"
        )
    print("\n".join(lines))

    # A/A: no more false ships over daily looks than a single look at the end.
    d = calibration.paired_difference(aa, chosen, fixed)
    assert d["difference"] <= 2.5 * d["se"], d
    assert (
        calibration.measured(aa, chosen)["rate"]
        <= 0.03 + 3 * calibration.measured(aa, chosen)["se"]
    )
    # The same for guardrail harm stops.
    d = calibration.paired_difference(aa, harm, harm_fixed)
    assert d["difference"] <= 2.5 * d["se"], d
    # A true effect: shipped by the end at least 90% as often as by a single look.
    d = calibration.paired_difference(effect, chosen, fixed)
    power = calibration.measured(effect, fixed)["rate"]
    assert power + d["difference"] >= 0.9 * power - 2.5 * d["se"], d
    # And earlier: on average several days before the planned end.
    assert calibration.measured(effect, chosen)["day"] < 24
    # A large harm is stopped sooner by the harm rule than it would be by the win rule.
    assert (
        calibration.measured(large_harm, harm)["day"]
        < calibration.measured(large_harm, harm_as_wins)["day"] - 0.5
    )
    assert calibration.measured(large_harm, harm)["rate"] == 1.0


def test_the_forecast_gets_the_evidence_future_looks_will_need():
    today = sequential.look(10, 28, window_days=3)
    design = sequential.design(0.97, 25)
    ahead = sequential.evidence_ahead(today, [0, 7, 14, 18, 30])
    want = [design.evidence_needed(f) for f in (7 / 25, 14 / 25, 21 / 25)]
    assert ahead[:3] == pytest.approx(want)
    assert ahead[3:] == pytest.approx([0.975, 0.975])  # day 28 and after
    counted = sequential.look(10, 28, window_days=3, units=7_000, planned_units=30_000)
    at_end = 30_000 * 25 / 28
    got = sequential.evidence_ahead(counted, [5], units_per_day=1_000)
    assert got[0] == pytest.approx(design.evidence_needed(12_000 / at_end))
    with pytest.raises(ValueError, match="units_per_day"):
        sequential.evidence_ahead(counted, [5])
