"""The A/B analysis's health checks from the data: sample ratio, multiple exposures, units left out.

Each is stored with its size and its limit; a failed one withholds the verdict
(:func:`analyses.ab_test.decide.failed_checks`).
"""

from __future__ import annotations

import numpy as np

from analyses.ab_test.data import ArmData
from analyses.ab_test.results import EventsLeftOut, Excluded, Exposures, SampleRatio
from analyses.ab_test.spec import Spec
from analyses.core import stats

#: Share of units exposed to more than one arm above which the verdict is withheld.
MAX_MULTIPLE_ARMS = 0.01
#: Share of assigned units left out (no unit, arm or exposure time, or exposed after the
#: cut-off), or of the units' events left out (no time), above which the verdict is
#: withheld. The same 1% as for multiple exposures, for the same reason: units lost to a
#: logging fault are rarely lost at random (a new code path that fails to log hits one arm),
#: and 1% of units missing from one arm is as large as the imbalances the sample-ratio check
#: is there to catch, and as the lifts a test is run to find.
MAX_LEFT_OUT = 0.01


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
    """Units exposed to more than one arm: their share and whether it is within the limit."""
    if data.exposures is None:
        return None
    units, multi = data.exposures["units"], data.exposures["multiple_arms"]
    share = multi / units if units else 0.0
    return Exposures(
        units=units,
        multiple_arms=multi,
        share=share,
        limit=MAX_MULTIPLE_ARMS,
        ok=share <= MAX_MULTIPLE_ARMS,
    )


def excluded(data: ArmData) -> Excluded | None:
    """What the warehouse query left out and why: a health check with its size.

    Assignment rows without a unit (counted as rows: they name no unit), units without an
    arm or an exposure time, or first exposed after the run's cut-off; and per metric, events
    without a unit (counted, never a fault: they belong to no one in the experiment) and the
    experiment's events without a time. Exposures after an explicit cut-off (a readout as of
    an earlier day) are counted apart (``later``) and are no fault: those units had not been
    assigned yet at that moment, so ``units``, ``assigned`` and ``share`` leave them out.
    """
    found = data.exposures
    if found is None or "excluded" not in found:
        return None
    reasons = dict(found["excluded"])
    cutoff = found.get("cutoff")
    # Units exposed after an explicit cut-off had not been assigned yet at that moment.
    later = reasons["exposed_future"] if cutoff is not None else 0
    faults = sum(reasons.values()) - later
    assigned = found["units"] + faults
    share = faults / assigned if assigned else 0.0
    events = []
    for name, counted in found.get("events", {}).items():
        if counted["unit_missing"] or counted["ts_missing"]:
            total = counted["events"]
            events.append(
                EventsLeftOut(
                    metric=name,
                    **counted,
                    share=counted["ts_missing"] / total if total else 0.0,
                )
            )
    worst = max([share] + [e.share for e in events])
    return Excluded(
        units=faults,
        assigned=assigned,
        share=share,
        limit=MAX_LEFT_OUT,
        ok=worst <= MAX_LEFT_OUT,
        reasons=reasons,
        cutoff=cutoff,
        later=later,
        events=events,
    )
