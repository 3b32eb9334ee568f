"""Compile an analysis's request into queries, check the columns in the engine, fetch.

Each part of a request becomes ibis expressions compiled to the source's own SQL:

* a check query counting, per configured column and rule, the rows that break it (a missing
  value, a non-number, a value outside 0/1, ...); on a failure a second query finds the first
  offending rows so the message can name them;
* the part's query: the rows themselves (:class:`~analyses.core.inputs.Rows`, pruned to the
  columns used, bounded by the row limit), or sufficient statistics per group
  (:class:`~analyses.core.inputs.Summary`), or for an experiment read from a warehouse one query
  that deduplicates the assignments, joins every metric's events within its window, caps,
  adds covariates and returns per arm (x segment) counts and sums
  (:class:`~analyses.core.inputs.Experiment`).

Compiled SQL is cached under ``<output>/.cache/queries/`` by a key of the request, the
engine, the schemas of the tables it reads and the library versions, so a scheduled re-run
runs cached SQL on the engine's driver without importing ibis.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from analyses.core.inputs import (
    MAX_MAGNITUDE,
    Column,
    Experiment,
    Fetched,
    Histogram,
    MetricSpec,
    Request,
    Rows,
    Summary,
    Value,
    is_table_name,
)
from readout.errors import DataError, EngineFailure
from readout.masking import scrub
from readout.sources import FILE_ROWS, FILE_TABLE, ROW_COLUMN, Engine

#: Codes of the notes on how data were read where that was not the plain way (the report
#: states them among its data notes): a CSV separated by semicolons, tabs or vertical bars,
#: numbers with decimal commas, a binary column's yes/no answers read as 1 and 0.
READ_NOTES = ("csv_delimiter", "decimal_comma", "yes_no_as_binary", "as_of_whole_file")
#: Bump when the shape of the compiled SQL changes (part of the compile cache key).
QUERY_VERSION = "6"
EXAMPLES = 5


@dataclass(frozen=True)
class Where:
    """What a request reads: a data file (``file``) or a source's table or query."""

    file: bool
    table: str | None = None
    sql: str | None = None
    #: How messages name the data (a path, or the source and experiment).
    label: str = ""
    experiment: str = ""
    #: A data file's ``time_column``, and the moment it is cut at (``readout run --as-of``):
    #: only rows before it are read, in the SQL every query of the file runs.
    time_column: str | None = None
    cut_at: datetime | None = None


class Problem(DataError):
    """A data problem found by a query (exit 2)."""


# --------------------------------------------------------------------------- expressions


def _relation(engine: Engine, where: Where, rows: bool = False):
    if where.file:
        rel = engine.file_table(FILE_ROWS if rows else FILE_TABLE)
        if where.time_column is not None and where.cut_at is not None:
            # As of a day: the rows stamped from its end on did not exist yet.
            moment = rel[where.time_column]
            if moment.type().is_date():
                moment = moment.cast("timestamp")
            # Rows without a time cannot be placed in time: kept, as a warehouse's are.
            rel = rel.filter(moment.isnull() | (moment < _cutoff(where.cut_at)))
        return rel
    return engine.relation(where.table, where.sql)


def _is_numeric(dtype) -> bool:
    return dtype.is_numeric() or dtype.is_boolean()


#: Answers a binary column may hold instead of 1 and 0 (case and surrounding spaces ignored).
YES_WORDS = ("yes", "y", "true")
NO_WORDS = ("no", "n", "false")


def _words(col):
    """Whether each row holds a yes/no answer (a boolean, or one of the words), not a number."""
    if col.type().is_boolean():
        return col.notnull()
    if col.type().is_string():
        return col.strip().lower().isin(YES_WORDS + NO_WORDS).fill_null(False)
    return None


def _number(col, words: bool = False):
    """A column as a float: numbers cast, text parsed where it can be (else NULL).

    With ``words`` (a binary column) yes/no answers are read as 1 and 0: booleans, and
    "yes"/"no", "y"/"n", "true"/"false" in any case.
    """
    import ibis

    if _is_numeric(col.type()):
        return col.cast("float64")
    if words:
        text = col.strip().lower()
        return ibis.cases(
            (text.isin(YES_WORDS), 1.0),
            (text.isin(NO_WORDS), 0.0),
            else_=col.try_cast("float64"),
        )
    return col.try_cast("float64")


def _yes_no(column: Column) -> bool:
    """Whether a column's yes/no answers are read as 1 and 0 (a binary column's only)."""
    return "binary" in column.rules


