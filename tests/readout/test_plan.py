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


#: For each file the plan writes: its name, and whether the output folder was held (by the
#: plan, so that another process asking for it was turned away) while it was written.
WRITES: list[tuple[str, bool]] = []


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> tuple[Path, str]:
    import filelock

    from readout import files, store

    out = tmp_path_factory.mktemp("plan")
    write = files.atomic_write_text

    def held_while_written(path, *args, **kwargs):
        lock = filelock.FileLock(store.lock_file(out), timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            WRITES.append((Path(path).name, True))
        else:
            lock.release()
            WRITES.append((Path(path).name, False))
        return write(path, *args, **kwargs)

    # The demo's exposures run 1-15 November 2026: four weeks up to 28 November hold them all,
    # and every 14-day window but the last day's has closed.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files, "atomic_write_text", held_while_written)
        result = invoke(
            "--output",
            str(out),
            "checkout-redesign",
            "--min-effect",
            "0.1",
            "--until",
            "2026-11-28",
        )
    assert result.exit_code == 0, result.output
    return out / "checkout-redesign", result.output


def test_the_plan_is_written_holding_the_output_folder(planned):
    assert WRITES == [("plan.json", True), ("plan.html", True)]


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
    # The sequential design's end (1 - 5/6 of the 3% error) beside the fixed rule's threshold.
    assert "the end 97.5% rather than 97%" in text
    rows = re.findall(r"<td[^>]*>(\d+) days</td>", html)
    assert str(days) in rows and str(seq[1]["days"]) in rows
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


DIRECT = """
WITH u AS (
  SELECT user_id AS unit, min(exposed_at) AS e, count(DISTINCT variant) AS k,
         min(variant) AS arm
  FROM exposures WHERE experiment = 'checkout' GROUP BY 1),
c AS (SELECT * FROM u WHERE k = 1 AND arm = 'control'
      AND e >= TIMESTAMP '2026-11-01' AND e < TIMESTAMP '2026-11-15')
SELECT c.unit, {per_unit}
FROM c LEFT JOIN {table} x
  ON x.user_id = c.unit AND x.ts >= c.e AND x.ts < c.e + INTERVAL 14 DAY
GROUP BY c.unit
"""

ASSIGNMENTS = (
    "SELECT user_id AS unit, variant AS arm, exposed_at "
    "FROM exposures WHERE experiment = 'checkout'"
)
METRICS = {
    "load_time": """
[[experiments.metrics]]
name = "load_time"
sql = "SELECT user_id AS unit, ts, load_ms AS value FROM page_loads"
aggregate = "mean"
kind = "continuous"
window_days = 14
higher_is_better = false
""",
    "clicks": """
[[experiments.metrics]]
name = "clicks"
sql = "SELECT user_id AS unit, ts, clicks AS numerator, pageviews AS denominator FROM sessions"
kind = "ratio"
window_days = 14
""",
}


@pytest.mark.parametrize("metric", ["load_time", "clicks"])
def test_the_history_query_matches_a_direct_computation(tmp_path, metric):
    """A mean metric (lower is better) and a ratio, against SQL written by hand in DuckDB."""
    import duckdb

    from analyses.ab_test.conjugate import RatioMoments, ratio_estimate
    from readout.config import load_config
    from readout.plan import baseline_of, primary_metric, read_history

    db = ROOT / "data" / "demo.duckdb"
    config = tmp_path / "experiments.toml"
    config.write_text(
        f"""
[sources.warehouse]
url = "duckdb:///{db}"

[[experiments]]
name = "checkout"
title = "Checkout"
analysis = "ab_test"
source = "warehouse"
assignments = "{ASSIGNMENTS}"
control = "control"
"""
        + METRICS[metric]
    )
    experiment = load_config(config).experiments[0]
    m = primary_metric(experiment.spec)
    start, end = period("2026-11-28", 28)
    rows, sql = read_history(experiment, m, start, end)
    baseline, history = baseline_of(rows, m, "control", "here", start, end, 28)
    con = duckdb.connect(str(db), read_only=True)
    if metric == "load_time":
        values = con.sql(DIRECT.format(per_unit="avg(x.load_ms) AS v", table="page_loads"))
        v = values.df()["v"].dropna().to_numpy()
        assert baseline.kind == "mean" and not baseline.higher_is_better
        assert baseline.units == len(v)
        assert baseline.mean == pytest.approx(v.mean(), rel=1e-9)
        assert baseline.sd == pytest.approx(v.std(ddof=1), rel=1e-6)
    else:
        per_unit = "coalesce(sum(x.clicks), 0) AS num, coalesce(sum(x.pageviews), 0) AS den"
        frame = con.sql(DIRECT.format(per_unit=per_unit, table="sessions")).df()
        num, den = frame["num"].to_numpy(float), frame["den"].to_numpy(float)
        ratio = num.sum() / den.sum()
        z = (num - ratio * den) / den.mean()  # the delta method's linearised values
        assert baseline.kind == "mean" and baseline.units == len(frame)
        assert baseline.mean == pytest.approx(ratio, rel=1e-9)
        assert baseline.sd == pytest.approx(z.std(ddof=1), rel=1e-6)
        moments = RatioMoments(
            len(num), num.sum(), den.sum(), (num**2).sum(), (den**2).sum(), (num * den).sum()
        )
        assert baseline.sd / np.sqrt(len(num)) == pytest.approx(ratio_estimate(moments)[1])
    exposed = con.sql(
        "SELECT count(*) FROM (SELECT user_id FROM exposures WHERE experiment = 'checkout' "
        "GROUP BY 1 HAVING count(DISTINCT variant) = 1)"
    ).fetchone()[0]
    assert history["units"] == exposed and "SELECT" in sql


def test_the_words_name_a_third_arm_and_cuped_where_they_apply(planned):
    """Words from the numbers alone: a plan for three arms and a metric the readout adjusts."""
    from analyses.ab_test.plan_results import Plan
    from readout.wording.plan import text

    folder, _ = planned
    numbers = json.loads((folder / "plan.json").read_text())
    assert not any("CUPED" in line for line in text(Plan.model_validate(numbers)).assumptions)
    numbers["baseline"]["arms"] = 3
    numbers["metric"]["covariate_days"] = 14.0
    lines = " ".join(text(Plan.model_validate(numbers)).assumptions)
    assert "split evenly between 3 arms (the plan compares one treatment" in lines
    assert "the third arm takes its share" in lines
    assert "for its 14 days before exposure (CUPED)" in lines


def test_a_plan_is_not_written_into_a_folder_another_readout_is_writing(tmp_path, monkeypatch):
    """While a run holds the output folder the plan exits 2 naming it and writes nothing; it
    says so at once (``store.check_free``), before reading the history and simulating."""
    from readout import plan, store

    def never(*args, **kwargs):
        raise AssertionError("the history was read although the folder is held")

    monkeypatch.setattr(plan, "read_history", never)
    out = tmp_path / "reports"
    with store.owning(out, "run"):
        result = invoke("--output", str(out), "checkout-redesign", "--until", "2026-11-28")
    assert result.exit_code == 2, result.output
    assert "another readout run (process " in result.output and "Fix:" in result.output
    assert not (out / "checkout-redesign").exists()
