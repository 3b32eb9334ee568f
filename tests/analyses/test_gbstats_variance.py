"""A user's prior on the lift beside GrowthBook's gbstats 0.8.0, the one quantity of issue 27
both compute (gbstats has no ratio CUPED and no post-stratification: tests/gbstats/README.md).

The numbers come from tests/gbstats/produce.py, run in its own Python 3.11 environment; its
output is tests/gbstats/cases.json. gbstats reads the prior as normal on the relative lift
itself, readout as normal on log(1 + lift) with the sd carried by the delta method, so the two
differ at second order in the lift: with posterior sds of 0.5-2% and lifts under 6%, the
posterior means agree within 15% of a posterior sd and the interval ends within 25%;
readout's 40,000 draws add a Monte Carlo error under 1% of an sd.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from analyses.ab_test import metrics as ab_metrics
from analyses.ab_test.metrics import Metric, Priors

CASES = json.loads((Path(__file__).parents[1] / "gbstats" / "cases.json").read_text())


def test_the_cases_were_made_by_gbstats_0_8_0_which_lacks_ratio_cuped_and_strata():
    assert CASES["gbstats"] == "0.8.0" and CASES["python"].startswith("3.11")
    assert CASES["lacks"]["ratio_cuped"].startswith("ValidationError")
    assert CASES["lacks"]["mentions_strata"] is False


@pytest.mark.parametrize("case", CASES["prior"], ids=lambda c: f"{c['kind']}-{c['arms'][0]['n']}")
def test_the_users_prior_reads_the_lift_as_gbstats_proper_prior_does(case):
    metric = Metric(
        "m", "m", case["kind"], prior_mean=case["prior_mean"], prior_sd=case["prior_sd"]
    )
    stats_ = {arm: {"units": a["n"], **a} for arm, a in zip(("a", "b"), case["arms"], strict=True)}
    summary, _ = ab_metrics.summarise(
        metric, stats_, ["a", "b"], Priors(), 40_000, 0.94, None, np.random.default_rng(1)
    )
    comp = summary.comparisons[0]
    gb = case["gbstats"]
    sd = gb["sd"]
    assert comp.lift_rel.mean == pytest.approx(gb["mean"], abs=0.15 * sd)
    assert comp.lift_rel.hdi[0] == pytest.approx(gb["ci"][0], abs=0.25 * sd)
    assert comp.lift_rel.hdi[1] == pytest.approx(gb["ci"][1], abs=0.25 * sd)
    assert comp.prob_better == pytest.approx(gb["chance_to_win"], abs=0.01)
    # The prior mattered: gbstats' own mean without it is the data's lift, further away.
    own = summary.without_prior[0].lift_rel.mean
    assert abs(own - gb["mean"]) > abs(comp.lift_rel.mean - gb["mean"])
