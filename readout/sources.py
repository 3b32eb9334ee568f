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
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import numpy as np

from readout.errors import ConfigError, DataError, EngineFailure
from readout.masking import mask, remember, scrub, secrets_in

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
FILE_TABLE, FILE_ROWS = "data", "data_rows"
ROW_COLUMN = "__row"

#: URL schemes readout opens itself, and the ibis backend each names.
OWN_SCHEMES = {
    "duckdb": "duckdb",
    "postgresql": "postgres",
    "postgres": "postgres",
    "pyspark": "pyspark",
    "spark": "pyspark",
}
#: Further backends ``ibis.connect`` opens (ibis 12's ``ibis.backends`` entry points); each
#: needs its extra installed, e.g. ``ibis-framework[bigquery]``.
IBIS_SCHEMES = (
    "athena",
    "bigquery",
    "clickhouse",
    "databricks",
    "datafusion",
    "druid",
    "exasol",
    "flink",
    "impala",
    "materialize",
    "mssql",
    "mysql",
    "oracle",
    "polars",
    "risingwave",
    "singlestoredb",
    "snowflake",
    "sqlite",
    "trino",
)
SCHEMES = (*OWN_SCHEMES, *IBIS_SCHEMES)
#: How long one query may run when ``timeout_seconds`` is not set (30 minutes).
DEFAULT_TIMEOUT = 1800.0


def expand(url: str, where: str, config: str) -> str:
    """Replace ``${VAR}`` references with the environment's values.

    A value that lands in the user-info or the query is percent-encoded, as libpq and ibis
    decode those parts; every value is remembered, so no message shows it.

    Raises
    ------
    ConfigError
        When a referenced variable is not set.
    """
    encoded = _encoded_spans(url)

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                config,
                f"{where}: the url refers to ${{{name}}}, which is not set in the environment",
                f"export {name}=... before running readout (secrets stay out of the config)",
            )
        found = os.environ[name]
        secret = any(start <= match.start() < end for start, end in encoded)
        remember(found, secret)
        return quote(found, safe="") if secret else found

    return ENV_REFERENCE.sub(value, url)


def _encoded_spans(url: str) -> list[tuple[int, int]]:
    """Where a URL's user-info and query are: the parts whose text is percent-decoded."""
    head, sep, rest = url.partition("://")
    if not sep:
        return []
    start = len(head) + 3
    end = start + next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    spans = []
    at = url.rfind("@", start, end)
    if at >= 0:
        spans.append((start, at))
    query = url.find("?", end)
    if query >= 0:
        fragment = url.find("#", query)
        spans.append((query, fragment if fragment >= 0 else len(url)))
    return spans


def backend_of(url: str) -> str:
    """The ibis backend a URL names: ``duckdb``, ``postgres``, ``pyspark``, ..."""
    scheme = urlsplit(url).scheme.lower()
    return OWN_SCHEMES.get(scheme, scheme)


def url_problem(url: str) -> tuple[str, str] | None:
    """What is wrong with a source URL as written, as (problem, fix); ``None`` if nothing.

    A URL that starts with a ``${VAR}`` reference is checked when the source is opened.
    """
    if url.startswith("${"):
        return None
    head, sep, rest = url.partition("://")
    known = ", ".join(f"{s}://" for s in SCHEMES)
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", head):
        shown = mask(url)
        if Path(url.split("?")[0]).suffix.lower() in (".duckdb", ".db", ".ddb"):
            return f"url '{shown}' has no scheme", f'write it as url = "duckdb://{url}"'
        return (
            f"url '{shown}' has no scheme (such as postgresql://)",
            f"start it with one of {known}",
        )
    scheme = head.lower()
    if scheme not in SCHEMES:
        close = difflib.get_close_matches(scheme, SCHEMES, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}://? " if close else ""
        return f"url scheme '{head}://' is not one readout knows", f"{hint}use one of {known}"
    authority = rest[: next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))]
    userinfo = authority.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    odd = "@" in userinfo or (
        "@" not in authority and "@" in rest and not re.fullmatch(r"[^:]*(:\d*)?", authority)
    )
    if odd or (password and "#" in url):
        return (
            "the url's user name or password holds an unencoded '@', '/', '?' or '#' (the URL "
            "cannot be read as written)",
            "put the password in an environment variable and write ${VAR} (readout encodes it), "
            "or percent-encode it: %40 for @, %2F for /, %3F for ?, %23 for #, %25 for %",
        )
    for part, name in ((userinfo, "user name or password"), (url.partition("?")[2], "query")):
        if re.search(r"%(?![0-9A-Fa-f]{2})", ENV_REFERENCE.sub("", part)):
            return (
                f"the url's {name} holds a '%' that is not a percent-encoding",
                "write % as %25 (or put the value in an environment variable as ${VAR})",
            )
    return None


