"""Where an experiment's data comes from: DuckDB (embedded, the default) or a warehouse.

A source is a URL in ``[sources.<name>]``: ``duckdb://data/demo.duckdb`` (relative to the
config file), ``postgresql://reader:${PG_PASSWORD}@db/analytics``, ``pyspark://`` (a local
Spark session), or any other backend ibis connects to (``bigquery://project/dataset``,
``snowflake://...``, ``trino://...``). ``${VAR}`` is read from the environment when the source
is opened, so secrets never live in the config; every URL a user sees is masked.

A data file (``data = "file.csv"``) is a DuckDB source of its own: the file is loaded into an
in-memory DuckDB table named ``data``, with a ``data_rows`` view that numbers its rows as a
spreadsheet does (the header is row 1).

ibis compiles every query (one expression, each backend's SQL); the compiled SQL runs on the
engine's own driver where readout has one (DuckDB, PostgreSQL), so a scheduled re-run whose
queries are cached pays neither for importing ibis nor for compiling.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import numpy as np

from readout.errors import ConfigError, DataError

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
FILE_TABLE, FILE_ROWS = "data", "data_rows"
ROW_COLUMN = "__row"


def mask(url: str) -> str:
    """The URL with any password replaced by ``***`` (``${VAR}`` references are kept)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def expand(url: str, where: str, config: str) -> str:
    """Replace ``${VAR}`` references with the environment's values.

    Raises
    ------
    ConfigError
        When a referenced variable is not set.
    """

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                config,
                f"{where}: the url refers to ${{{name}}}, which is not set in the environment",
                f"export {name}=... before running readout (secrets stay out of the config)",
            )
        return os.environ[name]

    return ENV_REFERENCE.sub(value, url)


def backend_of(url: str) -> str:
    """The ibis backend a URL names: ``duckdb``, ``postgres``, ``pyspark``, ..."""
    scheme = urlsplit(url).scheme.lower()
    return {"postgresql": "postgres", "postgres": "postgres", "spark": "pyspark"}.get(
        scheme, scheme
    )


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
    """

    label: str
    backend: str
    dialect: str | None = None
    native: Any = None
    _ibis: Any = None
    _opener: Any = None
    tables: dict[str, str] = field(default_factory=dict)
    #: How a data file was read when that was not the plain way (a semicolon-separated CSV,
    #: decimal commas): ``{"code", ...}`` records that become notes in the report.
    notes: list[dict[str, Any]] = field(default_factory=list)

    def ibis(self) -> Any:
        """The ibis connection (opened on first use: ibis takes a second to import)."""
        if self._ibis is None:
            self._ibis = self._opener()
        return self._ibis

    def relation(self, table: str | None = None, sql: str | None = None) -> Any:
        """An ibis table for a table name or the user's own query."""
        con = self.ibis()
        if sql is not None:
            return con.sql(sql, dialect=self.dialect) if self.dialect else con.sql(sql)
        if "." in table:
            database, name = table.rsplit(".", 1)
            return con.table(name, database=database)
        return con.table(table)

    def execute(self, sql: str) -> dict[str, np.ndarray]:
        """Run compiled SQL; columns come back as arrays (NULL as NaN or None)."""
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
        if self.backend == "duckdb":
            query = sql if sql is not None else f"SELECT * FROM {table}"
            return [(r[0], r[1]) for r in self.native.execute(f"DESCRIBE {query}").fetchall()]
        if self.backend == "postgres" and self.dialect in (None, "postgres"):
            query = sql if sql is not None else f"SELECT * FROM {table}"
            with self.native.cursor() as cursor:
                cursor.execute(f"SELECT * FROM ({query}) AS readout_probe LIMIT 0")
                return [(d.name, str(d.type_code)) for d in cursor.description]
        schema = self.relation(table, sql).schema()
        return [(name, str(dtype)) for name, dtype in schema.items()]

    def close(self) -> None:
        """Close the connections (a shared Spark session stays up for the process)."""
        for con in (self.native,):
            if con is not None and hasattr(con, "close"):
                try:
                    con.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass


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
) -> Engine:
    """Open a configured source (``${VAR}`` expanded here, never stored).

    Raises
    ------
    ConfigError
        An unset variable or a missing DuckDB file (exit 2).
    ConnectionError
        An engine that cannot be reached; the message carries the masked URL only.
    """
    where = f"source '{name}'"
    label = f"{where} ({mask(url)})"
    backend = backend_of(url)
    real = expand(url, where, config)
    files = {table: (base_dir / path).resolve() for table, path in tables.items()}
    for table, path in files.items():
        if not path.is_file():
            raise ConfigError(
                config,
                f"{where}: table '{table}' names {path}, which does not exist",
                "check the path (relative to the config file)",
            )
    if backend == "duckdb":
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
            raise ConfigError(
                config,
                f"{where}: DuckDB refused a setting in the url ({str(exc).splitlines()[0]})",
                "use DuckDB's setting names, e.g. ?memory_limit=512MB&threads=2",
            ) from None
        for table, file in files.items():
            reader = "read_csv" if file.suffix.lower() == ".csv" else "read_parquet"
            native.execute(f'CREATE VIEW "{table}" AS SELECT * FROM {reader}({_literal(file)})')
        return Engine(label, "duckdb", dialect, native, None, _ibis_duckdb(native), tables)
    if backend == "postgres":
        if files:
            raise ConfigError(
                config, f"{where}: tables = {{...}} is for DuckDB and Spark sources", "remove it"
            )
        try:
            import psycopg

            # In UTC, as the run's cut-off (now) is compared with timestamps without a zone.
            native = psycopg.connect(
                real.replace("postgres://", "postgresql://", 1),
                connect_timeout=10,
                options="-c TimeZone=UTC",
            )
            native.autocommit = True
        except ImportError:
            raise ConfigError(
                config,
                f"{where}: PostgreSQL support is not installed",
                "install readout[postgres] (uv sync --extra postgres)",
            ) from None
        except Exception as exc:  # noqa: BLE001 - the driver's errors carry the real URL
            raise ConnectionError(f"cannot connect to {label}: {_clean(exc, real, url)}") from None

        def opener():
            import ibis

            return ibis.postgres.from_connection(native)

        return Engine(label, "postgres", dialect, native, None, opener, tables)
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
        for table, file in files.items():
            reader = session.read.csv if file.suffix.lower() == ".csv" else session.read.parquet
            options_ = {"header": True, "inferSchema": True} if file.suffix == ".csv" else {}
            reader(str(file), **options_).createOrReplaceTempView(table)

        def opener():
            import ibis

            return ibis.pyspark.connect(session)

        return Engine(label, "pyspark", dialect, None, None, opener, tables)

    def generic():
        import ibis

        try:
            return ibis.connect(real)
        except Exception as exc:  # noqa: BLE001
            raise ConnectionError(f"cannot connect to {label}: {_clean(exc, real, url)}") from None

    return Engine(label, backend, dialect, None, None, generic, tables)


def _clean(exc: Exception, real: str, url: str) -> str:
    """An engine's error message, first line only, with the real URL and secrets masked."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    message = message.replace(real, mask(url))
    secret = urlsplit(real).password
    if secret:
        message = message.replace(secret, "***")
    return message
