"""Running the command line in the tests: a project on disk, the CLI in-process or as a process.

One home for what the CLI tests share: a config of A/B experiments over CSV files
(:func:`project`), the command line run in this process (:func:`invoke`) or as a real
process (:func:`start`, :func:`finish`), and what a bad input must look like
(:func:`assert_bad_input`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from readout import store
from readout.cli import main
from tests.programme_config import PRIMARY_PURCHASE, csv_experiment

ROOT = Path(__file__).resolve().parents[2]
#: The command line as a process of its own.
READOUT = [sys.executable, "-m", "readout"]


def binary_frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Two arms of ``n`` users each, converting at 10% (A) and 12% (B)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"arm": np.repeat(["A", "B"], n), "y": rng.binomial(1, [0.1] * n + [0.12] * n)}
    )


def project(tmp_path: Path, experiments: list[dict], frames: dict[str, pd.DataFrame]) -> Path:
    """A config of A/B experiments (``name``, ``file``, optional ``metric_type``, ``extra``
    lines, ``title``) over ``frames`` written to ``tmp_path/data``; returns the config."""
    (tmp_path / "data").mkdir(exist_ok=True)
    for file, frame in frames.items():
        frame.to_csv(tmp_path / "data" / file, index=False)
    text = "[settings]\nexact_draws = 4000\n" + "".join(
        csv_experiment(**({"title": e["name"], "metric": "y"} | e)) for e in experiments
    )
    config = tmp_path / "experiments.toml"
    config.write_text(text)
    return config


def invoke(*args: str, env: dict | None = None):
    """The command line in this process (exceptions are not caught: a traceback fails)."""
    return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)


def assert_bad_input(result, *fragments: str, usage: bool = True) -> None:
    """Exit 2, a message naming what is wrong and the fix, and never a traceback.

    ``usage``: click's own "Invalid value" (a bad option) counts as naming the fix.
    """
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)
    assert "Fix:" in result.output or (usage and "Invalid value" in result.output)


def start(config: Path, out: Path, *args: str, command: str = "run") -> subprocess.Popen:
    """``readout COMMAND --config CONFIG --output OUT ARGS`` as a process of its own."""
    line = [*READOUT, command, "--config", str(config), "--output", str(out), *args]
    return subprocess.Popen(
        line, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    """Wait for a process started by :func:`start`: its exit code and its stderr."""
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


def run(config: Path, out: Path, *args: str, env: dict | None = None):
    """``readout run --config CONFIG --output OUT ARGS`` in this process."""
    return invoke("run", "--config", str(config), "--output", str(out), *args, env=env)


def copy_project(made: tuple[Path, Path], target: Path) -> tuple[Path, Path]:
    """A copy in ``target`` of a project a module-scoped fixture ran once: ``(config, out)``.

    ``made`` is the original's config and output folder, both inside the config's folder; a
    test changes its own copy (its output's sent log, status file, data), never the original.
    """
    config, out = made
    shutil.copytree(config.parent, target, symlinks=True, dirs_exist_ok=True)
    return target / config.name, target / out.relative_to(config.parent)


def demo_readout(out: Path, name: str, day: str) -> Path:
    """The demo config's experiment ``name`` run for ``day`` into ``out`` (it must succeed):
    its readout folder."""
    result = run(ROOT / "experiments.toml", out, "--only", name, "--date", day)
    assert result.exit_code == 0, result.output
    return out / name / day


def copy_data(root: Path, *names: str) -> None:
    """Copy the demo's data files ``names`` (``make data`` made them) into ``root/data``."""
    (root / "data").mkdir(exist_ok=True)
    for name in names:
        shutil.copy(ROOT / "data" / name, root / "data" / name)


def slow_project(tmp_path: Path) -> tuple[Path, Path]:
    """A Student-t experiment, seconds of sampling: long enough to be caught (or killed) mid-fit.

    Returns the config and the output folder (not made yet).
    """
    rng = np.random.default_rng(5)
    shift = np.repeat([0.0, 0.3], 400)
    frame = pd.DataFrame({"arm": np.repeat(["A", "B"], 400), "y": rng.standard_t(4, 800) + shift})
    config = project(
        tmp_path,
        [{"name": "slow", "file": "s.csv", "metric_type": "continuous", "extra": "robust = true"}],
        {"s.csv": frame},
    )
    config.write_text(config.read_text().replace("[settings]\n", "[settings]\ndraws = 4000\n"))
    return config, tmp_path / "out"


def wait_for_staging(out: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until a run started by :func:`start` is building a readout (inside its fit)."""
    deadline = time.monotonic() + timeout
    staging = out / store.STAGING
    while time.monotonic() < deadline:
        if staging.is_dir() and any(staging.iterdir()):
            time.sleep(0.5)  # well inside the fit
            return
        assert process.poll() is None, finish(process)
        time.sleep(0.05)
    raise AssertionError("the run never started a readout")


#: One A/B experiment read from a small DuckDB warehouse (:func:`warehouse_project`).
WAREHOUSE_CONFIG = (
    """
[sources.warehouse]
url = "duckdb://warehouse.duckdb"

[[experiments]]
name = "banner"
title = "Banner"
analysis = "ab_test"
source = "warehouse"
assignments = "SELECT user_id AS unit, variant AS arm, exposed_at FROM exposures"
control = "control"
"""
    + PRIMARY_PURCHASE
)


def warehouse_project(folder: Path) -> Path:
    """``folder/experiments.toml`` over a DuckDB warehouse of 600 users exposed 20 days ago."""
    from datetime import UTC, datetime, timedelta

    import duckdb

    from tests.engines import insert_rows

    exposed = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=20)
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("CREATE TABLE exposures (user_id INTEGER, variant TEXT, exposed_at TIMESTAMP)")
    con.execute("CREATE TABLE orders (user_id INTEGER, ts TIMESTAMP)")
    insert_rows(
        con, "exposures", [(i, ("control", "treatment")[i % 2], exposed) for i in range(600)]
    )
    bought = [(i, exposed + timedelta(hours=1)) for i in range(0, 600, 9)]
    insert_rows(con, "orders", bought)
    con.close()
    config = folder / "experiments.toml"
    config.write_text(WAREHOUSE_CONFIG)
    return config


def chart_text(path: Path) -> str:
    """A chart file's SVG as :func:`without_random_ids` reads it."""
    return without_random_ids(path.read_text())


def without_random_ids(svg: str) -> str:
    """A chart's SVG without the ids matplotlib draws at random (``m`` or ``p`` and ten hex
    digits): the same chart has the same text, its colours included."""
    import re

    return re.sub(r"\b[mp][0-9a-f]{10}\b", "", svg)
