"""A user's prior on the primary metric's lift takes precedence over the programme's learned
prior (issue 27): that readout gets no programme numbers and is decided alone, the others
still get them, and the programme learns from its lift from the data alone."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from readout import bundle as bundles
from readout import programme
from readout.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATE = "2026-11-20"

CONFIG = r"""
[programme]
history = "data/programme_history.csv"

[settings]
exact_draws = 8000

[sources.warehouse]
url = "duckdb://data/demo.duckdb"

[[experiments]]
name = "checkout-redesign"
title = "Checkout redesign"
analysis = "ab_test"
source = "warehouse"
assignments = '''SELECT user_id AS unit, variant AS arm, exposed_at
  FROM exposures WHERE experiment = 'checkout''''
control = "control"

[[experiments.metrics]]
name = "purchase"
label = "purchase rate"
sql = "SELECT user_id AS unit, ts, 1 AS value FROM orders"
aggregate = "any"
kind = "binary"
window_days = 14
role = "primary"
prior_mean = 0.0
prior_sd = 0.02

[[experiments]]
name = "signup-page"
title = "Signup page"
analysis = "ab_test"
data = "data/signup_conversion.csv"
group = "arm"
control = "A"
metric = "converted"
metric_type = "binary"
"""


@pytest.mark.slow
def test_the_users_prior_takes_precedence_over_the_learned_prior(tmp_path):
    (tmp_path / "data").mkdir()
    for name in ("signup_conversion.csv", "demo.duckdb", "programme_history.csv"):
        shutil.copy(ROOT / "data" / name, tmp_path / "data" / name)
    config = tmp_path / "experiments.toml"
    config.write_text(CONFIG)
    out = tmp_path / "reports"
    args = ["run", "--config", str(config), "--output", str(out), "--date", DATE]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
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
