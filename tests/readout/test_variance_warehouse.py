"""A warehouse readout with ratio CUPED, post-stratification and a user's prior, end to end.

DuckDB computes the sums (tests/variance_data.py writes tables of known truth); the bundle's
numbers are checked against the same sums computed with pandas from the tables, the HTML and
the PDF against the bundle, and bad keys against exit 2 with the file, key and fix named.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from analyses.ab_test import variance
from readout.cli import main
from tests import variance_data
from tests.pdf import pdf_text

PRIOR = "prior_mean = 0.0\nprior_sd = 0.05"


@pytest.fixture(scope="module")
def readout(tmp_path_factory) -> tuple[Path, dict, dict]:
    folder = tmp_path_factory.mktemp("variance")
    db = folder / "w.duckdb"
    truth = variance_data.write(db, seed=1, users=20_000)
    config = variance_data.config(folder, db, 'post_stratify = "country"', PRIOR)
    out = folder / "reports"
    args = ["run", "--config", str(config), "--output", str(out), "--date", "2026-11-01"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    day = out / "variance-demo" / "2026-11-01"
    tables, _ = variance_data.frames(seed=1, users=20_000)
    return day, json.loads((day / "bundle.json").read_text()), {"truth": truth, **tables}


def text_of(html: str) -> str:
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return text.replace("&#39;", "'").replace("&amp;", "&")


def _ratio_sums_by_pandas(tables: dict) -> dict[str, dict[str, float]]:
    """The engine's per-arm sums for the ratio, computed again from the rows."""
    exp = tables["exposures"].set_index("user_id")
    sessions = tables["sessions"].join(exp, on="user_id")
    days = (sessions["ts"] - sessions["exposed_at"]).dt.total_seconds() / 86400
    per = {}
    for key, mask in (("", (days >= 0) & (days < 14)), ("p", (days >= -14) & (days < 0))):
        sums = sessions[mask].groupby("user_id")[["clicks", "pageviews"]].sum()
        sums = sums.reindex(exp.index, fill_value=0)
        per[f"{key}num"], per[f"{key}den"] = sums["clicks"], sums["pageviews"]
    out = {}
    for arm, units in exp.groupby("variant").groups.items():
        v = {k: s.loc[units].to_numpy(float) for k, s in per.items()}
        out[arm] = {
            "units": float(len(units)),
            **{k: v[k].sum() for k in ("num", "den", "pnum", "pden")},
            "num2": (v["num"] ** 2).sum(),
            "den2": (v["den"] ** 2).sum(),
            "numden": (v["num"] * v["den"]).sum(),
            "pnum2": (v["pnum"] ** 2).sum(),
            "pden2": (v["pden"] ** 2).sum(),
            "pnumden": (v["pnum"] * v["pden"]).sum(),
            **{
                f"{a}_p{b}": (v[a] * v["p" + b]).sum()
                for a in ("num", "den")
                for b in ("num", "den")
            },
        }
    return out


def test_the_engines_sums_give_the_ratio_cuped_that_the_rows_give(readout):
    _, bundle, tables = readout
    ctr = next(m for m in bundle["metrics"] if m["name"] == "ctr")
    found, theta, reduction = variance.ratio_cuped(_ratio_sums_by_pandas(tables))
    assert ctr["covariate_slope"] == pytest.approx(theta, rel=1e-9)
    assert ctr["variance_reduction"] == pytest.approx(reduction, rel=1e-9)
    assert reduction > 0.2  # each user's own click rate, before and after
    arms = {a["name"]: a for a in ctr["arms"]}
    for arm in ("control", "treatment"):  # 40,000 draws: the mean within 4 MC sds
        mc = found[arm].se / np.sqrt(40_000)
        assert arms[arm]["mean"] == pytest.approx(found[arm].mean, abs=4 * mc)
    comp = ctr["comparisons"][0]
    assert comp["frequentist"]["test"] == "CUPED-adjusted delta-method z-test"
    low, high = comp["lift_rel"]["hdi"]
    assert low < tables["truth"]["click_lift"] < high
    plain = ctr["unadjusted"][0]["lift_rel"]["hdi"]
    assert (high - low) < (plain[1] - plain[0])


