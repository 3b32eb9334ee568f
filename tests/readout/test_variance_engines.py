"""A ratio's pre-period sums (CUPED, issue 27) computed by PostgreSQL as by DuckDB."""

from pathlib import Path

import duckdb
import pytest

from tests import variance_data
from tests.engines import load_postgres, postgres_bin, postgres_server
from tests.readout.test_engines import same, statistics

pytestmark = pytest.mark.engine


def test_postgres_returns_the_ratio_pre_period_sums_duckdb_does(tmp_path, monkeypatch):
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (make setup installs it)")
    db = tmp_path / "w.duckdb"
    variance_data.write(db, seed=2, users=3000)
    con = duckdb.connect(str(db), read_only=True)
    files: dict[str, Path] = {}
    for table in ("exposures", "sessions", "orders"):
        files[table] = tmp_path / f"{table}.csv"
        con.execute(f"COPY {table} TO '{files[table]}' (FORMAT csv, HEADER true)")
    con.close()
    (tmp_path / "duck").mkdir()
    expected = statistics(variance_data.config(tmp_path / "duck", db))
    assert any(k.endswith("__num_pden") and v > 0 for k, v in expected[("control", "US")].items())
    with postgres_server() as (url, password):
        load_postgres(url, password, files)
        monkeypatch.setenv("PG_PASSWORD", password)
        folder = tmp_path / "pg"
        folder.mkdir()
        config = variance_data.config(folder, "X")
        config.write_text(
            config.read_text().replace(
                'url = "duckdb://X"',
                f'url = "{url.replace("readout@", "readout:${PG_PASSWORD}@")}"',
            )
        )
        same(statistics(config), expected)
