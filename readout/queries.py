"""Compile an analysis's request into queries, check the columns in the engine, fetch.

Each part of a request becomes ibis expressions compiled to the source's own SQL:

* a check query counting, per configured column and rule, the rows that break it (a missing
  value, a non-number, a value outside 0/1, ...); on a failure a second query finds the first
  offending rows so the message can name them;
* the part's query: the rows themselves (:class:`~analyses.inputs.Rows`, pruned to the
  columns used, bounded by the row limit), or sufficient statistics per group
  (:class:`~analyses.inputs.Summary`), or for an experiment read from a warehouse one query
  that deduplicates the assignments, joins every metric's events within its window, caps,
  adds covariates and returns per arm (x segment) counts and sums
  (:class:`~analyses.inputs.Experiment`).

Compiled SQL is cached under ``<output>/.cache/queries/`` by a key of the request, the
engine, the schemas of the tables it reads and the library versions, so a scheduled re-run
runs cached SQL on the engine's driver without importing ibis.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from analyses.inputs import (
    MAX_MAGNITUDE,
    Column,
    Experiment,
    Fetched,
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

#: Bump when the shape of the compiled SQL changes (part of the compile cache key).
QUERY_VERSION = "3"
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


class Problem(DataError):
    """A data problem found by a query (exit 2)."""


# --------------------------------------------------------------------------- expressions


def _relation(engine: Engine, where: Where, rows: bool = False):
    if where.file:
        return engine.ibis().table(FILE_ROWS if rows else FILE_TABLE)
    return engine.relation(where.table, where.sql)


def _is_numeric(dtype) -> bool:
    return dtype.is_numeric() or dtype.is_boolean()


def _number(col):
    """A column as a float: numbers cast, text parsed where it can be (else NULL)."""
    if _is_numeric(col.type()):
        return col.cast("float64")
    return col.try_cast("float64")


def _violations(rel, column: Column):
    """(name, condition) pairs: each condition marks a row that breaks a rule."""
    import ibis

    col = rel[column.name]
    out = []
    if column.required:
        out.append(("missing", col.isnull()))
    if column.kind == "number":
        value = _number(col)
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
        picked[column.name] = _number(col) if column.kind == "number" else col.cast("string")
    return rel.select(**picked).limit(limit + 1)


def _stats(col, value: Value) -> dict[str, Any]:
    import ibis

    x = _number(col)
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
    for value in part.values:
        aggs |= _stats(rel[value.column], value)
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


def _window(events, units, start_days: float, end_days: float):
    import ibis

    joined = events.join(units.select("unit", first_exposure=units.exposed_at), "unit")
    start = joined.first_exposure + ibis.interval(seconds=int(round(start_days * 86400)))
    end = joined.first_exposure + ibis.interval(seconds=int(round(end_days * 86400)))
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


def _capped(per_unit, metric: MetricSpec):
    import ibis

    if metric.cap_value is not None:
        return per_unit.mutate(v=ibis.least(per_unit.v, metric.cap_value))
    if metric.cap_percentile is not None:
        cap = per_unit.aggregate(cap=per_unit.v.quantile(metric.cap_percentile / 100))
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


def experiment_expression(engine: Engine, part: Experiment, where: str):
    """The one query of an experiment: assignments x metrics, summarised per arm (x by)."""
    import ibis

    kind = "table" if is_table_name(part.assignments) else "sql"
    assignments = _read(engine, {kind: part.assignments}, f"{where}, assignments")
    fix = "return unit, arm and exposed_at (and the segment columns) from assignments"
    _require(assignments, ASSIGNMENT_COLUMNS + part.by, "assignments", where, fix)
    if not _temporal(assignments.exposed_at.type()):
        raise Problem(
            where,
            f"assignments column 'exposed_at' is {assignments.exposed_at.type()}, not a "
            "timestamp or date",
            "cast it in the query, e.g. CAST(exposed_at AS TIMESTAMP)",
        )
    units = assignments.group_by("unit").aggregate(
        exposed_at=assignments.exposed_at.min(),
        n_arms=assignments.arm.cast("string").nunique(),
        arm=assignments.arm.cast("string").min(),
        **{b: assignments[b].cast("string").min() for b in part.by},
    )
    table = units
    for metric in part.metrics:
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
        during = _capped(_per_unit(_window(events, units, 0, metric.window_days), metric), metric)
        fill = None if metric.aggregate == "mean" else 0.0
        if metric.kind == "ratio":
            joined = table.left_join(during, "unit")
            table = joined.select(
                table,
                **{
                    f"{metric.name}__num": joined.num.fill_null(0.0),
                    f"{metric.name}__den": joined.den.fill_null(0.0),
                },
            )
            continue
        joined = table.left_join(during, "unit")
        value = joined.v if fill is None else joined.v.fill_null(fill)
        table = joined.select(table, **{metric.name: value.cast("float64")})
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
        if metric.kind == "ratio":
            num, den = table[f"{m}__num"], table[f"{m}__den"]
            aggs |= {
                f"{m}__num": num.sum(),
                f"{m}__den": den.sum(),
                f"{m}__num2": (num * num).sum(),
                f"{m}__den2": (den * den).sum(),
                f"{m}__numden": (num * den).sum(),
            }
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


def cache_key(engine: Engine, request: Request, where: Where, limit: int) -> str:
    """A key that changes with the request, the engine, the schemas read and the versions."""
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
        "versions": _versions(),
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _columns_of(part) -> tuple[Column, ...]:
    if isinstance(part, Rows):
        return part.columns
    if isinstance(part, Summary):
        values = tuple(Column("value", v.column, required=False) for v in part.values)
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
    present = [name for name, _ in engine.describe(table=FILE_TABLE)]
    for part in request.values():
        if isinstance(part, Experiment) or (isinstance(part, Rows) and part.input != "data"):
            continue
        _require_columns(_columns_of(_present(part, present)), present, where)


def compile_request(engine: Engine, request: Request, where: Where, limit: int) -> dict:
    """Compile every part: ``{"checks": {name: sql}, "parts": {name: sql}}``."""
    import ibis

    checks, parts, kept = {}, {}, {}
    for name, part in request.items():
        if isinstance(part, Experiment):
            expr = experiment_expression(engine, part, where.label)
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
) -> dict:
    """Compiled SQL of a request, from the cache when the same request was compiled before.

    With ``write`` false (``readout validate``) a new compile is not stored.
    """
    key = cache_key(engine, request, where, limit)
    path = cache / f"{key}.json" if cache else None
    if path is not None and path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    _require_in_file(engine, request, where)
    result = compile_request(engine, request, where, limit)
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
}


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


def _check(engine: Engine, where: Where, part, counts: dict[str, np.ndarray], limit: int) -> None:
    total = int(counts["__rows"][0])
    if total == 0:
        fix = "add its rows (it has a header only)" if where.file else "check the query's filters"
        raise Problem(where.label, "has no rows", fix)
    columns = _columns_of(part)
    for i, column in enumerate(columns):
        for rule in ("missing", "non-numeric", *column.rules):
            found = counts.get(f"c{i}__{rule}")
            if found is None or not found[0]:
                continue
            words, generic = RULE_WORDS[rule]
            specific = ("binary", "positive", "nonnegative", "integer", "unit_interval")
            fix = column.fix if rule in specific else ""
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


def fetch(
    engine: Engine,
    request: Request,
    where: Where,
    limit: int,
    cache: Path | None = None,
    files: dict[str, Engine] | None = None,
    write_cache: bool = True,
) -> tuple[Fetched, list[dict[str, str]]]:
    """Check and fetch every part of a request; returns the data and the SQL that ran.

    Raises
    ------
    DataError
        A missing or malformed column, a broken rule (naming the first rows of a file), too
        many rows, no rows, an error of the user's SQL (with the engine's own message).
    """
    try:
        plan = compiled(engine, request, where, limit, cache, write_cache)
    except Exception as exc:
        _engine_problem(exc, where)
        raise
    queries: list[dict[str, str]] = []
    out: dict[str, dict[str, np.ndarray]] = {}
    extras: dict[str, Any] = {}
    for name, part in request.items():
        if isinstance(part, Rows) and part.input != "data":
            other = (files or {})[part.input]
            own = Rows(part.columns, "data")
            where_other = Where(file=True, label=other.label)
            sub, sub_queries = fetch(
                other, {name: own}, where_other, limit, cache, write_cache=write_cache
            )
            out[name] = sub.parts[name]
            queries += sub_queries
            continue
        try:
            if name in plan["checks"]:
                part = _present(part, plan["columns"][name])
                counts = engine.execute(plan["checks"][name])
                _check(engine, where, part, counts, limit)
            result = engine.execute(plan["parts"][name])
        except Exception as exc:
            _engine_problem(exc, where)
            raise
        if not isinstance(part, Rows):
            result = _canonical(result)
        if isinstance(part, Experiment):
            result, multi = _exposures(result)
            extras[name] = multi
            if int(np.sum(result["n"])) == 0:
                raise Problem(
                    where.label,
                    "no assigned units: the assignments query returned no rows",
                    "check the assignments query (its filter, the experiment's name, the dates)",
                )
        out[name] = result
        queries.append({"name": name, "sql": plan["parts"][name]})
    fetched = Fetched(parts=out, source=where.label, row_numbers=where.file, extras=extras)
    return fetched, queries


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
