"""Data faults, round two: units that were not there, degenerate data, data misread.

Every case runs through the command line on real files (CSV, Parquet, a DuckDB warehouse,
and the same warehouse in PostgreSQL) and checks the bundle, the HTML page and the PDF:

* assignments without a unit, an arm or an exposure time, or exposed after the run's cut-off,
  and events without a unit or a time, are left out in the engine and counted by reason (a
  health check: over 1% withholds the verdict); NULL never becomes an arm called "?", and a
  segment without values is reported, never silently dropped;
* binary arms that are all 0, all 1 or one row each are read out (a control at 0 has no
  relative lift: the absolute lift is read instead), and the other degenerate shapes either
  read out or exit 2 naming the column and why; NaN and infinity are named, never read as 0;
* a CSV separated by semicolons, tabs or bars, decimal commas, and yes/no answers in a binary
  column are read correctly and said so in the report's data notes; elsewhere refused.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyses.core import stats
from readout.config import load_config
from readout.data import fetch_data
from tests.engines import insert_rows, load_postgres, postgres_bin, postgres_server
from tests.pdf import pdf_text
from tests.readout import running
from tests.readout.running import invoke

pytestmark = pytest.mark.faults

ARMS = ("control", "treatment")
TABLES = ("exposures", "orders", "page_loads", "sessions", "support")


def text_of(html: str) -> str:
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return text.replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')


def readout_of(out: Path, name: str) -> tuple[dict, str, str]:
    """The bundle, the HTML page's text and the PDF's text of an experiment's one readout."""
    (folder,) = (out / name).glob("????-??-??")
    bundle = json.loads((folder / "bundle.json").read_text())
    html = text_of((folder / "report.html").read_text())
    return bundle, html, pdf_text(folder / "report.pdf")


def no_broken_numbers(*texts: str) -> None:
    """No NaN, infinity or Python leftovers reach a reader ("None of A's users" is prose)."""
    for text in texts:
        for bad in (r"\bnan\b", r"\bNaN\b", r"\binf\b", "Infinity", r"\bNone\b(?! of)", r"\?%"):
            found = re.search(bad, text)
            assert found is None, (bad, text[max(found.start() - 200, 0) : found.end() + 80])


#: Every bad input here is readout's own message: it names the fix ("Fix:").
assert_bad_input = partial(running.assert_bad_input, usage=False)


# --------------------------------------------------------------------------- a warehouse


