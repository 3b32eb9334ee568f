"""Experiments on one source read in one aggregate query (issue 25), equal to their own queries.

A small DuckDB warehouse of five experiments with the faults a warehouse has (assignments
without a unit, an arm or an exposure time, exposures after the cut-off, units in both arms,
events without a time or a unit, events after the cut-off and units still inside their
window), four sharing one query shape and one with another metric.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from readout import batch, build, runner
from readout.config import load_config
from readout.data import fetch_data
from readout.sources import Engine
from tests.programme_config import PRIMARY_PURCHASE

AS_OF = date(2026, 11, 20)
SHAPED = ["exp-a", "exp-b", "exp-c", "exp-d"]

HEAD = """
[settings]
exact_draws = 4000

[sources.warehouse]
url = "duckdb://warehouse.duckdb"
"""

EXPERIMENT = (
    """
[[experiments]]
name = "{name}"
title = "{name}"
analysis = "ab_test"
source = "warehouse"
assignments = '''SELECT user_id AS unit, variant AS arm, exposed_at, country
  FROM exposures WHERE experiment = '{key}' AND COALESCE(user_id, 0) >= 0 '''
control = "control"
segments = {segments}
"""
    + PRIMARY_PURCHASE
    + """window_days = {window}

[[experiments.metrics]]
name = "revenue"
sql = "SELECT user_id AS unit, ts, amount AS value FROM orders"
aggregate = "sum"
kind = "revenue"
window_days = {window}
cap_value = 300

