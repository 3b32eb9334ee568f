"""Names, words, number parsing and the engine's errors, shared by every query of a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from analyses.core.inputs import Column
from readout.errors import DataError, EngineFailure
from readout.masking import scrub

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
