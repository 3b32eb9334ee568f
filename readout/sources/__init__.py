"""Where an experiment's data comes from: DuckDB (embedded, the default) or a warehouse.

A source is a URL in ``[sources.<name>]``: ``duckdb://data/demo.duckdb`` (relative to the
config file), ``postgresql://reader:${PG_PASSWORD}@db/analytics``, ``pyspark://`` (a local
Spark session), or any other backend ibis connects to (``bigquery://project/dataset``,
``snowflake://...``, ``trino://...``). ``${VAR}`` is read from the environment when the source
is opened, so secrets never live in the config; a value substituted into the user-info or the
query is percent-encoded (a password with ``@#/:%`` connects as it is), and every URL and
engine message a user sees is masked (:mod:`readout.masking`).

A data file (``data = "file.csv"``) is a DuckDB source of its own: the file is loaded into an
in-memory DuckDB table named ``data``, with a ``data_rows`` view that numbers its rows as a
spreadsheet does (the header is row 1).

ibis compiles every query (one expression, each backend's SQL); the compiled SQL runs on the
engine's own driver where readout has one (DuckDB, PostgreSQL), so a scheduled re-run whose
queries are cached pays neither for importing ibis nor for compiling.

Every query runs under :meth:`Engine.running`: after the source's ``timeout_seconds`` it is
cancelled on the server (PostgreSQL's ``statement_timeout``, DuckDB's interrupt, Spark's job
tag), a stopped run (SIGTERM, Ctrl-C) cancels it the same way, and the engine's errors are
told apart: an engine that stopped answering or timed out (exit 1, :class:`EngineFailure`),
a damaged database file (exit 2), or the user's own SQL (left to the caller, exit 2).

The package's modules, one reason to change each: ``urls`` (the schemes, ``${VAR}``
expansion, checking a URL as written), ``engine`` (:class:`Engine`: running queries, their
timeout and cancellation, what an engine's errors mean), ``data_file`` (a CSV or Parquet file
read into DuckDB), ``opening`` (opening a configured source, DuckDB's connection settings, the
process's one Spark session).
"""

# Imported from here by other modules since readout.sources was one file.
from readout.sources.data_file import (
    DECIMAL_COMMA,
    DELIMITERS,
    FILE_ROWS,
    FILE_TABLE,
    ROW_COLUMN,
    header_of,
    open_file,
)
from readout.sources.engine import (
    DUCKDB_DAMAGED,
    DUCKDB_ENGINE,
    DUCKDB_RESOURCES,
    Engine,
)
from readout.sources.opening import (
    DEFAULT_TIMEOUT,
    duckdb_error,
    open_source,
    spark_session,
)
from readout.sources.urls import (
    ENV_REFERENCE,
    IBIS_SCHEMES,
    OWN_SCHEMES,
    SCHEMES,
    backend_of,
    expand,
    url_problem,
)

__all__ = [
    "ENV_REFERENCE",
    "FILE_TABLE",
    "FILE_ROWS",
    "ROW_COLUMN",
    "OWN_SCHEMES",
    "IBIS_SCHEMES",
    "SCHEMES",
    "DEFAULT_TIMEOUT",
    "expand",
    "backend_of",
    "url_problem",
    "Engine",
    "DUCKDB_ENGINE",
    "DUCKDB_RESOURCES",
    "DUCKDB_DAMAGED",
    "duckdb_error",
    "header_of",
    "DELIMITERS",
    "DECIMAL_COMMA",
    "open_file",
    "spark_session",
    "open_source",
]