def base_tables(units: int = 400, seed: int = 0) -> dict[str, list[tuple]]:
    """A small, healthy warehouse: two arms, purchases, page loads, sessions, support."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1)
    exposures, orders, loads, sessions, support = [], [], [], [], []
    for u in range(units):
        arm = ARMS[u % 2]
        exposed = start + pd.Timedelta(minutes=17 * u)
        exposures.append((u, arm, exposed, ("DE", "FR", "IT")[u % 3]))
        later = exposed + pd.Timedelta(hours=5)
        if rng.random() < (0.12 if arm == "treatment" else 0.09):
            orders.append((u, later, float(np.round(rng.gamma(2.0, 15.0), 2))))
        loads.append((u, later, float(rng.normal(1000, 80))))
        sessions.append((u, later, int(rng.poisson(3)), int(rng.poisson(10) + 1)))
        if rng.random() < 0.2:
            support.append((u, later))
    return {
        "exposures": exposures,
        "orders": orders,
        "page_loads": loads,
        "sessions": sessions,
        "support": support,
    }


SCHEMAS = {
    "exposures": "user_id INTEGER, variant VARCHAR, exposed_at TIMESTAMP, country VARCHAR",
    "orders": "user_id INTEGER, ts TIMESTAMP, amount DOUBLE",
    "page_loads": "user_id INTEGER, ts TIMESTAMP, load_ms DOUBLE",
    "sessions": "user_id INTEGER, ts TIMESTAMP, clicks INTEGER, pageviews INTEGER",
    "support": "user_id INTEGER, ts TIMESTAMP",
}


def write_warehouse(path: Path, tables: dict[str, list[tuple]]) -> Path:
    import duckdb

    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    for name, schema in SCHEMAS.items():
        con.execute(f"CREATE TABLE {name} ({schema})")
        rows = tables[name]
        if rows:
            insert_rows(con, name, rows)
    con.close()
    return path


METRICS = {
    "purchase": (
        'sql = "SELECT user_id AS unit, ts, 1 AS value FROM orders"\n'
        'aggregate = "any"\nkind = "binary"\nrole = "primary"'
    ),
    "revenue": 'sql = "SELECT user_id AS unit, ts, amount AS value FROM orders"\nkind = "revenue"',
    "load_time": (
        'sql = "SELECT user_id AS unit, ts, load_ms AS value FROM page_loads"\n'
        'aggregate = "mean"\nhigher_is_better = false\nrole = "guardrail"\nmax_harm = 0.05'
    ),
    "clicks": (
        'sql = "SELECT user_id AS unit, ts, clicks AS numerator, pageviews AS denominator '
        'FROM sessions"\nkind = "ratio"'
    ),
    "contacts": (
        'sql = "SELECT user_id AS unit, ts FROM support"\naggregate = "count"\nkind = "count"\n'
        'higher_is_better = false\nrole = "guardrail"\nmax_harm = 0.1'
    ),
}


def warehouse_config(
    folder: Path,
    url: str,
    metrics: tuple[str, ...] = ("purchase",),
    segments: bool = False,
    primary: str | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    blocks = []
    for name in metrics:
        block = METRICS[name]
        if primary is not None:
            block = block.replace('role = "primary"', 'role = "secondary"')
            if name == primary:
                block = re.sub(r'role = "\w+"', 'role = "primary"', block)
                block += '\nrole = "primary"' if "role" not in block else ""
        blocks.append(f'[[experiments.metrics]]\nname = "{name}"\n{block}\n')
    columns = "user_id AS unit, variant AS arm, exposed_at" + (", country" if segments else "")
    text = (
        "[settings]\nexact_draws = 4000\n\n[sources.warehouse]\n"
        f'url = "{url}"\ndialect = "duckdb"\n\n'
        '[[experiments]]\nname = "wh"\ntitle = "Warehouse"\nanalysis = "ab_test"\n'
        f'source = "warehouse"\nassignments = "SELECT {columns} FROM exposures"\n'
        'control = "control"\n'
        + ('segments = ["country"]\n' if segments else "")
        + "\n"
        + "\n".join(blocks)
    )
    config = folder / "experiments.toml"
    config.write_text(text)
    return config


def run_warehouse(tmp_path: Path, tables: dict, **options) -> tuple:
    path = write_warehouse(tmp_path / "wh.duckdb", tables)
    config = warehouse_config(tmp_path / "project", f"duckdb:///{path}", **options)
    out = tmp_path / "reports"
    result = invoke("run", "--config", str(config), "--output", str(out))
    return result, out


FAR_FUTURE = datetime(2099, 1, 1)


def with_faults(tables: dict, unit_missing=0, arm_missing=0, time_missing=0, future=0) -> dict:
    """The warehouse with assignment rows that name no unit, no arm, no time, or the future."""
    exposures = list(tables["exposures"])
    first = 10_000
    day = datetime(2026, 1, 3)
    exposures += [(None, "control", day, "DE") for _ in range(unit_missing)]
    exposures += [(first + i, None, day, "DE") for i in range(arm_missing)]
    exposures += [(first + 100 + i, "treatment", None, "DE") for i in range(time_missing)]
    exposures += [(first + 200 + i, "control", FAR_FUTURE, "DE") for i in range(future)]
    # Units left out have events too: none of them may be counted.
    orders = list(tables["orders"]) + [
        (first + i, day, 20.0) for i in range(0, 300, 100) for _ in range(1)
    ]
    return {**tables, "exposures": exposures, "orders": orders}


# --------------------------------------------------------------------------- units left out


def test_units_that_were_not_there_are_left_out_counted_and_withhold_the_verdict(tmp_path):
    tables = with_faults(base_tables(), unit_missing=3, arm_missing=4, time_missing=5, future=6)
    result, out = run_warehouse(tmp_path, tables, metrics=("purchase", "revenue"))
    assert result.exit_code == 0, result.output
    bundle, html, pdf = readout_of(out, "wh")
    # No phantom arm: the NULL arm is left out, never an arm called "?" or "None".
    assert [a["name"] for a in bundle["arms"]] == list(ARMS)
    assert [a["n"] for a in bundle["arms"]] == [200, 200]
    excluded = bundle["excluded"]
    assert excluded["reasons"] == {
        "unit_missing": 3,
        "arm_missing": 4,
        "exposed_missing": 5,
        "exposed_future": 6,
    }
    assert excluded["units"] == 18 and excluded["assigned"] == 418
    assert excluded["share"] == pytest.approx(18 / 418)
    assert not excluded["ok"] and excluded["limit"] == 0.01
    assert bundle["decision"]["verdict"] == "withheld"
    assert "excluded" in bundle["decision"]["failed_checks"]
    # The size and the reasons, in words, on the page and in the PDF; no chance of winning.
    for text in (html, pdf):
        assert "18 of 418 assigned users (4.31%) were left out" in text
        assert "3 assignment row(s) named no unit" in text
        assert "4 users had no arm" in text and "5 users had no exposure time" in text
        assert "6 users were first exposed after the readout's cut-off" in text
    assert "chance that the purchase is higher" not in html
    no_broken_numbers(html, pdf)


def test_a_few_units_left_out_are_said_in_one_sentence_and_the_verdict_stands(tmp_path):
    tables = with_faults(base_tables(), time_missing=2)
    result, out = run_warehouse(tmp_path, tables)
    assert result.exit_code == 0, result.output
    bundle, html, pdf = readout_of(out, "wh")
    assert bundle["excluded"]["ok"] and bundle["excluded"]["units"] == 2
    assert bundle["decision"]["verdict"] != "withheld"
    sentence = (
        "2 of 402 assigned users (0.50%) were left out of every metric (2 users had no "
        "exposure time); that is within the 1% this report tolerates, so the verdict stands."
    )
    assert sentence in html
    assert "Units and events left out: 2 users had no exposure time" in html


def test_a_unit_with_one_usable_row_is_kept_and_not_counted(tmp_path):
    tables = base_tables()
    # Unit 0 (control) has a second row with no time and a third with no arm: still kept.
    day = datetime(2026, 1, 2)
    tables["exposures"] += [(0, "control", None, "DE"), (0, None, day, "DE")]
    result, out = run_warehouse(tmp_path, tables)
    assert result.exit_code == 0, result.output
    bundle, _, _ = readout_of(out, "wh")
    assert bundle["excluded"]["units"] == 0
    assert [a["n"] for a in bundle["arms"]] == [200, 200]
    assert bundle["exposures"]["multiple_arms"] == 0


def test_events_without_a_unit_or_a_time_are_counted(tmp_path):
    tables = base_tables()
    purchases = len(tables["orders"])
    tables["orders"] += [(None, datetime(2026, 1, 2), 9.0)] * 7  # no unit: belongs to no one
    tables["orders"] += [(u, None, 9.0) for u in (1, 3, 5)]  # the experiment's, no time
    result, out = run_warehouse(tmp_path, tables)
    assert result.exit_code == 0, result.output
    bundle, html, _ = readout_of(out, "wh")
    (events,) = bundle["excluded"]["events"]
    assert events == {
        "metric": "purchase",
        "unit_missing": 7,
        "ts_missing": 3,
        "events": purchases + 3,
        "share": pytest.approx(3 / (purchases + 3)),
    }
    # 3 of the units' events without a time is above 1% of them: the verdict is withheld.
    assert not bundle["excluded"]["ok"] and bundle["decision"]["verdict"] == "withheld"
    assert f"3 of their {purchases + 3} purchase events" in html
    assert "7 purchase events named no unit" in html


def test_exposures_after_an_explicit_cut_off_are_not_read_and_no_fault(tmp_path):
    """The cut-off is one parameter: a readout as of an earlier moment reads the data as they
    stood then, so units exposed later are not read at all (not even counted: adding later
    data must not change that day's readout, issue 21)."""
    tables = base_tables()
    path = write_warehouse(tmp_path / "wh.duckdb", tables)
    config = warehouse_config(tmp_path / "project", f"duckdb:///{path}")
    (experiment,) = load_config(config).experiments
    cutoff = datetime(2026, 1, 2)  # the first 85 units (one every 17 minutes) were exposed
    loaded = fetch_data(experiment, None, cutoff=cutoff)
    extras = loaded.fetched.extras["stats"]
    before = sum(1 for row in tables["exposures"] if row[2] < cutoff)
    assert 0 < before < len(tables["exposures"])
    assert extras["units"] == before
    assert extras["excluded"]["exposed_future"] == 0
    assert extras["cutoff"] == cutoff.isoformat()
    from analyses.ab_test import health
    from analyses.ab_test.data import ArmData, load
    from analyses.core.base import NothingYet

    # A day in, every unit is still inside the 14-day window: nothing to read yet, no fault.
    with pytest.raises(NothingYet, match=f"every one of the {before} unit"):
        load(experiment.spec, loaded.fetched)
    excluded = health.excluded(ArmData([], [], {}, exposures=extras))
    assert excluded.ok and excluded.share == 0.0 and excluded.units == 0
    assert excluded.later == 0 and excluded.assigned == before
    # By default (now) the same data leave no one out.
    assert fetch_data(experiment, None).fetched.extras["stats"]["excluded"]["exposed_future"] == 0


def test_an_all_null_segment_is_reported_never_silently_dropped(tmp_path):
    tables = base_tables()
    tables["exposures"] = [(u, a, t, None) for u, a, t, _ in tables["exposures"]]
    result, out = run_warehouse(tmp_path, tables, segments=True)
    assert result.exit_code == 0, result.output
    bundle, html, _ = readout_of(out, "wh")
    assert {"code": "segment_empty", "segment": "country", "units": 400} in bundle["warnings"]
    assert bundle["segments"] == []
    assert "Segment column 'country' is empty for every one of the 400 users" in html


def test_units_without_a_segment_value_form_the_level_missing(tmp_path):
    tables = base_tables()
    tables["exposures"] = [
        (u, a, t, None if u % 10 == 0 else c) for u, a, t, c in tables["exposures"]
    ]
    result, out = run_warehouse(tmp_path, tables, segments=True)
    assert result.exit_code == 0, result.output
    bundle, html, _ = readout_of(out, "wh")
    levels = {s["level"]: s["n"] for s in bundle["segments"]}
    assert levels["(missing)"] == 40 and "?" not in levels and "None" not in levels
    assert sum(levels.values()) == 400
    assert "40 users (10.0%) have no value in segment column 'country'" in html
    assert "country = (missing)" in html


def test_a_file_segment_with_blank_cells_keeps_those_rows(tmp_path):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "arm": np.repeat(["A", "B"], 300),
            "y": rng.binomial(1, 0.3, 600),
            "device": rng.choice(["ios", "android", ""], 600),
        }
    )
    config = file_config(tmp_path, {"seg": frame}, extra='segments = ["device"]')
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    bundle, html, _ = readout_of(tmp_path / "out", "seg")
    blank = int((frame["device"] == "").sum())
    levels = {s["level"]: s["n"] for s in bundle["segments"]}
    assert levels["(missing)"] == blank and sum(levels.values()) == 600
    assert f"{blank} users" in html and "“(missing)”" in html


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def faulty_postgres(tmp_path_factory):
    """The faulty warehouse loaded into a real PostgreSQL server (Debian's package)."""
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (make setup installs it)")
    import duckdb

    folder = tmp_path_factory.mktemp("pg-faults")
    tables = with_faults(base_tables(), unit_missing=3, arm_missing=4, time_missing=5, future=6)
    tables["page_loads"][7] = (tables["page_loads"][7][0], tables["page_loads"][7][1], np.nan)
    duck = write_warehouse(folder / "wh.duckdb", tables)
    con = duckdb.connect(str(duck), read_only=True)
    files = {}
    for table in TABLES:
        files[table] = folder / f"{table}.csv"
        con.execute(f"COPY {table} TO '{files[table]}' (FORMAT csv, HEADER true)")
    con.close()
    with postgres_server() as (url, password):
        load_postgres(url, password, files)
        yield duck, url.replace("readout@", f"readout:{password}@")


