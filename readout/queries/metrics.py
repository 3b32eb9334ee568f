"""Per-metric-kind query building: a metric's per-unit measure, its cap and a ratio's pre-period."""

from __future__ import annotations

from typing import Any

from analyses.core.inputs import MetricSpec
from readout.queries.as_of import _window, unit_columns
from readout.queries.common import _number


def _per_unit(events, metric: MetricSpec, key: str | None = None):
    """A metric's value per unit (and experiment, with ``key``: :func:`unit_columns`)."""
    if metric.kind == "ratio":
        return events.group_by(unit_columns(key)).aggregate(
            num=_number(events.numerator).sum(), den=_number(events.denominator).sum()
        )
    return events.group_by(unit_columns(key)).aggregate(v=_measure(events, metric))


def _measure(events, metric: MetricSpec):
    """A metric's aggregate of its events, as one value per group (``events`` grouped after)."""
    import ibis

    agg = metric.aggregate
    if agg == "any":
        measure = ibis.ifelse(events.count() > 0, 1.0, 0.0)
    elif agg == "count":
        measure = events.count().cast("float64")
    elif agg == "count_distinct":
        measure = events.value.nunique().cast("float64")
    elif agg == "sum":
        measure = _number(events.value).sum()
    else:
        measure = _number(events.value).mean()
    return measure


def _capped(per_unit, metric: MetricSpec, basis=None):
    """Per-unit values capped; a percentile cap is read off ``basis`` (default: them all)."""
    import ibis

    if metric.cap_value is not None:
        return per_unit.mutate(v=ibis.least(per_unit.v, metric.cap_value))
    if metric.cap_percentile is not None:
        basis = per_unit if basis is None else basis
        cap = basis.aggregate(cap=basis.v.quantile(metric.cap_percentile / 100))
        joined = per_unit.cross_join(cap)
        return joined.select("unit", v=ibis.least(joined.v, joined.cap))
    return per_unit


def _ratio_pre(table, events, units, metric: MetricSpec):
    """A ratio's numerator and denominator over ``covariate_days`` before exposure (CUPED).

    Units without events before exposure have 0 of both (as in the window after it).
    """
    before = _per_unit(_window(events, units, -metric.covariate_days, 0), metric)
    joined = table.left_join(before, "unit")
    m = metric.name
    return joined.select(
        table,
        **{
            f"{m}__pnum": joined.num.cast("float64").fill_null(0.0),
            f"{m}__pden": joined.den.cast("float64").fill_null(0.0),
        },
    )


def _ratio_pre_sums(table, m: str) -> dict[str, Any]:
    """Per arm: the pre-period sums, squares and every cross product with the window's sums.

    Over the units counted (whose window has closed: their numerator is not NULL), so the
    4 x 4 covariance of ``(num, den, num_pre, den_pre)`` is over the same units.
    """
    import ibis

    num, den = table[f"{m}__num"], table[f"{m}__den"]
    counted = num.notnull()
    pnum = ibis.ifelse(counted, table[f"{m}__pnum"], 0.0)
    pden = ibis.ifelse(counted, table[f"{m}__pden"], 0.0)
    return {
        f"{m}__pnum": pnum.sum(),
        f"{m}__pden": pden.sum(),
        f"{m}__pnum2": (pnum * pnum).sum(),
        f"{m}__pden2": (pden * pden).sum(),
        f"{m}__pnumden": (pnum * pden).sum(),
        f"{m}__num_pnum": (num * pnum).sum(),
        f"{m}__num_pden": (num * pden).sum(),
        f"{m}__den_pnum": (den * pnum).sum(),
        f"{m}__den_pden": (den * pden).sum(),
    }
