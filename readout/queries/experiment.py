"""An experiment's aggregate query per arm (x segment), its exclusion counts and histograms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analyses.core.inputs import Experiment, Histogram, Value
from readout.queries.as_of import (
    EXCLUSION_REASONS,
    _assignments,
    _cutoff,
    _days,
    _events,
    _units,
    _window,
    unit_columns,
)
from readout.queries.metrics import _capped, _per_unit, _ratio_pre, _ratio_pre_sums
from readout.queries.rows import _stats
from readout.sources import Engine


def exclusions_expression(
    engine: Engine,
    part: Experiment,
    where: str,
    cutoff: datetime | None = None,
    key: str | None = None,
):
    """One row counting what an experiment's query leaves out, by reason.

    Assignments: rows without a unit (``unit_missing``: rows, as they name no unit) and units
    none of whose rows can be used, each counted once under its first reason
    (``arm_missing``, ``exposed_missing``, ``exposed_future``). Per metric: events without a
    unit (``<metric>__unit_missing``), and the kept units' events without a time
    (``<metric>__ts_missing``) out of all their events (``<metric>__events``).

    With ``key`` (the column naming each row's experiment in a batched query,
    :mod:`readout.batch`) one row per key present in the assignments, counted as that
    experiment's own query counts; a count with nothing to count is NULL there, read as 0.
    Events without a unit belong to no experiment: every key's row has the table's count.
    """
    import ibis

    assignments = _assignments(engine, part, where, cutoff)
    units = _units(assignments, (), key)
    by = unit_columns(key)[1:]
    dropped = (
        assignments.filter(assignments.reason > 1)
        .anti_join(units.select(*unit_columns(key)), unit_columns(key))
        .group_by(unit_columns(key))
        .aggregate(reason=lambda t: t.reason.min())
    )
    tables = [
        assignments.aggregate(
            by=by, unit_missing=ibis.ifelse(assignments.reason == 1, 1, 0).sum().fill_null(0)
        ),
        dropped.aggregate(
            by=by,
            **{
                name: ibis.ifelse(dropped.reason == i + 1, 1, 0).sum().fill_null(0)
                for i, name in enumerate(EXCLUSION_REASONS)
                if i > 0
            },
        ),
    ]
    for metric in part.metrics:
        events = _events(engine, metric, where, cutoff)
        if key is None:
            own = events.semi_join(units.select("unit"), "unit")
        else:  # each event once per experiment of its unit
            own = events.join(units.select("unit", key), "unit")
        missing = events.aggregate(
            **{f"{metric.name}__unit_missing": ibis.ifelse(events.unit.isnull(), 1, 0).sum()}
        )
        kept = own.aggregate(
            by=by,
            **{
                f"{metric.name}__ts_missing": ibis.ifelse(own.ts.isnull(), 1, 0).sum(),
                f"{metric.name}__events": own.count(),
            },
        )
        tables += [missing.cross_join(kept)] if key is None else [kept, missing]
    out = tables[0]
    for table in tables[1:]:
        if key is None or key not in table.columns:
            out = out.cross_join(table)
        else:
            joined = out.left_join(table, key)
            out = joined.select(out, *[c for c in table.columns if c != key])
    return out


def keyed_metrics(part: Experiment) -> bool:
    """Whether :func:`experiment_expression` can read an experiment per key (batched).

    A percentile cap, a covariate's pre-period (and its average) and a ratio's numerator and
    denominator are computed over all of the query's units, not per experiment.
    """
    return all(
        m.kind != "ratio" and not m.covariate_days and m.cap_percentile is None
        for m in part.metrics
    )


def experiment_expression(
    engine: Engine,
    part: Experiment,
    where: str,
    cutoff: datetime | None = None,
    units_only: bool = False,
    key: str | None = None,
):
    """The one query of an experiment: assignments x metrics, summarised per arm (x by).

    Only units with a unit, an arm and an exposure time before ``cutoff`` (default: now)
    count; :func:`exclusions_expression` counts the others. A unit counts in a metric only
    once the metric's window has closed by the cut-off (its value is NULL until then, and
    ``<metric>__waiting`` counts those units): a unit exposed yesterday has not had the
    time to convert, and counting it as "did not" would bias every rate towards zero.

    With ``units_only`` the table of units (one row each: arm, ``one_arm`` and each metric's
    value) is returned before it is summarised (:func:`histogram_expression`).

    With ``key`` (the column naming each row's experiment in a batched query,
    :mod:`readout.batch`) the units, their values and the sums are per key as well: each
    key's rows are what that experiment's own query returns. Only for the metrics
    :func:`keyed_metrics` accepts.
    """
    import ibis

    if key is not None and not keyed_metrics(part):
        raise ValueError("a ratio, a covariate or a percentile cap is not computed per key")
    units = _units(_assignments(engine, part, where, cutoff), part.by, key)
    table = units
    for metric in part.metrics:
        events = _events(engine, metric, where, cutoff)
        per_unit = _per_unit(_window(events, units, 0, metric.window_days, key), metric, key)
        # The cap's percentile is of units whose window has closed: a unit still inside it
        # has a partial value (and counts in no mean), so it would pull the cap down.
        closed_units = units.filter(units.exposed_at + _days(metric.window_days) <= _cutoff(cutoff))
        during = _capped(per_unit, metric, per_unit.semi_join(closed_units.select("unit"), "unit"))
        fill = None if metric.aggregate == "mean" else 0.0
        closed = table.exposed_at + _days(metric.window_days) <= _cutoff(cutoff)
        waiting = {f"{metric.name}__closed": closed}
        if metric.kind == "ratio":
            joined = table.left_join(during, "unit")
            table = joined.select(
                table,
                **waiting,
                **{
                    f"{metric.name}__num": ibis.ifelse(
                        closed, joined.num.fill_null(0.0), ibis.null("float64")
                    ),
                    f"{metric.name}__den": ibis.ifelse(
                        closed, joined.den.fill_null(0.0), ibis.null("float64")
                    ),
                },
            )
            if metric.covariate_days:
                table = _ratio_pre(table, events, units, metric)
            continue
        joined = table.left_join(during, unit_columns(key))
        value = joined.v if fill is None else joined.v.fill_null(fill)
        value = ibis.ifelse(closed, value.cast("float64"), ibis.null("float64"))
        table = joined.select(table, **waiting, **{metric.name: value})
        if metric.covariate_days:
            before = _capped(
                _per_unit(_window(events, units, -metric.covariate_days, 0), metric), metric
            )
            joined = table.left_join(before, "unit")
            pre = joined.v.cast("float64")
            if fill is not None:
                pre = pre.fill_null(fill)
            table = joined.select(table, **{f"{metric.name}__pre": pre})
            if fill is None:  # a mean: units without a pre-period value get the average
                average = table.aggregate(avg=table[f"{metric.name}__pre"].mean())
                joined = table.cross_join(average)
                filled = joined[f"{metric.name}__pre"].fill_null(joined.avg)
                table = joined.select(
                    *[c for c in table.columns if c != f"{metric.name}__pre"],
                    **{f"{metric.name}__pre": filled},
                )
    if units_only:
        return table
    keys = {c: table[c] for c in unit_columns(key)[1:]}
    keys |= {"arm": table.arm, **{b: table[b] for b in part.by}}
    keys["multi"] = ibis.ifelse(table.one_arm, 0, 1)
    seconds = table.exposed_at.epoch_seconds().cast("float64")
    aggs: dict[str, Any] = {
        "n": table.count(),
        "exposed_first": seconds.min(),
        "exposed_last": seconds.max(),
    }
    for metric in part.metrics:
        m = metric.name
        aggs[f"{m}__waiting"] = ibis.ifelse(table[f"{m}__closed"], 0, 1).sum()
        if metric.kind == "ratio":
            num, den = table[f"{m}__num"], table[f"{m}__den"]
            aggs |= {
                f"{m}__num": num.sum(),
                f"{m}__den": den.sum(),
                f"{m}__num2": (num * num).sum(),
                f"{m}__den2": (den * den).sum(),
                f"{m}__numden": (num * den).sum(),
            }
            if metric.covariate_days:
                aggs |= _ratio_pre_sums(table, m)
            continue
        stats = ("moments", "logs") if metric.kind in ("lognormal", "revenue") else ("moments",)
        aggs |= _stats(table[m], Value(m, m, stats))
        if metric.covariate_days:
            x, y = table[f"{m}__pre"], table[m]
            aggs |= {
                f"{m}__x": x.sum(),
                f"{m}__x2": (x * x).sum(),
                f"{m}__xy": ibis.ifelse(y.notnull(), x * y, 0.0).sum(),
                f"{m}__xn": ibis.ifelse(y.notnull(), x, 0.0).sum(),
                f"{m}__x2n": ibis.ifelse(y.notnull(), x * x, 0.0).sum(),
            }
    return table.group_by(**keys).aggregate(**aggs)


def histogram_expression(
    engine: Engine, part: Histogram, where: str, cutoff: datetime | None = None
):
    """Per quantile metric, arm and bin of a logarithmic grid: the units and their sum.

    The units and values are the experiment query's own (:func:`experiment_expression` with
    ``units_only``): units in one arm, each metric's value over its window, units whose window
    has not closed (and, for a mean, units without events) left out. A positive value ``v``
    falls in bin ``k = ceil(ln(v) / ln(gamma))`` (``sign`` 1), a negative one in bin ``k`` of
    ``-v`` (``sign`` -1), zero in bin 0 (``sign`` 0), with ``gamma = (1 + a) / (1 - a)`` for the
    accuracy ``a``: a few hundred to a few thousand rows per arm, whatever the units' number.
    Columns: ``metric``, ``arm``, ``sign``, ``k``, ``n`` and ``total`` (the sum of the values).
    """
    import math

    import ibis

    quantiles = tuple(m for m in part.part.metrics if m.kind == "quantile")
    units = experiment_expression(
        engine, Experiment(part.part.assignments, quantiles, ()), where, cutoff, units_only=True
    )
    units = units.filter(units.one_arm)
    step = math.log((1 + part.accuracy) / (1 - part.accuracy))
    tables = []
    for metric in quantiles:
        value = units[metric.name]
        rows = units.filter(value.notnull()).select(arm=units.arm.cast("string"), v=value)
        sign = ibis.cases((rows.v > 0, 1), (rows.v < 0, -1), else_=0)
        # ln(1) = 0 keeps zero away from the logarithm on engines that evaluate both branches.
        size = ibis.ifelse(rows.v == 0, 1.0, rows.v.abs())
        k = (size.ln() / step).ceil().cast("int64")
        binned = rows.mutate(sign=sign, k=k)
        tables.append(
            binned.group_by(["arm", "sign", "k"])
            .aggregate(n=binned.count(), total=binned.v.sum())
            .select(
                metric=ibis.literal(metric.name),
                arm="arm",
                sign="sign",
                k="k",
                n="n",
                total="total",
            )
        )
    out = tables[0]
    for table in tables[1:]:
        out = out.union(table)
    return out