@pytest.mark.engine
def test_postgres_leaves_out_and_counts_the_same_units_as_duckdb(faulty_postgres, tmp_path):
    duck, pg = faulty_postgres
    found = {}
    for name, url in (("duckdb", f"duckdb:///{duck}"), ("postgres", pg)):
        config = warehouse_config(tmp_path / name, url, metrics=("purchase", "revenue"))
        (experiment,) = load_config(config).experiments
        loaded = fetch_data(experiment, None)
        frame = loaded.fetched.parts["stats"]
        found[name] = (
            sorted(zip(frame["arm"].tolist(), frame["n"].tolist(), strict=True)),
            loaded.fetched.extras["stats"]["excluded"],
            loaded.fetched.extras["stats"]["events"],
        )
    assert found["postgres"] == found["duckdb"]
    arms, excluded, _ = found["postgres"]
    assert arms == [("control", 200.0), ("treatment", 200.0)]
    assert excluded == {
        "unit_missing": 3,
        "arm_missing": 4,
        "exposed_missing": 5,
        "exposed_future": 6,
    }


@pytest.mark.engine
def test_the_cut_off_now_is_compared_in_utc_whatever_the_servers_zone(faulty_postgres, tmp_path):
    """A server (or machine) in another zone must not make the last hours' units "future"."""
    from readout.sources import open_file, open_source

    _, pg = faulty_postgres
    import psycopg

    with psycopg.connect(pg, autocommit=True) as con:  # the server's own zone: not UTC
        con.execute("ALTER DATABASE postgres SET TimeZone = 'America/New_York'")
    engine = open_source("warehouse", pg, None, {}, tmp_path, "experiments.toml")
    try:
        zone = engine.execute("SELECT current_setting('TimeZone') AS tz")["tz"][0]
        assert zone == "UTC"
    finally:
        engine.close()
    (tmp_path / "t.csv").write_text("a\n1\n")
    duck = open_file(tmp_path / "t.csv")
    assert duck.execute("SELECT current_setting('TimeZone') AS tz")["tz"][0] == "UTC"
    duck.close()


