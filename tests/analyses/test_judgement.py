"""Every class a page shows is cut once, here: one rule and one threshold each.

The wording formats what these functions return; these tests pin each rule at its threshold
and check that the pages of different analyses read the same interval the same way.
"""

import copy
import json
from pathlib import Path

import pytest

from analyses.ab_test import judgement as ab
from analyses.ab_test.results import AbDecision
from analyses.core import judgement as core
from readout import wording

BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"


def load(name: str) -> dict:
    return json.loads((BUNDLES / f"{name}.json").read_text())


# ----------------------------------------------------------------------- shared classes


@pytest.mark.parametrize(
    ("hdi", "expected"),
    [
        ((0.0, 12.0), "unclear"),  # reaches zero
        ((1.19, 12.0), "unclear"),  # just under a tenth of the upper end
        ((1.21, 12.0), "clear"),  # just over it
        ((0.38, 0.44), "clear"),
        ((0.0, 0.0), "unclear"),  # no spread at all
    ],
)
def test_spread_is_clear_when_its_interval_stays_clear_of_zero(hdi, expected):
    assert core.spread_class(hdi) == expected


@pytest.mark.parametrize(
    ("shrinkage", "expected"), [(0.0, "little"), (0.2499, "little"), (0.25, "much"), (0.9, "much")]
)
def test_pull_is_little_below_a_quarter(shrinkage, expected):
    assert core.pull_class(shrinkage) == expected


@pytest.mark.parametrize(
    ("influence", "expected"), [(None, None), (0.1, "weak"), (0.1001, "noticeable")]
)
def test_prior_is_weak_at_a_tenth_of_its_width(influence, expected):
    assert core.prior_class(influence) == expected


def test_inside_includes_the_ends():
    assert core.inside((-1.0, 1.0), 0.0)
    assert core.inside((0.0, 1.0), 0.0) and core.inside((-1.0, 0.0), 0.0)
    assert not core.inside((0.001, 1.0), 0.0)


def test_prior_fit_needs_uniform_transforms_and_the_expected_coverage():
    # 38 experiments at 94%: 35.7 expected inside; two binomial sds = 2.93.
    assert core.prior_fit_class(0.5, 36, 35.72, 0.94) == "fits"
    assert core.prior_fit_class(0.5, 32.7, 35.72, 0.94) == "poor"  # 3.02 short
    assert core.prior_fit_class(0.049, 36, 35.72, 0.94) == "poor"  # KS rejects
    # A small programme: at least two either way.
    assert core.prior_fit_class(0.5, 8, 10 * 0.94, 0.94) == "fits"
    assert core.prior_fit_class(0.5, 7, 10 * 0.94, 0.94) == "poor"
    assert core.prior_lean(3, 1) == "above" and core.prior_lean(1, 3) == "below"
    assert core.prior_lean(2, 1) is None


# ----------------------------------------------------------------------- A/B classes


@pytest.mark.parametrize(
    ("prob", "expected"), [(0.95, "higher"), (0.9499, "same"), (0.05, "lower"), (0.5, "same")]
)
def test_a_revenue_part_moves_at_the_readouts_own_bar(prob, expected):
    assert ab.part_moved(prob, 0.95) == expected


@pytest.mark.parametrize(
    ("reduction", "code", "gain"),
    [(0.0049, "none", 0.0), (0.2, "more", 0.25), (0.5, "times", 1.0), (0.9, "times", 9.0)],
)
def test_a_variance_reduction_is_worth_the_units_its_width_implies(reduction, code, gain):
    found, worth = ab.reduction_worth(reduction)
    assert found == code and worth == pytest.approx(gain)
    if code != "none":  # the width ratio squared is the ratio of units: (1 - r)^-1 = 1 + gain
        assert 1 + worth == pytest.approx(1 / (1 - reduction))


def _decision(verdict: str, reason: str) -> AbDecision:
    return AbDecision(
        verdict=verdict, reason_code=reason, thresholds=load("paywall")["decision"]["thresholds"]
    )


