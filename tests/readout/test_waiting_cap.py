"""A percentile cap is read off the units whose window has closed, not those still waiting.

A unit still inside its window has a partial value and counts in no mean; were it part of
the percentile, a burst of recent users could move the cap of every counted unit. A real
DuckDB warehouse; the expected sums are computed here from the rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from readout.config import load_config
from readout.data import fetch_data
from tests.engines import insert_rows

CLOSED, WAITING = 100, 400


def warehouse(path: Path) -> Path:
    """100 users exposed on 1 November (values 1 to 100) and 400 on 29 November (1,000 each)."""
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE exposures (user_id INTEGER, variant VARCHAR, exposed_at TIMESTAMP)")
    con.execute("CREATE TABLE orders (user_id INTEGER, ts TIMESTAMP, amount DOUBLE)")
    exposures, orders = [], []
    for u in range(CLOSED + WAITING):
        exposed = datetime(2026, 11, 1, 12) if u < CLOSED else datetime(2026, 11, 29, 12)
        exposures.append((u, ("control", "treatment")[u % 2], exposed))
        orders.append((u, exposed + timedelta(hours=1), float(u + 1) if u < CLOSED else 1000.0))
    insert_rows(con, "exposures", exposures)
    insert_rows(con, "orders", orders)
    con.close()
    return path


def test_the_cap_percentile_leaves_out_units_still_inside_their_window(tmp_path):
    db = warehouse(tmp_path / "w.duckdb")
    config = tmp_path / "experiments.toml"
    config.write_text(
        f'[sources.warehouse]\nurl = "duckdb:///{db}"\n\n[[experiments]]\nname = "cap"\n'
        'title = "Cap"\nanalysis = "ab_test"\nsource = "warehouse"\n'
        'assignments = "SELECT user_id AS unit, variant AS arm, exposed_at FROM exposures"\n'
        'control = "control"\n\n[[experiments.metrics]]\nname = "revenue"\n'
        'sql = "SELECT user_id AS unit, ts, amount AS value FROM orders"\naggregate = "sum"\n'
        'kind = "revenue"\nwindow_days = 7\ncap_percentile = 60\nrole = "primary"\n'
    )
    experiment = load_config(config).experiments[0]
    stats = fetch_data(experiment, None, write_cache=False, as_of=date(2026, 11, 30)).fetched
    stats = stats.parts["stats"]
    assert stats["revenue__waiting"].sum() == WAITING
    assert stats["revenue__n"].sum() == CLOSED
    closed = np.arange(1.0, CLOSED + 1)
    cap = np.quantile(closed, 0.60)  # 60.4: the counted users' own 60th percentile
    expected = np.minimum(closed, cap).sum()
    # With the waiting users in the percentile, the cap would be 1,000 and nothing capped.
    assert expected < closed.sum()
    assert stats["revenue__sum"].sum() == pytest.approx(expected, abs=1e-6)
