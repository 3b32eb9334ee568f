"""A pooling readout from a DuckDB warehouse, end to end through the command line.

Each creator's effect is computed in the engine (per creator x arm sums of the users' spend)
and checked here against the same difference in means and Welch standard error computed
independently with pandas from the warehouse's rows. Users the assignments query leaves out
(no exposure time) are counted and reported as the A/B readout reports them: within 1% a
note and the verdict stands; above it the verdict is withheld and names the failed check.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from readout.cli import main
from tests.engines import insert_rows
from tests.pdf import pdf_text

pytestmark = pytest.mark.engine

GENRES = ("music", "games", "sport")
CREATORS = 12
USERS_PER_ARM = 25


def warehouse_rows(seed: int = 0) -> tuple[list[tuple], list[tuple]]:
    """Exposures (user, arm, time, creator, genre) and orders (user, time, amount)."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 3, 1)
    exposures, orders = [], []
    user = 0
    for c in range(CREATORS):
        creator, genre = f"creator-{c:02d}", GENRES[c % 3]
        lift = 2.0 + 0.5 * (c % 4)
        for arm in ("control", "treatment"):
            for _ in range(USERS_PER_ARM):
                exposed = start + pd.Timedelta(minutes=7 * user)
                exposures.append((user, arm, exposed, creator, genre))
                later = exposed + pd.Timedelta(hours=3)
                for _ in range(int(rng.poisson(1.5))):
                    amount = float(np.round(rng.gamma(2.0, 5.0), 2))
                    orders.append((user, later, amount + (lift if arm == "treatment" else 0.0)))
                user += 1
    return exposures, orders


def write_warehouse(path: Path, exposures: list[tuple], orders: list[tuple]) -> Path:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE exposures (user_id INTEGER, variant VARCHAR, exposed_at TIMESTAMP, "
        "creator VARCHAR, genre VARCHAR)"
    )
    con.execute("CREATE TABLE orders (user_id INTEGER, ts TIMESTAMP, amount DOUBLE)")
    insert_rows(con, "exposures", exposures)
    insert_rows(con, "orders", orders)
    con.close()
    return path


CONFIG = """
[sources.warehouse]
url = "duckdb:///{path}"
dialect = "duckdb"

[[experiments]]
name = "creators-wh"
title = "Creator pricing from the warehouse"
analysis = "hierarchical"
source = "warehouse"
assignments = "SELECT user_id AS unit, variant AS arm, exposed_at, creator, genre FROM exposures"
control = "control"
unit = "creator"
group = "genre"
unit_label = "creator"
group_label = "genre"
value_prefix = "$"

[[experiments.metrics]]
name = "spend"
label = "spend"
sql = "SELECT user_id AS unit, ts, amount AS value FROM orders"
"""


def text_of(html: str) -> str:
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return text.replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')


