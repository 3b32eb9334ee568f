"""The command line: exit codes, bad-input messages, and nothing half-written."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from readout import render
from readout.cli import main
from tests.readout.running import binary_frame, invoke, project


def good_and(tmp_path, bad: dict, bad_frame: pd.DataFrame | None):
    frames = {"good.csv": binary_frame()}
    if bad_frame is not None:
        frames["bad.csv"] = bad_frame
    return project(tmp_path, [{"name": "good", "file": "good.csv"}, {"name": "bad", **bad}], frames)


def frame_with(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


BAD_INPUTS = {
    "missing data file": ({"file": "absent.csv"}, None, ["absent.csv", "data file not found"]),
    "missing column": (
        {"file": "bad.csv"},
        frame_with(arm=["A", "B"] * 5, outcome=[0, 1] * 5),
        ["column 'y'", "from metric", "arm, outcome"],
    ),
    "control absent": (
        {"file": "bad.csv"},
        frame_with(arm=["B", "C"] * 5, y=[0, 1] * 5),
        ["control value 'A'", "values found: B, C"],
    ),
    "one arm only": (
        {"file": "bad.csv"},
        frame_with(arm=["A"] * 10, y=[0, 1] * 5),
        ["one arm only"],
    ),
    "empty arm": (
        {"file": "bad.csv", "extra": "expected_split = { A = 0.5, B = 0.5 }"},
        frame_with(arm=["A"] * 5 + ["C"] * 5, y=[0, 1] * 5),
        ["arm 'B' in expected_split has no rows"],
    ),
    "non-binary values": (
        {"file": "bad.csv"},
        frame_with(arm=["A", "B"] * 5, y=[0, 1, 2, 1, 0, 1, 0, 3, 0, 1]),
        ["other than 0 and 1", "2 value(s)", "rows 4, 9"],
    ),
    "non-positive with log": (
        {"file": "bad.csv", "metric_type": "continuous", "extra": "log_transform = true"},
        frame_with(arm=["A", "B"] * 5, y=[1.0, 2.0, 0.0, 3.0, -1.0, 2.0, 1.0, 2.0, 4.0, 1.0]),
        ["2 zero or negative value(s)", "rows 4, 6", "log_transform"],
    ),
    "missing values": (
        {"file": "bad.csv"},
        frame_with(arm=["A", "B", None, "B", "A", "B"], y=[0, 1, 1, None, 0, 1]),
        ["column 'arm' (group) has 1 missing value(s), in rows 4"],
    ),
}


@pytest.mark.faults
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_data_exits_2_naming_the_problem_and_the_others_still_run(tmp_path, case):
    bad, frame, fragments = BAD_INPUTS[case]
    config = good_and(tmp_path, bad, frame)
    out = tmp_path / "reports"
    result = invoke("run", "--config", str(config), "--output", str(out))
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output
    assert "Fix:" in result.output
    # The good experiment still produced its readout; the bad one left nothing behind.
    assert len(list((out / "good").glob("*/report.pdf"))) == 1
    assert not (out / "bad").exists() or not list((out / "bad").glob("*/bundle.json"))
    assert not any((out / ".staging").iterdir())
    index = (out / "index.html").read_text()
    assert "Last run failed" in index


@pytest.mark.faults
@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('metric = "y"', 'metric = "y"\nunknown = 1', "unknown key 'unknown'"),
        ('metric_type = "binary"', 'metric_type = "count"', "metric_type"),
    ],
)
def test_bad_config_exits_2_before_fitting_anything(tmp_path, old, new, fragment):
    config = project(tmp_path, [{"name": "good", "file": "good.csv"}], {"good.csv": binary_frame()})
    config.write_text(config.read_text().replace(old, new))
    out = tmp_path / "reports"
    result = invoke("run", "--config", str(config), "--output", str(out))
    assert result.exit_code == 2
    assert fragment in result.output
    assert not out.exists()


@pytest.mark.faults
def test_duplicate_names_exit_2(tmp_path):
    config = project(
        tmp_path,
        [{"name": "same", "file": "good.csv"}, {"name": "same", "file": "good.csv"}],
        {"good.csv": binary_frame()},
    )
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 2
    assert "duplicate experiment name 'same'" in result.output


@pytest.mark.faults
def test_validate_checks_data_without_fitting(tmp_path):
    config = good_and(tmp_path, {"file": "bad.csv"}, frame_with(arm=["A"] * 4, y=[0, 1] * 2))
    result = invoke("validate", "--config", str(config), "--output", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "one arm only" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.faults
def test_a_crashing_experiment_exits_1_and_the_others_still_report(tmp_path, monkeypatch):
    config = good_and(tmp_path, {"file": "good.csv"}, None)
    from dataclasses import replace

    from readout import registry

    real = registry.get("ab_test")

    def fit(spec, frame, settings):
        if spec.name == "bad":
            raise RuntimeError("simulated sampler crash")
        return real.fit(spec, frame, settings)

    monkeypatch.setitem(registry._all(), "ab_test", replace(real, fit=fit))
    out = tmp_path / "reports"
    result = invoke("run", "--config", str(config), "--output", str(out))
    assert result.exit_code == 1
    assert "simulated sampler crash" in result.output
    assert list((out / "good").glob("*/report.html"))
    assert "simulated sampler crash" in (out / "index.html").read_text()


@pytest.mark.faults
def test_a_failed_rerun_keeps_the_previous_readout_whole(tmp_path, monkeypatch):
    config = project(tmp_path, [{"name": "good", "file": "good.csv"}], {"good.csv": binary_frame()})
    out = tmp_path / "reports"
    assert invoke("run", "--config", str(config), "--output", str(out)).exit_code == 0
    (folder,) = [p for p in (out / "good").iterdir() if p.is_dir()]
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def broken_pdf(html, target):
        Path(target).write_bytes(b"%PDF-1.7 half")
        raise OSError("disk full")

    monkeypatch.setattr(render, "write_pdf", broken_pdf)
    result = invoke("run", "--config", str(config), "--output", str(out), "--force")
    assert result.exit_code == 1
    assert "disk full" in result.output
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert after == before
    assert not any((out / ".staging").iterdir())


def test_unchanged_experiments_are_not_refit(tmp_path):
    config = project(tmp_path, [{"name": "good", "file": "good.csv"}], {"good.csv": binary_frame()})
    out = tmp_path / "reports"
    invoke("run", "--config", str(config), "--output", str(out))
    bundle = next((out / "good").glob("*/bundle.json"))
    stamp = bundle.stat().st_mtime_ns
    result = invoke("run", "--config", str(config), "--output", str(out))
    assert result.exit_code == 0
    assert bundle.stat().st_mtime_ns == stamp
    invoke("run", "--config", str(config), "--output", str(out), "--force")
    assert bundle.stat().st_mtime_ns != stamp


def test_parallel_jobs_do_not_count_as_a_config_change(tmp_path):
    """``-j`` changes how fits run, not what they find: nothing is refitted."""
    config = project(tmp_path, [{"name": "good", "file": "good.csv"}], {"good.csv": binary_frame()})
    out = tmp_path / "reports"
    assert invoke("run", "--config", str(config), "--output", str(out)).exit_code == 0
    bundle = next((out / "good").glob("*/bundle.json"))
    stamp = bundle.stat().st_mtime_ns
    assert invoke("run", "--config", str(config), "--output", str(out), "-j", "4").exit_code == 0
    assert bundle.stat().st_mtime_ns == stamp


def test_the_console_script_runs_and_uses_exit_code_2_for_usage_errors(tmp_path):
    readout = Path(sys.executable).parent / "readout"
    result = subprocess.run(
        [str(readout), "run", "--config", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "config file not found" in result.stderr
    result = subprocess.run(
        [str(readout), "run", "--bogus"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2


def test_each_readout_says_what_changed_since_the_last_one(tmp_path):
    config = project(
        tmp_path, [{"name": "good", "file": "good.csv"}], {"good.csv": binary_frame(n=1000)}
    )
    out = tmp_path / "reports"
    args = ["run", "--config", str(config), "--output", str(out), "--date"]
    assert invoke(*args, "2026-11-14").exit_code == 0
    binary_frame(n=3000, seed=1).to_csv(tmp_path / "data" / "good.csv", index=False)
    assert invoke(*args, "2026-11-21").exit_code == 0
    html = (out / "good" / "2026-11-21" / "report.html").read_text()
    assert "Since the last readout on 2026-11-14 this one uses new data" in html
    assert "(2,000 users then, 6,000 now)" in html
    first = (out / "good" / "2026-11-14" / "report.html").read_text()
    assert "first readout" in first
    page = (out / "good" / "index.html").read_text()
    assert page.index("2026-11-21") < page.index("2026-11-14")
    assert 'alt="Line chart of the relative lift of B over A over 2 readouts' in page
    # A config change without new data is named as such.
    config.write_text(
        config.read_text().replace('metric_type = "binary"', 'metric_type = "binary"\nseed = 7')
    )
    assert invoke(*args, "2026-11-22").exit_code == 0
    html = (out / "good" / "2026-11-22" / "report.html").read_text()
    assert "uses the same data with a changed configuration" in html


def test_a_second_run_on_the_same_reports_is_refused_while_one_holds_the_lock(tmp_path):
    from readout import store

    config = project(tmp_path, [{"name": "good", "file": "good.csv"}], {"good.csv": binary_frame()})
    out = tmp_path / "reports"
    with store.owning(out, "render"):
        result = invoke("run", "--config", str(config), "--output", str(out))
    assert result.exit_code == 2
    assert "another readout render (process " in result.output
    assert not (out / "good").exists()


def test_parallel_runs_report_every_experiment_with_plain_log_lines(tmp_path):
    config = project(
        tmp_path,
        [
            {"name": "one", "file": "good.csv"},
            {"name": "two", "file": "good.csv"},
            {"name": "three", "file": "good.csv"},
        ],
        {"good.csv": binary_frame()},
    )
    out = tmp_path / "reports"
    result = invoke("run", "--config", str(config), "--output", str(out), "-j", "2")
    assert result.exit_code == 0, result.output
    for name in ("one", "two", "three"):
        assert list((out / name).glob("*/report.pdf"))
    # Not a terminal (as under cron): one plain line per experiment, no progress bar.
    lines = [line for line in result.output.splitlines() if line.startswith("readout: [")]
    assert sorted(line[9:14] for line in lines) == ["[1/3]", "[2/3]", "[3/3]"]


POOLED = """
[[experiments]]
name = "pooled"
title = "Pooled"
analysis = "hierarchical"
data = "data/units.csv"
unit = "creator"
estimate = "estimate"
std_error = "se"
"""


def test_recovery_compares_a_pooling_readout_with_the_true_effects(tmp_path):
    """Any analysis that declares a recovery check gets one; the CLI knows none by name."""
    rng = np.random.default_rng(3)
    true = rng.normal(0.5, 0.4, 60)
    se = rng.uniform(0.1, 1.0, 60)
    (tmp_path / "data").mkdir()
    creators = [f"c{i:03d}" for i in range(60)]
    pd.DataFrame({"creator": creators, "estimate": rng.normal(true, se), "se": se}).to_csv(
        tmp_path / "data" / "units.csv", index=False
    )
    pd.DataFrame({"creator": creators, "true_effect": true}).to_csv(
        tmp_path / "truth.csv", index=False
    )
    config = tmp_path / "experiments.toml"
    config.write_text(POOLED)
    out = str(tmp_path / "reports")
    assert invoke("run", "--config", str(config), "--output", out).exit_code == 0
    result = invoke(
        "recovery", "--config", str(config), "--output", out, "pooled",
        "--truth", str(tmp_path / "truth.csv"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {line.split()[2]: line.split() for line in result.output.splitlines()[2:]}
    assert set(rows) == {"no", "complete", "hierarchical"}, result.output
    # Pooling beats no pooling on these noisy estimates: a smaller mean squared error.
    assert float(rows["hierarchical"][-3]) < float(rows["no"][-3])
    missing = invoke(
        "recovery", "--config", str(config), "--output", out, "pooled",
        "--truth", str(tmp_path / "truth.csv"), "--truth-column", "effect",
    )  # fmt: skip
    assert missing.exit_code == 2 and "column 'effect' is missing" in missing.output


def test_recovery_of_an_analysis_without_one_exits_2_naming_it(tmp_path):
    config = project(tmp_path, [{"name": "signup", "file": "s.csv"}], {"s.csv": binary_frame()})
    (tmp_path / "truth.csv").write_text("unit,true_effect\na,1\n")
    result = CliRunner().invoke(
        main,
        ["recovery", "--config", str(config), "signup", "--truth", str(tmp_path / "truth.csv")],
    )
    assert result.exit_code == 2
    assert "'signup' is an experiment of analysis ab_test" in result.output
    assert "no recovery check" in result.output and "hierarchical" in result.output