def test_post_stratification_and_the_prior_reach_the_bundle(readout):
    _, bundle, tables = readout
    purchase = bundle["metrics"][0]
    assert purchase["post_stratified"]["segment"] == "country"
    assert purchase["post_stratified"]["applied"] and purchase["post_stratified"]["strata"] == 3
    assert purchase["method"] == "post-stratified by country (normal approximation)"
    assert purchase["user_prior"] == {
        "mean": 0.0,
        "sd": 0.05,
        "log_mean": 0.0,
        "log_sd": 0.05,
        "applied": True,
    }
    own = purchase["without_prior"][0]["lift_rel"]
    read = purchase["comparisons"][0]["lift_rel"]
    # A prior centred on 0 pulls the lift toward 0 and narrows it.
    assert abs(read["mean"]) < abs(own["mean"])
    assert read["hdi"][1] - read["hdi"][0] < own["hdi"][1] - own["hdi"][0]
    rows = {r["prior"]: r for r in bundle["sensitivity"]}
    assert set(rows) == {"flat", "sceptical", "user"}
    assert rows["user"]["lift_rel"]["mean"] == pytest.approx(read["mean"], abs=0.005)
    assert rows["flat"]["lift_rel"]["mean"] == pytest.approx(own["mean"], abs=0.005)
    # The programme's learned prior is not applied over the user's.
    assert "programme_prior" not in bundle
    assert "programme" not in purchase["comparisons"][0]


def test_the_page_and_the_pdf_say_what_each_is_worth_and_state_the_prior(readout):
    day, bundle, _ = readout
    text = text_of((day / "report.html").read_text())
    assert "Your prior: before these data you expected a lift of +0% give or take 5% in " in text
    assert "takes precedence over the programme's learned prior" in text
    purchase = bundle["metrics"][0]
    own, read = purchase["without_prior"][0]["lift_rel"], purchase["comparisons"][0]["lift_rel"]
    ratio = (own["hdi"][1] - own["hdi"][0]) / (read["hdi"][1] - read["hdi"][0])
    assert f"the lift's interval is {ratio:.1f} times narrower with it" in text
    assert "Post-stratified by country, each arm's value is instead a normal approximation" in text
    ctr = next(m for m in bundle["metrics"] if m["name"] == "ctr")
    times = 1 / (1 - ctr["variance_reduction"])
    assert (
        "Clicks per pageview is adjusted for the same metric before exposure (CUPED for a "
        "ratio: its numerator and its denominator each by their own values before exposure)"
    ) in text
    assert f"as narrow as if the experiment had {round(100 * (times - 1))}% more users" in text
    ps = bundle["metrics"][0]["post_stratified"]
    assert (
        "Purchase rate is post-stratified by country: each arm's value is the average of its "
        "3 per-country means" in text
    )
    assert f"removes {round(100 * ps['variance_reduction'])}% of its variance" in text
    assert "weighted by that country's share of all users" in text
    assert re.search(r"Your prior \(\+0% ± 5%\) (Ship|Keep collecting data) ", text)
    pdf = pdf_text(day / "report.pdf")
    assert "Your prior: before these data you expected" in pdf
    assert "CUPED for a ratio" in pdf


CASES = [
    ("prior_mean = 0.01", "", ["prior_mean needs prior_sd", "add both"]),
    ("prior_sd = 0.02", "", ["prior_sd needs prior_mean"]),
    ("prior_mean = 0.0\nprior_sd = 0", "", ["prior_sd = 0 must be above 0"]),
    ("prior_mean = 0.0\nprior_sd = -0.1", "", ["prior_sd = -0.1 must be above 0"]),
    ("prior_mean = -1\nprior_sd = 0.1", "", ["prior_mean = -1", "above -1"]),
    ("", 'post_stratify = "device"', ["post_stratify = 'device'", "'country'", "segments"]),
    (PRIOR, "planned_days = 28", ["planned_days", "sequential rule", "remove planned_days"]),
]


def test_post_stratify_on_a_file_of_logs_exits_2(tmp_path):
    config = tmp_path / "experiments.toml"
    (tmp_path / "d.csv").write_text("arm,spend,region\nA,1.5,a\nB,2.5,b\n")
    config.write_text(
        '[[experiments]]\nname = "x"\ntitle = "X"\nanalysis = "ab_test"\ndata = "d.csv"\n'
        'group = "arm"\ncontrol = "A"\nmetric = "spend"\nmetric_type = "continuous"\n'
        'log_transform = true\nsegments = ["region"]\npost_stratify = "region"\n'
    )
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "post_stratify = 'region' needs a binary, continuous or count metric" in result.output


@pytest.mark.parametrize(("primary", "extra", "fragments"), CASES)
def test_bad_variance_keys_exit_2_naming_file_key_and_fix(tmp_path, primary, extra, fragments):
    config = variance_data.config(tmp_path, tmp_path / "none.duckdb", extra, primary)
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert str(config) in result.output or "experiments.toml" in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