@pytest.mark.engine
def test_postgres_names_a_nan_metric_value_instead_of_reading_it_as_0(faulty_postgres, tmp_path):
    _, pg = faulty_postgres
    config = warehouse_config(tmp_path, pg, metrics=("purchase", "load_time"))
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert_bad_input(
        result, "metric 'load_time'", "1 event(s)", "not a finite number", "for units 7"
    )
    assert "***" in result.output or "readout:" not in result.output


# --------------------------------------------------------------------------- non-finite values


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_warehouse_value_is_named_with_its_units(tmp_path, bad):
    tables = base_tables()
    for u in (4, 9):
        user, ts, _ = tables["page_loads"][u]
        tables["page_loads"][u] = (user, ts, bad)
    result, _ = run_warehouse(tmp_path, tables, metrics=("purchase", "load_time"))
    assert_bad_input(
        result, "metric 'load_time'", "2 event(s)", "not a finite number", "for units 4, 9"
    )
    assert "does not vary" not in result.output


def test_a_non_finite_ratio_part_is_named(tmp_path):
    tables = base_tables()
    user, ts, clicks, _ = tables["sessions"][6]
    tables["sessions"][6] = (user, ts, clicks, 0)
    result, _ = run_warehouse(tmp_path, tables, metrics=("purchase",))
    assert result.exit_code == 0  # a zero pageview is a number: fine on its own
    import duckdb

    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE sessions ALTER pageviews TYPE DOUBLE")
    con.execute("UPDATE sessions SET pageviews = 'nan'::DOUBLE WHERE user_id = 6")
    con.close()
    config = warehouse_config(tmp_path / "ratio", f"duckdb:///{path}", ("purchase", "clicks"))
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out2"))
    assert_bad_input(result, "metric 'clicks'", "'numerator' or 'denominator'", "units 6")