def _violations(rel, column: Column):
    """(name, condition) pairs: each condition marks a row that breaks a rule.

    ``words`` marks yes/no answers: a binary column reads them as 1 and 0 (and the report
    says so); any other numeric column refuses them.
    """
    import ibis

    col = rel[column.name]
    out = []
    if column.required:
        out.append(("missing", col.isnull()))
    if column.kind == "number":
        value = _number(col, _yes_no(column))
        answers = _words(col)
        if answers is not None:
            out.append(("words", answers))
        if not _is_numeric(col.type()):
            out.append(("non-numeric", col.notnull() & value.isnull()))
        for rule in column.rules:
            if rule == "finite":
                bad = value.isnan() | value.isinf() | (value.abs() > MAX_MAGNITUDE)
            elif rule == "binary":
                bad = ~value.isin([0.0, 1.0])
            elif rule == "positive":
                bad = value <= 0
            elif rule == "nonnegative":
                bad = value < 0
            elif rule == "unit_interval":
                bad = (value < 0) | (value > 1)
            else:  # integer
                bad = value != value.floor()
            out.append((rule, value.notnull() & bad.fill_null(False)))
    return [(name, ibis.ifelse(cond.fill_null(False), 1, 0)) for name, cond in out]


def check_expression(rel, columns: tuple[Column, ...]):
    """One row: the total row count and, per column and rule, how many rows break it."""
    aggs = {"__rows": rel.count()}
    for i, column in enumerate(columns):
        for name, flag in _violations(rel, column):
            aggs[f"c{i}__{name}"] = flag.sum()
    return rel.aggregate(**aggs)


def rows_expression(rel, columns: tuple[Column, ...], limit: int):
    """The configured columns only, numbers as floats and labels as text."""
    picked = {}
    for column in columns:
        col = rel[column.name]
        picked[column.name] = (
            _number(col, _yes_no(column)) if column.kind == "number" else col.cast("string")
        )
    return rel.select(**picked).limit(limit + 1)


def _stats(col, value: Value, words: bool = False) -> dict[str, Any]:
    import ibis

    x = _number(col, words)
    out = {}
    if "moments" in value.stats:
        out |= {
            f"{value.name}__n": x.count(),
            f"{value.name}__sum": x.sum(),
            f"{value.name}__sum2": (x * x).sum(),
        }
    if "logs" in value.stats:
        positive = x > 0
        log = ibis.ifelse(positive, x.log(), 0.0)
        out |= {
            f"{value.name}__npos": ibis.ifelse(positive, 1, 0).sum(),
            f"{value.name}__sumlog": log.sum(),
            f"{value.name}__sumlog2": (log * log).sum(),
        }
    return out


def summary_expression(rel, part: Summary):
    """Per group of the ``by`` columns: the count and each value's sufficient statistics."""
    keys = {c.name: rel[c.name].cast("string") for c in part.by}
    aggs = {"n": rel.count()}
    binary = {c.name for c in part.checks if _yes_no(c)}
    for value in part.values:
        aggs |= _stats(rel[value.column], value, value.column in binary)
    return rel.group_by(**keys).aggregate(**aggs)


# --------------------------------------------------------------------------- experiments


ASSIGNMENT_COLUMNS = ("unit", "arm", "exposed_at")


def _temporal(dtype) -> bool:
    return dtype.is_timestamp() or dtype.is_date()


def _require(rel, needed: tuple[str, ...], what: str, where: str, fix: str) -> None:
    names = list(rel.schema().names)
    missing = [c for c in needed if c not in names]
    if missing:
        raise Problem(
            where,
            f"{what} returns no column '{missing[0]}' (it returns {', '.join(names)})",
            fix,
        )


def _days(days: float):
    """An interval of ``days`` (fractions allowed), to the second."""
    import ibis

    return ibis.interval(seconds=int(round(days * 86400)))


def _window(events, units, start_days: float, end_days: float):
    joined = events.join(units.select("unit", first_exposure=units.exposed_at), "unit")
    start = joined.first_exposure + _days(start_days)
    end = joined.first_exposure + _days(end_days)
    return joined.filter((joined.ts >= start) & (joined.ts < end))


def _per_unit(events, metric: MetricSpec):
    import ibis

    agg = metric.aggregate
    if metric.kind == "ratio":
        return events.group_by("unit").aggregate(
            num=_number(events.numerator).sum(), den=_number(events.denominator).sum()
        )
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
    return events.group_by("unit").aggregate(v=measure)


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


def _read(engine: Engine, given: dict[str, str | None], where: str):
    """The relation of a table or query, or a named problem with the engine's own message."""
    try:
        return engine.relation(table=given.get("table"), sql=given.get("sql"))
    except Exception as exc:
        _engine_problem(exc, Where(file=False, label=where))
        raise


def _cutoff(cutoff: datetime | None):
    """The run's cut-off as an ibis timestamp: the engine's clock (now) unless one is given.

    Units first exposed after it had not been exposed when the data were read. ``None`` keeps
    the SQL the same from run to run (so its cache and the data's fingerprint hold); a
    ``readout run --as-of`` passes the end of its day.
    """
    import ibis

    if cutoff is None:
        return ibis.now()
    if cutoff.tzinfo is not None:
        cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    return ibis.timestamp(cutoff)