def test_the_primary_row_never_contradicts_the_verdict():
    stopped = _decision("keep_control", "guardrail_harm")
    assert ab.primary_status("ship", stopped) == "better"
    assert ab.primary_status("ship", _decision("withheld", "health_failed")) == "withheld"
    waiting = _decision("keep_collecting", "not_enough_evidence")
    assert ab.primary_status("keep_collecting", waiting) == "keep_collecting"
    # The programme decided: its own status (ship, alone) is not what the verdict read.
    assert ab.primary_status("ship", waiting, by_programme=True) == "keep_collecting"
    # A guardrail stopped it: "better" only where the primary (on the programme's numbers
    # there) would have shipped; otherwise that verdict (issue 23: harm stops any verdict).
    assert ab.primary_status("ship", stopped, by_programme=True) == "better"
    assert ab.primary_status("keep_collecting", stopped, by_programme=True) == "keep_collecting"
    assert ab.primary_status("keep_collecting", stopped) == "keep_collecting"


def test_a_withheld_verdict_was_set_to_read_the_programme_but_read_no_lift():
    """``decided_by_programme``: the programme's prior was set to decide, whatever the verdict;
    ``verdict_by_programme``: the verdict read the lift given it, never a withheld verdict."""
    from readout import bundle as bundles
    from readout import programme
    from tests.fixtures.programme_decided import (
        decided_by_programme,
        learned,
        withheld_by_programme,
    )

    decided = bundles.typed(decided_by_programme("checkout-redesign"))
    assert decided.decision.verdict != "withheld"
    assert ab.decided_by_programme(decided) and ab.verdict_by_programme(decided)
    withheld = bundles.typed(withheld_by_programme("checkout-redesign"))
    assert withheld.decision.verdict == "withheld"
    assert ab.decided_by_programme(withheld)
    assert not ab.verdict_by_programme(withheld)
    alone = programme.with_programme(load("checkout-redesign"), learned(), "alone")
    assert not ab.decided_by_programme(bundles.typed(alone))
    assert not ab.verdict_by_programme(bundles.typed(alone))
    assert not ab.verdict_by_programme(bundles.typed(load("checkout-redesign")))  # no programme


def test_a_prior_row_never_ships_past_a_guardrail():
    waiting = _decision("keep_collecting", "not_enough_evidence")
    assert ab.prior_verdict("ship", waiting, ["ok", "harm"]) == "keep_control"
    assert ab.prior_verdict("ship", waiting, ["unclear"]) == "keep_collecting"
    assert ab.prior_verdict("ship", waiting, ["ok"]) == "ship"
    assert ab.prior_verdict("ship", _decision("keep_control", "guardrail_harm")) == "keep_control"
    assert ab.prior_verdict("ship", _decision("withheld", "health_failed"), ["ok"]) == "withheld"
    assert ab.prior_verdict("keep_control", waiting, ["harm"]) == "keep_control"
    # Harm keeps the control whatever the primary says under that prior (issues 21, 23).
    assert ab.prior_verdict("keep_collecting", waiting, ["harm"]) == "keep_control"
    assert ab.prior_verdict("no_difference", waiting, ["ok", "harm"]) == "keep_control"
    assert ab.prior_verdict("keep_collecting", waiting, ["unclear"]) == "keep_collecting"


# ----------------------------------------------------------------------- one cut for every page