def run(folder: Path, exposures: list[tuple], orders: list[tuple]) -> tuple[dict, Path, str, str]:
    """Run the readout; its bundle, folder, the HTML page's text and the PDF's text."""
    folder.mkdir()
    path = write_warehouse(folder / "wh.duckdb", exposures, orders)
    config = folder / "experiments.toml"
    config.write_text(CONFIG.format(path=path))
    out = folder / "reports"
    args = ["run", "--config", str(config), "--output", str(out), "--date", "2026-04-01"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    readout = out / "creators-wh" / "2026-04-01"
    bundle = json.loads((readout / "bundle.json").read_text())
    html = text_of((readout / "report.html").read_text())
    pdf = pdf_text(readout / "report.pdf")
    return bundle, readout, html, pdf


def independent_estimates(exposures: list[tuple], orders: list[tuple]) -> pd.DataFrame:
    """Each creator's difference in mean spend (treatment - control) and its Welch standard
    error, by pandas from the raw rows: users without orders spent 0."""
    users = pd.DataFrame(exposures, columns=["user", "arm", "exposed", "creator", "genre"])
    users = users.dropna(subset=["exposed"])
    spend = pd.DataFrame(orders, columns=["user", "ts", "amount"]).groupby("user")["amount"].sum()
    users["spend"] = users["user"].map(spend).fillna(0.0)
    by = users.groupby(["creator", "arm"])["spend"].agg(["mean", "var", "count"]).unstack("arm")
    estimate = by[("mean", "treatment")] - by[("mean", "control")]
    se = np.sqrt(
        by[("var", "treatment")] / by[("count", "treatment")]
        + by[("var", "control")] / by[("count", "control")]
    )
    return pd.DataFrame({"estimate": estimate, "se": se})


def without_time(exposures: list[tuple], count: int) -> list[tuple]:
    """Extra assigned users whose exposure time is missing (they must be left out)."""
    first = len(exposures) + 1000
    return exposures + [
        (first + i, ("control", "treatment")[i % 2], None, f"creator-{i % CREATORS:02d}", "music")
        for i in range(count)
    ]


def in_both_arms(exposures: list[tuple], count: int) -> list[tuple]:
    """``count`` users exposed again, to the other arm (they must be left out)."""
    other = {"control": "treatment", "treatment": "control"}
    again = [
        (user, other[arm], exposed + pd.Timedelta(hours=1), creator, genre)
        for user, arm, exposed, creator, genre in exposures[: 7 * count : 7]
    ]
    return exposures + again


@pytest.fixture(scope="module")
def rows():
    return warehouse_rows()


def test_a_few_users_left_out_are_reported_and_the_estimates_come_from_the_rest(tmp_path, rows):
    exposures, orders = rows
    faulty = without_time(exposures, 2)
    bundle, readout, html, _ = run(tmp_path / "few", faulty, orders)
    # The engine's per creator estimates are the independent ones, left-out users excluded.
    found = pd.read_csv(readout / "units.csv").set_index("unit").sort_index()
    expected = independent_estimates(faulty, orders).sort_index()
    assert list(found.index) == list(expected.index)
    assert np.allclose(found["raw_estimate"], expected["estimate"], rtol=1e-9, atol=1e-9)
    assert np.allclose(found["raw_se"], expected["se"], rtol=1e-9)
    assert found["users"].sum() == 2 * CREATORS * USERS_PER_ARM
    # The users left out, counted by reason: a health check within its limit.
    assigned = len(exposures) + 2
    excluded = bundle["excluded"]
    assert excluded["units"] == 2 and excluded["assigned"] == assigned
    assert excluded["reasons"]["exposed_missing"] == 2 and excluded["ok"]
    assert excluded["share"] == pytest.approx(2 / assigned) and excluded["limit"] == 0.01
    assert bundle["decision"]["verdict"] != "withheld"
    assert "failed_checks" not in bundle["decision"]
    sentence = (
        f"2 of {assigned} assigned users ({100 * 2 / assigned:.2f}%) were left out of every "
        "metric (2 users had no exposure time); that is within the 1% this report tolerates, "
        "so the verdict stands."
    )
    assert sentence in html
    assert "Units and events left out: 2 users had no exposure time" in html


def test_users_in_both_arms_are_left_out_and_reported(tmp_path, rows):
    """As the A/B readout reports them: counted in the bundle (``exposures``), a line among
    the model's checks, and the estimates from the users in one arm only."""
    exposures, orders = rows
    faulty = in_both_arms(exposures, 3)
    bundle, readout, html, _ = run(tmp_path / "both", faulty, orders)
    users = len(exposures)
    assert bundle["exposures"] == {
        "units": users,
        "multiple_arms": 3,
        "share": pytest.approx(3 / users),
        "limit": 0.01,
        "ok": True,
    }
    assert bundle["decision"]["verdict"] != "withheld"
    # The estimates leave those three users out of both arms.
    twice = {row[0] for row in faulty[len(exposures) :]}
    kept = [row for row in exposures if row[0] not in twice]
    found = pd.read_csv(readout / "units.csv").set_index("unit").sort_index()
    expected = independent_estimates(kept, orders).sort_index()
    assert np.allclose(found["raw_estimate"], expected["estimate"], rtol=1e-9, atol=1e-9)
    assert found["users"].sum() == users - 3
    line = (
        f"Users in more than one arm: 3 of {users} ({100 * 3 / users:.2f}%; at most 1% "
        "tolerated), left out of every metric."
    )
    assert line in html


@pytest.mark.parametrize(
    ("fault", "check", "counted", "assigned", "why", "alert"),
    [
        (
            without_time,
            "excluded",
            "units",
            30,
            "too much of the data was left out",
            "Data left out: {share} of the users or their events could not be used (30 users "
            "had no exposure time)",
        ),
        (
            in_both_arms,
            "exposures",
            "multiple_arms",
            0,
            "too many users were in more than one arm",
            "30 users ({share}) were exposed to more than one arm, above the 1% tolerated",
        ),
    ],
    ids=["left-out", "both-arms"],
)
def test_too_many_faulty_users_withhold_the_verdict_and_say_why(
    tmp_path, rows, fault, check, counted, assigned, why, alert
):
    """30 users without an exposure time (630 assigned) or in both arms (of 600): over 1%."""
    exposures, orders = rows
    bundle, _, html, pdf = run(tmp_path / check, fault(exposures, 30), orders)
    assert bundle[check][counted] == 30 and not bundle[check]["ok"]
    decision = bundle["decision"]
    assert decision["verdict"] == "withheld" and decision["failed_checks"] == [check]
    share = f"{100 * 30 / (len(exposures) + assigned):.2f}%"
    for text in (html, pdf):
        assert f"Verdict withheld: {why}." in text
        assert alert.format(share=share) in text
    assert "the computation's checks failed" not in html