#: Why an assignment row is left out, in order of precedence (0: kept).
EXCLUSION_REASONS = ("unit_missing", "arm_missing", "exposed_missing", "exposed_future")


def _assignments(engine: Engine, part: Experiment, where: str, cutoff: datetime | None):
    """The assignment rows, each with ``reason`` (0: kept) why it is left out.

    The reason is 1 + its index in :data:`EXCLUSION_REASONS`: no unit, no arm, no exposure
    time, exposed after the cut-off.
    """
    import ibis

    kind = "table" if is_table_name(part.assignments) else "sql"
    assignments = _read(engine, {kind: part.assignments}, f"{where}, assignments")
    fix = "return unit, arm and exposed_at (and the segment columns) from assignments"
    _require(assignments, ASSIGNMENT_COLUMNS + part.by, "assignments", where, fix)
    exposed = assignments.exposed_at
    if not _temporal(exposed.type()):
        raise Problem(
            where,
            f"assignments column 'exposed_at' is {exposed.type()}, not a timestamp or date",
            "cast it in the query, e.g. CAST(exposed_at AS TIMESTAMP)",
        )
    if exposed.type().is_date():
        exposed = exposed.cast("timestamp")
    if cutoff is not None:
        # As of an earlier day: rows exposed from its end on did not exist yet, so they are
        # not read at all (not counted either: adding later data changes nothing of that
        # day's readout). Rows without a time cannot be placed in time and stay counted.
        assignments = assignments.filter(exposed.isnull() | (exposed < _cutoff(cutoff)))
        exposed = assignments.exposed_at
        if exposed.type().is_date():
            exposed = exposed.cast("timestamp")
    reason = ibis.cases(
        (assignments.unit.isnull(), 1),
        (assignments.arm.isnull(), 2),
        (exposed.isnull(), 3),
        (exposed > _cutoff(cutoff), 4),
        else_=0,
    )
    return assignments.mutate(reason=reason)


def _units(assignments, by: tuple[str, ...]):
    """One row per kept unit: first exposure, how many arms, its arm and segment levels."""
    kept = assignments.filter(assignments.reason == 0)
    return kept.group_by("unit").aggregate(
        exposed_at=kept.exposed_at.min(),
        n_arms=kept.arm.cast("string").nunique(),
        arm=kept.arm.cast("string").min(),
        **{b: kept[b].cast("string").min() for b in by},
    )


def _events(engine: Engine, metric: MetricSpec, where: str, cutoff: datetime | None = None):
    """A metric's events, checked for the columns its kind needs.

    With an explicit ``cutoff`` (``readout run --as-of``) only events before it are read
    (events without a time are kept, to be counted): the data as they stood then.
    """
    events = _read(
        engine, {"table": metric.table, "sql": metric.sql}, f"{where}, metric '{metric.name}'"
    )
    needed = ("unit", "ts") + (
        ("numerator", "denominator") if metric.kind == "ratio" else ("value",)
    )
    if metric.aggregate in ("count",):
        needed = ("unit", "ts")
    mwhere = f"{where}, metric '{metric.name}'"
    _require(events, needed, "the query", mwhere, f"return {', '.join(needed)}")
    if not _temporal(events.ts.type()):
        raise Problem(
            mwhere,
            f"column 'ts' is {events.ts.type()}, not a timestamp or date",
            "cast it in the query, e.g. CAST(ts AS TIMESTAMP)",
        )
    if cutoff is not None:
        ts = events.ts.cast("timestamp") if events.ts.type().is_date() else events.ts
        events = events.filter(ts.isnull() | (ts < _cutoff(cutoff)))
    return events


def exclusions_expression(
    engine: Engine, part: Experiment, where: str, cutoff: datetime | None = None
):
    """One row counting what an experiment's query leaves out, by reason.

    Assignments: rows without a unit (``unit_missing``: rows, as they name no unit) and units
    none of whose rows can be used, each counted once under its first reason
    (``arm_missing``, ``exposed_missing``, ``exposed_future``). Per metric: events without a
    unit (``<metric>__unit_missing``), and the kept units' events without a time
    (``<metric>__ts_missing``) out of all their events (``<metric>__events``).
    """
    import ibis

    assignments = _assignments(engine, part, where, cutoff)
    units = _units(assignments, ())
    dropped = (
        assignments.filter(assignments.reason > 1)
        .anti_join(units.select("unit"), "unit")
        .group_by("unit")
        .aggregate(reason=lambda t: t.reason.min())
    )
    counted = {
        "unit_missing": assignments.aggregate(
            unit_missing=ibis.ifelse(assignments.reason == 1, 1, 0).sum().fill_null(0)
        ),
        "units": dropped.aggregate(
            **{
                name: ibis.ifelse(dropped.reason == i + 1, 1, 0).sum().fill_null(0)
                for i, name in enumerate(EXCLUSION_REASONS)
                if i > 0
            }
        ),
    }
    for metric in part.metrics:
        events = _events(engine, metric, where, cutoff)
        own = events.semi_join(units.select("unit"), "unit")
        counted[metric.name] = events.aggregate(
            **{f"{metric.name}__unit_missing": ibis.ifelse(events.unit.isnull(), 1, 0).sum()}
        ).cross_join(
            own.aggregate(
                **{
                    f"{metric.name}__ts_missing": ibis.ifelse(own.ts.isnull(), 1, 0).sum(),
                    f"{metric.name}__events": own.count(),
                }
            )
        )
    tables = list(counted.values())
    out = tables[0]
    for table in tables[1:]:
        out = out.cross_join(table)
    return out


