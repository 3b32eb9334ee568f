"""A metric's segments: each level's own lift and the levels pooled (partial pooling).

Read from the per-arm statistics of each level of a segment column, after the metric's own
posterior (:mod:`analyses.ab_test.metrics`); the levels' spread says how much the lift
differs between them.
"""

from __future__ import annotations

import numpy as np

from analyses.ab_test import conjugate
from analyses.ab_test.metrics import Metric, log_moments, moments, observed, ratio_moments
from analyses.ab_test.results import Segment, SegmentSpread
from analyses.core import pooling, stats
from analyses.core.results import Estimate, Summary


def relative_lift(metric: Metric, c: dict[str, float], t: dict[str, float]) -> tuple[float, float]:
    """A treatment's relative lift over the control and its standard error.

    The standard error is the delta method's normal approximation, from two arms' statistics.
    """
    if metric.kind == "ratio":
        ra, sa = conjugate.ratio_estimate(ratio_moments(c))
        rb, sb = conjugate.ratio_estimate(ratio_moments(t))
        return rb / ra - 1, float(np.sqrt(sb**2 / ra**2 + rb**2 * sa**2 / ra**4))
    if metric.kind == "log":
        mc, mt = log_moments(c), log_moments(t)
        d = mt.mean - mc.mean
        se = float(np.sqrt(mt.var / mt.n + mc.var / mc.n))
        return float(np.exp(d) - 1), float(np.exp(d) * se)
    mc, mt = moments(c), moments(t)
    a, b = mt.mean, mc.mean
    var_a, var_b = mt.var / mt.n, mc.var / mc.n
    return a / b - 1, float(np.sqrt(var_a / b**2 + a**2 * var_b / b**4))


#: A level with fewer units than this is marked as small in the report (it stays in the model).
FEW_UNITS = 100
#: Up to this many levels, each level's pooled summary is exact (a mixture over the grid);
#: beyond, it comes from LEVEL_DRAWS posterior draws (Monte Carlo error of an HDI end about
#: 4% of a level's posterior spread, of its mean 0.1%: below the rounding shown).
EXACT_LEVELS = 60
LEVEL_DRAWS = 20_000


def segment_rows(
    metric: Metric,
    levels: dict[str, dict[str, dict[str, float]]],
    control: str,
    treatment: str,
    segment: str,
    prob: float,
) -> tuple[list[Segment], SegmentSpread | None]:
    """Each level's own relative lift, and pooled across the levels (partial pooling).

    Returns the levels' rows and the spread of the true lifts between levels. Every level
    stays: one whose arms have too few units for an own estimate, or whose control's value is 0
    (no relative lift), gets the lift the model expects for a level it has not seen (the
    population's predictive), marked ``own = None`` and ``no_own`` (``few_units`` or
    ``control_zero``); levels with fewer than ``FEW_UNITS`` units are marked ``few_units``.
    """
    names, own, ses, sizes, missing = [], [], [], [], []
    for level, arms in sorted(levels.items()):
        c, t = arms.get(control), arms.get(treatment)
        units = int((c or {}).get("units", 0) + (t or {}).get("units", 0))
        lift = se = float("nan")
        if c and t and c.get("n", 0) >= 2 and t.get("n", 0) >= 2:
            try:
                lift, se = relative_lift(metric, c, t)
            except (ZeroDivisionError, ValueError, FloatingPointError):
                pass
        if not np.isfinite(lift) or not np.isfinite(se) or se <= 0:
            # Why it has no lift of its own: too few units, or (in a level that is not small)
            # a control at 0, whose relative lift is not defined.
            zero = bool(c and c.get("n", 0) >= 2 and observed(metric, c) == 0)
            reason = "control_zero" if zero and units >= FEW_UNITS else "few_units"
            missing.append((level, units, reason))
            continue
        names.append(level)
        own.append(lift)
        ses.append(se)
        sizes.append(units)
    if len(names) < 2:
        return [], None
    y, se = np.array(own), np.array(ses)
    fitted = pooling.fit(y, se)
    hyper = pooling.summaries(fitted, len(y), prob)
    if len(y) <= EXACT_LEVELS:
        pooled = pooling.unit_exact(fitted, y, se, None, range(len(y)), prob)
    else:  # hundreds of levels: each level's normal conditionals over posterior draws
        drawn = pooling.draws(fitted, LEVEL_DRAWS, np.random.default_rng(len(y)))
        found = pooling.unit_summaries(
            y, se, np.zeros(len(y), dtype=int), drawn["mu_group"], drawn["sigma_unit"], prob, 1
        )
        pooled = [
            {
                "mean": float(found["mean"][i]),
                "hdi": [float(v) for v in found["hdi"][i]],
                "prob_positive": float(found["prob_positive"][i]),
                "shrinkage": float(found["shrinkage"][i]),
            }
            for i in range(len(y))
        ]
    rows = []
    for i, level in enumerate(names):
        own_interval = stats.normal_interval(y[i], se[i], prob)
        rows.append(
            Segment(
                metric=metric.name,
                segment=segment,
                level=level,
                n=sizes[i],
                own=Summary(mean=float(y[i]), hdi=[float(v) for v in own_interval]),
                own_se=float(se[i]),
                pooled=Summary(mean=pooled[i]["mean"], hdi=pooled[i]["hdi"]),
                prob_positive=pooled[i]["prob_positive"],
                shrinkage=pooled[i]["shrinkage"],
                few_units=sizes[i] < FEW_UNITS,
            )
        )
    new = hyper["new_unit"]
    for level, units, reason in missing:
        rows.append(
            Segment(
                metric=metric.name,
                segment=segment,
                level=level,
                n=units,
                own=None,
                no_own=reason,
                own_se=None,
                pooled=Summary(mean=new["mean"], hdi=new["hdi"]),
                prob_positive=new["prob_positive"],
                shrinkage=1.0,
                few_units=reason == "few_units",
            )
        )
    rows.sort(key=lambda r: r.level)
    spread = SegmentSpread(
        metric=metric.name,
        segment=segment,
        levels=len(rows),
        few_units_below=FEW_UNITS,
        sigma=Estimate.model_validate(hyper["sigma_unit"]),
        overall=Estimate.model_validate(hyper["mu"]),
    )
    return rows, spread
