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


def main() -> None:
    """Print the benchmark table."""
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
        return
    from readout.config import load_config

    config = load_config(ROOT / "experiments.toml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for experiment in config.experiments:
            result = subprocess.run(
                [sys.executable, "-m", "readout.bench", "--child", experiment.name, tmp],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            seconds, peak, code = result.stdout.split()[-3:]
            rows.append((experiment.name, experiment.spec.analysis, seconds, peak, code))
    print(f"{'experiment':<18} {'analysis':<10} {'seconds':>8} {'peak MB':>8} {'exit':>5}")
    print("-" * 53)
    for name, analysis, seconds, peak, code in rows:
        print(f"{name:<18} {analysis:<10} {float(seconds):>8.2f} {float(peak):>8.0f} {code:>5}")
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


if __name__ == "__main__":
    main()
