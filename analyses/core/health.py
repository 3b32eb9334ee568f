"""Health checks every analysis of warehouse data shares: the units and events left out.

Units exposed to more than one arm are left out too, and checked apart (:func:`multiple_arms`).

A warehouse query leaves out assignment rows without a unit, units without an arm or an
exposure time or first exposed after the run's cut-off, and per metric the events without
a unit or a time; the engine counts each (``readout.queries``: ``Fetched.extras`` of an
:class:`~analyses.core.inputs.Experiment` part). :func:`left_out` turns those counts into
the check an analysis stores in its results (:class:`~analyses.core.results.LeftOut`) and
that withholds its verdict when it fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analyses.core.results import Exposures, LeftOut, LeftOutEvents, LeftOutReasons

#: Share of assigned units left out (no unit, arm or exposure time, or exposed after the
#: cut-off), or of the units' events left out (no time), above which the verdict is
#: withheld. Units lost to a logging fault are rarely lost at random (a new code path that
#: fails to log hits one arm), and 1% of units missing from one arm is as large as the
#: imbalances the sample-ratio check is there to catch, and as the lifts a test is run to find.
MAX_LEFT_OUT = 0.01
#: Share of units exposed to more than one arm above which the verdict is withheld.
MAX_MULTIPLE_ARMS = 0.01


def multiple_arms(found: Mapping[str, Any] | None) -> Exposures | None:
    """Units exposed to more than one arm, left out of every metric: a health check.

    Their share, and whether it is within :data:`MAX_MULTIPLE_ARMS`. ``found`` is what the
    engine counted (``units``, ``multiple_arms``); ``None`` (data from a file) gives ``None``.
    """
    if found is None:
        return None
    units, multi = found["units"], found["multiple_arms"]
    share = multi / units if units else 0.0
    return Exposures(
        units=units,
        multiple_arms=multi,
        share=share,
        limit=MAX_MULTIPLE_ARMS,
        ok=share <= MAX_MULTIPLE_ARMS,
    )


def left_out(found: Mapping[str, Any] | None) -> LeftOut | None:
    """What the warehouse query left out and why: a health check with its size.

    ``found`` is what the engine counted for an experiment's part (``units``, ``excluded``
    by reason, ``events`` per metric, ``cutoff``); ``None`` (data from a file) gives
    ``None``. Assignment rows without a unit are counted as rows (they name no unit); events
    without a unit are counted but never a fault (they belong to no one in the experiment).
    Exposures after an explicit cut-off (a readout as of an earlier day) are counted apart
    (``later``) and are no fault: those units had not been assigned yet at that moment, so
    ``units``, ``assigned`` and ``share`` leave them out.
    """
    if found is None or "excluded" not in found:
        return None
    reasons = dict(found["excluded"])
    cutoff = found.get("cutoff")
    later = reasons["exposed_future"] if cutoff is not None else 0
    faults = sum(reasons.values()) - later
    assigned = found["units"] + faults
    share = faults / assigned if assigned else 0.0
    events = []
    for name, counted in found.get("events", {}).items():
        if counted["unit_missing"] or counted["ts_missing"]:
            total = counted["events"]
            events.append(
                LeftOutEvents(
                    metric=name,
                    **counted,
                    share=counted["ts_missing"] / total if total else 0.0,
                )
            )
    worst = max([share] + [e.share for e in events])
    return LeftOut(
        units=faults,
        assigned=assigned,
        share=share,
        limit=MAX_LEFT_OUT,
        ok=worst <= MAX_LEFT_OUT,
        reasons=LeftOutReasons(**reasons),
        cutoff=cutoff,
        later=later,
        events=tuple(events),
    )