def _check_url(url: str, where: str, config: str) -> None:
    """Raise the :func:`url_problem` of an expanded URL as a config error."""
    found = url_problem(url)
    if found is not None:
        problem, fix = found
        raise ConfigError(config, f"{where}: {problem}", fix)


@dataclass
class Engine:
    """An open source: compiles with ibis, runs SQL on the engine's own driver.

    Attributes
    ----------
    label
        How messages name the source (masked).
    backend
        The ibis backend (``duckdb``, ``postgres``, ``pyspark``, ...).
    dialect
        The SQL dialect the user's queries are written in (``None``: the engine's own).
    name
        The source's key in the config (``[sources.<name>]``), for the fix of a timeout.
    timeout
        Seconds a query may run before it is cancelled on the server (``None``: no limit).
    """

    label: str
    backend: str
    dialect: str | None = None
    native: Any = None
    _ibis: Any = None
    _opener: Any = None
    tables: dict[str, str] = field(default_factory=dict)
    name: str = ""
    timeout: float | None = None
    #: How a data file was read when that was not the plain way (a semicolon-separated CSV,
    #: decimal commas): ``{"code", ...}`` records that become notes in the report.
    notes: list[dict[str, Any]] = field(default_factory=list)

    def ibis(self) -> Any:
        """The ibis connection (opened on first use: ibis takes a second to import)."""
        if self._ibis is None:
            self._ibis = self._opener()
        return self._ibis

    def file_table(self, name: str) -> Any:
        """An ibis table of a data file's table ``name``, to compile queries against.

        Its schema comes from DuckDB's own ``DESCRIBE``: ibis's ``table`` asks the same
        question through a round trip that imports pyarrow (seconds on a small file).
        """
        import ibis
        from ibis.backends.sql.datatypes import DuckDBType

        columns = {name: DuckDBType.from_string(kind) for name, kind in self.describe(name)}
        return ibis.table(columns, name=name)

    def relation(self, table: str | None = None, sql: str | None = None) -> Any:
        """An ibis table for a table name or the user's own query."""
        with self.running():
            con = self.ibis()
            if sql is not None:
                return con.sql(sql, dialect=self.dialect) if self.dialect else con.sql(sql)
            if "." in table:
                database, name = table.rsplit(".", 1)
                return con.table(name, database=database)
            return con.table(table)

    def execute(self, sql: str) -> dict[str, np.ndarray]:
        """Run compiled SQL; columns come back as arrays (NULL as NaN or None)."""
        with self.running():
            if self.backend == "duckdb":
                return _arrays(self.native.execute(sql).fetchnumpy())
            if self.backend == "postgres":
                with self.native.cursor() as cursor:
                    cursor.execute(sql)
                    names = [d.name for d in cursor.description]
                    rows = cursor.fetchall()
                return _columns(names, rows)
            if self.backend == "pyspark":
                frame = self.ibis()._session.sql(sql)
                names = frame.columns
                return _columns(names, [tuple(r) for r in frame.collect()])
            table = self.ibis().sql(sql).to_pyarrow()
            return {name: _array(table.column(name).to_pylist()) for name in table.column_names}

    def describe(self, table: str | None = None, sql: str | None = None) -> list[tuple[str, str]]:
        """Column names and types of a table or query, asked of the engine's own driver."""
        with self.running():
            if self.backend == "duckdb":
                query = sql if sql is not None else f"SELECT * FROM {table}"
                found = self.native.execute(f"DESCRIBE {query}").fetchall()
                return [(r[0], r[1]) for r in found]
            if self.backend == "postgres" and self.dialect in (None, "postgres"):
                query = sql if sql is not None else f"SELECT * FROM {table}"
                with self.native.cursor() as cursor:
                    cursor.execute(f"SELECT * FROM ({query}) AS readout_probe LIMIT 0")
                    return [(d.name, str(d.type_code)) for d in cursor.description]
        schema = self.relation(table, sql).schema()
        return [(name, str(dtype)) for name, dtype in schema.items()]

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around every query: its timeout, its cancellation, and what its errors mean.

        After ``timeout`` seconds the query is cancelled on the server (PostgreSQL enforces
        its ``statement_timeout`` itself; DuckDB and Spark are interrupted from a timer
        thread). A stopped run (SIGTERM, Ctrl-C) cancels it too before unwinding. An error
        that says the engine stopped answering or timed out becomes
        :class:`~readout.errors.EngineFailure`, a damaged DuckDB file a
        :class:`~readout.errors.DataError`; the user's SQL errors pass through as they are.
        """
        expired, done = threading.Event(), threading.Event()
        tag, watcher, stopping = self._tag(), None, False
        if self.timeout and self.backend in ("duckdb", "pyspark"):

            def watch() -> None:
                if done.wait(self.timeout):
                    return
                expired.set()
                # Again until the query ends: a cancel sent before the engine started the
                # query's job would be lost.
                while not done.is_set():
                    self.cancel(tag)
                    done.wait(0.5)

            watcher = threading.Thread(target=watch, name="readout-timeout", daemon=True)
            watcher.start()
        try:
            yield
        except Exception as exc:
            stopped = _stop_behind(exc)
            if stopped is not None:
                # DuckDB stops waiting and reports the signal's exception as its cause, but
                # its worker threads run on until interrupted.
                self.cancel(tag)
                raise stopped from None
            failure = self.failure(exc, timed_out=expired.is_set())
            if failure is not None:
                raise failure from None
            raise
        except BaseException:  # SIGTERM (Terminated) or Ctrl-C: stop the server's work
            stopping = True
            self.cancel(tag)
            raise
        finally:
            done.set()
            if watcher is not None:
                watcher.join()  # no late cancel may hit the next query
            if tag is not None and not stopping:
                with contextlib.suppress(Exception):
                    self._spark().removeJobTag(tag)

    def _spark(self):
        return self.ibis()._session.sparkContext

    def _tag(self) -> str | None:
        """A Spark job tag for the queries of this thread (so that they can be cancelled)."""
        if self.backend != "pyspark":
            return None
        tag = f"readout-{uuid.uuid4().hex}"
        self._spark().addJobTag(tag)
        return tag

    def cancel(self, tag: str | None = None) -> None:
        """Stop what the engine runs for readout, on the server; best effort, never raises."""
        if self.backend == "pyspark":
            # From a thread of its own: in Spark's pinned-thread mode each Python thread has
            # its own connection to the JVM, and an interrupted call leaves this thread's
            # waiting for an answer.
            spark = self._spark()
            thread = threading.Thread(
                target=_quietly,
                args=(spark.cancelJobsWithTag, tag) if tag else (spark.cancelAllJobs,),
                daemon=True,
            )
            thread.start()
            thread.join(timeout=10.0)
        elif self.backend == "postgres" and self.native is not None:
            _quietly(self.native.cancel_safe, timeout=5.0)
        elif self.backend == "duckdb" and self.native is not None:
            _quietly(self.native.interrupt)

    def failure(self, exc: Exception, timed_out: bool = False) -> Exception | None:
        """What an engine's error says about the engine, if anything.

        Returns
        -------
        Exception or None
            :class:`~readout.errors.EngineFailure` for an engine that stopped answering,
            was shut down, ran out of resources or timed out (exit 1); a
            :class:`~readout.errors.DataError` for a damaged DuckDB file (exit 2); ``None``
            for the user's own SQL or data (syntax, unknown tables or columns: the caller
            names the query).
        """
        if isinstance(exc, DataError | EngineFailure):
            return None
        text = _first_line(exc)
        if timed_out or _is_statement_timeout(exc):
            return EngineFailure(
                self.label,
                f"a query ran longer than timeout_seconds = {self.timeout:g} and was "
                "cancelled on the server",
                f"raise timeout_seconds in [sources.{self.name}], or make the query cheaper "
                "(filter the rows, or read a pre-aggregated table)",
            )
        kind = _failure_kind(exc)
        if kind == "damaged":
            return DataError(
                self.label,
                f"the database file is damaged or truncated ({text})",
                "restore the file from a backup, or write it again",
            )
        if kind == "lost":
            return EngineFailure(
                self.label,
                f"the engine stopped answering during the query ({text})",
                "check that the database server is running and reachable, then run again",
            )
        if kind == "engine":
            return EngineFailure(
                self.label,
                f"the engine could not run the query ({text})",
                "check the engine's state (memory, disk, load) with its administrator, then "
                "run again",
            )
        return None

    def close(self) -> None:
        """Close the connections (a shared Spark session stays up for the process)."""
        for con in (self.native,):
            if con is not None and hasattr(con, "close"):
                try:
                    con.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass


def _quietly(call, *args, **kwargs) -> None:
    """Call, ignoring any error: cancelling is best effort (the server may be gone)."""
    try:
        call(*args, **kwargs)
    except Exception:  # noqa: BLE001, S110
        pass


def _first_line(exc: BaseException) -> str:
    """An error's first non-empty line, masked and at most 300 characters."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return scrub(lines[0][:300]) if lines else type(exc).__name__