@pytest.mark.parametrize("token", ["nan", "NaN", "inf", "-Infinity", "1e400"])
@pytest.mark.parametrize("metric_type", ["binary", "continuous"])
def test_non_finite_tokens_in_a_csv_are_named_not_called_constant(tmp_path, token, metric_type):
    rows = "".join(f"{'AB'[i % 2]},{token if i in (4, 7) else i % 2}\n" for i in range(80))
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "t.csv").write_text("arm,y\n" + rows)
    config = tmp_path / "experiments.toml"
    config.write_text(EXPERIMENT.format(name="t", file="t.csv", type=metric_type, extra=""))
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert_bad_input(result, "column 'y'", "2 value(s) that are not finite", "rows 6, 9")
    assert "does not vary" not in result.output


# --------------------------------------------------------------------------- degenerate data

EXPERIMENT = """
[[experiments]]
name = "{name}"
title = "{name}"
analysis = "ab_test"
data = "data/{file}"
group = "arm"
control = "A"
metric = "y"
metric_type = "{type}"
{extra}
"""


def file_config(
    tmp_path: Path, frames: dict[str, pd.DataFrame], metric_type: str = "binary", extra=""
) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    text = "[settings]\nexact_draws = 20000\n"
    for name, frame in frames.items():
        frame.to_csv(tmp_path / "data" / f"{name}.csv", index=False)
        text += EXPERIMENT.format(name=name, file=f"{name}.csv", type=metric_type, extra=extra)
    config = tmp_path / "experiments.toml"
    config.write_text(text)
    return config


def binary(a: list[int], b: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"arm": ["A"] * len(a) + ["B"] * len(b), "y": a + b})


DEGENERATE = {
    "all-zero": binary([0] * 300, [0] * 300),
    "all-one": binary([1] * 300, [1] * 300),
    "control-zero": binary([0] * 300, [0] * 290 + [1] * 10),
    "treatment-zero": binary([0] * 290 + [1] * 10, [0] * 300),
    "control-one": binary([1] * 300, [1] * 280 + [0] * 20),
    "one-row-each": binary([0], [1]),
    "one-row-each-converted": binary([1], [1]),
}


def test_degenerate_binary_arms_are_read_out_exactly(tmp_path):
    config = file_config(tmp_path, DEGENERATE)
    out = tmp_path / "out"
    result = invoke("run", "--config", str(config), "--output", str(out))
    assert result.exit_code == 0, result.output
    for name, frame in DEGENERATE.items():
        bundle, html, pdf = readout_of(out, name)
        (comp,) = bundle["comparisons"]
        k = frame.groupby("arm")["y"].agg(["sum", "count"])
        (xa, na), (xb, nb) = k.loc["A"], k.loc["B"]
        # The exact Beta(1 + x, 1 + n - x) posteriors: the mean difference is known exactly;
        # 20,000 draws put its Monte Carlo error below 0.01 (the spread is at most 0.4).
        exact = (xb + 1) / (nb + 2) - (xa + 1) / (na + 2)
        assert comp["lift_abs"]["mean"] == pytest.approx(exact, abs=0.01), name
        assert comp["lift_abs"]["hdi"][0] < exact < comp["lift_abs"]["hdi"][1], name
        if xa == 0:  # a control at 0: no relative lift, the absolute one instead
            assert comp["lift_rel"] is None and bundle["key_numbers"]["scale"] == "absolute"
            assert "so a lift relative to it is not defined" in html, name
            assert "not defined (control at 0)" in html and "not defined" in pdf
            assert "percentage points" in pdf
        else:
            assert comp["lift_rel"] is not None and bundle["key_numbers"]["scale"] == "relative"
        low, high = comp["frequentist"]["ci"]
        assert -1 <= low <= high <= 1, name
        no_broken_numbers(html, pdf)


def test_the_traditional_test_of_rates_at_0_or_1_uses_the_agresti_caffo_interval():
    """By hand: one success and one failure added to each arm (Agresti and Caffo 2000)."""
    found = stats.two_proportion_ztest(0, 200, 5, 200)
    a, b = 1 / 202, 6 / 202
    se = np.sqrt(a * (1 - a) / 202 + b * (1 - b) / 202)
    assert found["ci"] == pytest.approx([b - a - 1.959964 * se, b - a + 1.959964 * se], rel=1e-6)
    pooled = 5 / 400
    z = (5 / 200) / np.sqrt(pooled * (1 - pooled) * (2 / 200))
    assert found["statistic"] == pytest.approx(z)
    assert "Agresti-Caffo" in found["test"]
    # Every unit converting (or none): no difference, p = 1, an interval that is not a point.
    same = stats.two_proportion_ztest(200, 200, 200, 200)
    assert same["p_value"] == 1.0 and same["ci"][0] < 0 < same["ci"][1]
    # Rates inside (0, 1) keep Wald's interval.
    assert stats.two_proportion_ztest(20, 200, 30, 200)["test"] == "two-proportion z-test"