[[experiments.metrics]]
name = "visits"
sql = "SELECT user_id AS unit, ts FROM visits"
aggregate = "count"
kind = "count"
window_days = 7
"""
)


def _warehouse(folder: Path, seed: int = 5) -> None:
    import duckdb

    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-11-01T00:00:00")
    rows, orders, visits = [], [], []
    first = 0
    for key in [*SHAPED, "exp-e"]:
        users = 800
        ids = np.arange(first, first + users).astype(float)
        first += users - 20  # 20 users shared with the next experiment
        arm = np.where(rng.random(users) < 0.5, "treatment", "control").astype(object)
        exposed = start + (rng.uniform(0, 25, users) * 86400).astype("timedelta64[s]")
        exposed = exposed.astype("datetime64[us]").astype(object)
        ids_kept = ids.astype(object)
        ids_kept[:3] = None  # no unit
        arm[3:6] = None  # no arm
        exposed[6:9] = None  # no exposure time
        frame = pd.DataFrame(
            {
                "experiment": key,
                "user_id": ids_kept,
                "variant": arm,
                "exposed_at": exposed,
                "country": rng.choice(["DE", "FR"], users),
            }
        )
        both = frame.iloc[10:14].copy()  # units in both arms
        both["variant"] = np.where(both["variant"] == "control", "treatment", "control")
        rows += [frame, both]
        buys = rng.random(users) < 0.2
        base = np.array([e if e is not None else start for e in exposed], dtype="datetime64[us]")
        ts = base + (rng.uniform(-2, 16, users) * 86400e6).astype("timedelta64[us]")
        ts = ts.astype(object)
        ts[buys & (rng.random(users) < 0.05)] = None  # no time
        orders.append(
            pd.DataFrame(
                {
                    "user_id": ids[buys],
                    "ts": ts[buys],
                    "amount": np.round(rng.lognormal(3.5, 1.0, buys.sum()), 2),
                }
            )
        )
        count = rng.poisson(1.5, users)
        who = np.repeat(np.arange(users), count)
        seen = base[who] + (rng.uniform(0, 9, who.size) * 86400e6).astype("timedelta64[us]")
        visits.append(pd.DataFrame({"user_id": ids[who], "ts": seen}))
    orders.append(pd.DataFrame({"user_id": [None], "ts": [start], "amount": [5.0]}))
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    try:
        for name, parts in (("exposures", rows), ("orders", orders), ("visits", visits)):
            frame = pd.concat(parts, ignore_index=True)  # noqa: F841 - read by DuckDB
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
    finally:
        con.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch")
    _warehouse(folder)
    body = "".join(
        EXPERIMENT.format(name=name, key=name, segments='["country"]', window=14) for name in SHAPED
    )
    # Another window: a query of another shape, read on its own.
    body += EXPERIMENT.format(name="exp-e", key="exp-e", segments='["country"]', window=10)
    (folder / "experiments.toml").write_text(HEAD + body)
    return folder / "experiments.toml"


def test_keyed_finds_the_one_literal_and_refuses_other_shapes():
    sql = "SELECT u AS unit, v AS arm, t AS exposed_at FROM x WHERE e = 'k1' AND u > 0"
    template, column, key = batch.keyed(sql, "duckdb")
    assert (column, key) == ("e", "k1")
    other = batch.keyed(sql.replace("'k1'", "'k2'"), "duckdb")
    assert other[0] == template
    assert batch.keyed(sql.replace("AND", "OR"), "duckdb") is None  # not a conjunct
    assert batch.keyed(sql + " AND f = 'z'", "duckdb") is None  # two literals: which one?
    assert batch.keyed(sql + " GROUP BY 1, 2, 3", "duckdb") is None
    assert batch.keyed("SELECT DISTINCT u FROM x WHERE e = 'k'", "duckdb") is None
    assert batch.keyed("SELECT u FROM x WHERE NOT e = 'k'", "duckdb") is None
    assert batch.keyed("exposures", "duckdb") is None
    batched = batch.batched_sql(sql, ["k1", "k2"], "duckdb")
    assert "IN ('k1', 'k2')" in batched and batch.KEY in batched


def test_groups_batch_only_queries_that_differ_in_the_key(project):
    config = load_config(project)
    found = batch.groups(config.experiments)
    assert [[e.name for e, _ in members] for members in found] == [SHAPED]
    assert [key for _, key in found[0]] == SHAPED


def _numbers_equal(single: dict, batched: dict) -> None:
    assert list(single) == list(batched)
    for column, value in single.items():
        other = batched[column]
        assert value.dtype == other.dtype, column
        if value.dtype == object:
            assert list(value) == list(other), column
        else:
            np.testing.assert_allclose(
                other.astype(float), value.astype(float), rtol=1e-9, atol=1e-9, err_msg=column
            )


def test_batched_numbers_equal_each_experiments_own_query(project):
    config = load_config(project)
    found = batch.prefetch(config.experiments, AS_OF)
    assert sorted(found) == SHAPED
    for experiment in config.experiments[:4]:
        single = fetch_data(experiment, None, as_of=AS_OF)
        loaded = found[experiment.name]
        _numbers_equal(single.fetched.parts["stats"], loaded.fetched.parts["stats"])
        assert loaded.fetched.extras == single.fetched.extras
        assert (loaded.fetched.as_of, loaded.fetched.source, loaded.fetched.notes) == (
            single.fetched.as_of,
            single.fetched.source,
            single.fetched.notes,
        )
        # The faults were there to be counted.
        extras = single.fetched.extras["stats"]
        excluded = extras["excluded"]
        assert extras["multiple_arms"] > 0
        assert excluded["unit_missing"] and excluded["arm_missing"] and excluded["exposed_missing"]
        assert extras["events"]["purchase"]["ts_missing"] > 0
        # Its readout names the batched query and its own rows in it.
        names = [q["name"] for q in loaded.queries]
        assert all(f"{batch.KEY} = '{experiment.name}'" in n for n in names)
        assert "IN ('exp-a', 'exp-b', 'exp-c', 'exp-d')" in loaded.queries[-1]["sql"]


SAME_ANYWAY = ("queries", "data_sha256", "fit_key", "created_at", "run_seconds", "figures")


def test_batched_bundle_equals_the_single_querys(project, tmp_path):
    config = load_config(project)
    found = batch.prefetch(config.experiments, AS_OF)
    for experiment in config.experiments[:2]:
        bundles = []
        for loaded in (None, found[experiment.name]):
            staging = tmp_path / f"{experiment.name}-{loaded is None}"
            staging.mkdir()
            bundle = build.build_readout(
                experiment, staging, AS_OF.isoformat(), None, loaded, AS_OF
            )
            bundles.append(json.loads(json.dumps({k: bundle[k] for k in bundle})))
        single, batched = ({k: v for k, v in b.items() if k not in SAME_ANYWAY} for b in bundles)
        _close(single, batched)


def _close(a, b, path="") -> None:
    if isinstance(a, dict):
        assert sorted(a) == sorted(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-9, nan_ok=True), path
    else:
        assert a == b, path


def test_a_run_reads_the_batch_in_two_queries(project, tmp_path, monkeypatch):
    """Four experiments of one shape: 2 queries in all instead of 2 each; the fifth its own."""
    ran: list[str] = []
    execute = Engine.execute

    def counted(self, sql):
        ran.append(sql)
        return execute(self, sql)

    monkeypatch.setattr(Engine, "execute", counted)
    config = load_config(project)
    outcomes = runner.run(config, tmp_path / "reports", as_of=AS_OF)
    assert [o.code for o in outcomes] == [0] * 5
    assert len(ran) == 2 + 2  # the batch's pair, exp-e's own pair
    assert sum(batch.KEY in sql for sql in ran) == 2
    bundle = json.loads(
        (tmp_path / "reports" / "exp-b" / AS_OF.isoformat() / "bundle.json").read_text()
    )
    assert f"{batch.KEY} = 'exp-b'" in bundle["queries"][-1]["name"]


@pytest.mark.engine
def test_postgres_batches_as_duckdb_does(project, tmp_path):
    """The same warehouse in PostgreSQL: the batched numbers equal each experiment's own."""
    import duckdb

    from tests.engines import load_postgres, postgres_bin, postgres_server

    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (make setup installs it)")
    files = {}
    con = duckdb.connect(str(project.parent / "warehouse.duckdb"), read_only=True)
    for table in ("exposures", "orders", "visits"):
        files[table] = tmp_path / f"{table}.csv"
        con.execute(f"COPY {table} TO '{files[table]}' (FORMAT csv, HEADER true)")
    con.close()
    with postgres_server() as (url, password):
        load_postgres(url, password, files)
        real = url.replace("readout@", f"readout:{password}@")
        text = project.read_text().replace("duckdb://warehouse.duckdb", real)
        config_path = tmp_path / "experiments.toml"
        config_path.write_text(text)
        config = load_config(config_path)
        assert [[e.name for e, _ in m] for m in batch.groups(config.experiments)] == [SHAPED]
        found = batch.prefetch(config.experiments, AS_OF)
        assert sorted(found) == SHAPED
        duck = batch.prefetch(load_config(project).experiments, AS_OF)
        for experiment in config.experiments[:4]:
            single = fetch_data(experiment, None, as_of=AS_OF)
            loaded = found[experiment.name]
            _numbers_equal(single.fetched.parts["stats"], loaded.fetched.parts["stats"])
            assert loaded.fetched.extras == single.fetched.extras
            # And the same numbers as DuckDB's.
            _numbers_equal(
                duck[experiment.name].fetched.parts["stats"], loaded.fetched.parts["stats"]
            )