def _stop_behind(exc: BaseException) -> BaseException | None:
    """The SIGTERM or Ctrl-C behind an engine's error (DuckDB wraps it: "Query interrupted")."""
    for behind in (exc.__cause__, exc.__context__):
        if isinstance(behind, BaseException) and not isinstance(behind, Exception):
            return behind
    return None


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", None) or "")


def _is_statement_timeout(exc: BaseException) -> bool:
    """PostgreSQL's statement_timeout (SQLSTATE 57014 with the timeout's words)."""
    return _sqlstate(exc) == "57014" and "statement timeout" in str(exc)


#: DuckDB's errors about the engine itself, not the query.
DUCKDB_ENGINE = ("ConnectionException", "FatalException", "InternalException")
DUCKDB_RESOURCES = ("OutOfMemoryException",)
#: What DuckDB says of a database file that is damaged or is not one.
DUCKDB_DAMAGED = (
    "not a valid DuckDB database",
    "Could not read enough bytes",
    "Corrupt database file",
    "checksum",
)


def _failure_kind(exc: BaseException) -> str | None:
    """``lost``, ``engine``, ``damaged``, or ``None`` (the user's SQL), by the error's class.

    PostgreSQL (psycopg): an ``OperationalError`` (SQLSTATE classes 08 connection, 53
    resources, 57 operator intervention such as 57P01 admin shutdown, 58 system) or an
    ``InterfaceError`` (the connection closed) is the engine's; 42 (syntax, undefined table
    or column) and 22 (data) are the SQL's. DuckDB: interruptions and connection, fatal,
    internal and memory errors are the engine's, an I/O error naming a damaged file is
    the file's. Spark: py4j's network errors and a cancelled job are the engine's.
    """
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    state = _sqlstate(exc)
    if module == "psycopg":
        import psycopg

        if state == "57014":  # cancelled by someone else (readout's own timeout is named)
            return "engine"
        if isinstance(exc, psycopg.InterfaceError) or state[:2] in ("08", "57", "58"):
            return "lost"
        if not state and isinstance(exc, psycopg.OperationalError):
            return "lost"  # "server closed the connection unexpectedly" has no SQLSTATE
        if isinstance(exc, psycopg.OperationalError | psycopg.InternalError):
            return "engine"
        return None
    if module in ("duckdb", "_duckdb"):
        if name == "IOException" and any(t in str(exc) for t in DUCKDB_DAMAGED):
            return "damaged"
        if name in DUCKDB_ENGINE or name == "InterruptException":
            return "lost"
        if name in DUCKDB_RESOURCES:
            return "engine"
        return None
    if module in ("py4j", "pyspark"):
        text = str(exc)
        if name == "Py4JNetworkError" or "Answer from Java side is empty" in text:
            return "lost"
        if "SparkContext was shut down" in text or re.search(r"Job \d+ cancelled", text):
            return "lost"
        return None
    if isinstance(exc, ConnectionError | TimeoutError | BrokenPipeError):
        return "lost"
    return None


