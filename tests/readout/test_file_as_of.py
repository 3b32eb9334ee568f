"""A data file read as of a day: ``time_column`` cuts it in the SQL; without it, a note.

Real CSV and Parquet files, the real CLI and DuckDB; the counts are checked against the rows
of the file before the cut, counted here with pandas.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from readout.cli import main


def write_data(folder: Path, kind: str = "csv", seed: int = 3) -> tuple[Path, pd.DataFrame]:
    """4,000 users over 20 days of November 2026, B converting a little more."""
    rng = np.random.default_rng(seed)
    n = 4000
    day = pd.Timestamp("2026-11-01") + pd.to_timedelta(rng.integers(0, 20, n), unit="D")
    group = rng.choice(["A", "B"], n)
    converted = (rng.random(n) < np.where(group == "B", 0.12, 0.10)).astype(int)
    frame = pd.DataFrame({"group": group, "converted": converted, "day": day})
    path = folder / f"data.{kind}"
    if kind == "csv":
        frame.assign(day=frame.day.dt.date).to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path, frame


def config(folder: Path, data: str, time_column: str | None = "day") -> Path:
    path = folder / "experiments.toml"
    line = f'time_column = "{time_column}"\n' if time_column else ""
    path.write_text(
        "[[experiments]]\n"
        'name = "t"\ntitle = "T"\nanalysis = "ab_test"\n'
        f'data = "{data}"\n'
        'group = "group"\ncontrol = "A"\nmetric = "converted"\nmetric_type = "binary"\n' + line
    )
    return path


def run(config_path: Path, out: Path, *extra: str):
    return CliRunner().invoke(
        main, ["run", "--config", str(config_path), "--output", str(out), *extra]
    )


def bundle_of(out: Path, day: str) -> dict:
    return json.loads((out / "t" / day / "bundle.json").read_text())


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_time_column_cuts_the_file_at_the_end_of_the_as_of_day_in_the_sql(tmp_path, kind):
    path, frame = write_data(tmp_path, kind)
    cfg = config(tmp_path, path.name)
    out = tmp_path / "out"
    result = run(cfg, out, "--as-of", "2026-11-09")
    assert result.exit_code == 0, result.output
    bundle = bundle_of(out, "2026-11-09")
    before = frame[frame.day < pd.Timestamp("2026-11-10")]
    assert {a["name"]: a["n"] for a in bundle["arms"]} == before.group.value_counts().to_dict()
    assert len(before) < len(frame)  # the cut left rows out
    assert bundle["as_of"] == "2026-11-09"
    assert not [w for w in bundle["warnings"] if w["code"] == "as_of_whole_file"]
    sql = " ".join(q["sql"] for q in bundle["queries"])
    # Pushed into DuckDB's SQL: rows before the end of the day (or with no day) are read.
    assert '"day" IS NULL' in sql and "< CAST('2026-11-10 00:00:00' AS TIMESTAMP)" in sql
    # A later day on the same file is another readout (the fit key holds the day) ...
    result = run(cfg, out, "--as-of", "2026-11-14")
    assert result.exit_code == 0, result.output
    later = bundle_of(out, "2026-11-14")
    assert sum(a["n"] for a in later["arms"]) == int((frame.day < "2026-11-15").sum())
    assert later["fit_key"] != bundle["fit_key"]
    # ... and the first day again reproduces its readout's numbers.
    again = tmp_path / "again"
    assert run(cfg, again, "--as-of", "2026-11-09").exit_code == 0
    assert bundle_of(again, "2026-11-09")["arms"] == bundle["arms"]


def test_without_time_column_the_whole_file_is_read_and_the_report_says_so(tmp_path):
    path, frame = write_data(tmp_path)
    cfg = config(tmp_path, path.name, time_column=None)
    out = tmp_path / "out"
    result = run(cfg, out, "--as-of", "2026-11-09")
    assert result.exit_code == 0, result.output
    bundle = bundle_of(out, "2026-11-09")
    assert sum(a["n"] for a in bundle["arms"]) == len(frame)
    note = {"code": "as_of_whole_file", "file": "data.csv", "as_of": "2026-11-09"}
    assert note in bundle["warnings"]
    html = (out / "t" / "2026-11-09" / "report.html").read_text()
    assert "This readout is as of 9 November 2026, but data.csv was read whole" in html
    # Read without --as-of, the file says nothing of a cut.
    plain = tmp_path / "plain"
    assert run(cfg, plain).exit_code == 0
    (folder,) = [p for p in (plain / "t").iterdir() if p.is_dir()]  # the readout, not the page
    assert "as_of_whole_file" not in (folder / "bundle.json").read_text()


@pytest.mark.parametrize(
    "column, fragments",
    [
        ("dy", ["data.csv", "column 'dy' (from time_column = \"dy\") is missing", "Fix: set"]),
        ("converted", ["data.csv", 'time_column = "converted"', "not dates", "Fix: write"]),
    ],
)
def test_a_bad_time_column_exits_2_naming_the_file_the_key_and_the_fix(tmp_path, column, fragments):
    path, _ = write_data(tmp_path)
    cfg = config(tmp_path, path.name, time_column=column)
    for args in (["run", "--as-of", "2026-11-09"], ["validate"]):
        result = CliRunner().invoke(
            main, [*args, "--config", str(cfg), "--output", str(tmp_path / "out")]
        )
        assert result.exit_code == 2, result.output
        for fragment in fragments:
            assert fragment in result.output
        assert "Traceback" not in result.output


def test_time_column_with_a_warehouse_source_is_refused(tmp_path):
    cfg = tmp_path / "experiments.toml"
    cfg.write_text(
        '[sources.w]\nurl = "duckdb:///w.duckdb"\n\n[[experiments]]\n'
        'name = "t"\ntitle = "T"\nanalysis = "ab_test"\nsource = "w"\n'
        'assignments = "assignments"\ncontrol = "control"\ntime_column = "day"\n'
        '[[experiments.metrics]]\nname = "p"\ntable = "events"\naggregate = "any"\n'
        'kind = "binary"\nwindow_days = 3\nrole = "primary"\n'
    )
    (tmp_path / "w.duckdb").touch()
    result = CliRunner().invoke(main, ["validate", "--config", str(cfg)])
    assert result.exit_code == 2, result.output
    assert "time_column is for a data file" in result.output, result.output
    assert "remove time_column" in result.output and "Traceback" not in result.output
