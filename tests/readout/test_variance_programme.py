"""A user's prior on the primary metric's lift takes precedence over the programme's learned
prior (issue 27): that readout gets no programme numbers and is decided alone, the others
still get them, and the programme learns from its lift from the data alone."""

import re

import numpy as np
import pytest

from readout import bundle as bundles
from readout import programme
from tests import programme_config
from tests.readout.running import copy_data, run

DATE = "2026-11-20"

CONFIG = programme_config.config(
    programme_config.warehouse_experiment(
        "checkout-redesign",
        programme_config.PURCHASE + "prior_mean = 0.0\nprior_sd = 0.02\n",
        title="Checkout redesign",
        experiment="checkout",
    ),
    programme_config.SIGNUP,
    programme='history = "data/programme_history.csv"',
)


@pytest.mark.slow
def test_the_users_prior_takes_precedence_over_the_learned_prior(tmp_path):
    copy_data(tmp_path, "signup_conversion.csv", "demo.duckdb", "programme_history.csv")
    config = tmp_path / "experiments.toml"
    config.write_text(CONFIG)
    out = tmp_path / "reports"
    result = run(config, out, "--date", DATE)
    assert result.exit_code == 0, result.output
    own = bundles.read(out / "checkout-redesign" / DATE / "bundle.json")
    other = bundles.read(out / "signup-page" / DATE / "bundle.json")
    assert other["programme_prior"]["prior"] == "learned"
    assert "programme" in other["metrics"][0]["comparisons"][0]
    assert "programme_prior" not in own
    assert all("programme" not in c for c in own["metrics"][0]["comparisons"])
    assert own["metrics"][0]["user_prior"]["applied"]
    # What the programme would learn from it: the lift from the data alone, not the prior's.
    past = programme._past(own, True, "config")
    alone = own["metrics"][0]["without_prior"][0]["lift_rel"]["hdi"]
    assert past.y == pytest.approx(float(np.mean(np.log1p(alone))), abs=1e-12)
    html = (out / "checkout-redesign" / DATE / "report.html").read_text()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")
    assert "It takes precedence over the programme's learned prior" in text
