"""Compiling a request to SQL, checking its columns, and the compile cache key."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from analyses.core.inputs import Column, Experiment, Histogram, Request, Rows, is_table_name
from readout.queries.as_of import _relation
from readout.queries.checks import _columns_of, check_expression
from readout.queries.common import QUERY_VERSION, Problem, Where
from readout.queries.experiment import (
    exclusions_expression,
    experiment_expression,
    histogram_expression,
)
from readout.queries.rows import rows_expression, summary_expression
from readout.sources import FILE_TABLE, ROW_COLUMN, Engine


@functools.cache
def _versions() -> tuple[str, ...]:
    """What a compiled query depends on besides its request, read once a process."""
    found = [QUERY_VERSION]
    for package in ("ibis-framework", "sqlglot"):
        try:
            found.append(metadata.version(package))
        except metadata.PackageNotFoundError:
            found.append("-")
    return tuple(found)


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
    from readout import plain_sql

    # A data file's checks and sums need no ibis (most of a second to import and compile).
    result = plain_sql.compile_request(engine, request, where, limit)
    if result is None:
        result = compile_request(engine, request, where, limit, cutoff)
    if path is not None and write:
        from readout.bundle import atomic_write_text

        atomic_write_text(path, json.dumps(result, indent=1))
    return result
