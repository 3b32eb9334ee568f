"""The same experiment read from DuckDB, PostgreSQL and Spark: the same sufficient statistics
and the same readout; bad SQL, missing columns, unset secrets and dead servers named."""

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from readout.cli import main
from readout.config import load_config
from readout.data import fetch_data
from tests.engines import (
    DEMO,
    export_demo,
    java_available,
    load_postgres,
    postgres_bin,
    postgres_server,
)
from tests.programme_config import PRIMARY_PURCHASE

pytestmark = pytest.mark.engine

METRICS = (
    PRIMARY_PURCHASE
    + """
[[experiments.metrics]]
name = "revenue"
sql = "SELECT user_id AS unit, ts, amount AS value FROM orders"
aggregate = "sum"
kind = "revenue"
cap_percentile = 99

[[experiments.metrics]]
name = "clicks_per_pageview"
sql = "SELECT user_id AS unit, ts, clicks AS numerator, pageviews AS denominator FROM sessions"
kind = "ratio"

[[experiments.metrics]]
name = "load_time"
sql = "SELECT user_id AS unit, ts, load_ms AS value FROM page_loads"
aggregate = "mean"
higher_is_better = false
role = "guardrail"
max_harm = 0.03
covariate_days = 14

[[experiments.metrics]]
name = "support_contacts"
sql = "SELECT user_id AS unit, ts FROM support"
aggregate = "count"
kind = "count"
higher_is_better = false
role = "guardrail"
max_harm = 0.1
"""
)

CONFIG = (
    """
[settings]
exact_draws = 4000

[sources.warehouse]
url = "{url}"
{extra}

[[experiments]]
name = "checkout"
title = "Checkout"
analysis = "ab_test"
source = "warehouse"
assignments = '''SELECT user_id AS unit, variant AS arm, exposed_at, country
  FROM exposures WHERE experiment = 'checkout''''
control = "control"
segments = ["country"]
"""
    + METRICS
)


def write_config(folder: Path, url: str, extra: str = "", body: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "experiments.toml"
    text = (body or CONFIG).replace("{url}", url).replace("{extra}", extra)
    path.write_text(text)
    return path


def statistics(config: Path) -> dict[tuple, dict[str, float]]:
    """Per (arm, country) statistics of the checkout experiment, keyed for comparison."""
    (experiment,) = load_config(config).experiments
    loaded = fetch_data(experiment, None)
    frame = loaded.fetched.parts["stats"]
    # The exposure counts and the first and last exposure (the forecast's traffic) too.
    exposures = loaded.fetched.extras["stats"]
    keys = list(zip(frame["arm"].astype(str), frame["country"].astype(str), strict=True))
    out = {}
    for i, key in enumerate(keys):
        out[key] = {
            column: float(values[i])
            for column, values in frame.items()
            if column not in ("arm", "country")
        }
    out[("exposures",)] = {k: float(v) for k, v in exposures.items() if k not in NESTED}
    # What was left out, by reason and per metric, must agree too.
    out[("excluded",)] = {k: float(v) for k, v in exposures["excluded"].items()}
    for metric, counted in exposures["events"].items():
        out[("events", metric)] = {k: float(v) for k, v in counted.items()}
    return out


#: Extras that are not numbers: counts by reason, per metric, and the cut-off.
NESTED = ("excluded", "events", "cutoff")


def same(found: dict, expected: dict) -> None:
    """Counts exactly, sums to one part in a billion."""
    assert found.keys() == expected.keys()
    for key, row in expected.items():
        for column, value in row.items():
            other = found[key][column]
            if column == "n" or column.endswith("__n") or column.endswith("__npos"):
                assert other == value, (key, column)
            else:
                assert other == pytest.approx(value, rel=1e-9, abs=1e-9), (key, column)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, dict[str, Path]]:
    if not DEMO.is_file():
        pytest.fail(f"{DEMO} is missing: run `make data` first")
    folder = tmp_path_factory.mktemp("warehouse")
    return {"csv": export_demo(folder, "csv"), "parquet": export_demo(folder, "parquet")}


