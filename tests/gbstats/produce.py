"""Numbers from GrowthBook's gbstats 0.8.0 for tests/analyses/test_gbstats_variance.py.

Run in a separate environment (gbstats 0.8.0 needs Python 3.11 and pandas < 2):

    uv venv -p 3.11 /tmp/gbvenv
    uv pip install -p /tmp/gbvenv/bin/python "gbstats==0.8.0" "pandas<2"
    /tmp/gbvenv/bin/python tests/gbstats/produce.py > tests/gbstats/cases.json

It writes, for cases of per-arm sufficient statistics, gbstats' Bayesian result with a proper
Gaussian prior on the relative effect (``prior_mean``, ``prior_stddev``), and records what
gbstats 0.8.0 does not compute: CUPED for a ratio metric and post-stratification.
"""

import json
import sys
from importlib import metadata

import numpy as np
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)


def prior_cases():
    rng = np.random.default_rng(2027)
    out = []
    for kind, n, base, lift, prior_mean, prior_sd in [
        ("binary", 20_000, 0.10, 0.06, 0.0, 0.05),
        ("binary", 5_000, 0.20, -0.04, 0.01, 0.03),
        ("binary", 50_000, 0.05, 0.03, 0.02, 0.02),
        ("continuous", 4_000, 50.0, 0.05, 0.0, 0.05),
        ("continuous", 30_000, 20.0, 0.01, 0.01, 0.02),
    ]:
        arms = []
        for i in range(2):
            mean = base * (1 + lift * i)
            if kind == "binary":
                x = (rng.random(n) < mean).astype(float)
            else:
                x = rng.gamma(2.0, mean / 2.0, n)
            arms.append({"n": n, "sum": float(x.sum()), "sum2": float((x * x).sum())})
        stats = [
            ProportionStatistic(n=a["n"], sum=a["sum"])
            if kind == "binary"
            else SampleMeanStatistic(n=a["n"], sum=a["sum"], sum_squares=a["sum2"])
            for a in arms
        ]
        config = EffectBayesianConfig(
            alpha=0.06,
            prior_type="relative",
            prior_effect=GaussianPrior(mean=prior_mean, variance=prior_sd**2, proper=True),
        )
        result = EffectBayesianABTest(stats[0], stats[1], config).compute_result()
        out.append(
            {
                "kind": kind,
                "arms": arms,
                "prior_mean": prior_mean,
                "prior_sd": prior_sd,
                "gbstats": {
                    "mean": float(result.expected),
                    "sd": float(result.uplift.stddev),
                    "ci": [float(v) for v in result.ci],
                    "chance_to_win": float(result.chance_to_win),
                },
            }
        )
    return out


def lacks():
    """What gbstats 0.8.0 refuses or has no code for."""
    found = {}
    m = SampleMeanStatistic(n=100, sum=50.0, sum_squares=40.0)
    d = SampleMeanStatistic(n=100, sum=200.0, sum_squares=500.0)
    ratio = RatioStatistic(n=100, m_statistic=m, d_statistic=d, m_d_sum_of_products=110.0)
    # RegressionAdjustedStatistic's post and pre are a mean or a proportion: a ratio's
    # numerator and denominator have no pre-period to adjust by. Its variance cannot be formed.
    try:
        adjusted = RegressionAdjustedStatistic(
            n=100,
            post_statistic=ratio,
            pre_statistic=ratio,
            post_pre_sum_of_products=1.0,
            theta=0.5,
        )
        _ = adjusted.covariance
        found["ratio_cuped"] = "constructed, but its covariance is nonsense"
    except Exception as exc:  # noqa: BLE001
        found["ratio_cuped"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    from pathlib import Path

    import gbstats

    # Dimensions are read one at a time (gbstats.py's "dimension" rows); no file of the
    # package mentions strata or post-stratification.
    files = Path(gbstats.__file__).parent.rglob("*.py")
    found["mentions_strata"] = any("strat" in f.read_text().lower() for f in files)
    return found


if __name__ == "__main__":
    json.dump(
        {
            "gbstats": metadata.version("gbstats"),
            "python": sys.version.split()[0],
            "prior": prior_cases(),
            "lacks": lacks(),
        },
        sys.stdout,
        indent=1,
    )
