"""The A/B analysis's health checks from the data: sample ratio, multiple exposures, units left out.

Each is stored with its size and its limit; a failed one withholds the verdict
(:func:`analyses.ab_test.decide.failed_checks`).
"""

from __future__ import annotations

import numpy as np

from analyses.ab_test.data import ArmData
from analyses.ab_test.results import SampleRatio
from analyses.ab_test.spec import Spec
from analyses.core import health, stats
from analyses.core.results import Exposures, LeftOut


def srm(spec: Spec, data: ArmData) -> SampleRatio:
    """The sample-ratio check.

    With how many units each arm lacks against the planned split and, for a conversion metric, the
    lift if the missing units had all converted or none.
    """
    if spec.observational:
        return SampleRatio(p_value=None, ok=True, applicable=False)
    metric = data.metrics[0]
    per_arm = data.stats[metric.name]
    units = [int(per_arm[a]["units"]) for a in data.arms]
    split = spec.expected_split or {a: 1.0 for a in data.arms}
    shares = np.array([split[a] for a in data.arms]) / sum(split.values())
    # The planned sizes if the largest arm (relative to its share) lost nobody.
    total = max(u / s for u, s in zip(units, shares, strict=True))
    missing = [max(int(round(total * s - u)), 0) for u, s in zip(units, shares, strict=True)]
    worst = {}
    if metric.kind == "binary" and len(data.arms) == 2:
        (c, t), (mc, mt) = (per_arm[a] for a in data.arms), missing
        # The relative lift if the missing units had all converted or none; not defined when
        # a control rate in it would be 0.
        if c["sum"] > 0 and t["n"] + mt > 0:
            low = (t["sum"] / (t["n"] + mt)) / ((c["sum"] + mc) / (c["n"] + mc)) - 1
            high = ((t["sum"] + mt) / (t["n"] + mt)) / (c["sum"] / (c["n"] + mc)) - 1
            worst["worst_case_lift"] = (float(low), float(high))
    return SampleRatio(
        **stats.sample_ratio_test(units, list(shares)),
        applicable=True,
        expected_split=list(map(float, shares)),
        missing=missing,
        **worst,
    )


def exposures(data: ArmData) -> Exposures | None:
    """Units exposed to more than one arm (:func:`analyses.core.health.multiple_arms`)."""
    return health.multiple_arms(data.exposures)


def excluded(data: ArmData) -> LeftOut | None:
    """What the warehouse query left out and why (:func:`analyses.core.health.left_out`)."""
    return health.left_out(data.exposures)
