"""Write ``quantile_numbers.json``: GrowthBook's gbstats on quantile metrics, for the tests.

gbstats (https://github.com/growthbook/growthbook, ``packages/stats``) needs Python 3.11 and
pandas below 2, so it runs in an environment of its own, not the project's:

    uv venv -p python3.11 /tmp/gbstats-venv
    uv pip install -p /tmp/gbstats-venv/bin/python gbstats==0.8.0 "pandas<2"
    /tmp/gbstats-venv/bin/python tests/gbstats/make_quantile_numbers.py

Each scenario draws per-unit values (whole milliseconds: each user's mean page load) for a
control and a treatment, and stores them as value -> count per arm with gbstats' inputs and
outputs. gbstats' ``QuantileStatistic`` takes, per arm, the units ``n`` (and ``n_star``), the
quantile level ``nu``, the sample quantile and its 95% order-statistic bounds, the quantiles at
``nu -/+ 1.96 sqrt(nu (1 - nu) / n)`` (here numpy's ``inverted_cdf``: the smallest value with at
least that share of units at or below it, as GrowthBook's SQL takes it). Stored: its frequentist
two-sided t-test of the relative difference (estimate, 95% CI, p-value) and its Bayesian
effect test with the default flat prior (chance to win, for a metric where lower is better
too, mean and 95% interval of the relative difference).
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
from gbstats.models.statistics import QuantileStatistic

OUT = Path(__file__).with_name("quantile_numbers.json")
Z = 1.959963984540054
#: (name, quantile, units per arm, treatment's factor on every value, seed)
SCENARIOS = [
    ("p90_slower", 0.9, 4000, 1.05, 1),
    ("p90_same", 0.9, 4000, 1.00, 2),
    ("p50_faster", 0.5, 3000, 0.97, 3),
    ("p99_slower", 0.99, 6000, 1.10, 4),
    ("p95_small", 0.95, 800, 1.08, 5),
]


def unit_values(rng: np.random.Generator, n: int, factor: float) -> np.ndarray:
    """Each user's mean page load (ms): own speed x the mean of 1 to ~8 noisy loads."""
    speed = rng.lognormal(np.log(900), 0.35, n)
    count = rng.poisson(3, n) + 1
    who = np.repeat(np.arange(n), count)
    loads = speed[who] * rng.lognormal(0, 0.3, who.size) * factor
    return np.round(np.bincount(who, weights=loads, minlength=n) / count)


def quantile_stat(values: np.ndarray, nu: float) -> dict:
    n = values.size
    half = Z * np.sqrt(nu * (1 - nu) / n)
    q = lambda p: float(np.quantile(values, min(max(p, 0.0), 1.0), method="inverted_cdf"))  # noqa: E731
    return {
        "n": n,
        "n_star": n,
        "nu": nu,
        "quantile_hat": q(nu),
        "quantile_lower": q(nu - half),
        "quantile_upper": q(nu + half),
    }


def main() -> None:
    scenarios = []
    for name, nu, n, factor, seed in SCENARIOS:
        rng = np.random.default_rng(seed)
        arms = {"control": unit_values(rng, n, 1.0), "treatment": unit_values(rng, n, factor)}
        inputs = {arm: quantile_stat(v, nu) for arm, v in arms.items()}
        a, b = (QuantileStatistic(**inputs[arm]) for arm in ("control", "treatment"))
        freq = TwoSidedTTest(a, b, FrequentistConfig()).compute_result()
        bayes = EffectBayesianABTest(a, b, EffectBayesianConfig()).compute_result()
        lower = EffectBayesianABTest(a, b, EffectBayesianConfig(inverse=True)).compute_result()
        data = {}
        for arm, v in arms.items():
            values, counts = np.unique(v, return_counts=True)
            data[arm] = {"values": values.astype(int).tolist(), "counts": counts.tolist()}
        scenarios.append(
            {
                "name": name,
                "quantile": nu,
                "true_factor": factor,
                "data": data,
                "inputs": inputs,
                "frequentist": {
                    "estimate": float(freq.expected),
                    "ci": [float(x) for x in freq.ci],
                    "p_value": float(freq.p_value),
                    "error": freq.error_message,
                },
                "bayesian": {
                    "chance_to_win": float(bayes.chance_to_win),
                    "chance_to_win_lower_is_better": float(lower.chance_to_win),
                    "mean": float(bayes.expected),
                    "ci": [float(x) for x in bayes.ci],
                    "error": bayes.error_message,
                },
            }
        )
    out = {
        "made_by": "tests/gbstats/make_quantile_numbers.py",
        "gbstats": metadata.version("gbstats"),
        "numpy": np.__version__,
        "scenarios": scenarios,
    }
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
