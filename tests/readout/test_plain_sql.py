"""``readout validate``'s plain SQL counts and sums what ibis's compiled SQL does.

Both are run by DuckDB on the same files: text, numbers, booleans, dates, yes/no answers,
empty cells, NaN and infinity, negatives, fractions and huge values, so every rule of
every column kind is broken somewhere and each count and sum can differ.
"""

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from analyses.core.inputs import Column, Rows, Summary, Value
from readout import plain_sql
from readout.queries import Where, compile_request
from readout.sources import open_file

RULES = ("finite", "positive", "nonnegative", "unit_interval")
# "integer" on a column without NaN or infinity: both SQLs cast FLOOR(NaN) to BIGINT, which
# DuckDB refuses (the finite rule reports such a file first only after the query ran).

FILES = {
    "text": "arm,y,z,when\nA,yes,1.5,2026-01-01\nB, No ,2,2026-01-02\nA,1,x,\nB,,-3,"
    "2026-01-03\nA,2,nan,2026-01-04\nB,0,inf,2026-01-05\nA,TRUE,1e20,2026-01-06\nB,n,0.25,\n",
    "numbers": "arm,y,z,when\n1,1,1.5,3\n2,0,2,4\n1,1,-1,5\n2,,0,\n1,0,0.5,7.5\n2,1,4,8\n",
    "booleans": "arm,y,z,when\nA,true,1,1\nB,false,2,2\nA,,3,3\nB,true,-2,4\n",
}


def _request(binary: bool) -> dict:
    arm = Column("group", "arm", kind="text", rules=())
    y = Column("metric", "y", rules=("finite", "binary") if binary else ("finite",))
    z = Column("metric", "z", rules=RULES, required=False)
    when = Column("time", "when", rules=("finite", "integer"), required=False)
    extra = Column("x", "absent", optional=True)
    return {
        "stats": Summary(
            by=(arm,),
            values=(Value("y", "y"), Value("z", "z", ("moments", "logs"))),
            checks=(arm, y, z, when),
        ),
        "rows": Rows((arm, y, z, when, extra)),
    }


def _run(engine, sql: str) -> dict:
    found = engine.execute(sql)
    order = np.argsort(found["arm"].astype(str), kind="stable") if "arm" in found else None
    return {k: (v[order] if order is not None else v) for k, v in found.items()}


def _assert_same_results(engine, ibis_plan: dict, plain_plan: dict, rtol: float) -> None:
    """Every check and part of both plans returns the same columns and values.

    Numbers agree to ``rtol`` (0: exactly), everything else exactly.
    """
    for kind in ("checks", "parts"):
        assert plain_plan[kind].keys() == ibis_plan[kind].keys()
        for part in ibis_plan[kind]:
            want = _run(engine, ibis_plan[kind][part])
            got = _run(engine, plain_plan[kind][part])
            assert got.keys() == want.keys(), (kind, part)
            for key in want:
                if want[key].dtype.kind in "fc":
                    np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=0)
                else:
                    assert list(got[key]) == list(want[key]), (kind, part, key)


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("name", sorted(FILES))
def test_plain_sql_counts_and_sums_what_ibis_does(name, binary, tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text(FILES[name])
    engine = open_file(path)
    try:
        where = Where(file=True, label=str(path))
        request = _request(binary)
        ibis_plan = compile_request(engine, request, where, 1000)
        plain_plan = plain_sql.compile_request(engine, request, where, 1000)
        assert plain_plan["columns"] == ibis_plan["columns"]
        _assert_same_results(engine, ibis_plan, plain_plan, rtol=1e-12)
    finally:
        engine.close()


CUT_FILES = {
    "dates": "arm,y,z,when\nA,1,1.5,2026-01-01\nB,0,2,2026-01-02\nA,1,-1,\nB,1,0,2026-01-03\n"
    "A,0,0.5,2026-01-02\nB,1,4,2025-12-31\n",
    "timestamps": "arm,y,z,when\nA,1,1.5,2026-01-01 23:59:59.5\nB,0,2,2026-01-02 00:00:00\n"
    "A,1,-1,\nB,1,0,2026-01-01 12:00:00\nA,0,0.5,2026-01-02 00:00:01\nB,1,4,2025-12-31 08:00:00\n",
}


@pytest.mark.parametrize("cut_day", [1, 2])
@pytest.mark.parametrize("name", sorted(CUT_FILES))
def test_a_file_cut_at_a_time_column_keeps_the_rows_ibis_keeps(name, cut_day, tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text(CUT_FILES[name])
    engine = open_file(path)
    try:
        cut_at = datetime(2026, 1, cut_day + 1)  # the end of 2026-01-0{cut_day}
        where = Where(file=True, label=str(path), time_column="when", cut_at=cut_at)
        ibis_plan = compile_request(engine, _request(True), where, 1000)
        plain_plan = plain_sql.compile_request(engine, _request(True), where, 1000)
        _assert_same_results(engine, ibis_plan, plain_plan, rtol=0.0)
        # The cut leaves rows out: stamped on or after its moment (unstamped rows stay).
        rows = _run(engine, plain_plan["parts"]["rows"])
        kept = {"dates": {1: 3, 2: 5}, "timestamps": {1: 4, 2: 6}}[name][cut_day]
        assert len(rows["arm"]) == kept
    finally:
        engine.close()


def test_a_file_cut_at_a_time_zone_column_is_left_to_ibis(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("arm,y,when\nA,1,2026-01-01 10:00:00+02\nB,0,2026-01-02 00:00:00+00\n")
    engine = open_file(path)
    try:
        assert dict(engine.describe(table="data"))["when"].startswith("TIMESTAMP WITH")
        where = Where(file=True, label=str(path), time_column="when", cut_at=datetime(2026, 1, 2))
        assert plain_sql.compile_request(engine, _request(True), where, 10) is None
    finally:
        engine.close()
