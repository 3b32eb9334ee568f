"""A quantile metric's histogram is computed in the engine, and it is exact.

The per-arm histogram of per-unit values (``histogram_expression``) from DuckDB is compared
with the same binning applied to per-unit values computed directly from the demo warehouse's
tables with pandas (no ibis, no SQL of readout's); PostgreSQL's with DuckDB's.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from analyses.ab_test.quantile import Bins, histogram, sample_quantile
from readout.config import load_config
from readout.data import fetch_data
from tests.engines import DEMO, java_available
from tests.programme_config import warehouse_experiment
from tests.readout.test_config_quantile import METRICS
from tests.readout.test_engines import files, pg_env, postgres, write_config  # noqa: F401

BODY = """
[settings]
exact_draws = 4000

[sources.warehouse]
url = "{url}"
{extra}
""" + warehouse_experiment(
    "search",
    METRICS,
    """
[[experiments.metrics]]
name = "loads_p50"
sql = "SELECT user_id AS unit, ts, 1 AS value FROM page_loads"
aggregate = "count"
kind = "quantile"
quantile = 0.5
""",
    title="Search",
)


def engine_histograms(config) -> dict[str, dict[str, Bins]]:
    from analyses.ab_test.quantile import histograms_of

    (experiment,) = load_config(config).experiments
    loaded = fetch_data(experiment, None)
    return histograms_of(loaded.fetched.parts["quantiles"])


def direct_values() -> dict[str, dict[str, np.ndarray]]:
    """Per metric and arm, the units' values computed from the tables with pandas."""
    con = duckdb.connect(str(DEMO), read_only=True)
    exposures = con.execute(
        "SELECT user_id, variant, exposed_at FROM exposures WHERE experiment = 'search'"
    ).df()
    loads = con.execute("SELECT user_id, ts, load_ms FROM page_loads").df()
    con.close()
    units = exposures.groupby("user_id").agg(
        arms=("variant", "nunique"), arm=("variant", "min"), first=("exposed_at", "min")
    )
    units = units[units["arms"] == 1]
    joined = loads.merge(units, left_on="user_id", right_index=True)
    inside = joined[
        (joined["ts"] >= joined["first"]) & (joined["ts"] < joined["first"] + pd.Timedelta(days=14))
    ]
    mean = inside.groupby("user_id")["load_ms"].mean()
    count = inside.groupby("user_id").size().reindex(units.index, fill_value=0)
    out: dict[str, dict[str, np.ndarray]] = {"load_p90": {}, "loads_p50": {}}
    for arm in ("control", "treatment"):
        members = units.index[units["arm"] == arm]
        out["load_p90"][arm] = mean.reindex(members).dropna().to_numpy(float)
        out["loads_p50"][arm] = count.reindex(members).to_numpy(float)
    return out


@pytest.fixture(scope="module")
def duckdb_bins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quantile-duck")
    return engine_histograms(write_config(folder, f"duckdb://{DEMO}", "", BODY))


def test_duckdb_histogram_equals_the_binning_of_directly_computed_unit_values(duckdb_bins):
    direct = direct_values()
    for metric, arms in direct.items():
        for arm, values in arms.items():
            expected = histogram(values)
            found = duckdb_bins[metric][arm]
            # Every unit in its bin: the same bins, the same counts, the same bin means.
            assert found.units == values.size
            np.testing.assert_array_equal(found.n, expected.n)
            np.testing.assert_allclose(found.value, expected.value, rtol=1e-12)
            # A few thousand rows stand for ~12,000 units (p90 of page loads), and the
            # quantile read from them is within 0.2% of the exact one.
            assert found.n.size < values.size
            for q in (0.5, 0.9, 0.99):
                exact = np.quantile(values, q, method="inverted_cdf")
                assert sample_quantile(found, q) == pytest.approx(exact, rel=0.002)


def test_the_histogram_is_small_rows_not_units(duckdb_bins):
    # A count metric (whole numbers) has one bin per value; the mean a bin per 0.2%.
    assert duckdb_bins["loads_p50"]["control"].n.size < 40
    assert duckdb_bins["load_p90"]["control"].n.size < 2500


@pytest.mark.engine
def test_postgres_histogram_equals_duckdb(pg_env, duckdb_bins, tmp_path):  # noqa: F811
    found = engine_histograms(write_config(tmp_path, pg_env, "", BODY))
    assert found.keys() == duckdb_bins.keys()
    for metric, arms in duckdb_bins.items():
        for arm, bins in arms.items():
            np.testing.assert_array_equal(found[metric][arm].n, bins.n)
            np.testing.assert_allclose(found[metric][arm].value, bins.value, rtol=1e-9)


@pytest.mark.spot
@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.skipif(not java_available(), reason="Spark needs Java 17 (make setup installs it)")
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_spark_histogram_equals_duckdb(files, duckdb_bins, tmp_path):  # noqa: F811
    tables = ", ".join(f'{t} = "{p}"' for t, p in files["parquet"].items())
    extra = f'dialect = "duckdb"\ntables = {{ {tables} }}'
    found = engine_histograms(write_config(tmp_path, "pyspark://", extra, BODY))
    for metric, arms in duckdb_bins.items():
        for arm, bins in arms.items():
            np.testing.assert_array_equal(found[metric][arm].n, bins.n)
            np.testing.assert_allclose(found[metric][arm].value, bins.value, rtol=1e-9)


SIGNED = """
[sources.warehouse]
url = "duckdb://{url}"

[[experiments]]
name = "signed"
title = "Signed"
analysis = "ab_test"
source = "warehouse"
assignments = "exposures"
control = "a"

[[experiments.metrics]]
name = "any"
sql = "SELECT unit, ts, 1 AS value FROM events"
aggregate = "any"
kind = "binary"
role = "primary"

[[experiments.metrics]]
name = "net"
table = "events"
aggregate = "sum"
kind = "quantile"
quantile = 0.25
"""


def test_negative_and_zero_values_fall_in_their_own_bins(tmp_path):
    """Net amounts: negative, zero (units without events sum to 0) and positive values."""
    rng = np.random.default_rng(4)
    n = 3000
    units = pd.DataFrame(
        {
            "unit": np.arange(n),
            "arm": rng.choice(["a", "b"], n),
            "exposed_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.uniform(0, 5, n), "D"),
        }
    )
    count = rng.poisson(1.5, n)
    who = np.repeat(np.arange(n), count)
    events = pd.DataFrame(
        {
            "unit": who,
            "ts": units["exposed_at"].to_numpy()[who]
            + pd.to_timedelta(rng.uniform(0, 10, who.size), "D"),
            "value": np.round(rng.normal(5, 40, who.size), 2),
        }
    )
    path = tmp_path / "signed.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE exposures AS SELECT * FROM units")
    con.execute("CREATE TABLE events AS SELECT * FROM events")
    con.close()
    config = tmp_path / "experiments.toml"
    config.write_text(SIGNED.replace("{url}", str(path)))
    found = engine_histograms(config)["net"]
    totals = events.groupby("unit")["value"].sum().reindex(units["unit"], fill_value=0.0)
    for arm in ("a", "b"):
        values = totals[units["arm"].to_numpy() == arm].to_numpy()
        assert (values < 0).any() and (values == 0).any() and (values > 0).any()
        expected = histogram(values)
        np.testing.assert_array_equal(found[arm].n, expected.n)
        np.testing.assert_allclose(found[arm].value, expected.value, rtol=1e-9, atol=1e-9)
        exact = np.quantile(values, 0.25, method="inverted_cdf")
        assert sample_quantile(found[arm], 0.25) == pytest.approx(exact, rel=0.002)
