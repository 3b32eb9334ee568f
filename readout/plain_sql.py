"""A data file's checks and sums as plain DuckDB SQL, for ``readout validate`` without ibis.

``readout validate`` of a new config compiles its checks afresh (nothing is cached yet);
ibis takes most of a second to import. A data file is read by DuckDB, whose ``DESCRIBE``
already gave its columns and types, so a request of ``Rows`` and ``Summary`` parts (every
analysis reading a file, cut at a ``time_column`` or not) is written here as the same
SQL ibis compiles to (:func:`readout.queries.compile_request`: the same rules, casts and
null-handling, term for term). ``readout run`` uses it too (its first run of a small file
paid most of a second for ibis's import and compile); ibis compiles the rest (warehouse
sources, experiments, histograms). ``tests/readout/test_plain_sql.py`` runs both on files
that break every rule and compares what they count and sum.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from analyses.core.inputs import Column, Rows, Summary, Value
from readout.sources import FILE_TABLE, Engine

#: What ibis's ``strip`` trims (DuckDB's TRIM with these characters).
SPACES = " \t\n\r\x0b\x0c"
#: DuckDB's numeric types (ibis's ``is_numeric``), and DECIMAL(p, s).
NUMERIC = frozenset(
    "TINYINT SMALLINT INTEGER BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT "
    "FLOAT DOUBLE".split()
)


def _name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _words_in(words: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{w}'" for w in words) + ")"


def _kind(dtype: str) -> str:
    """``numeric`` (booleans too, as ibis casts them), ``string``, ``boolean`` or ``other``."""
    kind = dtype.upper()
    if kind == "BOOLEAN":
        return "boolean"
    if kind in NUMERIC or kind.startswith("DECIMAL"):
        return "numeric"
    if kind == "VARCHAR":
        return "string"
    return "other"


def _text(col: str) -> str:
    return f"LOWER(TRIM({col}, '{SPACES}'))"


def _number(col: str, kind: str, words: bool) -> str:
    """As :func:`readout.queries._number`: numbers cast, text parsed, yes/no as 1/0."""
    from readout.queries import NO_WORDS, YES_WORDS

    if kind in ("numeric", "boolean"):
        return f"CAST({col} AS DOUBLE)"
    if words:
        return (
            f"CASE WHEN {_text(col)} IN {_words_in(YES_WORDS)} THEN 1.0 "
            f"WHEN {_text(col)} IN {_words_in(NO_WORDS)} THEN 0.0 "
            f"ELSE TRY_CAST({col} AS DOUBLE) END"
        )
    return f"TRY_CAST({col} AS DOUBLE)"


def _violations(column: Column, kind: str) -> list[tuple[str, str]]:
    """As :func:`readout.queries._violations`: (rule, condition) pairs."""
    from readout.queries import MAX_MAGNITUDE, NO_WORDS, YES_WORDS, _yes_no

    col = f"{_name('t0')}.{_name(column.name)}"
    out = []
    if column.required:
        out.append(("missing", f"{col} IS NULL"))
    if column.kind == "number":
        value = _number(col, kind, _yes_no(column))
        if kind == "boolean":
            out.append(("words", f"{col} IS NOT NULL"))
        elif kind == "string":
            words = _words_in(YES_WORDS + NO_WORDS)
            out.append(("words", f"COALESCE({_text(col)} IN {words}, FALSE)"))
        if kind not in ("numeric", "boolean"):
            out.append(("non-numeric", f"({col} IS NOT NULL) AND (({value}) IS NULL)"))
        for rule in column.rules:
            v = f"({value})"
            bad = {
                "finite": f"ISNAN({v}) OR ISINF({v}) OR (ABS({v}) > {MAX_MAGNITUDE!r})",
                "binary": f"NOT ({v} IN (0.0, 1.0))",
                "positive": f"{v} <= 0",
                "nonnegative": f"{v} < 0",
                "unit_interval": f"({v} < 0) OR ({v} > 1)",
                "integer": f"{v} <> CAST(FLOOR({v}) AS BIGINT)",
            }[rule]
            out.append((rule, f"({v} IS NOT NULL) AND COALESCE({bad}, FALSE)"))
    return out


def _check(columns: tuple[Column, ...], kinds: dict[str, str], cut: str = "") -> str:
    aggs = ['COUNT(*) AS "__rows"']
    for i, column in enumerate(columns):
        for rule, cond in _violations(column, kinds[column.name]):
            flag = f"CASE WHEN COALESCE({cond}, FALSE) THEN 1 ELSE 0 END"
            aggs.append(f"SUM({flag}) AS {_name(f'c{i}__{rule}')}")
    return _select(aggs, cut=cut)


def _select(terms: list[str], tail: str = "", cut: str = "") -> str:
    return (
        "SELECT\n  "
        + ",\n  ".join(terms)
        + f'\nFROM {_name(FILE_TABLE)} AS "t0"'
        + (f"\nWHERE\n  {cut}" if cut else "")
        + tail
    )


def _cut(column: str, kind: str, cut_at: datetime) -> str | None:
    """As :func:`readout.queries.as_of._relation`: rows stamped before the cut, or unstamped.

    ``None`` for a time zone's timestamps (left to ibis).
    """
    kind = kind.upper()
    if kind not in ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"):
        return None
    if cut_at.tzinfo is not None:
        cut_at = cut_at.astimezone(UTC).replace(tzinfo=None)
    col = f'"t0".{_name(column)}'
    moment = f"CAST({col} AS TIMESTAMP)" if kind == "DATE" else col
    return f"({col} IS NULL) OR ({moment} < CAST('{cut_at.isoformat(sep=' ')}' AS TIMESTAMP))"


def _stats(value: Value, kind: str, words: bool) -> list[str]:
    x = _number(f'"t0".{_name(value.column)}', kind, words)
    out = []
    if "moments" in value.stats:
        out += [
            f"COUNT({x}) AS {_name(value.name + '__n')}",
            f"SUM({x}) AS {_name(value.name + '__sum')}",
            f"SUM(({x}) * ({x})) AS {_name(value.name + '__sum2')}",
        ]
    if "logs" in value.stats:
        log = f"CASE WHEN ({x}) > 0 THEN LN({x}) ELSE 0.0 END"
        out += [
            f"SUM(CASE WHEN ({x}) > 0 THEN 1 ELSE 0 END) AS {_name(value.name + '__npos')}",
            f"SUM({log}) AS {_name(value.name + '__sumlog')}",
            f"SUM(({log}) * ({log})) AS {_name(value.name + '__sumlog2')}",
        ]
    return out


def _as_text(column: str, kind: str) -> str:
    col = f'"t0".{_name(column)}'
    return col if kind == "string" else f"CAST({col} AS TEXT) AS {_name(column)}"


def _summary(part: Summary, kinds: dict[str, str], cut: str = "") -> str:
    from readout.queries import _yes_no

    keys = [_as_text(c.name, kinds[c.name]) for c in part.by]
    binary = {c.name for c in part.checks if _yes_no(c)}
    aggs = ['COUNT(*) AS "n"']
    for value in part.values:
        aggs += _stats(value, kinds[value.column], value.column in binary)
    groups = ", ".join(str(i + 1) for i in range(len(keys)))
    return _select(keys + aggs, f"\nGROUP BY\n  {groups}" if keys else "", cut)


def _rows(columns: tuple[Column, ...], kinds: dict[str, str], limit: int, cut: str = "") -> str:
    from readout.queries import _yes_no

    picked = []
    for column in columns:
        col = f'"t0".{_name(column.name)}'
        if column.kind == "number":
            picked.append(
                f"{_number(col, kinds[column.name], _yes_no(column))} AS {_name(column.name)}"
            )
        else:
            picked.append(_as_text(column.name, kinds[column.name]))
    return _select(picked, f"\nLIMIT {limit + 1}", cut)


def compile_request(engine: Engine, request: dict[str, Any], where, limit: int) -> dict | None:
    """Every part's checks and SQL, as :func:`readout.queries.compile_request` gives them.

    ``None`` where this cannot write them: not a data file (a source), a file cut at a
    ``time_column`` of timestamps with a time zone, or a part other than ``Rows`` and
    ``Summary``.
    """
    from readout.queries import _columns_of, _present, _require_columns

    if not where.file or engine.backend != "duckdb":
        return None
    parts = [p for p in request.values() if not (isinstance(p, Rows) and p.input != "data")]
    if not all(isinstance(p, Rows | Summary) for p in parts):
        return None
    described = engine.describe(table=FILE_TABLE)
    kinds = {name: _kind(str(dtype)) for name, dtype in described}
    present = list(kinds)
    cut = ""
    if where.time_column is not None and where.cut_at is not None:
        found = dict(described).get(where.time_column)
        cut = _cut(where.time_column, str(found), where.cut_at) if found else None
        if cut is None:
            return None
    checks, out, kept = {}, {}, {}
    for name, part in request.items():
        if isinstance(part, Rows) and part.input != "data":
            continue  # a further file: fetched from its own engine
        part = _present(part, present)
        columns = _columns_of(part)
        kept[name] = [c.name for c in columns]
        _require_columns(columns, present, where)
        checks[name] = _check(columns, kinds, cut)
        out[name] = (
            _rows(part.columns, kinds, limit, cut)
            if isinstance(part, Rows)
            else _summary(part, kinds, cut)
        )
    return {"checks": checks, "parts": out, "columns": kept}