def test_a_continuous_arm_without_spread_is_read_out(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"arm": ["A"] * 50 + ["B"] * 50, "y": [5.0] * 50 + list(rng.normal(6, 1, 50))}
    )
    config = file_config(tmp_path, {"flat": frame}, "continuous")
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    bundle, html, pdf = readout_of(tmp_path / "out", "flat")
    assert bundle["arms"][0]["observed"] == 5.0
    test = bundle["frequentist"]
    assert test["ci"][0] < test["estimate"] < test["ci"][1]
    no_broken_numbers(html, pdf)


@pytest.mark.parametrize(
    ("frame", "fragments"),
    [
        (
            pd.DataFrame({"arm": ["A", "A", "A", "B"], "y": [1.0, 2.0, 3.0, 4.0]}),
            ["arm 'B' has only 1 value(s) of 'y'", "fewer than 3"],
        ),
        (
            pd.DataFrame({"arm": ["A"] * 6 + ["B"] * 6, "y": [0.0] * 12}),
            ["'y' does not vary within any arm", "every value is 0"],
        ),
    ],
    ids=["one-row-in-an-arm", "all-zero"],
)
def test_continuous_data_too_thin_to_read_exit_2_saying_why(tmp_path, frame, fragments):
    config = file_config(tmp_path, {"thin": frame}, "continuous")
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert_bad_input(result, *fragments)


def test_a_warehouse_control_without_purchases_is_read_on_the_absolute_scale(tmp_path):
    tables = base_tables()
    tables["orders"] = [o for o in tables["orders"] if o[0] % 2 == 1]  # only the treatment buys
    result, out = run_warehouse(
        tmp_path,
        tables,
        metrics=("purchase", "load_time", "clicks"),
        primary="purchase",
        segments=True,
    )
    assert result.exit_code == 0, result.output
    bundle, html, pdf = readout_of(out, "wh")
    purchase = bundle["metrics"][0]
    assert purchase["comparisons"][0]["lift_rel"] is None
    assert "none of control's 200 users converted" in html
    # The scorecard's figure says so (in its alt text) rather than draw a relative lift.
    (page,) = (out / "wh").glob("*/report.html")
    assert "purchase (primary) relative lift not defined (control at 0)" in page.read_text()
    # Its segments cannot be drawn either, and the page says so rather than show an empty table.
    assert "The purchase cannot be broken down by country" in html
    assert {s["metric"] for s in bundle["segments"]} == {"load_time", "clicks"}
    no_broken_numbers(html, pdf)


@pytest.mark.parametrize(
    ("change", "metrics", "fragments"),
    [
        (
            lambda t: {**t, "orders": [o for o in t["orders"] if o[0] % 2 == 0]},
            ("purchase", "revenue"),
            ["no unit in arm 'treatment' has a positive value of metric 'revenue'", "no one paid"],
        ),
        (
            lambda t: {
                **t,
                "sessions": [(u, ts, c, 0 if u % 2 else p) for u, ts, c, p in t["sessions"]],
            },
            ("purchase", "clicks"),
            ["the denominator of metric 'clicks' sums to zero in arm 'treatment'"],
        ),
        (
            lambda t: {**t, "support": []},
            ("purchase", "contacts"),
            ["metric 'contacts' does not vary within any arm", "window_days"],
        ),
        (
            lambda t: {**t, "page_loads": [p for p in t["page_loads"] if p[0] % 2 == 0]},
            ("purchase", "load_time"),
            ["arm 'treatment' has no value of metric 'load_time'"],
        ),
    ],
    ids=["revenue-without-payers", "ratio-zero-denominators", "counts-all-zero", "arm-no-rows"],
)
def test_degenerate_warehouse_metrics_exit_2_naming_the_metric_and_why(
    tmp_path, change, metrics, fragments
):
    result, _ = run_warehouse(tmp_path, change(base_tables()), metrics=metrics, primary="purchase")
    assert_bad_input(result, *fragments)


# --------------------------------------------------------------------------- data misread


def separated(frame: pd.DataFrame, separator: str, decimal: str = ".") -> str:
    return frame.to_csv(index=False, sep=separator, decimal=decimal)