@pytest.mark.parametrize(("low", "clear"), [(0.0, False), (0.0119, False), (0.0121, True)])
def test_units_and_segment_levels_differ_by_the_same_rule(low, clear):
    """The hierarchical page's spread between units and the A/B page's spread between a
    segment's levels read the same interval the same way (they used two rules)."""
    hier = load("eight-schools")
    hier["hyper"]["sigma_unit"]["hdi"] = [low * 1000, 120.0]
    hier["hyper"]["sigma_unit"]["mean"] = 10.0  # the old rule read the mean: here it says clear
    said = " ".join(
        wording.readout_text(hier).key_sentences
        + sum(wording.readout_text(hier).sections.values(), [])
    )
    assert ("really do differ" in said) == clear, said

    ab_bundle = copy.deepcopy(load("checkout-redesign"))
    spread = ab_bundle["segment_spread"][0]
    spread["sigma"]["hdi"] = [low, 0.12]
    spread["sigma"]["mean"] = 0.1
    text = wording.readout_text(ab_bundle)
    said = " ".join(line for lines in text.sections.values() for line in lines)
    assert ("the levels really differ" in said) == clear
    assert ("the levels may well share one lift" in said) == (not clear)


def test_the_grid_edge_is_the_pooling_grids_own_limit():
    from analyses.core.pooling import EDGE

    assert core.grid_at_edge(EDGE) and not core.grid_at_edge(EDGE / 2)
    assert not core.grid_at_edge(None)


@pytest.mark.parametrize(
    ("tail_p", "expected"),
    [(0.0499, "conflict"), (0.05, "consistent"), (0.5, "consistent"), (None, None)],
)
def test_a_prior_data_conflict_is_a_tail_probability_below_five_percent(tail_p, expected):
    assert core.conflict_class(tail_p) == expected


def test_the_predictive_tail_is_exact_for_a_normal_and_uniform_under_the_prior():
    """Issue 22, review finding 3: the tail probability of an estimate under the prior
    predictive. For a single normal it is 2 Phi(-|y - m| / sqrt(sd^2 + s^2)); estimates drawn
    from the predictive of a fat-tailed mixture give uniform tail probabilities, so the flag
    fires on 5% of them (4,000 draws: binomial sd 0.0034, tolerance 4 sd)."""
    import numpy as np
    from scipy.special import ndtr

    from analyses.core import programme as pg

    one = pg.Mixture(np.array([1.0]), np.array([0.01]), np.array([0.02]))
    found = pg.predictive_tail(one, 0.09, 0.03)
    assert found == pytest.approx(2 * ndtr(-0.08 / np.hypot(0.02, 0.03)), rel=1e-9)
    assert pg.predictive_tail(one, 0.01, 0.03) == pytest.approx(1.0)
    mix = pg.Mixture(np.array([0.8, 0.2]), np.array([0.005, 0.01]), np.array([0.01, 0.05]))
    rng = np.random.default_rng(3)
    n, s = 4000, 0.02
    wide = rng.random(n) < 0.2
    z = np.where(wide, 0.01 + 0.05 * rng.standard_normal(n), 0.005 + 0.01 * rng.standard_normal(n))
    y = z + s * rng.standard_normal(n)
    tails = np.array([pg.predictive_tail(mix, v, s) for v in y])
    flagged = np.mean([core.conflict_class(t) == "conflict" for t in tails])
    assert flagged == pytest.approx(core.PRIOR_CONFLICT, abs=4 * 0.0034)
    # Far out in the tail the flag fires: +15% against a prior of a few percent.
    assert core.conflict_class(pg.predictive_tail(mix, np.log1p(0.30), s)) == "conflict"


# ----------------------------------------------------------------------- no threshold in the words

#: The wording's own formatting rules (how a p-value is printed), not judgements.
FORMATTING = {("numbers.py", "p < 0.001"), ("numbers.py", "p < 0.01")}


def test_the_wording_compares_no_number_with_a_threshold():
    """A number compared with a literal threshold in the wording is a judgement made outside
    the one module: it names the file and line."""
    import ast

    root = Path(__file__).resolve().parents[2] / "readout" / "wording"
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            literal = any(isinstance(s, ast.Constant) and isinstance(s.value, float) for s in sides)
            ordered = any(isinstance(o, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for o in node.ops)
            if literal and ordered and (path.name, ast.unparse(node)) not in FORMATTING:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "\n".join(found)
