"""``make bench``: seconds and peak memory per demo experiment, and closed-form throughput.

Each demo experiment is fitted in a fresh process (so its peak resident memory is its own)
through the same code path as ``readout run``; then 1,000 simulated binary experiments are
read out with the exact Beta posterior to measure readouts per second.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _child(name: str, output: str) -> None:
    from readout import runner
    from readout.config import load_config

    config = load_config(ROOT / "experiments.toml")
    (experiment,) = [e for e in config.experiments if e.name == name]
    started = time.perf_counter()
    outcome = runner.run_one(experiment, Path(output), "2000-01-01", force=True)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{seconds:.2f} {peak_mb:.0f} {outcome.code}")


def _closed_form(n_experiments: int = 1000) -> float:
    from analyses import ab_test
    from analyses.base import Settings

    spec = ab_test.Spec(
        name="b",
        title="b",
        analysis="ab_test",
        data="-",
        group="arm",
        control="A",
        metric="y",
        metric_type="binary",
    )
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(n_experiments):
        n = 2000
        frames.append(
            pd.DataFrame(
                {"arm": np.repeat(["A", "B"], n), "y": rng.binomial(1, [0.1] * n + [0.11] * n)}
            )
        )
    settings = Settings(exact_draws=8000)
    started = time.perf_counter()
    for frame in frames:
        ab_test.fit(spec, frame, settings)
    return n_experiments / (time.perf_counter() - started)


POOLING_CONFIG = """
[[experiments]]
name = "creators-{n}"
title = "{n:,} creators in 20 genres"
analysis = "hierarchical"
data = "creators-{n}.csv"
unit = "creator"
group = "genre"
estimate = "estimate"
std_error = "std_error"
users = "users"
unit_label = "creator"
group_label = "genre"
value_prefix = "$"
"""


def _pooling_data(n: int, folder: Path) -> None:
    """Pre-summarised creators: 20 genres, effects sd 0.4 around genre means."""
    rng = np.random.default_rng(n)
    genre = rng.integers(0, 20, n)
    genre_mean = rng.normal(0.3, 0.3, 20)
    users = np.exp(rng.uniform(np.log(30), np.log(5000), n)).astype(int)
    se = 2 * 2.3 / np.sqrt(users)
    effect = genre_mean[genre] + 0.4 * rng.standard_normal(n)
    frame = pd.DataFrame(
        {
            "creator": [f"c{i:06d}" for i in range(n)],
            "genre": [f"genre-{g:02d}" for g in genre],
            "users": users,
            "estimate": effect + se * rng.standard_normal(n),
            "std_error": se,
        }
    )
    frame.to_csv(folder / f"creators-{n}.csv", index=False)
    (folder / f"creators-{n}.toml").write_text(POOLING_CONFIG.format(n=n))


def _timed_run(config: Path, output: Path) -> tuple[float, float, int]:
    """Wall seconds, peak resident MB and exit code of a whole ``readout run``."""
    script = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "code = subprocess.call([sys.executable, '-m', 'readout.cli', 'run', '--config', "
        f"'{config}', '--output', '{output}', '--force'], stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL); "
        "print(time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, code)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def pooling_rows(sizes: tuple[int, ...] = (500, 10_000, 100_000)) -> list[tuple]:
    """Whole-run time, memory and report sizes for pre-summarised creators."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in sizes:
            _pooling_data(n, folder)
            seconds, peak, code = _timed_run(folder / f"creators-{n}.toml", folder / "reports")
            readout = next(
                p for p in (folder / "reports" / f"creators-{n}").iterdir() if p.is_dir()
            )
            kb = {
                name: (readout / name).stat().st_size / 1024
                for name in ("report.html", "report.pdf", "bundle.json")
            }
            rows.append(
                (n, seconds, peak, code, kb["report.html"], kb["report.pdf"], kb["bundle.json"])
            )
    return rows


def cache_rows(names: tuple[str, ...] = ("signup-page", "checkout-aa", "creator-pricing")):
    """Seconds of a first run and of a re-run with nothing changed (the fit cache)."""
    with tempfile.TemporaryDirectory() as tmp:
        only = [arg for name in names for arg in ("--only", name)]
        config = ROOT / "experiments.toml"
        times = []
        for _ in range(2):
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "readout.cli",
                    "run",
                    "--config",
                    str(config),
                    "--output",
                    tmp,
                    *only,
                ],
                check=True,
                capture_output=True,
                cwd=ROOT,
            )
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    """Print the benchmark tables."""
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
        return
    from readout.config import load_config

    config = load_config(ROOT / "experiments.toml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for experiment in config.experiments:
            result = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child", experiment.name, tmp],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            seconds, peak, code = result.stdout.split()[-3:]
            rows.append((experiment.name, experiment.spec.analysis, seconds, peak, code))
    print(f"{'experiment':<18} {'analysis':<13} {'seconds':>8} {'peak MB':>8} {'exit':>5}")
    print("-" * 56)
    for name, analysis, seconds, peak, code in rows:
        print(f"{name:<18} {analysis:<13} {float(seconds):>8.2f} {float(peak):>8.0f} {code:>5}")
    rate = _closed_form()
    print()
    print(
        f"binary closed form: {rate:,.0f} readouts per second over 1,000 simulated "
        "experiments (2 x 2,000 users, 8,000 posterior draws each)"
    )
    print(
        "seconds include fitting, figures, bundle, HTML and PDF; the first continuous fit "
        "also compiles C code once (cached in .cache/pytensor)."
    )
    first, again = cache_rows()
    print()
    print(
        f"fit cache: first run {first:.1f} s, re-run with nothing changed {again:.1f} s "
        f"({100 * again / first:.0f}% of the first; signup-page, checkout-aa, creator-pricing);"
    )
    print(
        "  a re-run fits nothing: what remains is start-up (importing the analyses to "
        "validate the config, about 4 s) and hashing the data"
    )
    print()
    print("hierarchical pooling, pre-summarised creators in 20 genres, whole `readout run`")
    print(
        f"{'creators':>9} {'seconds':>8} {'peak MB':>8} {'exit':>5} {'HTML KB':>8} "
        f"{'PDF KB':>7} {'bundle KB':>9}"
    )
    print("-" * 60)
    for n, seconds, peak, code, html, pdf, bundle in pooling_rows():
        print(
            f"{n:>9,} {seconds:>8.1f} {peak:>8.0f} {code:>5} {html:>8.0f} {pdf:>7.0f} "
            f"{bundle:>9.0f}"
        )
    print(
        "targets: 100,000 creators within 60 s and 2 GB; reports stay small (top-N tables, "
        "the full table in units.csv)"
    )


if __name__ == "__main__":
    main()