@pytest.mark.parametrize(
    ("separator", "word"), [(";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")]
)
@pytest.mark.parametrize("metric_type", ["binary", "continuous"])
def test_a_csv_with_another_separator_is_read_as_such_and_said(
    tmp_path, separator, word, metric_type
):
    rng = np.random.default_rng(8)
    y = rng.binomial(1, 0.3, 400) if metric_type == "binary" else rng.normal(10, 2, 400).round(3)
    frame = pd.DataFrame({"arm": np.repeat(["01", "02"], 200), "y": y})
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sep.csv").write_text(separated(frame, separator))
    (tmp_path / "data" / "comma.csv").write_text(separated(frame, ","))
    config = tmp_path / "experiments.toml"
    extra = ""
    config.write_text(
        "[settings]\nexact_draws = 4000\n"
        + "".join(
            EXPERIMENT.format(name=n, file=f"{n}.csv", type=metric_type, extra=extra).replace(
                'control = "A"', 'control = "01"'
            )
            for n in ("sep", "comma")
        )
    )
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    sep, html, _ = readout_of(tmp_path / "out", "sep")
    comma, _, _ = readout_of(tmp_path / "out", "comma")
    # Arm labels stay text ("01", not 1), and every number equals the comma file's.
    assert [(a["name"], a["n"], a["observed"]) for a in sep["arms"]] == [
        (a["name"], a["n"], a["observed"]) for a in comma["arms"]
    ]
    assert sep["arms"][0]["name"] == "01"
    assert {"code": "csv_delimiter", "file": "sep.csv", "separator": word} in sep["warnings"]
    assert f"sep.csv separates its columns with {word}, not commas" in html
    assert not comma["warnings"]


#: Files whose separator the sniffer and the header's quick reading must agree on.
SEPARATED = {
    "commas": "arm,converted,note\nA,1,x\nB,0,y\n",
    "commas, a quoted comma": 'arm,"a, b",c\nA,1,2\nB,0,3\n',
    "commas, spaces after": "arm, converted, revenue\nA, 1, 2.5\nB, 0, 3.5\n",
    "commas, decimal points": "arm,value\nA,1.5\nB,2.25\n",
    "semicolons": "arm;converted\nA;1\nB;0\n",
    "semicolons, decimal commas": "arm;value\nA;1,5\nB;2,25\n",
    "semicolons, a comma in a quoted name": 'arm;"a, b"\nA;1\nB;2\n',
    "tabs": "arm\tconverted\nA\t1\nB\t0\n",
    "bars": "arm|converted\nA|1\nB|0\n",
    "one column": "converted\n1\n0\n1\n",
    "a byte order mark": "\ufeffarm,converted\nA,1\nB,0\n",
    "a title line with a comma, then semicolons": (
        "Signups export, week 45\narm;converted;amount\nA;0;0,5\nB;1;2,5\nA;1;1,0\n"
    ),
    "a comment with a comma, then tabs": "# exported 2026-11-03, v2\narm\tconverted\nA\t1\nB\t0\n",
}


@pytest.mark.parametrize("name", SEPARATED)
def test_the_separator_is_the_sniffers_and_a_comma_file_asks_it_nothing(tmp_path, name):
    import duckdb

    from readout.sources import data_file

    path = tmp_path / "data.csv"
    path.write_text(SEPARATED[name], encoding="utf-8")
    native = duckdb.connect()
    sniffed = native.execute(
        f"SELECT Delimiter FROM sniff_csv({data_file.literal(path)})"
    ).fetchone()[0]
    sniffers = sniffed if sniffed in data_file.DELIMITERS else ","

    class Asked:  # the connection, each statement it is given kept
        statements: list[str] = []

        def execute(self, sql):
            self.statements.append(sql)
            return native.execute(sql)

    asked = Asked()
    assert data_file._delimiter(asked, path) == sniffers
    # The sniffer is asked only where the file has a separator other than a comma, or none.
    text = SEPARATED[name]
    quick = "," in text and not any(d in text for d in data_file.DELIMITERS)
    assert bool(asked.statements) is not quick
    assert quick is (name.startswith("commas") or name == "a byte order mark")


def test_decimal_commas_in_a_semicolon_csv_are_read_as_numbers_and_said(tmp_path):
    (tmp_path / "data").mkdir()
    values = np.round(np.random.default_rng(1).normal(3, 1, 200), 2)
    frame = pd.DataFrame({"arm": np.repeat(["A", "B"], 100), "y": values})
    (tmp_path / "data" / "dec.csv").write_text(separated(frame, ";", ","))
    assert ";" in (tmp_path / "data" / "dec.csv").read_text()
    config = tmp_path / "experiments.toml"
    config.write_text(
        "[settings]\nexact_draws = 4000\n"
        + EXPERIMENT.format(name="dec", file="dec.csv", type="continuous", extra="")
    )
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    bundle, html, pdf = readout_of(tmp_path / "out", "dec")
    for arm in bundle["arms"]:
        own = values[frame["arm"].to_numpy() == arm["name"]]
        assert arm["observed"] == pytest.approx(own.mean(), rel=1e-12)
    assert {"code": "decimal_comma", "file": "dec.csv", "columns": ["y"]} in bundle["warnings"]
    assert "dec.csv writes decimals with a comma (1,5 for one and a half) in column 'y'" in html
    assert "writes decimals with a comma" in pdf