def _array(values: list) -> np.ndarray:
    """A list of Python values as an array: numbers as floats (NULL as NaN), else objects."""
    from decimal import Decimal

    kinds = {type(v) for v in values if v is not None}
    if kinds and kinds <= {int, float, bool, Decimal}:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    return np.array(values, dtype=object)


def _columns(names: list[str], rows: list[tuple]) -> dict[str, np.ndarray]:
    return {name: _array([row[i] for row in rows]) for i, name in enumerate(names)}


def _arrays(found: dict[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for name, values in found.items():
        if isinstance(values, np.ma.MaskedArray):
            if values.dtype.kind in "iufb":
                values = values.astype(float).filled(np.nan)
            else:
                # Not ``filled(None)``: None means the mask's default filler, which is "?"
                # for objects, and a NULL arm or segment would become an arm called "?".
                mask = np.ma.getmaskarray(values)
                values = values.data.astype(object)
                values[mask] = None
        if values.dtype.kind in "iub":
            values = values.astype(float)
        out[name] = np.asarray(values)
    return out


# --------------------------------------------------------------------------- opening


def _duckdb(
    path: Path | None, read_only: bool, base_dir: Path, settings: dict[str, str] | None = None
):
    """A DuckDB connection; ``settings`` are DuckDB's own (``memory_limit``, ``threads``)."""
    import duckdb

    con = duckdb.connect(
        str(path) if path else ":memory:", read_only=read_only, config=dict(settings or {})
    )
    con.execute("SET enable_progress_bar = false")
    # Timestamps without a zone are UTC, as the run's cut-off (now) is: not the machine's zone.
    con.execute("SET TimeZone = 'UTC'")
    # Relative paths in users' queries (read_parquet('events/*.parquet')) start at the
    # config file's folder, as every other path in the config does.
    # Literals, not parameters: binding a Python parameter makes duckdb import pandas (0.3 s).
    con.execute(f"SET file_search_path = {_literal(base_dir)}")
    return con


def _ibis_duckdb(native):
    def opener():
        import ibis

        return ibis.duckdb.from_connection(native)

    return opener


def duckdb_error() -> type[Exception]:
    """DuckDB's base error class (imported only when a DuckDB source is opened)."""
    import duckdb

    return duckdb.Error


def header_of(path: Path, delimiter: str = ",") -> list[str]:
    """The column names of a CSV file's first line."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        return next(csv.reader(fh, delimiter=delimiter), [])


#: Column separators a ``.csv`` file may use instead of commas (read as such, with a note).
DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
#: A number written with a decimal comma (``1,5``, ``-0,25``) or a whole number.
DECIMAL_COMMA = r"[-+]?([0-9]+|[0-9]*,[0-9]+)"


def _delimiter(native, path: Path) -> str:
    """The file's column separator as DuckDB's sniffer finds it (a comma unless it is sure)."""
    import duckdb

    try:
        found = native.execute(f"SELECT Delimiter FROM sniff_csv({_literal(path)})").fetchone()
    except duckdb.Error:
        return ","  # reading the file names the problem
    return found[0] if found and found[0] in DELIMITERS else ","


def _decimal_comma_columns(native, text_columns: tuple[str, ...]) -> list[str]:
    """Text columns whose every value is a number written with a decimal comma."""
    candidates = [
        name
        for name, kind, *_ in native.execute(f"DESCRIBE {FILE_TABLE}").fetchall()
        if kind == "VARCHAR" and name not in text_columns
    ]
    found = []
    for name in candidates:
        column = f'"{name.replace(chr(34), chr(34) * 2)}"'
        numbers, commas = native.execute(
            f"SELECT bool_and(regexp_full_match(trim({column}), {_literal(DECIMAL_COMMA)})), "
            f"bool_or(contains({column}, ',')) FROM {FILE_TABLE} "
            f"WHERE {column} IS NOT NULL AND trim({column}) <> ''"
        ).fetchone()
        if numbers and commas:
            found.append(name)
    return found


def _read_csv(native, path: Path, text_columns: tuple[str, ...], source: str) -> list[dict]:
    """Load a CSV file into the ``data`` table; returns notes on how it was read.

    A file separated by semicolons, tabs or vertical bars is read with that separator (its
    header is split the same way, so arm labels stay text); where it is not a comma, numbers
    written with a decimal comma (``1,5``) are read as numbers. Each is noted in the report.
    """
    delimiter = _delimiter(native, path)
    header = header_of(path, delimiter)
    seen = [c for i, c in enumerate(header) if c in header[:i]]
    if seen:
        raise DataError(
            source,
            f"column '{seen[0]}' appears {header.count(seen[0])} times in the header",
            "give every column a unique name",
        )
    types = ", ".join(f"{_literal(c)}: 'VARCHAR'" for c in text_columns if c in header)
    options = f"header = true, delim = {_literal(delimiter)}, sample_size = -1" + (
        f", types = {{{types}}}" if types else ""
    )
    read = f"CREATE OR REPLACE TABLE {FILE_TABLE} AS SELECT * FROM read_csv({_literal(path)}, "
    native.execute(f"{read}{options})")
    if delimiter == ",":
        return []
    notes: list[dict] = [
        {"code": "csv_delimiter", "file": path.name, "separator": DELIMITERS[delimiter]}
    ]
    commas = _decimal_comma_columns(native, text_columns)
    if commas:
        native.execute(f"{read}{options}, decimal_separator = ',')")
        notes.append({"code": "decimal_comma", "file": path.name, "columns": commas})
    return notes


def open_file(path: Path, text_columns: tuple[str, ...] = ()) -> Engine:
    """A CSV or Parquet file as an in-memory DuckDB table ``data`` (and ``data_rows``).

    ``text_columns`` are read as text whatever they look like (arm labels such as "01" or
    "NA" stay as written). A CSV file separated by semicolons, tabs or vertical bars, and one
    with decimal commas, is read as such; the engine's ``notes`` say how, for the report.

    Raises
    ------
    DataError
        A missing or unreadable file, an unsupported type, duplicate column names.
    """
    import duckdb

    source = str(path)
    if not path.is_file():
        raise DataError(
            source,
            "data file not found (from data = ...)",
            "check the path, which is relative to the config file, or run `make data`",
        )
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise DataError(source, f"unsupported file type '{suffix}'", "use a .csv or .parquet file")
    native = _duckdb(None, False, path.parent)
    notes: list[dict] = []
    try:
        if suffix == ".csv":
            notes = _read_csv(native, path, text_columns, source)
        else:
            native.execute(
                f"CREATE TABLE {FILE_TABLE} AS SELECT * FROM read_parquet({_literal(path)})"
            )
            casts = [c for c in text_columns if c in _names(native)]
            for column in casts:
                native.execute(f'ALTER TABLE {FILE_TABLE} ALTER "{column}" TYPE VARCHAR')
    except duckdb.Error as exc:
        native.close()
        kind = "CSV" if suffix == ".csv" else "Parquet"
        first = str(exc).strip().splitlines()[0]
        raise DataError(
            source, f"cannot be read as {kind} ({first})", f"save it as a valid {kind} file"
        ) from None
    except DataError:
        native.close()
        raise
    native.execute(
        f"CREATE VIEW {FILE_ROWS} AS SELECT rowid + 2 AS {ROW_COLUMN}, * FROM {FILE_TABLE}"
    )
    return Engine(
        label=source, backend="duckdb", native=native, _opener=_ibis_duckdb(native), notes=notes
    )


def _literal(text: Path | str) -> str:
    """A path or name as a SQL string literal (quotes doubled)."""
    return "'" + str(text).replace("'", "''") + "'"


def _names(native) -> list[str]:
    return [r[0] for r in native.execute(f"DESCRIBE {FILE_TABLE}").fetchall()]


_SPARK: dict[str, Any] = {}


def spark_session(options: dict[str, str]):
    """One local Spark session per process (starting one takes 15 seconds or more)."""
    if "session" not in _SPARK:
        from pyspark.sql import SparkSession

        builder = (
            SparkSession.builder.master(options.get("master", "local[2]"))
            .appName("readout")
            .config("spark.driver.memory", options.get("driver_memory", "1g"))
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", options.get("shuffle_partitions", "4"))
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.showConsoleProgress", "false")
        )
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        _SPARK["session"] = session
    return _SPARK["session"]


def open_source(
    name: str,
    url: str,
    dialect: str | None,
    tables: dict[str, str],
    base_dir: Path,
    config: str,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> Engine:
    """Open a configured source (``${VAR}`` expanded here, never stored).

    Raises
    ------
    ConfigError
        An unset variable, an unknown scheme, a missing DuckDB file or a backend whose
        extra is not installed (exit 2).
    DataError
        A DuckDB file that is damaged or not a DuckDB database (exit 2).
    EngineFailure
        An engine that cannot be reached, or a DuckDB file another process holds (exit 1);
        the message carries the masked URL only.
    """
    where = f"source '{name}'"
    label = f"{where} ({mask(url)})"
    for secret in secrets_in(url):  # written into the config itself: masked in any text
        remember(secret)
    real = expand(url, where, config)
    if url.startswith("${"):  # the whole URL came from the environment: check it now
        _check_url(real, where, config)
    backend = backend_of(real)
    files = {table: (base_dir / path).resolve() for table, path in tables.items()}
    for table, path in files.items():
        if not path.is_file():
            raise ConfigError(
                config,
                f"{where}: table '{table}' names {path}, which does not exist",
                "check the path (relative to the config file)",
            )
    common = {
        "label": label,
        "dialect": dialect,
        "tables": tables,
        "name": name,
        "timeout": timeout,
    }
    if backend == "duckdb":
        native = _open_duckdb(real, files, base_dir, where, label, config)
        return Engine(backend="duckdb", native=native, _opener=_ibis_duckdb(native), **common)
    if backend == "postgres":
        if files:
            raise ConfigError(
                config, f"{where}: tables = {{...}} is for DuckDB and Spark sources", "remove it"
            )
        native = _open_postgres(real, timeout, where, label, config)

        def opener():
            import ibis

            return ibis.postgres.from_connection(native)

        return Engine(backend="postgres", native=native, _opener=opener, **common)
    if backend == "pyspark":
        options = dict(parse_qsl(urlsplit(real).query))
        try:
            session = spark_session(options)
        except ImportError:
            raise ConfigError(
                config,
                f"{where}: Spark support is not installed",
                "install readout[spark] (uv sync --extra spark) and a Java 17 runtime",
            ) from None
        except Exception as exc:  # noqa: BLE001 - the JVM did not start
            raise EngineFailure(
                f"cannot start {label}",
                _first_line(exc),
                "check the Java runtime (java -version: 17 or later) and the url's options",
            ) from None
        for table, file in files.items():
            reader = session.read.csv if file.suffix.lower() == ".csv" else session.read.parquet
            options_ = {"header": True, "inferSchema": True} if file.suffix == ".csv" else {}
            reader(str(file), **options_).createOrReplaceTempView(table)

        def opener():
            import ibis

            return ibis.pyspark.connect(session)

        return Engine(backend="pyspark", _opener=opener, **common)

    def generic():
        try:
            import ibis

            return ibis.connect(real)
        except ImportError as exc:
            raise ConfigError(
                config,
                f"{where}: the {backend} backend is not installed ({exc.name or exc} is missing)",
                f"install it: uv pip install 'ibis-framework[{backend}]'",
            ) from None
        except Exception as exc:  # noqa: BLE001 - the driver's errors may carry the real URL
            raise EngineFailure(
                f"cannot connect to {label}",
                _first_line(exc),
                "check the url, the credentials and that the server is reachable",
            ) from None

    return Engine(backend=backend, _opener=generic, **common)


def _open_duckdb(
    real: str, files: dict[str, Path], base_dir: Path, where: str, label: str, config: str
):
    """A DuckDB source's connection, its settings from the URL and its files as views.

    Raises
    ------
    ConfigError
        A missing file or a setting DuckDB refuses (exit 2).
    DataError
        A file that is not a DuckDB database DuckDB can open, or a table file it cannot
        read (exit 2).
    EngineFailure
        A file that another process holds with a write lock (exit 1).
    """
    parts = urlsplit(real)
    location = (parts.netloc + parts.path).strip()
    path = None
    if location and location != ":memory:":
        path = Path(location)
        path = path if path.is_absolute() else (base_dir / path)
        if not path.is_file():
            # duckdb would create an empty database and fail later with "no table".
            raise ConfigError(
                config,
                f"{where}: the DuckDB file {path} does not exist",
                "check the url (a relative path starts at the config file's folder)",
            )
    # DuckDB's settings ride on the URL: duckdb:///warehouse.duckdb?memory_limit=512MB
    settings = dict(parse_qsl(parts.query))
    try:
        native = _duckdb(path, path is not None and not files, base_dir, settings)
    except duckdb_error() as exc:
        raise _duckdb_open_problem(exc, path, where, label, config) from None
    for table, file in files.items():
        reader = "read_csv" if file.suffix.lower() == ".csv" else "read_parquet"
        try:
            native.execute(f'CREATE VIEW "{table}" AS SELECT * FROM {reader}({_literal(file)})')
        except duckdb_error() as exc:
            native.close()
            kind = "CSV" if reader == "read_csv" else "Parquet"
            raise DataError(
                str(file),
                f"{where}: table '{table}' cannot be read as {kind} ({_first_line(exc)})",
                f"save it as a valid {kind} file, or correct the path in tables = {{...}}",
            ) from None
    return native


def _duckdb_open_problem(
    exc: Exception, path: Path | None, where: str, label: str, config: str
) -> Exception:
    """What DuckDB's refusal to open a database means, named for the user."""
    import duckdb

    text = _first_line(exc)
    if type(exc).__name__ == "IOException" and path is not None:
        holder = re.search(r"held in (.+?) \(PID (\d+)\)", text)
        if "lock" in text.lower():
            who = f" ({holder.group(1)}, PID {holder.group(2)})" if holder else ""
            return EngineFailure(
                label,
                f"the DuckDB file {path} is locked by another process{who}",
                "wait for that process to finish or close its connection (DuckDB lets one "
                "process write a file at a time), or point the url at a copy of the file",
            )
        return DataError(
            label,
            f"the file {path} is not a DuckDB database that DuckDB {duckdb.__version__} can "
            f"open: damaged, truncated, written by another DuckDB version, or another kind of "
            f"file ({text})",
            "point the url at a DuckDB database file, or restore the file from a backup or "
            "write it again",
        )
    if type(exc).__name__ == "IOException":
        return EngineFailure(label, f"DuckDB could not start ({text})", "check memory and disk")
    return ConfigError(
        config,
        f"{where}: DuckDB refused a setting in the url ({text})",
        "use DuckDB's setting names, e.g. ?memory_limit=512MB&threads=2",
    )


def _open_postgres(real: str, timeout: float | None, where: str, label: str, config: str):
    """A PostgreSQL connection (autocommit) whose statements stop after ``timeout``."""
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            config,
            f"{where}: PostgreSQL support is not installed",
            "install readout[postgres] (uv sync --extra postgres)",
        ) from None
    try:
        native = psycopg.connect(
            real.replace("postgres://", "postgresql://", 1),
            connect_timeout=10,
            autocommit=True,
            # How a database administrator sees readout's sessions (unless the url names one).
            fallback_application_name="readout",
        )
    except Exception as exc:  # noqa: BLE001 - the driver's errors may carry the real URL
        raise EngineFailure(
            f"cannot connect to {label}",
            _first_line(exc),
            "check the url, the password (its environment variable) and that the server is "
            "reachable",
        ) from None
    # In UTC, as the run's cut-off (now) is compared with timestamps without a zone.
    native.execute("SET TimeZone = 'UTC'")
    if timeout:
        # Enforced by the server: a query past it is cancelled there, not only abandoned.
        native.execute(f"SET statement_timeout = {int(timeout * 1000)}")
    return native
