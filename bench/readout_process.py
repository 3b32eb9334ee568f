"""The whole first ``readout run`` and ``readout validate`` process of a small A/B readout.

Issue 25's fixed cost as a user meets it: a new config over one small CSV, run once (every
import, the query's compile, the fit, the figures, the page and the PDF) and validated once
(in a fresh folder: no compiled query cached). Three generated CSV experiments of different
shapes and seeds (the target's), and two read from a generated DuckDB warehouse, one of
them planned (read every day: its sequential boundary); each command a fresh process, its
wall and CPU (user + system) seconds from the kernel's accounting of the finished child.

``python bench/readout_process.py [--readout PATH ...] [-n 2] [--shape NAME ...]``: ``--shape``
picks shapes (default: all); ``--readout`` names the
``readout`` executables to compare (default: this checkout's); they take turns. The
commands run as in a user's shell, which keeps Python's compiled bytecode: a
``PYTHONDONTWRITEBYTECODE`` set around the bench is taken out of theirs (with it, every
import of readout's own modules compiles them from source). The first line gives the host's
speed, the seconds of one fixed pure-Python loop, to compare a run with another host's.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """[[experiments]]
name = "{name}"
title = "{name}"
analysis = "ab_test"
data = "data.csv"
group = "arm"
control = "A"
metric = "y"
metric_type = "{kind}"
"""

#: The same A/B test read from a DuckDB warehouse: exposures and orders, one aggregate query.
WAREHOUSE_CONFIG = """[sources.warehouse]
url = "duckdb://warehouse.duckdb"

[[experiments]]
name = "{name}"
title = "{name}"
analysis = "ab_test"
source = "warehouse"
assignments = "SELECT user_id AS unit, arm, exposed_at FROM exposures"
control = "A"
{planned}
[[experiments.metrics]]
name = "y"
sql = "SELECT user_id AS unit, ts, 1 AS value FROM orders"
aggregate = "any"
kind = "binary"
window_days = 3
role = "primary"
"""
#: A warehouse readout read every day: day 10 of 28 planned, its sequential boundary.
PLANNED = 'start = "{start}"\nplanned_days = 28\n'

#: name: (rows, arms, metric type, seed, source). The first three are the target's.
SHAPES = {
    "binary-1500": (1500, 2, "binary", 1, "csv"),
    "continuous-4000": (4000, 2, "continuous", 2, "csv"),
    "binary-3-arms-800": (800, 3, "binary", 3, "csv"),
    "warehouse-2000": (2000, 2, "binary", 4, "warehouse"),
    "warehouse-planned-2000": (2000, 2, "binary", 5, "planned"),
}


def make(folder: Path, name: str) -> Path:
    """A config folder: ``data.csv`` (or ``warehouse.duckdb``) and ``experiments.toml``."""
    rows, arms, kind, seed, source = SHAPES[name]
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, arms, rows)
    if kind == "binary":
        y = rng.binomial(1, 0.10 + 0.01 * arm).astype(str)
    else:
        y = np.char.mod("%.3f", rng.lognormal(3 + 0.02 * arm, 0.8))
    folder.mkdir(parents=True)
    if source != "csv":
        _warehouse(folder / "warehouse.duckdb", arm, y == "1", rng)
        start = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
        planned = PLANNED.format(start=start) if source == "planned" else ""
        (folder / "experiments.toml").write_text(
            WAREHOUSE_CONFIG.format(name=name, planned=planned)
        )
        return folder
    lines = ["arm,y"] + [f"{'ABC'[a]},{v}" for a, v in zip(arm, y, strict=True)]
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    (folder / "experiments.toml").write_text(CONFIG.format(name=name, kind=kind))
    return folder


def _warehouse(path: Path, arm: np.ndarray, bought: np.ndarray, rng) -> None:
    """Exposures over the last ten days and an order an hour after each buyer's exposure."""
    import duckdb

    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    exposed = [
        now - timedelta(days=10) + timedelta(hours=float(h)) for h in rng.uniform(0, 216, arm.size)
    ]
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE exposures (user_id INTEGER, arm TEXT, exposed_at TIMESTAMP)")
    con.execute("CREATE TABLE orders (user_id INTEGER, ts TIMESTAMP)")
    con.executemany(
        "INSERT INTO exposures VALUES (?, ?, ?)",
        [(i, "ABC"[int(a)], t) for i, (a, t) in enumerate(zip(arm, exposed, strict=True))],
    )
    con.executemany(
        "INSERT INTO orders VALUES (?, ?)",
        [(int(i), exposed[i] + timedelta(hours=1)) for i in np.flatnonzero(bought)],
    )
    con.close()


#: A user's shell: Python writes and reads its compiled bytecode.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
#: The run's target (issue 25): the whole first ``readout run`` process, wall seconds.
TARGET = 2.0


def host_speed() -> float:
    """Seconds of one fixed pure-Python loop (the fastest of three): the host's speed."""
    loop = "sum(range(10_000_000))"
    return min(timeit.repeat(loop, number=1, repeat=3))


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one finished process (its children's too)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    """Print wall and CPU seconds per shape, command and executable."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readout", action="append", default=None)
    parser.add_argument("-n", type=int, default=2, help="runs of each (they take turns)")
    parser.add_argument("--shape", action="append", choices=SHAPES, help="only these shapes")
    args = parser.parse_args()
    readouts = args.readout or [str(ROOT / ".venv" / "bin" / "readout")]
    print(f"host speed: sum(range(10**7)) in {host_speed():.3f} s; target: run {TARGET} s wall")
    print(f"{'shape':20s} {'command':9s} {'readout':40s} wall s      CPU s")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.shape or SHAPES:
            folder = make(Path(tmp) / name, name)
            found: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for _ in range(args.n):
                for exe in readouts:
                    for command in ("run", "validate"):
                        shutil.rmtree(folder / "reports", ignore_errors=True)
                        found.setdefault((command, exe), []).append(timed([exe, command], folder))
            for (command, exe), runs in found.items():
                walls = ", ".join(f"{w:.2f}" for w, _ in runs)
                cpus = ", ".join(f"{c:.2f}" for _, c in runs)
                label = os.path.relpath(exe, "/") if len(exe) < 40 else "..." + exe[-37:]
                print(f"{name:20s} {command:9s} {label:40s} {walls:11s} {cpus}")


if __name__ == "__main__":
    main()
