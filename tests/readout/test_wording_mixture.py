"""The mixture's words for counts left out as redundant and for subsampled large data."""

import copy
import json
from pathlib import Path

from readout import wording

BUNDLE = Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "three-groups.json"


def two_of_three() -> dict:
    """The demo's bundle as it reads when two components are chosen and three were redundant."""
    bundle = copy.deepcopy(json.loads(BUNDLE.read_text()))
    bundle["comparison"] = [r for r in bundle["comparison"] if r["components"] < 3]
    bundle["comparison"][0]["elpd_diff"] = bundle["comparison"][0]["dse"] = 0.0
    bundle["chosen_components"] = 2
    bundle["components"] = bundle["components"][:2]
    bundle["assignment"]["per_component"] = bundle["assignment"]["per_component"][:2]
    bundle["redundant"] = [
        {
            "components": 3,
            "compared_with": 2,
            "log_lik_gain": 0.51,
            "parameters_added": 3,
            "elpd_aic_gain": -2.49,
            "margin": 4.0,
        }
    ]
    return bundle


def test_a_redundant_count_is_explained_with_its_numbers():
    text = wording.readout_text(two_of_three())
    selection = " ".join(text.sections["selection"])
    assert "3 components were not fitted in full" in selection
    assert "raise the log-likelihood by only 0.5 over 2 components" in selection
    assert (
        "a predictive gain of -2.5 by AIC's estimate, not the 4 a larger model needs" in selection
    )
    # Three were tried, so two is not "the largest number tried".
    assert "largest number tried" not in text.reason


def test_only_redundant_larger_counts_still_say_what_the_data_support():
    bundle = two_of_three()
    bundle["comparison"] = []
    bundle["redundant"].insert(0, {**bundle["redundant"][0], "components": 2, "compared_with": 1})
    bundle["chosen_components"] = 1
    selection = wording.readout_text(bundle).sections["selection"]
    assert selection[0] == "The data support 1 component."
    assert "over 1 component," in selection[1] and "2 components were not fitted" in selection[1]


def test_subsampled_large_data_state_the_error_they_add():
    bundle = copy.deepcopy(json.loads(BUNDLE.read_text()))
    bundle["n"] = 200_000
    bundle["subsampled"] = {
        "likelihood": {
            "rows": 961,
            "of": 200_000,
            "checked_draws": 100,
            "error_max": 0.0011,
            "weight_error_max": 0.0011006,
            "se_max": 0.0027,
            "limit": 0.05,
        },
        "loo_rows": 1000,
        "loo_dse_max": 0.31,
    }
    model = " ".join(wording.readout_text(bundle).sections["model"])
    assert "With 200,000 values, the importance weights read the log-likelihood of 961" in model
    assert "off by at most 0.0011 (a weight off by at most 0.11%)" in model
    assert "read 1,000 values drawn at random, which adds at most 0.3 to the standard" in model
    # Without subsampling nothing is said about it.
    plain = " ".join(wording.readout_text(json.loads(BUNDLE.read_text())).sections["model"])
    assert "drawn at random" not in plain
