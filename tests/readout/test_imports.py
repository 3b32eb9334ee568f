"""Nothing is imported before it is needed: the import rule of a small readout, as behaviour.

Each check runs in a fresh interpreter (this test process has imported everything) and
reads ``sys.modules`` afterwards; no timing is asserted (the bench times it).
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
[[experiments]]
name = "signup"
title = "Signup"
analysis = "ab_test"
data = "signup.csv"
group = "arm"
control = "A"
metric = "converted"
metric_type = "binary"
"""

#: A sampler's libraries: a binary A/B readout's posterior is exact.
SAMPLERS = ("pymc", "pytensor", "arviz", "numba")
#: What drawing, printing and the compiler of queries import: not needed to check a config.
RENDERING = ("xarray", "matplotlib", "weasyprint", "pyarrow", "pandas")
#: What an exact posterior's draws need only when written to ``posterior.nc`` (not by
#: default), and the frames a data file's per-arm sums never pass through.
DRAWS_FILE = ("xarray", "h5netcdf", "h5py", "pandas", "pyarrow")


def _loaded_after(script: str, folder: Path) -> list[str]:
    """Every module a fresh interpreter holds after running ``script`` in ``folder``."""
    code = textwrap.dedent(script) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _top(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.fixture
def binary_ab(tmp_path: Path) -> Path:
    lines = ["arm,converted"] + [f"{'AB'[i % 2]},{int(i % 7 == 0)}" for i in range(400)]
    (tmp_path / "signup.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "experiments.toml").write_text(CONFIG)
    return tmp_path


def test_validating_a_binary_ab_imports_no_sampler_and_nothing_that_draws_or_prints(binary_ab):
    loaded = _loaded_after(
        """
        from click.testing import CliRunner
        from readout.cli import main
        result = CliRunner().invoke(main, ["validate"])
        assert result.exit_code == 0, result.output
        """,
        binary_ab,
    )
    assert {"readout", "duckdb"} <= _top(loaded)  # the check ran
    assert not _top(loaded) & set(SAMPLERS + RENDERING)
    # A plain data file's checks are written as DuckDB SQL, not compiled by ibis.
    assert "ibis" not in _top(loaded)
    # No recipient is named, so no address is checked: email-validator's rules stay unread.
    assert "email_validator" not in _top(loaded)
    # Only the analysis the config names: not the other analyses' modules.
    assert "analyses.ab_test" in loaded
    for other in ("analyses.mixture", "analyses.regression", "analyses.hierarchical"):
        assert other not in loaded


@pytest.mark.spot
@pytest.mark.slow
def test_a_whole_binary_ab_readout_imports_no_sampler_nor_xarray_nor_scipy(binary_ab):
    loaded = _loaded_after(
        """
        from click.testing import CliRunner
        from readout.cli import main
        result = CliRunner().invoke(main, ["run"])
        assert result.exit_code == 0, result.output
        """,
        binary_ab,
    )
    assert (binary_ab / "reports" / "signup").is_dir()  # the readout was written
    assert not _top(loaded) & set(SAMPLERS + DRAWS_FILE)
    # The file's SQL was written without ibis; the binary tests' normal and chi-square
    # functions need no SciPy.
    assert not _top(loaded) & {"ibis", "scipy"}
    # The figures were drawn from the draws in memory; no posterior.nc was written.
    (folder,) = [p for p in (binary_ab / "reports" / "signup").iterdir() if p.is_dir()]
    assert (folder / "fig-lift.svg").is_file()
    assert not (folder / "posterior.nc").exists()
    # Printed by the printer process (readout.printer), which imported WeasyPrint: not here.
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert "weasyprint" not in _top(loaded)


@pytest.mark.slow
def test_a_whole_continuous_ab_readout_imports_no_scipy(tmp_path):
    """Its Welch test's Student t comes from analyses.core.stats, not SciPy."""
    lines = ["arm,spend"] + [f"{'AB'[i % 2]},{(i * 37) % 101 / 7:.3f}" for i in range(600)]
    (tmp_path / "spend.csv").write_text("\n".join(lines) + "\n")
    config = CONFIG.replace('"signup.csv"', '"spend.csv"').replace('"converted"', '"spend"')
    (tmp_path / "experiments.toml").write_text(config.replace('"binary"', '"continuous"'))
    loaded = _loaded_after(
        """
        from click.testing import CliRunner
        from readout.cli import main
        result = CliRunner().invoke(main, ["run"])
        assert result.exit_code == 0, result.output
        """,
        tmp_path,
    )
    (folder,) = [p for p in (tmp_path / "reports" / "signup").iterdir() if p.is_dir()]
    bundle = json.loads((folder / "bundle.json").read_text())
    assert bundle["frequentist"]["test"] == "Welch t-test"
    assert not _top(loaded) & {"scipy", *SAMPLERS}


def test_loading_a_config_without_a_programme_history_imports_no_programme(binary_ab):
    loaded = _loaded_after(
        """
        from click.testing import CliRunner
        from readout.cli import main
        result = CliRunner().invoke(main, ["validate"])
        assert result.exit_code == 0, result.output
        """,
        binary_ab,
    )
    assert "readout.config" in loaded  # the config was read
    for module in ("readout.programme", "analyses.core.programme", "analyses.ab_test.programme"):
        assert module not in loaded


@pytest.mark.slow
def test_a_warehouse_readout_run_loads_only_what_it_draws_while_its_query_runs(tmp_path):
    """The libraries loaded beside a warehouse's query are the figures' only.

    The page is printed by the run's printer process (not here: no WeasyPrint), and a binary
    readout needs neither xarray nor SciPy nor a JSON schema: a run waits for what loads
    beside its query, so loading them would only have made it wait.
    """
    from tests.readout.running import warehouse_project

    warehouse_project(tmp_path)
    loaded = _loaded_after(
        """
        from click.testing import CliRunner
        from readout.cli import main
        result = CliRunner().invoke(main, ["run"])
        assert result.exit_code == 0, result.output
        """,
        tmp_path,
    )
    (folder,) = [p for p in (tmp_path / "reports" / "banner").iterdir() if p.is_dir()]
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert "matplotlib" in _top(loaded)  # the figures were drawn here
    assert not _top(loaded) & {"weasyprint", "xarray", "scipy", "jsonschema", *SAMPLERS}


def test_a_sequential_design_imports_neither_scipy_signal_nor_optimize(tmp_path):
    """A planned readout's boundary (a second of imports before): NumPy's FFT and the
    root finder of analyses.core.stats."""
    loaded = _loaded_after(
        """
        from analyses.core import sequential
        design = sequential.design(0.97, 25)
        assert 2.1 < design.constant < 2.2, design
        bounds = sequential.spending_bounds(sequential.np.arange(1, 6) / 5, 0.03, "pocock")
        assert len(bounds) == 5
        """,
        tmp_path,
    )
    assert "analyses.core.sequential" in loaded
    assert not {"scipy.signal", "scipy.optimize", "scipy.stats"} & set(loaded)