@pytest.fixture(scope="module")
def duckdb_stats(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("duck")
    return statistics(write_config(folder, f"duckdb://{DEMO}", 'dialect = "duckdb"'))


@pytest.fixture(scope="module")
def postgres(files):
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (make setup installs it)")
    with postgres_server() as (url, password):
        load_postgres(url, password, files["csv"])
        yield url, password


@pytest.fixture
def pg_env(postgres, monkeypatch):
    url, password = postgres
    monkeypatch.setenv("PG_PASSWORD", password)
    return url.replace("readout@", "readout:${PG_PASSWORD}@")


def test_duckdb_parquet_tables_give_the_demo_files_statistics(files, duckdb_stats, tmp_path):
    """Parquet files registered as tables of an in-memory DuckDB answer like the .duckdb file."""
    tables = ", ".join(f'{t} = "{p}"' for t, p in files["parquet"].items())
    config = write_config(tmp_path, "duckdb://", f"tables = {{ {tables} }}")
    same(statistics(config), duckdb_stats)


@pytest.mark.spot
def test_postgres_returns_the_same_statistics_as_duckdb(pg_env, duckdb_stats, tmp_path):
    same(statistics(write_config(tmp_path, pg_env)), duckdb_stats)


def test_a_postgres_readout_matches_the_duckdb_readout(pg_env, tmp_path):
    import json

    args = ["--date", "2026-11-21"]
    duck = write_config(tmp_path / "duck", f"duckdb://{DEMO}")
    pg = write_config(tmp_path / "pg", pg_env)
    runner = CliRunner()
    for config in (duck, pg):
        out = config.parent / "reports"
        result = runner.invoke(main, ["run", "--config", str(config), "--output", str(out), *args])
        assert result.exit_code == 0, result.output
    bundles = [
        json.loads(next((c.parent / "reports" / "checkout").glob("*/bundle.json")).read_text())
        for c in (duck, pg)
    ]
    a, b = bundles
    assert a["decision"] == b["decision"]
    assert a["forecast"] == b["forecast"]
    for sa, sb in zip(a["segment_spread"], b["segment_spread"], strict=True):
        assert sb["sigma"]["hdi"] == pytest.approx(sa["sigma"]["hdi"], rel=1e-9)
    for ma, mb in zip(a["metrics"], b["metrics"], strict=True):
        for ca, cb in zip(ma["comparisons"], mb["comparisons"], strict=True):
            assert cb["lift_rel"]["mean"] == pytest.approx(ca["lift_rel"]["mean"], rel=1e-9)
            assert cb["lift_rel"]["hdi"] == pytest.approx(ca["lift_rel"]["hdi"], rel=1e-9)
    # The password never reaches the bundle, the report or the log.
    _, password = b["data_file"], os.environ["PG_PASSWORD"]
    for path in (pg.parent / "reports").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html"):
            assert password not in path.read_text(errors="ignore")
    assert "${PG_PASSWORD}" in b["data_file"] or "***" in b["data_file"]


def test_sql_written_for_duckdb_runs_on_postgres_through_the_dialect(pg_env, tmp_path):
    """date_diff and epoch are DuckDB's; dialect = "duckdb" translates them for PostgreSQL."""
    body = CONFIG.replace(
        'sql = "SELECT user_id AS unit, ts FROM support"',
        "sql = \"SELECT user_id AS unit, ts FROM support WHERE date_diff('day', ts, ts) = 0 "
        'AND epoch(ts) > 0"',
    )
    plain = write_config(tmp_path / "plain", pg_env, body=body)
    result = CliRunner().invoke(main, ["validate", "--config", str(plain)])
    assert result.exit_code == 2
    assert "metric 'support_contacts'" in result.output and "the query failed" in result.output
    translated = write_config(tmp_path / "duck", pg_env, 'dialect = "duckdb"', body=body)
    result = CliRunner().invoke(main, ["validate", "--config", str(translated)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        (
            'FROM orders"\naggregate = "any"',
            'FROM order_typo"\naggregate = "any"',
            ["metric 'purchase'", "the query failed", "order_typo"],
        ),
        (
            "1 AS value FROM orders",
            "1 AS amount FROM orders",
            ["metric 'purchase'", "returns no column 'value'"],
        ),
        ("experiment = 'checkout'", "experiment = 'nope'", ["no assigned units"]),
    ],
)
def test_bad_sql_on_postgres_exits_2_naming_experiment_metric_and_cause(
    pg_env, tmp_path, old, new, fragments
):
    config = write_config(tmp_path, pg_env, body=CONFIG.replace(old, new))
    out = str(tmp_path / "r")
    result = CliRunner().invoke(main, ["run", "--config", str(config), "--output", out])
    assert result.exit_code == 2, result.output
    for fragment in ["experiment 'checkout'", "source 'warehouse'", *fragments]:
        assert fragment in result.output, fragment
    assert "Traceback" not in result.output
    assert os.environ["PG_PASSWORD"] not in result.output


def test_an_unset_secret_exits_2_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_PASSWORD", raising=False)
    config = write_config(tmp_path, "postgresql://reader:${NOT_SET_PASSWORD}@127.0.0.1:1/db")
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert result.exit_code == 2
    assert "${NOT_SET_PASSWORD}" in result.output and "export NOT_SET_PASSWORD" in result.output


def test_an_unreachable_database_fails_that_experiment_with_a_masked_url(tmp_path, monkeypatch):
    monkeypatch.setenv("PG_PASSWORD", "hunter2-secret")
    body = (
        CONFIG
        + """
[[experiments]]
name = "local"
title = "Local"
analysis = "ab_test"
data = "data.csv"
group = "arm"
control = "A"
metric = "y"
metric_type = "binary"
"""
    )
    config = write_config(tmp_path, "postgresql://reader:${PG_PASSWORD}@127.0.0.1:1/db", body=body)
    rng = np.random.default_rng(0)
    lines = ["arm,y"] + [f"{'AB'[i % 2]},{int(rng.random() < 0.1)}" for i in range(400)]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "reports"
    result = CliRunner().invoke(main, ["run", "--config", str(config), "--output", str(out)])
    assert result.exit_code == 1, result.output
    masked = "postgresql://reader:***@127.0.0.1:1/db"
    assert f"cannot connect to source 'warehouse' ({masked})" in result.output
    assert "hunter2-secret" not in result.output
    assert list((out / "local").glob("*/report.pdf"))  # the other experiment still reports
    for path in out.rglob("*"):
        if path.is_file():
            assert "hunter2-secret" not in path.read_text(errors="ignore")


def test_an_unknown_source_exits_2(tmp_path):
    config = write_config(tmp_path, "duckdb://x.duckdb")
    config.write_text(config.read_text().replace('source = "warehouse"', 'source = "warehous"'))
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert result.exit_code == 2
    assert "source 'warehous' is not defined (sources: warehouse)" in result.output


def test_a_missing_duckdb_file_is_named_not_created(tmp_path):
    config = write_config(tmp_path, "duckdb://missing.duckdb")
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert result.exit_code == 2
    assert "missing.duckdb does not exist" in result.output
    assert not (tmp_path / "missing.duckdb").exists()


@pytest.mark.slow
@pytest.mark.skipif(not java_available(), reason="Spark needs Java 17 (make setup installs it)")
# py4j leaves its gateway socket to the garbage collector: its warning, not readout's.
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_spark_returns_the_same_statistics_as_duckdb(files, duckdb_stats, tmp_path):
    """Spark in local mode, tables from Parquet files: the same numbers as DuckDB, and SQL
    written for DuckDB translated through the dialect."""
    tables = ", ".join(f'{t} = "{p}"' for t, p in files["parquet"].items())
    config = write_config(tmp_path, "pyspark://", f'dialect = "duckdb"\ntables = {{ {tables} }}')
    same(statistics(config), duckdb_stats)