def test_a_key_the_engine_matches_but_writes_otherwise_is_not_split(tmp_path):
    """A case-blind collation: ``= 'exp-a'`` also reads the 'EXP-A' rows (the same units)."""
    import duckdb

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(
        "CREATE TABLE exposures (experiment VARCHAR COLLATE NOCASE, user_id DOUBLE, "
        "variant VARCHAR, exposed_at TIMESTAMP, country VARCHAR)"
    )
    con.execute(
        "INSERT INTO exposures SELECT e, u, CASE WHEN u % 2 = 0 THEN 'control' ELSE "
        "'treatment' END, TIMESTAMP '2026-11-01', 'DE' FROM (VALUES ('exp-a'), ('EXP-A'), "
        "('exp-b')) v(e), range(100) r(u)"
    )
    con.execute(
        "CREATE TABLE orders AS SELECT 1.0 AS user_id, TIMESTAMP '2026-11-02' AS ts, 5.0 AS amount"
    )
    con.execute("CREATE TABLE visits AS SELECT 1.0 AS user_id, TIMESTAMP '2026-11-02' AS ts")
    con.close()
    body = "".join(
        EXPERIMENT.format(name=name, key=name, segments="[]", window=14)
        for name in ("exp-a", "exp-b")
    )
    (tmp_path / "experiments.toml").write_text(HEAD + body)
    config = load_config(tmp_path / "experiments.toml")
    assert len(batch.groups(config.experiments)) == 1
    found = batch.prefetch(config.experiments, AS_OF)
    for experiment in config.experiments:
        single = fetch_data(experiment, None, as_of=AS_OF)
        assert int(single.fetched.parts["stats"]["n"].sum()) == 100
        # Read by the batch only where its numbers are the single query's.
        if experiment.name in found:
            stats = found[experiment.name].fetched.parts["stats"]
            _numbers_equal(single.fetched.parts["stats"], stats)
            assert found[experiment.name].fetched.extras == single.fetched.extras