def experiment_expression(
    engine: Engine,
    part: Experiment,
    where: str,
    cutoff: datetime | None = None,
    units_only: bool = False,
):
    """The one query of an experiment: assignments x metrics, summarised per arm (x by).

    Only units with a unit, an arm and an exposure time before ``cutoff`` (default: now)
    count; :func:`exclusions_expression` counts the others. A unit counts in a metric only
    once the metric's window has closed by the cut-off (its value is NULL until then, and
    ``<metric>__waiting`` counts those units): a unit exposed yesterday has not had the
    time to convert, and counting it as "did not" would bias every rate towards zero.

    With ``units_only`` the table of units (one row each: arm, ``n_arms`` and each metric's
    value) is returned before it is summarised (:func:`histogram_expression`).
    """
    import ibis

    units = _units(_assignments(engine, part, where, cutoff), part.by)
    table = units
    for metric in part.metrics:
        events = _events(engine, metric, where, cutoff)
        per_unit = _per_unit(_window(events, units, 0, metric.window_days), metric)
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
        joined = table.left_join(during, "unit")
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
    keys = {"arm": table.arm, **{b: table[b] for b in part.by}}
    keys["multi"] = ibis.ifelse(table.n_arms > 1, 1, 0)
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
    units = units.filter(units.n_arms == 1)
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


# --------------------------------------------------------------------------- compiling


def _versions() -> list[str]:
    found = [QUERY_VERSION]
    for package in ("ibis-framework", "sqlglot"):
        try:
            found.append(metadata.version(package))
        except metadata.PackageNotFoundError:
            found.append("-")
    return found


def _jsonable(part) -> Any:
    return (
        {"type": type(part).__name__, **asdict(part)}
        if hasattr(part, "__dataclass_fields__")
        else part
    )


