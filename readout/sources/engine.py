"""An open source (:class:`Engine`): queries, their timeout and cancellation, and errors."""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from readout.errors import DataError, EngineFailure
from readout.masking import scrub


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
        text = first_line(exc)
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


def first_line(exc: BaseException) -> str:
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
