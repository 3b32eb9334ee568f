"""`readout plan NAME` end to end on the demo warehouse: the history read in DuckDB, the plan,
its page; and the inputs it refuses (exit 2, a message naming the experiment and the fix)."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from analyses.ab_test.plan import fixed_power, simulate_looks
from analyses.ab_test.spec import Decision
from readout.cli import main
from readout.plan import period

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "experiments.toml")


def invoke(*args: str):
    return CliRunner().invoke(main, ["plan", "--config", CONFIG, *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("plan")
    # The demo's exposures run 1-15 November 2026: four weeks up to 28 November hold them all,
    # and every 14-day window but the last day's has closed.
    result = invoke(
        "--output", str(out), "checkout-redesign", "--min-effect", "0.1", "--until", "2026-11-28"
    )
    assert result.exit_code == 0, result.output
    return out / "checkout-redesign", result.output


def text_of(html: str) -> str:
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_the_history_gives_the_demos_true_rate_and_traffic(planned):
    folder, _ = planned
    numbers = json.loads((folder / "plan.json").read_text())
    truth = json.loads((ROOT / "data" / "ground_truth.json").read_text())
    truth = truth["demo.duckdb"]["experiments"]["checkout"]
    b = numbers["baseline"]
    rate = truth["purchase_rate"]["control"]
    # The control's users (about half of 60,000) measured over their 14-day windows.
    assert b["kind"] == "binary" and b["units"] > 25_000
    assert b["mean"] == pytest.approx(rate, abs=4 * np.sqrt(rate * (1 - rate) / b["units"]))
    assert b["units_per_day"] == pytest.approx(truth["users"] / truth["days"], rel=0.03)
    assert b["window_days"] == 14 and b["arms"] == 2
    assert numbers["history"]["baseline_from"] == "control"
    assert numbers["min_effect"] == 0.1 and numbers["min_effect_from"] == "option"


def test_the_plan_reaches_its_targets_and_its_page_says_so(planned):
    folder, output = planned
    numbers = json.loads((folder / "plan.json").read_text())
    days = numbers["planned_days"]
    seq = numbers["rules"]["sequential"]["targets"]
    assert days == seq[0]["days"] and 14 < days <= seq[1]["days"] < 60
    assert seq[0]["prob"] >= 0.8 and seq[1]["prob"] >= 0.9
    html = (folder / "plan.html").read_text()
    assert '<html lang="en">' in html and "<title>" in html
    assert "http://" not in html and "https://" not in html  # nothing loaded from elsewhere
    text = text_of(html)
    assert f"Plan {days} days: an 80% chance of a clear answer" in text
    assert f"set planned_days = {days}" in text
    assert "SELECT" in html  # the SQL that ran
    assert f"Plan {days} days" in output and "plan.html" in output


def test_the_plans_chance_agrees_with_the_fixed_rule_simulated_again(planned):
    """The fixed rule's 80% plan, simulated again with other random numbers from the page's
    baseline: its chance is at least the target less four Monte Carlo errors."""
    from analyses.ab_test.plan import Baseline

    folder, _ = planned
    numbers = json.loads((folder / "plan.json").read_text())
    baseline = Baseline(**numbers["baseline"])
    target = numbers["rules"]["fixed"]["targets"][0]
    looks = simulate_looks(baseline, 0.1, target["days"], 4000, np.random.default_rng(99))
    again = fixed_power(looks, target["days"], Decision())
    assert again >= 0.8 - 4 * np.sqrt(0.16 / 4000) - 4 * target["mc_se"]


def test_the_history_period_ends_at_the_end_of_until_or_now():
    now = datetime(2026, 12, 5, 7, 30, tzinfo=UTC)
    start, end = period("2026-11-28", 28, now)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-11-01T00:00:00+00:00",
        "2026-11-29T00:00:00+00:00",
    )
    start, end = period(None, 7, now)
    assert end == now and start.isoformat() == "2026-11-29T00:00:00+00:00"


@pytest.mark.faults
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["no-such-experiment"], "there is no experiment named 'no-such-experiment'"),
        (["creator-pricing"], "analysis hierarchical; planning is for A/B tests"),
        (["signup-page"], "reads a data file without exposure times"),
        (["checkout-aa"], "reads a data file"),
        (["checkout-redesign", "--until", "2026-01-31"], "no history data: no unit was first"),
        (["checkout-redesign", "--until", "2026-11-05"], "window of metric 'purchase'"),
    ],
)
def test_what_cannot_be_planned_exits_2_naming_it(tmp_path, args, fragment):
    result = invoke("--output", str(tmp_path), *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output and "Traceback" not in result.output
    assert not (tmp_path / "checkout-redesign" / "plan.html").exists()


@pytest.mark.faults
def test_a_bad_min_effect_is_a_usage_error(tmp_path):
    result = invoke("--output", str(tmp_path), "checkout-redesign", "--min-effect", "1.5")
    assert result.exit_code == 2 and "--min-effect" in result.output
