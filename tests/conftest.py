import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from readout import caches

ROOT = Path(__file__).resolve().parent.parent
# Spark's JVM in the tests (local mode, queries of a few thousand rows) compiles with the quick
# compiler only and collects with one thread: half the CPU of the default, whose optimising
# compiler and parallel collector pay off on long jobs, never in a test's few queries (the
# Spark test `make test` runs: 64 s of CPU on 2 cores, 35 s so). A user's Spark is untouched.
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
# The per-user compile caches the command line uses too, so that repeated runs stay fast.
caches.configure()

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test left open (readout's own code closes each it draws).

    pyplot warns past 20 open figures and the suite turns warnings into errors, so a test
    that draws without closing would fail a later, unrelated in-process run.
    """
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(autouse=True, scope="session")
def _printing_warmed():
    """WeasyPrint, its fonts and the page stylesheet made ready once in each test process.

    A run in this process (``invoke("run")``) starts a printer (:mod:`readout.printer`), a
    process forked from this one. Forked from a process that has its print setup, it
    inherits it, as it would inherit WeasyPrint's import; cold, each printer paid about a
    second of CPU for it, in hundreds of runs. Runs of the command line as a process of its
    own (:func:`tests.readout.running.start`) still start a cold printer, as a user's does.
    """
    from readout import render

    render.warm_printing()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with its own data/ and an empty reports/, like a user's project."""
    (tmp_path / "data").mkdir()
    return tmp_path


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def copy_demo(name: str, target: Path) -> Path:
    source = ROOT / "data" / name
    if not source.is_file():
        pytest.fail(f"{source} is missing: run `make data` first")
    return Path(shutil.copy(source, target))


def fetch_rows(analysis: str, spec, frame: pd.DataFrame, folder: Path, files=None):
    """Run the real data path on a frame: a CSV read by DuckDB, checked in the engine, then
    the analysis's ``load``. Returns ``(data, warnings)``."""
    from readout import registry
    from readout.data import text_columns
    from readout.queries import Where, fetch
    from readout.sources import open_file

    declared = registry.get(analysis)
    path = folder / f"{spec.name}-data.csv"
    frame.to_csv(path, index=False)
    request = declared.request(spec)
    engine = open_file(path, text_columns(request))
    others = {name: open_file(p, text_columns(request)) for name, p in (files or {}).items()}
    try:
        fetched, _ = fetch(
            engine, request, Where(file=True, label=str(path)), 10_000_000, None, others
        )
    finally:
        engine.close()
        for other in others.values():
            other.close()
    return declared.load(spec, fetched, files or {})


@pytest.fixture
def rows(tmp_path):
    """``rows(analysis, spec, frame)`` -> the analysis's loaded data, through DuckDB."""

    def load(analysis, spec, frame, files=None):
        return fetch_rows(analysis, spec, frame, tmp_path, files)

    return load


#: Under ``make test`` (pytest-xdist, ``--dist loadfile``: one file's tests in one process, so a
#: module-scoped fixture runs once) these files start first, longest first, so that neither
#: process is left with a long file at the end while the other idles. Seconds each took in a
#: serial ``--durations`` run on a loaded host; a file not listed starts after them, in order.
SLOW_FILES: dict[str, float] = {
    "tests/readout/test_engines.py": 186,
    "tests/readout/test_planned.py": 150,
    "tests/readout/test_faults_data.py": 148,
    "tests/readout/test_pdf_layout.py": 145,
    "tests/analyses/test_mixture.py": 143,
    "tests/readout/test_faults.py": 132,
    "tests/readout/test_store.py": 92,
    "tests/readout/test_faults_sources.py": 91,
    "tests/analyses/test_sequential.py": 82,
    "tests/readout/test_verdict_agreement.py": 75,
    "tests/readout/test_run_pool.py": 68,
    "tests/readout/test_quantile_sql.py": 64,
    "tests/readout/test_programme_run.py": 63,
    "tests/readout/test_cli.py": 50,
    "tests/readout/test_quarto.py": 47,
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """In an xdist worker, the slowest files first; a plain ``pytest`` keeps the file order."""
    if not hasattr(config, "workerinput") or not SLOW_FILES:
        return
    first = {
        path: i for i, path in enumerate(dict.fromkeys(i.nodeid.split("::")[0] for i in items))
    }
    items.sort(
        key=lambda item: (
            -SLOW_FILES.get(item.nodeid.split("::")[0], 0.0),
            first[item.nodeid.split("::")[0]],
        )
    )


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """``make faults`` ends with how many bad-input and fault cases held."""
    if config.option.markexpr != "faults":
        return
    held = len(terminalreporter.stats.get("passed", []))
    broke = len(terminalreporter.stats.get("failed", [])) + len(
        terminalreporter.stats.get("error", [])
    )
    terminalreporter.write_line(
        f"faults: {held} of {held + broke} bad-input and fault cases held", bold=True
    )