def test_the_issues_two_line_decimal_comma_file_is_read(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tiny.csv").write_text(
        "arm;y\n" + "".join(f"{'AB'[i % 2]};{1 + i % 3},{5 + i % 4}\n" for i in range(12))
    )
    config = tmp_path / "experiments.toml"
    config.write_text(EXPERIMENT.format(name="tiny", file="tiny.csv", type="continuous", extra=""))
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "2 warning(s)" in result.output


YES_NO = {
    "yes-no": ("yes", "no"),
    "true-false": ("true", "false"),
    "y-n": ("Y", "N"),
    "upper": ("TRUE", "FALSE"),
    "mixed-case-spaces": (" Yes", "no "),
}


@pytest.mark.parametrize("words", list(YES_NO.values()), ids=list(YES_NO))
def test_yes_no_answers_in_a_binary_column_are_read_as_1_and_0_and_said(tmp_path, words):
    rng = np.random.default_rng(5)
    y = rng.binomial(1, 0.25, 300)
    frame = pd.DataFrame({"arm": np.repeat(["A", "B"], 150), "y": y})
    (tmp_path / "data").mkdir()
    text = "arm,y\n" + "".join(
        f"{a},{words[0] if v else words[1]}\n" for a, v in zip(frame.arm, y, strict=True)
    )
    (tmp_path / "data" / "words.csv").write_text(text)
    frame.to_csv(tmp_path / "data" / "numbers.csv", index=False)
    config = tmp_path / "experiments.toml"
    config.write_text(
        "[settings]\nexact_draws = 4000\n"
        + "".join(
            EXPERIMENT.format(name=n, file=f"{n}.csv", type="binary", extra="")
            for n in ("words", "numbers")
        )
    )
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    words_bundle, html, pdf = readout_of(tmp_path / "out", "words")
    numbers_bundle, _, _ = readout_of(tmp_path / "out", "numbers")
    assert [(a["n"], a["observed"]) for a in words_bundle["arms"]] == [
        (a["n"], a["observed"]) for a in numbers_bundle["arms"]
    ]
    note = {"code": "yes_no_as_binary", "column": "y", "key": "metric", "rows": 300}
    assert note in words_bundle["warnings"]
    assert "Column 'y' (metric) holds yes/no answers in 300 row(s)" in html
    assert "read as 1 for yes" in pdf


def test_a_boolean_parquet_column_is_a_binary_outcome_with_a_note(tmp_path):
    y = np.random.default_rng(6).random(200) < 0.3
    (tmp_path / "data").mkdir()
    pd.DataFrame({"arm": np.repeat(["A", "B"], 100), "y": y}).to_parquet(
        tmp_path / "data" / "b.parquet"
    )
    config = tmp_path / "experiments.toml"
    config.write_text(EXPERIMENT.format(name="b", file="b.parquet", type="binary", extra=""))
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    bundle, _, _ = readout_of(tmp_path / "out", "b")
    assert [a["observed"] for a in bundle["arms"]] == [y[:100].mean(), y[100:].mean()]
    assert bundle["warnings"][0]["code"] == "yes_no_as_binary"


@pytest.mark.parametrize("words", [("yes", "no"), ("true", "false"), ("Y", "N")])
def test_yes_no_answers_where_numbers_are_measured_exit_2(tmp_path, words):
    (tmp_path / "data").mkdir()
    text = "arm,y\n" + "".join(f"{'AB'[i % 2]},{words[i % 3 == 0]}\n" for i in range(60))
    (tmp_path / "data" / "c.csv").write_text(text)
    config = tmp_path / "experiments.toml"
    config.write_text(EXPERIMENT.format(name="c", file="c.csv", type="continuous", extra=""))
    result = invoke("validate", "--config", str(config))
    assert_bad_input(
        result, "column 'y' (metric) has 60 yes/no answer(s)", "rows 2, 3", 'metric_type = "binary"'
    )


def test_a_segment_level_whose_control_is_0_says_so_not_too_few():
    from analyses.ab_test.metrics import Metric
    from analyses.ab_test.segments import segment_rows

    def arm(n, x):
        return {"units": n, "n": n, "sum": x, "sum2": x}

    levels = {
        "DE": {"A": arm(400, 40), "B": arm(400, 52)},
        "FR": {"A": arm(300, 27), "B": arm(300, 33)},
        "IS": {"A": arm(150, 0), "B": arm(150, 4)},  # large enough, but the control is at 0
        "LU": {"A": arm(10, 0), "B": arm(10, 1)},  # small: too few is the reason
    }
    rows, spread = segment_rows(Metric("y", "rate", "binary"), levels, "A", "B", "country", 0.94)
    by_level = {r.level: r for r in rows}
    assert by_level["IS"].own is None and by_level["IS"].no_own == "control_zero"
    assert not by_level["IS"].few_units
    assert by_level["LU"].no_own == "few_units" and by_level["LU"].few_units
    assert spread.levels == 4
