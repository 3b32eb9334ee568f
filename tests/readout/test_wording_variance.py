"""The words of issue 27 from fixture bundles: post-stratification beside CUPED, a prior
that could not be applied, and old bundles without the new fields."""

import json
from pathlib import Path

from readout import wording

BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"


def _checkout() -> dict:
    return json.loads((BUNDLES / "checkout-redesign.json").read_text())


def test_post_stratification_beside_cuped_says_what_it_would_have_been_worth():
    bundle = _checkout()
    load = next(m for m in bundle["metrics"] if m["name"] == "load_time")
    load["post_stratified"] = {
        "segment": "country",
        "strata": 4,
        "variance_reduction": 0.12,
        "applied": False,
    }
    notes = wording.readout_text(bundle).notes
    cuped = round(100 * load["variance_reduction"])
    assert (
        "Post-stratifying page load time by country instead would have removed 12% of its "
        f"variance, beside the {cuped}% CUPED removes (the readout uses CUPED)."
    ) in notes


def test_a_prior_that_could_not_be_applied_says_so_and_the_old_bundle_words_stay():
    bundle = _checkout()
    before = wording.readout_text(bundle).notes
    bundle["metrics"][0]["user_prior"] = {
        "mean": 0.01,
        "sd": 0.02,
        "log_mean": 0.00995033085,
        "log_sd": 0.0198019802,
        "applied": False,
    }
    notes = wording.readout_text(bundle).notes
    assert notes[0].startswith(
        "Your prior: before these data you expected a lift of +1% give or take 2% in "
    )
    assert "It is not applied" in notes[0]
    assert notes[1:] == before
