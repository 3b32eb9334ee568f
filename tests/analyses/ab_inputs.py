"""Builders of A/B inputs for the tests: a config entry and the engine's per-arm statistics.

One home for what the A/B tests share: :func:`spec` (an ``ab_test`` entry over ``x.csv``,
arms ``A`` and control ``A``, metric ``y``), :func:`arm_data` (per-arm conversions as the
engine returns them) and :func:`moments` (a continuous arm's sums, with a covariate's for
CUPED).
"""

from __future__ import annotations

import numpy as np

from analyses import ab_test
from analyses.ab_test.metrics import Metric


def spec(metric_type: str = "binary", **overrides) -> ab_test.Spec:
    """An ``ab_test`` entry: arm column ``arm``, control ``A``, metric ``y``; ``overrides`` win."""
    keys = dict(
        name="t",
        title="T",
        analysis="ab_test",
        data="x.csv",
        group="arm",
        control="A",
        metric="y",
        metric_type=metric_type,
    )
    return ab_test.Spec(**(keys | overrides))


def arm_data(counts: dict[str, tuple[int, int]], label: str = "rate") -> ab_test.ArmData:
    """Per-arm sufficient statistics as the engine returns them: ``{arm: (conversions, users)}``."""
    stats_ = {
        a: {"units": float(n), "n": float(n), "sum": float(k), "sum2": float(k)}
        for a, (k, n) in counts.items()
    }
    return ab_test.ArmData(list(counts), [Metric("y", label, "binary")], {"y": stats_})


def moments(y: np.ndarray, x: np.ndarray | None = None) -> dict[str, float]:
    """A continuous arm's sums as the engine returns them; with ``x``, the covariate's too."""
    found = {
        "units": float(y.size),
        "n": float(y.size),
        "sum": float(y.sum()),
        "sum2": float((y**2).sum()),
    }
    if x is not None:
        found |= {
            "xn": float(x.sum()),
            "x2n": float((x**2).sum()),
            "xy": float((x * y).sum()),
        }
    return found
