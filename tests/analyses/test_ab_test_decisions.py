"""The decision maths of the A/B analysis against independent calculations."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy import stats as sps

from analyses import ab_test
from analyses.ab_test.results import Comparison
from analyses.core import stats
from analyses.core.base import Settings
from analyses.core.results import Summary
from tests.analyses.ab_inputs import arm_data, spec


def counts_frame(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    rows = []
    for arm, (conversions, n) in counts.items():
        rows.append(
            pd.DataFrame({"arm": arm, "y": [1.0] * conversions + [0.0] * (n - conversions)})
        )
    return pd.concat(rows, ignore_index=True)


def beta_prob_better(a: tuple[float, float], b: tuple[float, float]) -> float:
    """P(p_B > p_A) = integral of f_B(x) F_A(x) dx."""
    fa, fb = sps.beta(*a), sps.beta(*b)
    value, _ = integrate.quad(lambda x: fb.pdf(x) * fa.cdf(x), 0, 1, limit=200, points=[fa.mean()])
    return value


def beta_expected_loss(a: tuple[float, float], b: tuple[float, float]) -> float:
    """E[max(p_A - p_B, 0)] by one-dimensional integration.

    For fixed p_B = x: E[(p_A - x)+] = mean_A * (1 - F_{Beta(a1+1, a2)}(x)) - x * (1 - F_A(x)).
    """
    fa, fb = sps.beta(*a), sps.beta(*b)
    shifted = sps.beta(a[0] + 1, a[1])

    def inner(x: float) -> float:
        return fa.mean() * shifted.sf(x) - x * fa.sf(x)

    value, _ = integrate.quad(lambda x: fb.pdf(x) * inner(x), 0, 1, limit=200, points=[fa.mean()])
    return value


@pytest.mark.parametrize(
    "counts",
    [
        {"A": (100, 1000), "B": (120, 1000)},
        {"A": (48, 500), "B": (45, 510)},
        {"A": (3, 40), "B": (9, 38)},
    ],
)
def test_binary_decision_numbers_match_numerical_integration(counts, rows):
    settings = Settings(exact_draws=200_000, seed=7)
    fit = ab_test.fit(spec(), rows("ab_test", spec(), counts_frame(counts))[0], settings)
    comp = fit.results.comparisons[0]
    a = (1 + counts["A"][0], 1 + counts["A"][1] - counts["A"][0])
    b = (1 + counts["B"][0], 1 + counts["B"][1] - counts["B"][0])
    exact_prob = beta_prob_better(a, b)
    n = settings.exact_draws
    # Monte Carlo standard error of a probability: sqrt(p(1-p)/n); allow 4 of them.
    assert comp.prob_better == pytest.approx(
        exact_prob, abs=4 * np.sqrt(exact_prob * (1 - exact_prob) / n) + 1e-9
    )
    exact_loss = beta_expected_loss(a, b)
    # MC error of the loss from an independent draw of the same posteriors.
    rng = np.random.default_rng(99)
    shortfall = np.maximum(rng.beta(*a, size=n) - rng.beta(*b, size=n), 0)
    assert comp.expected_loss == pytest.approx(exact_loss, abs=4 * shortfall.std() / np.sqrt(n))
    # Arms' HDIs agree with the exact Beta HDI (the narrowest interval with 94% mass),
    # within four Monte Carlo standard errors of a sample HDI endpoint, measured here.
    arm_a = fit.results.arms[0]
    dist = sps.beta(*a)
    lo_grid = np.linspace(dist.ppf(1e-6), dist.ppf(0.0599), 4000)
    widths = dist.ppf(dist.cdf(lo_grid) + 0.94) - lo_grid
    exact_lo = lo_grid[np.argmin(widths)]
    exact_hi = exact_lo + widths.min()
    repeats = np.array([stats.hdi(dist.rvs(n, random_state=s), 0.94) for s in range(20)])
    mcse = repeats.std(axis=0, ddof=1)
    assert arm_a.hdi[0] == pytest.approx(exact_lo, abs=4 * mcse[0])
    assert arm_a.hdi[1] == pytest.approx(exact_hi, abs=4 * mcse[1])


def test_known_lift_is_recovered_at_the_nominal_rate_over_many_experiments():
    rng = np.random.default_rng(2026)
    true_a, true_b, n = 0.10, 0.12, 3000
    covered = []
    for seed in range(200):
        data = arm_data({"A": (rng.binomial(n, true_a), n), "B": (rng.binomial(n, true_b), n)})
        fit = ab_test.fit(spec(), data, Settings(exact_draws=4000, seed=seed))
        low, high = fit.results.comparisons[0].lift_abs.hdi
        covered.append(low <= true_b - true_a <= high)
    coverage = np.mean(covered)
    # 200 experiments: binomial sd of the coverage is sqrt(.94*.06/200) = 0.017; allow 3.5 sd.
    assert abs(coverage - 0.94) < 3.5 * np.sqrt(0.94 * 0.06 / 200)


def comparison(prob_better, loss_rel, lift_hdi=(-0.01, 0.05)):
    """B against a control at 1: its absolute lift and loss are its relative ones."""
    lift = Summary(mean=sum(lift_hdi) / 2, hdi=lift_hdi)
    return Comparison(
        arm="B",
        vs="A",
        prob_better=prob_better,
        expected_loss=loss_rel,
        expected_loss_rel=loss_rel,
        lift_abs=lift,
        lift_rel=lift,
    )


@pytest.mark.parametrize(
    ("comparisons", "rope", "verdict"),
    [
        ([comparison(0.99, 0.0001, (0.01, 0.09))], None, "ship"),
        ([comparison(0.99, 0.02, (0.01, 0.09))], None, "keep_collecting"),
        ([comparison(0.02, 0.05, (-0.09, -0.01))], None, "keep_control"),
        ([comparison(0.80, 0.001)], None, "keep_collecting"),
        ([comparison(0.60, 0.001, (-0.01, 0.015))], 0.02, "no_difference"),
        ([comparison(0.60, 0.001, (-0.01, 0.025))], 0.02, "keep_collecting"),
        ([comparison(0.99, 0.0001, (0.01, 0.09)), comparison(0.5, 0.01)], None, "ship"),
        ([comparison(0.975, 0.0001, (-0.001, 0.09))], None, "keep_collecting"),
        ([comparison(0.02, 0.05, (-0.09, 0.001))], None, "keep_collecting"),
    ],
)
def test_verdicts_follow_the_thresholds(comparisons, rope, verdict):
    decision = ab_test.Decision(rope=rope)
    assert ab_test.decide_comparisons(comparisons, decision).verdict == verdict


@pytest.mark.parametrize(
    ("comparisons", "verdict", "code"),
    [
        ([comparison(0.99, 0.02, (0.01, 0.09))], "higher", "clear_winner"),
        ([comparison(0.02, 0.05, (-0.09, -0.01))], "lower", "all_worse"),
        ([comparison(0.80, 0.001)], "unclear", "not_enough_evidence"),
    ],
)
def test_observational_comparisons_have_their_own_verdicts(comparisons, verdict, code):
    """Nothing was assigned, so nothing ships; the loss of shipping plays no part."""
    result = ab_test.decide_comparisons(comparisons, ab_test.Decision(), observational=True)
    assert (result.verdict, result.reason_code) == (verdict, code)


@pytest.mark.parametrize(
    ("srm_ok", "diagnostics_ok", "failed"),
    [
        (False, True, ["srm"]),
        (True, False, ["diagnostics"]),
        (False, False, ["srm", "diagnostics"]),
    ],
)
def test_failed_health_withholds_any_verdict(srm_ok, diagnostics_ok, failed):
    # A clear winner, with the checks set as given.
    fit = ab_test.fit(spec(), arm_data({"A": (500, 5000), "B": (650, 5000)}), Settings())
    assert ab_test.decide(spec(), fit.results, fit.diagnostics).verdict == "ship"
    results = fit.results.model_copy(
        update={"srm": fit.results.srm.model_copy(update={"ok": srm_ok})}
    )
    diagnostics = fit.diagnostics.model_copy(update={"ok": diagnostics_ok})
    result = ab_test.decide(spec(), results, diagnostics)
    assert result.verdict == "withheld"
    assert result.reason_code == "health_failed"
    assert result.failed_checks == tuple(failed)


@pytest.mark.parametrize("b_conversions", [540, 550, 560, 575, 600])
def test_ship_agrees_with_the_interval_shown(b_conversions):
    """A 'ship' verdict comes with a 94% HDI of the lift above zero and P(better) >= 97%."""
    data = arm_data({"A": (500, 5000), "B": (b_conversions, 5000)})
    fit = ab_test.fit(spec(), data, Settings(exact_draws=40_000))
    comp = fit.results.comparisons[0]
    shipped = ab_test.decide(spec(), fit.results, fit.diagnostics).verdict == "ship"
    assert shipped == (comp.lift_rel.hdi[0] > 0 and comp.prob_better >= 0.97)


def test_sample_ratio_mismatch_withholds_the_verdict_and_sizes_the_problem(rows):
    frame = counts_frame({"A": (1000, 10_000), "B": (1100, 9_400)})
    fit = ab_test.fit(spec(), rows("ab_test", spec(), frame)[0], Settings(exact_draws=8000))
    srm = fit.results.srm
    assert srm.ok is False
    assert ab_test.decide(spec(), fit.results, fit.diagnostics).verdict == "withheld"
    # B lost 600 users against a 50/50 split; if they had all converted (or none had):
    assert srm.missing == (0, 600)
    low, high = srm.worst_case_lift
    assert low == pytest.approx((1100 / 10_000) / (1000 / 10_000) - 1)
    assert high == pytest.approx((1700 / 10_000) / (1000 / 10_000) - 1)


def test_three_arms_report_probability_of_being_best(rows):
    frame = counts_frame({"A": (100, 1000), "B": (150, 1000), "C": (95, 1000)})
    fit = ab_test.fit(spec(), rows("ab_test", spec(), frame)[0], Settings(exact_draws=20_000))
    best = {a.name: a.prob_best for a in fit.results.arms}
    assert sum(best.values()) == pytest.approx(1.0)
    assert best["B"] > 0.99
    assert [c.arm for c in fit.results.comparisons] == ["B", "C"]


def test_a_harmed_guardrail_outranks_one_that_only_might_harm():
    """Fixed rule and planned looks alike (``decide.guardrail_stops``): with one guardrail
    unclear and a later one harmed, a ship is stopped by the harm (keep the control)."""
    import json
    from pathlib import Path

    from analyses.ab_test.results import AbBundle

    path = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "checkout-redesign.json"
    bundle = AbBundle.model_validate(json.loads(path.read_text()))
    harm = {"load_time": 0.5, "support_contacts": 0.99999}  # unclear, then harm
    metrics = tuple(
        m.model_copy(
            update={
                "comparisons": tuple(
                    c.model_copy(update={"prob_harm": harm[m.name]}) for c in m.comparisons
                )
            }
        )
        if m.name in harm
        else m
        for m in bundle.metrics
    )
    assert [m.name for m in metrics if m.role == "guardrail"] == list(harm)
    read = bundle.model_copy(update={"metrics": metrics})
    given_spec = ab_test.ANALYSIS.spec.model_validate(bundle.spec)
    decision = ab_test.decide(given_spec, read, bundle.diagnostics)
    assert (decision.verdict, decision.reason_code) == ("keep_control", "guardrail_harm")
    assert decision.deciding_metric == "support_contacts"
    assert ab_test.decide(given_spec, bundle, bundle.diagnostics).verdict == "ship"


def _search_ranking():
    """The fixture ``search-ranking``: the primary ships alone, ``load_time`` is harmed."""
    import json
    from pathlib import Path

    from analyses.ab_test.results import AbBundle

    path = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "search-ranking.json"
    bundle = AbBundle.model_validate(json.loads(path.read_text()))
    return bundle, ab_test.ANALYSIS.spec.model_validate(bundle.spec)


def _primary_reads(bundle, prob_better, hdi):
    """``bundle`` with its primary comparisons' chance of being better and lift's HDI set."""

    def change(comps):
        return tuple(
            c.model_copy(
                update={"prob_better": prob_better, "lift_rel": Summary(mean=sum(hdi) / 2, hdi=hdi)}
            )
            for c in comps
        )

    primary = bundle.metrics[0]
    return bundle.model_copy(
        update={
            "metrics": (
                primary.model_copy(update={"comparisons": change(primary.comparisons)}),
                *bundle.metrics[1:],
            ),
            "comparisons": change(bundle.comparisons),
        }
    )


@pytest.mark.parametrize(
    ("prob_better", "hdi", "rope", "alone"),
    [
        (0.9993, (0.056, 0.24), None, "ship"),
        (0.6, (-0.02, 0.05), None, "keep_collecting"),
        (0.6, (-0.01, 0.02), 0.05, "no_difference"),
    ],
)
def test_a_harmed_guardrail_keeps_the_control_whatever_the_primary_says(
    prob_better, hdi, rope, alone
):
    """Issues 21 and 23: harm beyond a guardrail's tolerance keeps the control, not only a
    ship (the page would otherwise show the harm beside "Keep collecting data")."""
    from analyses.ab_test.decide import comparisons_verdict

    bundle, given_spec = _search_ranking()
    given_spec = given_spec.model_copy(
        update={"decision": given_spec.decision.model_copy(update={"rope": rope})}
    )
    read = _primary_reads(bundle, prob_better, hdi)
    primary = read.metrics[0]
    assert comparisons_verdict(primary.comparisons, given_spec.decision)[0] == alone
    decision = ab_test.decide(given_spec, read, bundle.diagnostics)
    assert (decision.verdict, decision.reason_code) == ("keep_control", "guardrail_harm")
    assert decision.deciding_metric == "load_time"
    assert decision.prob_harm == pytest.approx(1.0)


def test_the_harmed_guardrails_are_those_whose_status_is_harm():
    """``harming_guardrails`` (which the programme page flags) names the guardrail the
    decision stopped on, and no guardrail only unclear, nor a primary or secondary."""
    from analyses.ab_test.decide import harming_guardrails

    bundle, _ = _search_ranking()
    assert [m.name for m in harming_guardrails(bundle.metrics)] == ["load_time"]
    assert bundle.decision.deciding_metric == "load_time"
    unclear = tuple(
        m.model_copy(update={"status": "unclear"}) if m.name == "load_time" else m
        for m in bundle.metrics
    )
    assert harming_guardrails(unclear) == []
    primary = bundle.metrics[0].model_copy(update={"status": "harm"})
    assert harming_guardrails((primary,)) == []


def test_a_primary_that_keeps_the_control_keeps_its_own_reason_beside_a_harmed_guardrail():
    bundle, given_spec = _search_ranking()
    read = _primary_reads(bundle, 0.001, (-0.2, -0.05))
    decision = ab_test.decide(given_spec, read, bundle.diagnostics)
    assert (decision.verdict, decision.reason_code) == ("keep_control", "all_worse")


def test_the_programme_decided_verdict_is_stopped_by_a_harmed_guardrail():
    """The programme's numbers say keep collecting for ``search-ranking``; its harmed
    guardrail still keeps the control, through the same ``guardrail_stops``."""
    from analyses.ab_test import programme as ab_programme
    from analyses.ab_test.decide import comparisons_verdict
    from analyses.ab_test.results import AbBundle
    from tests.fixtures.programme_decided import decided_by_programme

    made = AbBundle.model_validate(decided_by_programme("search-ranking"))
    given_spec = ab_test.ANALYSIS.spec.model_validate(made.spec)
    by_programme = ab_programme.read_by_programme(made).metrics[0]

    assert comparisons_verdict(by_programme.comparisons, given_spec.decision)[0] == (
        "keep_collecting"
    )
    decision = ab_programme.decide_with(given_spec, made, made.diagnostics, True)
    assert (decision.verdict, decision.reason_code) == ("keep_control", "guardrail_harm")
    assert decision.deciding_metric == "load_time"
    assert made.decision == decision  # what the run writes
    alone = ab_programme.decide_with(given_spec, made, made.diagnostics, False)
    assert (alone.verdict, alone.reason_code) == ("keep_control", "guardrail_harm")


def _rule_one_by_one(comparisons, decision, observational, higher_is_better):
    """The verdict rule written out for one readout, as it read before it was vectorised:
    the independent reference :func:`analyses.ab_test.decide.verdicts` is checked against."""
    d = 1.0 if higher_is_better else -1.0
    lifts = [c.lift_rel if c.lift_rel is not None else c.lift_abs for c in comparisons]
    good = [sorted(d * h for h in lift.hdi) for lift in lifts]
    best_i = max(range(len(comparisons)), key=lambda i: comparisons[i].prob_better)
    best = comparisons[best_i]
    threshold, rope = decision.min_prob_better, decision.rope
    if rope is not None and all(
        c.lift_rel is not None and -rope < c.lift_rel.hdi[0] and c.lift_rel.hdi[1] < rope
        for c in comparisons
    ):
        return "no_difference", "inside_rope"
    loss_ok = observational or best.expected_loss_rel <= decision.max_expected_loss
    if best.prob_better >= threshold and good[best_i][0] > 0 and loss_ok:
        return ("higher" if observational else "ship"), "clear_winner"
    if all(
        c.prob_better <= 1 - threshold and g[1] < 0 for c, g in zip(comparisons, good, strict=True)
    ):
        return ("lower" if observational else "keep_control"), "all_worse"
    if best.prob_better >= threshold and good[best_i][0] <= 0:
        code = "interval_includes_zero"
    elif best.prob_better >= threshold:
        code = "loss_too_high"
    else:
        code = "not_enough_evidence"
    return ("unclear" if observational else "keep_collecting"), code


@pytest.mark.parametrize("seed", range(2))
def test_the_rule_on_many_readouts_at_once_is_the_rule_one_by_one(seed):
    """The forecast reads thousands of simulated readouts at once (``verdicts``); each
    column's verdict and reason equal the rule written out one readout at a time, on random
    readouts of 1 to 4 arms built to sit on every edge: tied chances, chances equal to the
    threshold, chances that are not a number (first or later), intervals touching zero or
    the ROPE, a loss equal to its limit, absolute lifts standing in for relative ones,
    either direction, observational or not."""
    from types import SimpleNamespace

    from analyses.ab_test.decide import Many, comparisons_verdict, verdicts
    from analyses.ab_test.spec import Decision

    rng = np.random.default_rng(seed)
    seen = set()
    for _ in range(60):
        arms, n = int(rng.integers(1, 5)), 400
        decision = Decision(
            min_prob_better=float(rng.choice([0.9, 0.95])),
            max_expected_loss=float(rng.choice([0.005, 0.01])),
            rope=None if rng.random() < 0.4 else float(rng.choice([0.01, 0.05])),
        )
        edges = np.array(
            [0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 0.95, 0.99, 1.0, decision.min_prob_better]
        )
        pb = np.where(
            rng.random((arms, n)) < 0.5, rng.choice(edges, (arms, n)), rng.random((arms, n))
        )
        pb = np.where(rng.random((arms, n)) < 0.03, np.nan, pb)  # a chance not a number
        marks = np.array([-0.05, -0.01, 0.0, 0.01, 0.05, -(decision.rope or 0.02)])
        low = np.where(
            rng.random((arms, n)) < 0.5,
            rng.choice(marks, (arms, n)),
            rng.normal(0, 0.05, (arms, n)),
        )
        high = low + np.where(rng.random((arms, n)) < 0.3, 0.0, rng.exponential(0.04, (arms, n)))
        high = np.where(rng.random((arms, n)) < 0.1, rng.choice(marks, (arms, n)), high)
        loss = np.where(
            rng.random((arms, n)) < 0.3,
            decision.max_expected_loss,
            rng.exponential(0.01, (arms, n)),
        )
        relative = rng.random(arms) < 0.85
        observational, higher = bool(rng.random() < 0.2), bool(rng.random() < 0.7)
        many = Many(pb, loss, low, high, relative)
        verdict, code = verdicts(many, decision, observational, higher)
        for col in range(n):
            comparisons = [
                SimpleNamespace(
                    arm=f"t{row}",
                    prob_better=float(pb[row, col]),
                    expected_loss_rel=float(loss[row, col]),
                    lift_rel=SimpleNamespace(hdi=(low[row, col], high[row, col]))
                    if relative[row]
                    else None,
                    lift_abs=SimpleNamespace(hdi=(low[row, col], high[row, col])),
                )
                for row in range(arms)
            ]
            expected = _rule_one_by_one(comparisons, decision, observational, higher)
            assert (verdict[col], code[col]) == expected, (col, comparisons, decision)
            if col % 50 == 0:
                assert comparisons_verdict(comparisons, decision, observational, higher) == expected
            seen.add(expected)
    # An interval with an end that is not a number lies on neither side of zero.
    for end in ((0.01, np.nan), (np.nan, 0.01), (-0.01, np.nan)):
        low, high = np.full((2, 1), end[0]), np.full((2, 1), end[1])
        half = Many(np.array([[0.999], [0.001]]), np.zeros((2, 1)), low, high)
        assert verdicts(half, Decision(min_prob_better=0.95))[0][0] == "keep_collecting"
    # The draws reached every verdict and reason of the rule.
    assert {v for v, _ in seen} >= {"ship", "keep_control", "keep_collecting", "no_difference"}
    assert {c for _, c in seen} >= {
        "inside_rope",
        "clear_winner",
        "all_worse",
        "interval_includes_zero",
        "loss_too_high",
        "not_enough_evidence",
    }
