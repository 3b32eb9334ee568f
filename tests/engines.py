"""Real database engines for the tests: the demo warehouse loaded into PostgreSQL and Spark.

PostgreSQL comes from Debian's ``postgresql`` package, started in a temporary folder on
127.0.0.1 (as the ``postgres`` user when the tests run as root: initdb refuses root). Spark
runs in local mode with Debian's Java runtime; one session serves the whole test run.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo.duckdb"
TABLES = ("exposures", "orders", "page_loads", "support", "sessions")


def export_demo(folder: Path, kind: str = "parquet", source: Path = DEMO) -> dict[str, Path]:
    """Every table of a DuckDB warehouse as CSV or Parquet files in ``folder``."""
    import duckdb

    con = duckdb.connect(str(source), read_only=True)
    out = {}
    for table in TABLES:
        path = folder / f"{table}.{kind}"
        options = "(FORMAT parquet)" if kind == "parquet" else "(FORMAT csv, HEADER true)"
        con.execute(f"COPY {table} TO '{path}' {options}")
        out[table] = path
    con.close()
    return out


#: Rows a DuckDB ``INSERT`` statement of :func:`insert_rows` carries at most.
INSERT_CHUNK = 1000


def insert_rows(con, table: str, rows: list[tuple]) -> None:
    """Insert ``rows`` into a DuckDB table with a few multi-row ``INSERT`` statements.

    The same rows and types as ``executemany`` (parameters bound the same way, NULL for
    ``None``), which DuckDB runs one statement per row: 0.9 s for a test's 1,300 rows, 0.09 s so.
    """
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        row = "(" + ", ".join("?" * len(chunk[0])) + ")"
        values = ", ".join([row] * len(chunk))
        con.execute(f"INSERT INTO {table} VALUES {values}", [v for r in chunk for v in r])


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server programs, if installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def postgres_server():
    """A throwaway PostgreSQL server: yields ``(url_without_password, password)``."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    # Under /tmp, not pytest's 0700 folder: every folder above the data must be traversable.
    data = Path(tempfile.mkdtemp(prefix="readout-pg-"))
    sockets = Path(tempfile.mkdtemp(prefix="readout-pgsock-"))
    password = secrets.token_urlsafe(12)
    pwfile = data.parent / f"{data.name}.pw"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o644)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    port = free_port()
    env = {**os.environ, "LC_ALL": "C"}
    run = lambda cmd: subprocess.run(  # noqa: E731
        _as_server_user(cmd), check=True, capture_output=True, env=env
    )
    try:
        run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data / "db"),
                "-U",
                "readout",
                f"--pwfile={pwfile}",
                "-A",
                "scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data / "db"),
                "-l",
                str(data / "server.log"),
                "-w",
                "-o",
                f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        )
        yield f"postgresql://readout@127.0.0.1:{port}/postgres", password
    finally:
        stop = [str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_server_user(stop), capture_output=True, env=env)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(sockets, ignore_errors=True)
        pwfile.unlink(missing_ok=True)


def load_postgres(url: str, password: str, files: dict[str, Path]) -> None:
    """Create the demo tables in PostgreSQL and load them with COPY from CSV files."""
    import duckdb
    import psycopg

    types = {"VARCHAR": "text", "BIGINT": "bigint", "DOUBLE": "double precision"}
    types |= {"TIMESTAMP": "timestamp", "TIMESTAMP_NS": "timestamp", "INTEGER": "integer"}
    real = url.replace("readout@", f"readout:{password}@")
    with psycopg.connect(real, autocommit=True) as con, con.cursor() as cur:
        for table, path in files.items():
            columns = duckdb.sql(f"DESCRIBE SELECT * FROM read_csv('{path}')").fetchall()
            ddl = ", ".join(f'"{c[0]}" {types.get(c[1], "text")}' for c in columns)
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TABLE {table} ({ddl})")
            with cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(path.read_bytes())
            cur.execute(f"ANALYZE {table}")


def java_available() -> bool:
    """Whether a Java runtime for Spark is installed."""
    return shutil.which("java") is not None