def cache_key(
    engine: Engine, request: Request, where: Where, limit: int, cutoff: datetime | None = None
) -> str:
    """A key that changes with the request, engine, schemas read, cut-off and versions."""
    schemas: dict[str, Any] = {}
    try:
        if where.file:
            schemas["data"] = engine.describe(table=FILE_TABLE)
        elif where.table or where.sql:
            schemas["data"] = engine.describe(where.table, where.sql)
        for part in request.values():
            if isinstance(part, Experiment):
                kind = "table" if is_table_name(part.assignments) else "sql"
                schemas[part.assignments] = engine.describe(**{kind: part.assignments})
                for metric in part.metrics:
                    schemas[metric.name] = engine.describe(metric.table, metric.sql)
    except Exception:  # noqa: BLE001 - an unreadable schema is found again when compiling
        schemas["unreadable"] = True
    payload = {
        "backend": engine.backend,
        "dialect": engine.dialect,
        "where": asdict(where) | {"label": None, "experiment": None},
        "request": {name: _jsonable(part) for name, part in request.items()},
        "schemas": schemas,
        "limit": limit,
        "cutoff": cutoff,
        "versions": _versions(),
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _columns_of(part) -> tuple[Column, ...]:
    if isinstance(part, Rows):
        return part.columns
    if isinstance(part, Summary):
        checked = {c.name for c in part.checks}
        values = tuple(
            Column("value", v.column, required=False)
            for v in part.values
            if v.column not in checked
        )
        return part.by + part.checks + values
    return ()


def _present(part, names: list[str]):
    """The part without its optional columns that the data do not have."""
    if isinstance(part, Rows):
        kept = tuple(c for c in part.columns if not c.optional or c.name in names)
        return Rows(kept, part.input)
    return part


def _require_columns(columns: list[Column], present: list[str], where: Where) -> None:
    """Every column a part reads is in the file or the query; else name it and the others."""
    for column in columns:
        if column.name not in present:
            shown = ", ".join(c for c in present if c != ROW_COLUMN)
            raise Problem(
                where.label,
                f"column '{column.name}' (from {column.key} = \"{column.name}\") is "
                f"missing; the {'file' if where.file else 'query'} has columns {shown}",
                f"set {column.key} to one of those columns or add the column",
            )


def _require_in_file(engine: Engine, request: Request, where: Where) -> None:
    """A file's missing columns, found by the engine's own driver before ibis is imported.

    Bad input should fail in well under a second; ibis takes most of one to import.
    """
    if not where.file:
        return
    described = engine.describe(table=FILE_TABLE)
    present = [name for name, _ in described]
    if where.time_column is not None:
        _require_time_column(dict(described), where)
    for part in request.values():
        if isinstance(part, Experiment) or (isinstance(part, Rows) and part.input != "data"):
            continue
        _require_columns(_columns_of(_present(part, present)), present, where)


def _require_time_column(types: dict[str, str], where: Where) -> None:
    """The file's ``time_column`` exists and holds dates or timestamps; else exit 2."""
    name = where.time_column
    shown = ", ".join(c for c in types if c != ROW_COLUMN)
    if name not in types:
        raise Problem(
            where.label,
            f"column '{name}' (from time_column = \"{name}\") is missing; the file has "
            f"columns {shown}",
            "set time_column to the file's column of dates or timestamps, or remove it (then "
            "--as-of reads the whole file)",
        )
    kind = str(types[name]).upper()
    if not (kind.startswith("DATE") or kind.startswith("TIMESTAMP")):
        raise Problem(
            where.label,
            f"column '{name}' (from time_column = \"{name}\") holds {kind}, not dates or "
            "timestamps",
            "write its values as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, or set time_column to "
            "another column",
        )


def compile_request(
    engine: Engine, request: Request, where: Where, limit: int, cutoff: datetime | None = None
) -> dict:
    """Compile every part: ``{"checks": {name: sql}, "parts": {name: sql}}``.

    An experiment's check counts what its query leaves out (:func:`exclusions_expression`).
    """
    import ibis

    checks, parts, kept = {}, {}, {}
    for name, part in request.items():
        if isinstance(part, Experiment):
            expr = experiment_expression(engine, part, where.label, cutoff)
            parts[name] = ibis.to_sql(expr, dialect=engine.backend)
            left_out = exclusions_expression(engine, part, where.label, cutoff)
            checks[name] = ibis.to_sql(left_out, dialect=engine.backend)
            continue
        if isinstance(part, Histogram):
            expr = histogram_expression(engine, part, where.label, cutoff)
            parts[name] = ibis.to_sql(expr, dialect=engine.backend)
            continue
        if isinstance(part, Rows) and part.input != "data":
            continue  # a further file: fetched from its own engine
        rel = _relation(engine, where)
        present = list(rel.schema().names)
        part = _present(part, present)
        columns = _columns_of(part)
        kept[name] = [c.name for c in columns]
        _require_columns(columns, present, where)
        checks[name] = ibis.to_sql(check_expression(rel, columns), dialect=engine.backend)
        expr = (
            rows_expression(rel, part.columns, limit)
            if isinstance(part, Rows)
            else summary_expression(rel, part)
        )
        parts[name] = ibis.to_sql(expr, dialect=engine.backend)
    return {
        "checks": {k: str(v) for k, v in checks.items()},
        "parts": {k: str(v) for k, v in parts.items()},
        "columns": kept,
    }


def compiled(
    engine: Engine,
    request: Request,
    where: Where,
    limit: int,
    cache: Path | None,
    write: bool = True,
    cutoff: datetime | None = None,
) -> dict:
    """Compiled SQL of a request, from the cache when the same request was compiled before.

    With ``write`` false (``readout validate``) a new compile is not stored.
    """
    key = cache_key(engine, request, where, limit, cutoff)
    path = cache / f"{key}.json" if cache else None
    if path is not None and path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    _require_in_file(engine, request, where)
    if not write:  # readout validate: a plain data file's checks need no ibis
        from readout import plain_sql

        plain = plain_sql.compile_request(engine, request, where, limit)
        if plain is not None:
            return plain
    result = compile_request(engine, request, where, limit, cutoff)
    if path is not None and write:
        from readout.bundle import atomic_write_text

        atomic_write_text(path, json.dumps(result, indent=1))
    return result


# --------------------------------------------------------------------------- fetching

RULE_WORDS = {
    "missing": ("missing value(s)", "fill them in or remove those rows"),
    "non-numeric": ("non-numeric value(s)", "make the column numeric"),
    "finite": (
        f"value(s) that are not finite numbers (inf, NaN or beyond ±{MAX_MAGNITUDE:.0e})",
        "remove or correct those rows (rescale the column if its values are that large)",
    ),
    "binary": ("value(s) other than 0 and 1", "code the outcome as 0 and 1"),
    "positive": ("zero or negative value(s)", "give positive values only"),
    "nonnegative": ("negative value(s)", "give values of zero or more"),
    "integer": ("value(s) that are not whole numbers", "give whole numbers"),
    "unit_interval": ("value(s) outside 0 to 1", "give shares between 0 and 1"),
    "words": (
        "yes/no answer(s) (yes, no, true, false, Y or N) instead of numbers",
        "give numbers (1 for yes and 0 for no, if that is what they mean); a yes/no outcome "
        'of an A/B test is binary (metric_type = "binary"), and read as 1 and 0 there',
    ),
}
#: Rules whose fix depends on the column's meaning (the analysis says it).
SPECIFIC = ("binary", "positive", "nonnegative", "integer", "unit_interval")


def _examples(engine: Engine, where: Where, column: Column, rule: str) -> str:
    """The first offending rows (spreadsheet numbers) of a file; nothing for a query."""
    if not where.file:
        return ""
    import ibis

    rel = _relation(engine, where, rows=True)
    flags = dict(_violations(rel, column))
    picked = (
        rel.filter(flags[rule] == 1).order_by(ROW_COLUMN).select(ROW_COLUMN).limit(EXAMPLES + 1)
    )
    found = engine.execute(str(ibis.to_sql(picked, dialect=engine.backend)))[ROW_COLUMN]
    rows = ", ".join(str(int(r)) for r in found[:EXAMPLES])
    more = " and more" if len(found) > EXAMPLES else ""
    return f", in rows {rows}{more}"


def _check(
    engine: Engine, where: Where, part, counts: dict[str, np.ndarray], limit: int
) -> list[dict[str, Any]]:
    """Raise on the first broken rule; return notes on what was read another way.

    A binary column's yes/no answers are read as 1 and 0: that is a note, not a problem.
    """
    total = int(counts["__rows"][0])
    if total == 0:
        fix = "add its rows (it has a header only)" if where.file else "check the query's filters"
        raise Problem(where.label, "has no rows", fix)
    notes = []
    columns = _columns_of(part)
    for i, column in enumerate(columns):
        for rule in ("missing", "words", "non-numeric", *column.rules):
            found = counts.get(f"c{i}__{rule}")
            if found is None or not found[0]:
                continue
            if rule == "words" and _yes_no(column):
                notes.append(
                    {
                        "code": "yes_no_as_binary",
                        "column": column.name,
                        "key": column.key,
                        "rows": int(found[0]),
                    }
                )
                continue
            words, generic = RULE_WORDS[rule]
            fix = column.fix if rule in SPECIFIC else ""
            raise Problem(
                where.label,
                f"column '{column.name}' ({column.key}) has {int(found[0]):,} "
                f"{words}{_examples(engine, where, column, rule)}",
                fix or generic,
            )
    if isinstance(part, Rows) and total > limit:
        raise Problem(
            where.label,
            f"{total:,} rows exceed the row limit of {limit:,} for an analysis that reads rows",
            "raise max_rows in [settings], or filter or sample the rows in the query",
        )
    return notes


def fetch(
    engine: Engine,
    request: Request,
    where: Where,
    limit: int,
    cache: Path | None = None,
    files: dict[str, Engine] | None = None,
    write_cache: bool = True,
    cutoff: datetime | None = None,
) -> tuple[Fetched, list[dict[str, str]]]:
    """Check and fetch every part of a request; returns the data and the SQL that ran.

    ``cutoff`` is the moment the data are read as of: units exposed after it are left out
    (and counted). ``None`` is the time of the run.

    Raises
    ------
    DataError
        A missing or malformed column, a broken rule (naming the first rows of a file), too
        many rows, no rows, non-finite metric values, an error of the user's SQL (with the
        engine's own message).
    """
    try:
        plan = compiled(engine, request, where, limit, cache, write_cache, cutoff)
    except Exception as exc:
        _engine_problem(exc, where)
        raise
    queries: list[dict[str, str]] = []
    out: dict[str, dict[str, np.ndarray]] = {}
    extras: dict[str, Any] = {}
    notes: list[dict[str, Any]] = list(engine.notes)
    for name, part in request.items():
        if isinstance(part, Rows) and part.input != "data":
            other = (files or {})[part.input]
            own = Rows(part.columns, "data")
            where_other = Where(file=True, label=other.label)
            sub, sub_queries = fetch(
                other, {name: own}, where_other, limit, cache, write_cache=write_cache
            )
            out[name] = sub.parts[name]
            notes += sub.notes
            queries += sub_queries
            continue
        counts = None
        try:
            if name in plan["checks"]:
                counts = engine.execute(plan["checks"][name])
                if not isinstance(part, Experiment):
                    part = _present(part, plan["columns"][name])
                    notes += _check(engine, where, part, counts, limit)
            result = engine.execute(plan["parts"][name])
            if not isinstance(part, Rows):
                result = _canonical(result)
            if isinstance(part, Experiment):
                _finite(engine, part, where, result, cutoff)
        except Exception as exc:
            _engine_problem(exc, where)
            raise
        if isinstance(part, Experiment):
            result, multi = _exposures(result)
            extras[name] = multi | _excluded(counts, part, cutoff)
            if int(np.sum(result["n"])) == 0:
                left = sum(extras[name]["excluded"].values())
                raise Problem(
                    where.label,
                    "no assigned units: the assignments query returned no rows"
                    if not left
                    else f"no assigned units: all {left:,} assignment(s) lack a unit, an arm or "
                    "an exposure time, or were exposed after the run's cut-off",
                    "check the assignments query (its filter, the experiment's name, the dates)",
                )
            queries.append({"name": f"{name}: what was left out", "sql": plan["checks"][name]})
        out[name] = result
        queries.append({"name": name, "sql": plan["parts"][name]})
    fetched = Fetched(
        parts=out, source=where.label, row_numbers=where.file, extras=extras, notes=notes
    )
    return fetched, queries


def _excluded(
    counts: dict[str, np.ndarray] | None, part: Experiment, cutoff: datetime | None
) -> dict[str, Any]:
    """What an experiment's query left out, from its check's one row of counts."""

    def count(column: str) -> int:
        value = (counts or {}).get(column)
        if value is None or not len(value) or value[0] is None or np.isnan(float(value[0])):
            return 0
        return int(value[0])

    return {
        "excluded": {reason: count(reason) for reason in EXCLUSION_REASONS},
        "events": {
            m.name: {
                "unit_missing": count(f"{m.name}__unit_missing"),
                "ts_missing": count(f"{m.name}__ts_missing"),
                "events": count(f"{m.name}__events"),
            }
            for m in part.metrics
        },
        "cutoff": None if cutoff is None else cutoff.isoformat(),
    }


def _finite(
    engine: Engine,
    part: Experiment,
    where: Where,
    result: dict[str, np.ndarray],
    cutoff: datetime | None,
) -> None:
    """Refuse a metric whose values include NaN or infinity, naming the first units.

    A sum over a non-finite value is not finite, so the per-arm sums show it at no cost (a
    sum over no values is NULL, not a problem: its count is zero); only then does a second
    query count the events and find their units. Unchecked, a NaN would read as 0.
    """
    for metric in part.metrics:
        count = result.get(f"{metric.name}__n", result["n"]).astype(float)
        broken = any(
            np.any((count > 0) & ~np.isfinite(values.astype(float)))
            for column, values in result.items()
            if column.startswith(f"{metric.name}__") and values.dtype != object
        )
        if broken:
            raise _non_finite(engine, part, metric, where, cutoff)


def _non_finite(
    engine: Engine, part: Experiment, metric: MetricSpec, where: Where, cutoff: datetime | None
) -> Problem:
    """How many of a metric's events (of the experiment's units) are not finite, and whose."""
    import ibis

    units = _units(_assignments(engine, part, where.label, cutoff), ())
    events = _events(engine, metric, where.label, cutoff).semi_join(units.select("unit"), "unit")
    columns = ("numerator", "denominator") if metric.kind == "ratio" else ("value",)
    bad = ibis.literal(False)
    for column in columns:
        value = _number(events[column])
        bad = bad | value.isnan().fill_null(False) | value.isinf().fill_null(False)
    flagged = events.filter(bad)
    count = engine.execute(str(ibis.to_sql(flagged.aggregate(n=flagged.count()), engine.backend)))
    first = flagged.select("unit").distinct().order_by("unit").limit(EXAMPLES + 1)
    found = engine.execute(str(ibis.to_sql(first, dialect=engine.backend)))["unit"]
    shown = ", ".join(_unit_text(u) for u in found[:EXAMPLES]) + (
        " and more" if len(found) > EXAMPLES else ""
    )
    named = " or ".join(f"'{c}'" for c in columns)
    return Problem(
        where.label,
        f"metric '{metric.name}': {int(count['n'][0]):,} event(s) of the experiment's units have "
        f"a {named} that is not a finite number (NaN or infinity), for units {shown}",
        "correct those rows, or leave them out in the metric's query "
        f"(e.g. WHERE isfinite({columns[0]}))",
    )


def _unit_text(unit: Any) -> str:
    """A unit as its id is written (numbers come back as floats: 3, not 3.0)."""
    if isinstance(unit, float) and unit.is_integer():
        return str(int(unit))
    return str(unit)


def _canonical(result: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Summary rows in one order, whatever order the engine returned them in.

    A GROUP BY has no order; sorting keeps the fingerprint of unchanged numbers the same
    from run to run.
    """
    keys = [v.astype(str) for v in result.values() if v.dtype == object]
    if not keys or not len(keys[0]):
        return result
    order = np.lexsort(keys[::-1])
    return {k: v[order] for k, v in result.items()}


def _exposures(result: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict]:
    """Split units assigned to several arms (a health check) from the rest."""
    multi = result.pop("multi").astype(float) > 0
    first = result.pop("exposed_first").astype(float)
    last = result.pop("exposed_last").astype(float)
    counted = {
        "units": int(np.sum(result["n"])),
        "multiple_arms": int(np.sum(result["n"][multi])),
        "first_exposure": float(np.nanmin(first)) if first.size else float("nan"),
        "last_exposure": float(np.nanmax(last)) if last.size else float("nan"),
    }
    return {k: v[~multi] for k, v in result.items()}, counted


#: Where the errors of users' SQL come from: the engines, their drivers and the SQL layer.
ENGINE_MODULES = (
    "duckdb",
    "_duckdb",
    "psycopg",
    "ibis",
    "pyspark",
    "py4j",
    "sqlglot",
    "google",
    "snowflake",
    "trino",
)


def _engine_problem(exc: Exception, where: Where) -> None:
    """Turn an engine's error into a named problem for the experiment that met it.

    The engine has already told its own failures apart (:meth:`Engine.running`): one that
    stopped answering or timed out (:class:`~readout.errors.EngineFailure`, exit 1) or a
    damaged file (exit 2) is named again with the experiment and the query. An error of
    the user's SQL or data from an engine's module becomes a :class:`Problem` (exit 2).
    Anything else is readout's own failure and goes on as it is (exit 1, logged).
    """
    if isinstance(exc, EngineFailure | DataError):
        if exc.source != where.label and exc.source in where.label:
            raise type(exc)(where.label, exc.problem, exc.fix) from None
        return
    module = type(exc).__module__.split(".")[0]
    if module in ENGINE_MODULES:
        raise Problem(where.label, f"the query failed: {_first_line(exc)}", _sql_fix()) from None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    lines = [line for line in text.splitlines() if line.strip()]
    return scrub(lines[0][:500])


def _sql_fix() -> str:
    return "correct the SQL (it runs in the source's own engine; set dialect if written in another)"


# --------------------------------------------------------------------------- planning


def history_expression(
    engine: Engine, part: Experiment, metric: MetricSpec, where: str, start: datetime, end: datetime
):
    """One query: per arm, the units first exposed in ``[start, end)`` and the metric's sums.

    Per arm: ``n`` (units), ``exposed_first`` and ``exposed_last`` (epoch seconds) and, over
    the units whose window closed by ``end``, ``counted`` and the metric's ``__n``, ``__sum``
    and ``__sum2`` (a ratio: ``__num``, ``__den``, ``__num2``, ``__den2``, ``__numden``).
    """
    from datetime import timedelta

    import ibis

    def stamp(moment: datetime):
        return ibis.timestamp(moment.astimezone(UTC).replace(tzinfo=None))

    units = _units(_assignments(engine, part, where, end), ())
    units = units.filter((units.exposed_at >= stamp(start)) & (units.n_arms == 1))
    seconds = units.exposed_at.epoch_seconds().cast("float64")
    exposed = units.group_by("arm").aggregate(
        n=units.count(), exposed_first=seconds.min(), exposed_last=seconds.max()
    )
    closed = units.filter(units.exposed_at < stamp(end - timedelta(days=metric.window_days)))
    events = _events(engine, metric, where)
    per_unit = _capped(_per_unit(_window(events, closed, 0, metric.window_days), metric), metric)
    joined = closed.left_join(per_unit, "unit")
    m = metric.name
    if metric.kind == "ratio":
        num, den = joined.num.fill_null(0.0), joined.den.fill_null(0.0)
        aggs = {
            f"{m}__num": num.sum(),
            f"{m}__den": den.sum(),
            f"{m}__num2": (num * num).sum(),
            f"{m}__den2": (den * den).sum(),
            f"{m}__numden": (num * den).sum(),
        }
    else:
        value = joined.v if metric.aggregate == "mean" else joined.v.fill_null(0.0)
        aggs = _stats(value.cast("float64"), Value(m, m, ("moments",)))
    counted = joined.group_by("arm").aggregate(counted=joined.count(), **aggs)
    out = exposed.left_join(counted, "arm")
    return out.select(exposed, *[c for c in counted.columns if c != "arm"])


def history(
    engine: Engine,
    part: Experiment,
    metric: MetricSpec,
    where: Where,
    start: datetime,
    end: datetime,
) -> tuple[dict[str, np.ndarray], str]:
    """Run :func:`history_expression` (``readout plan``): its rows per arm, and its SQL.

    Raises
    ------
    DataError
        The user's SQL fails or returns the wrong columns (exit 2).
    """
    import ibis

    try:
        expr = history_expression(engine, part, metric, where.label, start, end)
        sql = str(ibis.to_sql(expr, dialect=engine.backend))
        return _canonical(engine.execute(sql)), sql
    except DataError:
        raise
    except Exception as exc:
        _engine_problem(exc, where)
        raise
