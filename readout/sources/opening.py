"""Opening a configured source: DuckDB, PostgreSQL, Spark (one session per process), ibis."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from readout.errors import ConfigError, DataError, EngineFailure
from readout.masking import mask, remember, secrets_in
from readout.sources.engine import Engine, first_line
from readout.sources.urls import backend_of, check_url, expand

#: How long one query may run when ``timeout_seconds`` is not set (30 minutes).
DEFAULT_TIMEOUT = 1800.0


def duckdb_connection(
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
    con.execute(f"SET file_search_path = {literal(base_dir)}")
    return con


def ibis_duckdb(native):
    """An opener of the ibis connection over a DuckDB connection (for :class:`Engine`)."""

    def opener():
        import ibis

        return ibis.duckdb.from_connection(native)

    return opener


def duckdb_error() -> type[Exception]:
    """DuckDB's base error class (imported only when a DuckDB source is opened)."""
    import duckdb

    return duckdb.Error


def literal(text: Path | str) -> str:
    """A path or name as a SQL string literal (quotes doubled)."""
    return "'" + str(text).replace("'", "''") + "'"


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
        check_url(real, where, config)
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
        return Engine(backend="duckdb", native=native, _opener=ibis_duckdb(native), **common)
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
                first_line(exc),
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
                first_line(exc),
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
        native = duckdb_connection(path, path is not None and not files, base_dir, settings)
    except duckdb_error() as exc:
        raise _duckdb_open_problem(exc, path, where, label, config) from None
    for table, file in files.items():
        reader = "read_csv" if file.suffix.lower() == ".csv" else "read_parquet"
        try:
            native.execute(f'CREATE VIEW "{table}" AS SELECT * FROM {reader}({literal(file)})')
        except duckdb_error() as exc:
            native.close()
            kind = "CSV" if reader == "read_csv" else "Parquet"
            raise DataError(
                str(file),
                f"{where}: table '{table}' cannot be read as {kind} ({first_line(exc)})",
                f"save it as a valid {kind} file, or correct the path in tables = {{...}}",
            ) from None
    return native


def _duckdb_open_problem(
    exc: Exception, path: Path | None, where: str, label: str, config: str
) -> Exception:
    """What DuckDB's refusal to open a database means, named for the user."""
    import duckdb

    text = first_line(exc)
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
            first_line(exc),
            "check the url, the password (its environment variable) and that the server is "
            "reachable",
        ) from None
    # In UTC, as the run's cut-off (now) is compared with timestamps without a zone.
    native.execute("SET TimeZone = 'UTC'")
    if timeout:
        # Enforced by the server: a query past it is cancelled there, not only abandoned.
        native.execute(f"SET statement_timeout = {int(timeout * 1000)}")
    return native
