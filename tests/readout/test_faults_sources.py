"""Warehouse faults: no secret shown anywhere, every engine failure named for what it is,
queries that time out or outlive their run cancelled on the server.

The classes of issue 26 this module holds, each tried in several variants:

* secrets: a password in the URL's user-info, in a query parameter, or substituted from
  ``${VAR}`` with ``@#/:%&=?`` in it connects for real and appears in no file a run, a
  render, an email and a publish write (PDF text and decoded attachments included), nor in
  any message, also when the connection fails;
* wrong diagnosis: a server stopped mid-query, a damaged or locked DuckDB file, an unknown
  URL scheme, duplicate names;
* timeouts and cancellation: ``timeout_seconds`` cancels the query on the server (PostgreSQL,
  DuckDB, Spark), and SIGTERM cancels the running query before readout exits 143.
"""

from __future__ import annotations

import email
import html
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

import numpy as np
import pytest

from readout.masking import mask, remember, scrub
from readout.sources import expand
from tests.engines import (
    DEMO,
    _as_server_user,
    export_demo,
    java_available,
    load_postgres,
    postgres_bin,
    postgres_server,
)
from tests.pdf import pdf_pages
from tests.readout.running import invoke

pytestmark = pytest.mark.faults

READOUT = [sys.executable, "-m", "readout"]
#: A password with every character that breaks a URL pasted unencoded.
SPECIAL = "@#/:%&=?+"


def forms(secret: str) -> set[str]:
    """Every way a secret can be written in a file: as is, percent-encoded, escaped."""
    return {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        html.escape(secret),
        json.dumps(secret)[1:-1],
    }


def assert_hidden(text: str, *hidden: str, where: str = "output") -> None:
    for secret in hidden:
        for form in forms(secret):
            assert form not in text, f"{form!r} appears in {where}"


# --------------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("url", "secret", "kept"),
    [
        (
            "postgresql://reader:hunter2-s3cret@db.internal:5432/analytics",
            "hunter2-s3cret",
            "db.internal:5432/analytics",
        ),
        (
            "postgresql://db/analytics?password=hunter2-s3cret&sslmode=require",
            "hunter2-s3cret",
            "sslmode=require",
        ),
        ("postgresql://db/analytics?sslpassword=hunter2-s3cret", "hunter2-s3cret", "db/analytics"),
        ("trino://db/hive?token=tok-abcdef123", "tok-abcdef123", "trino://db/hive"),
        ("bigquery://proj/ds?access_token=ya29.abcdef", "ya29.abcdef", "bigquery://proj/ds"),
        ("clickhouse://db/x?secret=abc-secret-9", "abc-secret-9", "clickhouse://db/x"),
        ("snowflake://me@acct/db?key=k-1234567", "k-1234567", "snowflake://me@acct/db"),
        ("databricks://host/x?api_key=dapi0123456789", "dapi0123456789", "databricks://host/x"),
        ("athena://host/x?X-Amz-Signature=f00dbabe99", "f00dbabe99", "athena://host/x"),
        ("databricks://token:dapi0123456789abcdef@host/x", "dapi0123456789abcdef", "token:"),
        # an unencoded '/', '#' or '@' in a written password splits the URL oddly
        ("postgresql://reader:ab/cd-ef@db/x", "ab/cd-ef", "@db/x"),
        ("postgresql://reader:ab#cd-ef@db/x", "ab#cd-ef", "@db/x"),
        ("postgresql://reader:p@ss-word@db/x", "p@ss-word", "@db/x"),
        ("postgresql://reader:pass?word@db/x", "pass?word", "@db/x"),
        # a token in a path
        ("trino://host/a1B2c3D4e5F6g7H8i9J0k1L2m3/x", "a1B2c3D4e5F6g7H8i9J0k1L2m3", "/x"),
    ],
)
def test_every_credential_form_in_a_url_is_masked(url, secret, kept):
    shown = mask(url)
    assert secret not in shown and quote(secret, safe="") not in shown
    assert "***" in shown and kept in shown
    # In free text too, wherever the URL stands.
    assert_hidden(scrub(f"could not connect to {url}: refused"), secret)
    assert mask(shown) == shown  # masking twice changes nothing


@pytest.mark.parametrize(
    "url",
    [
        "duckdb://data/demo.duckdb?memory_limit=512MB&threads=2",
        "postgresql://reader@db.internal:5432/analytics?sslmode=require",
        "postgresql://db/analytics_warehouse_2024_events",
        "pyspark://",
        "spark://local?master=local[4]&driver_memory=4g",
    ],
)
def test_urls_without_credentials_are_shown_as_written(url):
    assert mask(url) == url


def test_free_text_loses_key_value_secrets_and_remembered_values():
    secret = f"pw{SPECIAL}{secrets.token_hex(4)}"
    remember(secret)
    text = (
        f"invalid dsn: password={secret} host=db; sslpassword='x y' token = abc123 "
        f"{quote(secret, safe='')} {html.escape(secret)} {json.dumps(secret)}"
    )
    found = scrub(text)
    assert_hidden(found, secret, "x y", "abc123")
    assert "host=db" in found


def test_substituted_secrets_are_percent_encoded_where_the_url_decodes_them(monkeypatch):
    secret = f"pw{SPECIAL} ~{secrets.token_hex(4)}"
    monkeypatch.setenv("READOUT_TEST_SECRET", secret)
    monkeypatch.setenv("READOUT_TEST_HOST", "db.internal")
    url = expand(
        "postgresql://reader:${READOUT_TEST_SECRET}@${READOUT_TEST_HOST}:5432/x"
        "?sslmode=require&password=${READOUT_TEST_SECRET}",
        "source 'w'",
        "experiments.toml",
    )
    parts = urlsplit(url)
    assert parts.hostname == "db.internal" and parts.port == 5432 and parts.path == "/x"
    assert unquote(parts.password) == secret  # as libpq and ibis decode the user-info
    assert dict(parse_qsl(parts.query))["password"] == secret
    assert_hidden(scrub(f"failed: {url}"), secret)
    # A secret's fragments are masked (a URL cut at its delimiters shows them); a path's
    # are not, so a message keeps its ordinary words.
    tail = secret.rsplit(" ", 1)[1]
    assert scrub(f"could not translate host name {tail}") == "could not translate host name ***"
    monkeypatch.setenv("READOUT_TEST_FOLDER", "/srv/warehouse")
    expand("duckdb://${READOUT_TEST_FOLDER}/x.duckdb", "source 'w'", "experiments.toml")
    assert scrub("no table in the warehouse") == "no table in the warehouse"


# --------------------------------------------------------------------------- config


SOURCE_CONFIG = """
[sources.warehouse]
url = "{url}"
{extra}

[[experiments]]
name = "checkout"
title = "Checkout"
analysis = "ab_test"
source = "warehouse"
assignments = "{assignments}"
control = "control"
{experiment}

[[experiments.metrics]]
name = "purchase"
sql = "{metric}"
aggregate = "any"
kind = "binary"
role = "primary"
{metrics}
"""
PURCHASE = "SELECT user_id AS unit, ts, 1 AS value FROM orders"
ASSIGNMENTS = (
    "SELECT user_id AS unit, variant AS arm, exposed_at, country FROM exposures "
    "WHERE experiment = 'checkout'"
)


def source_config(
    folder: Path,
    url: str,
    extra: str = "",
    metric: str = PURCHASE,
    experiment: str = "",
    metrics: str = "",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "experiments.toml"
    text = SOURCE_CONFIG.format(
        url=url,
        extra=extra,
        metric=metric,
        experiment=experiment,
        metrics=metrics,
        assignments=ASSIGNMENTS,
    )
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("foo://x", ["scheme 'foo://'", "postgresql://"]),
        ("mysq://db/x", ["scheme 'mysq://'", "did you mean mysql://"]),
        ("postgress://db/x", ["scheme 'postgress://'", "did you mean postgres://"]),
        ("data/demo.duckdb", ["has no scheme", 'url = "duckdb://data/demo.duckdb"']),
        ("/srv/warehouse.duckdb", ["has no scheme", "duckdb:///srv/warehouse.duckdb"]),
        ("warehouse", ["has no scheme", "duckdb://"]),
        ("://db/x", ["has no scheme"]),
    ],
)
def test_an_unknown_or_missing_url_scheme_is_a_config_error(tmp_path, url, fragments):
    config = source_config(tmp_path, url)
    for command in ("validate", "run"):
        result = invoke(command, "--config", str(config), "--output", str(tmp_path / "r"))
        assert result.exit_code == 2, result.output
        for fragment in ["experiments.toml", "[sources.warehouse] url", "Fix:", *fragments]:
            assert fragment in result.output, (fragment, result.output)
    assert not (tmp_path / "r").exists()  # nothing ran


@pytest.mark.parametrize(
    ("url", "secret", "fragment"),
    [
        ("postgresql://reader:ab/cd-xyz@127.0.0.1:1/db", "ab/cd-xyz", "unencoded"),
        ("postgresql://reader:ab#cd-xyz@127.0.0.1:1/db", "ab#cd-xyz", "unencoded"),
        ("postgresql://reader:p@ss-xyz@127.0.0.1:1/db", "p@ss-xyz", "unencoded"),
        ("postgresql://reader:100%sure-xyz@127.0.0.1:1/db", "100%sure-xyz", "%25"),
        ("postgresql://127.0.0.1:1/db?password=100%sure-xyz", "100%sure-xyz", "%25"),
    ],
)
def test_a_written_password_the_url_cannot_hold_is_a_config_error_that_hides_it(
    tmp_path, url, secret, fragment
):
    config = source_config(tmp_path, url)
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "[sources.warehouse] url" in result.output and fragment in result.output
    assert_hidden(result.output, secret)


def test_a_whole_url_from_the_environment_is_checked_when_opened(tmp_path, monkeypatch):
    secret = f"ab#cd{secrets.token_hex(4)}"
    monkeypatch.setenv("DATABASE_URL", f"postgresql://reader:{secret}@127.0.0.1:1/db")
    result = invoke("validate", "--config", str(source_config(tmp_path, "${DATABASE_URL}")))
    assert result.exit_code == 2, result.output
    assert "source 'warehouse'" in result.output and "unencoded" in result.output
    assert_hidden(result.output, secret)
    monkeypatch.setenv("DATABASE_URL", "postgress://db/x")
    result = invoke("validate", "--config", str(source_config(tmp_path, "${DATABASE_URL}")))
    assert result.exit_code == 2 and "did you mean postgres://" in result.output


def test_a_backend_whose_extra_is_missing_exits_2_naming_the_extra(tmp_path):
    pytest.importorskip("ibis")
    try:
        import snowflake.connector  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the snowflake extra is installed here")
    secret = f"snow-{secrets.token_hex(6)}"
    config = source_config(tmp_path, f"snowflake://me:{secret}@acct/db/schema")
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "snowflake backend is not installed" in result.output
    assert "ibis-framework[snowflake]" in result.output
    assert_hidden(result.output, secret)


@pytest.mark.parametrize("value", ["0", "-5", '"soon"', "1e9"])
def test_timeout_seconds_must_be_a_positive_number_of_seconds(tmp_path, value):
    config = source_config(tmp_path, f"duckdb://{DEMO}", f"timeout_seconds = {value}")
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "sources.warehouse.timeout_seconds" in result.output


DUPLICATES = [
    (
        {"metrics": f'[[experiments.metrics]]\nname = "purchase"\nsql = "{PURCHASE}"'},
        ["experiment 'checkout'", "two metrics are named 'purchase'", "#1 and #2"],
    ),
    (
        {"experiment": 'segments = ["country", "device", "country"]'},
        ["experiment 'checkout'", "segments lists 'country' twice"],
    ),
    (
        {"experiment": 'segments = ["arm"]'},
        ["experiment 'checkout'", "segments lists 'arm'"],
    ),
    (
        {
            "experiment": 'segments = ["country"]',
            "metrics": f'[[experiments.metrics]]\nname = "country"\nsql = "{PURCHASE}"',
        },
        ["experiment 'checkout'", "metric name 'country' is taken"],
    ),
    (
        {"metrics": f'[[experiments.metrics]]\nname = "n"\nsql = "{PURCHASE}"'},
        ["metric name 'n' is taken"],
    ),
]


@pytest.mark.parametrize(("parts", "fragments"), DUPLICATES)
def test_duplicate_and_clashing_names_are_named(tmp_path, parts, fragments):
    config = source_config(tmp_path, f"duckdb://{DEMO}", **parts)
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (
            'analysis = "regression"\ndata = "x.csv"\ntarget = "y"\nfeatures = ["a", "b", "a"]',
            "features lists the column 'a' twice",
        ),
        (
            'analysis = "mixture"\ndata = "x.csv"\nvalue = "y"\ncomponents = [2, 3, 2]',
            "components lists 2 twice",
        ),
    ],
)
def test_other_lists_name_the_entry_they_repeat(tmp_path, entry, fragment):
    config = tmp_path / "experiments.toml"
    config.write_text(f'[[experiments]]\nname = "e"\ntitle = "E"\n{entry}\n')
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "experiment 'e'" in result.output and fragment in result.output


@pytest.mark.parametrize(
    ("extra", "experiment"),
    [
        ('tables = { orders = "a.csv", orders = "b.csv" }', ""),
        ("", 'arm_labels = { control = "Old", control = "New" }'),
    ],
)
def test_a_key_given_twice_in_a_table_names_its_line(tmp_path, extra, experiment):
    config = source_config(tmp_path, f"duckdb://{DEMO}", extra, experiment=experiment)
    key = "tables" if extra else "arm_labels"
    lines = config.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith(key))
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "not valid TOML" in result.output and f"line {line}" in result.output


def test_timeout_seconds_changes_no_result_so_nothing_is_refitted(tmp_path):
    from readout.config import load_config

    hashes = set()
    for seconds in ("", "timeout_seconds = 60", "timeout_seconds = 7200"):
        config = source_config(tmp_path / (seconds[-4:] or "default"), f"duckdb://{DEMO}", seconds)
        (experiment,) = load_config(config).experiments
        hashes.add(experiment.config_sha256())
    assert len(hashes) == 1


# --------------------------------------------------------------------------- DuckDB files


def _damaged(path: Path, how: str) -> None:
    import shutil

    if how == "random bytes":
        path.write_bytes(np.random.default_rng(1).bytes(50_000))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "a CSV file":
        path.write_text("unit,arm\n1,A\n")
    elif how == "a SQLite file":
        with sqlite3.connect(path) as con:
            con.execute("CREATE TABLE t (x)")
    elif how == "truncated":
        shutil.copy(DEMO, path)
        with path.open("r+b") as fh:
            fh.truncate(path.stat().st_size // 2)
    else:  # the orders table's blocks damaged: the file opens, a query finds the damage
        import duckdb

        shutil.copy(DEMO, path)
        with duckdb.connect(str(path), read_only=True) as con:
            blocks = con.execute(
                "SELECT DISTINCT block_id FROM pragma_storage_info('orders') WHERE block_id >= 0"
            ).fetchall()
            block_size = con.execute("PRAGMA database_size").fetchone()[2]
        with path.open("r+b") as fh:
            for (block,) in blocks:  # after the file's three 4 KiB headers
                fh.seek(3 * 4096 + block * block_size + 64)
                fh.write(np.random.default_rng(2).bytes(4096))


@pytest.mark.engine
@pytest.mark.parametrize(
    "how", ["random bytes", "empty", "a CSV file", "a SQLite file", "truncated", "a damaged table"]
)
def test_a_damaged_duckdb_file_is_named_not_blamed_on_settings(tmp_path, how):
    path = tmp_path / "warehouse.duckdb"
    _damaged(path, how)
    config = source_config(tmp_path, "duckdb://warehouse.duckdb", 'dialect = "duckdb"')
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "r"))
    assert result.exit_code == 2, result.output
    assert "source 'warehouse'" in result.output and "warehouse.duckdb" in result.output
    said = "is damaged or truncated" if how == "a damaged table" else "is not a DuckDB database"
    assert said in result.output
    assert "setting" not in result.output and "correct the SQL" not in result.output
    assert "Traceback" not in result.output
    assert "Fix: " in result.output


@pytest.mark.engine
def test_a_duckdb_file_locked_by_another_process_names_the_process(tmp_path):
    import shutil

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(DEMO, path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(path)!r})\n"
            "print('ready', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        config = source_config(tmp_path, "duckdb://warehouse.duckdb")
        result = invoke("run", "--config", str(config), "--output", str(tmp_path / "r"))
        assert result.exit_code == 1, result.output
        assert "locked by another process" in result.output
        assert f"PID {holder.pid}" in result.output and str(path) in result.output
        assert "setting" not in result.output
    finally:
        holder.kill()
        holder.communicate()


#: A DuckDB query that runs for hours on any machine (a filtered cross product of 10^12 pairs,
#: which no optimiser plans away) and is not run by DESCRIBE.
SLOW_DUCKDB = (
    "SELECT user_id AS unit, ts, 1 AS value FROM orders WHERE "
    "(SELECT count(*) FROM range(1000000) a CROSS JOIN range(1000000) b "
    "WHERE (a.range * b.range) % 7 = 3) > 0"
)


@pytest.mark.engine
def test_a_slow_duckdb_query_is_interrupted_after_timeout_seconds(tmp_path):
    config = source_config(tmp_path, f"duckdb://{DEMO}", "timeout_seconds = 2", SLOW_DUCKDB)
    started = time.perf_counter()
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "r"))
    took = time.perf_counter() - started
    assert result.exit_code == 1, result.output
    assert "timeout_seconds = 2" in result.output and "source 'warehouse'" in result.output
    assert "experiment 'checkout'" in result.output and "[sources.warehouse]" in result.output
    assert "correct the SQL" not in result.output
    assert took < 30, took


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_run_left_behind():
    """A failed test leaves no readout process running (nor its pipes open)."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
        process.communicate()


def _start(config: Path, out: Path) -> subprocess.Popen:
    """``readout run`` in a process of its own (signals reach it as they would in cron)."""
    command = [*READOUT, "run", "--config", str(config), "--output", str(out)]
    process = subprocess.Popen(
        command, cwd=config.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _STARTED.append(process)
    return process


def _wait_until(condition, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"readout ended early: {process.communicate()}")
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.1)


@pytest.mark.spot
@pytest.mark.engine
def test_sigterm_interrupts_a_running_duckdb_query_and_exits_143(tmp_path):
    config = source_config(tmp_path, f"duckdb://{DEMO}", "", SLOW_DUCKDB)
    out = tmp_path / "r"
    process = _start(config, out)
    # The compiled SQL is cached just before the query runs.
    _wait_until(lambda: any((out / ".cache" / "queries").glob("*.json")), process)
    time.sleep(1.0)
    stopped = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "stopped by SIGTERM" in err and "cancelled" in err and "Traceback" not in err
    assert time.perf_counter() - stopped < 20
    assert not (out / "checkout").exists()


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory) -> dict[str, Path]:
    if not DEMO.is_file():
        pytest.fail(f"{DEMO} is missing: run `make data` first")
    return export_demo(tmp_path_factory.mktemp("demo-csv"), "csv")


class Server:
    """A PostgreSQL server with the demo tables and a reader whose password has every
    character that breaks a URL."""

    def __init__(self, url: str, password: str) -> None:
        self.url, self.password = url, password
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.secret = f"Rd{SPECIAL}{secrets.token_hex(6)}"

    def admin(self):
        import psycopg

        real = self.url.replace("readout@", f"readout:{self.password}@")
        return psycopg.connect(real, autocommit=True)

    def add_reader(self) -> None:
        from psycopg import sql

        with self.admin() as con:
            con.execute(
                sql.SQL("CREATE ROLE reader LOGIN PASSWORD {}").format(sql.Literal(self.secret))
            )
            con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")

    def active(self, seconds: float = 0.0) -> list[tuple]:
        """readout's queries running on the server for at least ``seconds``.

        By the name readout's sessions carry: the compiled query is longer than the text
        pg_stat_activity keeps of it.
        """
        with self.admin() as con:
            return con.execute(
                "SELECT pid, query_start FROM pg_stat_activity "
                "WHERE state = 'active' AND application_name = 'readout' "
                "AND now() - query_start >= make_interval(secs => %s)",
                (seconds,),
            ).fetchall()

    def reader_url(self, password: str = "${READER_SECRET}") -> str:
        return f"postgresql://reader:{password}@{self.host}:{self.port}/postgres"


@pytest.fixture(scope="module")
def pg(demo_csv):
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (make setup installs it)")
    with postgres_server() as (url, password):
        load_postgres(url, password, demo_csv)
        server = Server(url, password)
        server.add_reader()
        yield server


@pytest.fixture
def reader(pg, monkeypatch) -> Server:
    monkeypatch.setenv("READER_SECRET", pg.secret)
    return pg


#: A PostgreSQL metric whose query sleeps a minute before it returns (only when it runs:
#: readout's schema probes do not execute it).
SLOW_POSTGRES = (
    "SELECT user_id AS unit, ts, 1 AS value FROM orders CROSS JOIN (SELECT pg_sleep(60)) AS pause"
)


def _every_text(folders: list[Path], skip: set[Path]) -> dict[str, str]:
    """Each file's text as a reader would meet it: PDFs' text, emails' decoded parts."""
    found = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if not path.is_file() or path in skip:
                continue
            data = path.read_bytes()
            texts = [data.decode("utf-8", "replace"), data.decode("latin-1")]
            if path.suffix == ".pdf":
                texts.append("\n".join(pdf_pages(data)))
            if path.suffix == ".eml":
                message = email.message_from_bytes(data)
                for part in message.walk():
                    payload = part.get_payload(decode=True)
                    if payload is None:
                        continue
                    if part.get_content_type() == "application/pdf":
                        texts.append("\n".join(pdf_pages(payload)))
                    texts.append(payload.decode("utf-8", "replace"))
                texts += [str(v) for v in message.values()]
            found[str(path)] = "\n".join(texts)
    return found


def _cli(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*READOUT, *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.engine
@pytest.mark.slow
def test_no_file_a_run_render_email_and_publish_write_holds_a_secret(pg, tmp_path):
    """Three ways to give a password with @#/:%&=?+ in it, and a wrong one: the three
    connect and report, the wrong one fails, and no secret is in any file or message."""
    wrong = f"Wr{SPECIAL}{secrets.token_hex(6)}"
    encoded = quote(pg.secret, safe="")
    where = f"{pg.host}:{pg.port}/postgres"
    sources = {
        "by_variable": pg.reader_url(),
        "by_parameter": f"postgresql://reader@{where}?sslmode=disable&password={encoded}",
        "by_variable_parameter": f"postgresql://{where}?user=reader&password=${{READER_SECRET}}",
        "wrong": pg.reader_url("${WRONG_SECRET}"),
    }
    project = tmp_path / "project"
    project.mkdir()
    text = "".join(f'[sources.{name}]\nurl = "{url}"\n\n' for name, url in sources.items())
    for name in sources:
        text += f"""
[[experiments]]
name = "{name.replace("_", "-")}"
title = "Checkout read {name}"
analysis = "ab_test"
source = "{name}"
assignments = "{ASSIGNMENTS}"
control = "control"
email = ["pm@example.com"]

[[experiments.metrics]]
name = "purchase"
sql = "{PURCHASE}"
aggregate = "any"
kind = "binary"
role = "primary"
"""
    config = project / "experiments.toml"
    config.write_text(text)
    env = {"READER_SECRET": pg.secret, "WRONG_SECRET": wrong}
    site = tmp_path / "site"
    steps = [
        ("run", "--date", "2026-11-21"),
        ("render", "--engine", "quarto"),
        ("email", "--dry-run"),
        ("publish", str(site)),
    ]
    said = []
    for step in steps:
        done = _cli(
            *step[:1],
            "--config",
            str(config),
            "--output",
            "reports",
            *step[1:],
            cwd=project,
            env=env,
        )
        said.append(done.stdout + done.stderr)
        expected = 1 if step[0] == "run" else 0
        assert done.returncode == expected, (step, done.stdout, done.stderr)
    reports = project / "reports"
    # The three good sources connected for real and reported; the wrong one failed, named.
    for name in ("by-variable", "by-parameter", "by-variable-parameter"):
        assert list((reports / name).glob("*/report.pdf")), name
    assert "wrong failed: cannot connect to source 'wrong'" in said[0]
    assert "password authentication failed" in said[0]
    assert list((reports / "outbox").glob("*.eml"))
    assert (site / "index.html").is_file()
    bundle = json.loads(next((reports / "by-parameter").glob("*/bundle.json")).read_text())
    assert "password=***" in bundle["data_file"]
    # Every file the steps wrote (PDF text and email attachments included) and every message.
    files = _every_text([project, site], skip={config})
    assert len(files) > 20
    for path, content in files.items():
        assert_hidden(content, pg.secret, wrong, where=path)
    assert_hidden("\n".join(said), pg.secret, wrong)


@pytest.mark.engine
@pytest.mark.parametrize(
    "case", ["wrong password", "wrong password parameter", "wrong host", "wrong port"]
)
def test_a_failing_connection_never_shows_the_password(reader, tmp_path, monkeypatch, case):
    wrong = f"Wr{SPECIAL}{secrets.token_hex(6)}"
    monkeypatch.setenv("WRONG_SECRET", wrong)
    url = {
        "wrong password": reader.reader_url("${WRONG_SECRET}"),
        "wrong password parameter": (
            f"postgresql://reader@{reader.host}:{reader.port}/postgres"
            f"?password={quote(wrong, safe='')}"
        ),
        "wrong host": reader.reader_url().replace(reader.host, "nonexistent.invalid"),
        "wrong port": reader.reader_url().replace(str(reader.port), "1"),
    }[case]
    config = source_config(tmp_path, url)
    out = tmp_path / "r"
    for command in ("validate", "run"):
        result = invoke(command, "--config", str(config), "--output", str(out))
        assert result.exit_code == 1, result.output
        assert "cannot connect to source 'warehouse'" in result.output
        assert_hidden(result.output, reader.secret, wrong)
    for path, content in _every_text([out], skip=set()).items():
        assert_hidden(content, reader.secret, wrong, where=path)


def _stop_mid_query(reader: Server, tmp_path: Path, stop) -> tuple[int, str]:
    """Start a run on a slow query, call ``stop`` once the server runs it; its exit and
    stderr."""
    config = source_config(tmp_path, reader.reader_url(), metric=SLOW_POSTGRES)
    process = _start(config, tmp_path / "r")
    _wait_until(lambda: reader.active(seconds=1), process)
    stop()
    _, err = process.communicate(timeout=120)
    return process.returncode, err


@pytest.mark.engine
def test_a_backend_terminated_mid_query_is_an_engine_failure_not_bad_sql(reader, tmp_path):
    def terminate():
        with reader.admin() as con:
            con.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'readout'"
            )

    code, err = _stop_mid_query(reader, tmp_path, terminate)
    assert code == 1, err
    assert "checkout: FAILED" in err
    for fragment in ("experiment 'checkout'", "source 'warehouse'", "stopped answering"):
        assert fragment in err, (fragment, err)
    assert "correct the SQL" not in err and "BAD INPUT" not in err
    assert_hidden(err, reader.secret)


@pytest.mark.engine
def test_a_server_stopped_mid_query_is_an_engine_failure_not_bad_sql(
    demo_csv, tmp_path, monkeypatch
):
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (make setup installs it)")
    with postgres_server() as (url, password):
        load_postgres(url, password, {t: demo_csv[t] for t in ("exposures", "orders")})
        server = Server(url, password)
        server.add_reader()
        monkeypatch.setenv("READER_SECRET", server.secret)
        with server.admin() as con:
            data = con.execute("SHOW data_directory").fetchone()[0]
        stop = [str(postgres_bin() / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]
        code, err = _stop_mid_query(
            server, tmp_path, lambda: subprocess.run(_as_server_user(stop), check=True)
        )
    assert code == 1, err
    assert "experiment 'checkout'" in err and "stopped answering" in err
    assert "correct the SQL" not in err
    assert_hidden(err, server.secret)


@pytest.mark.engine
def test_a_slow_postgres_query_is_cancelled_on_the_server_after_timeout_seconds(reader, tmp_path):
    config = source_config(tmp_path, reader.reader_url(), "timeout_seconds = 2", SLOW_POSTGRES)
    started = time.perf_counter()
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "r"))
    assert result.exit_code == 1, result.output
    assert time.perf_counter() - started < 30
    for fragment in ("source 'warehouse'", "timeout_seconds = 2", "cancelled on the server"):
        assert fragment in result.output, (fragment, result.output)
    assert "correct the SQL" not in result.output
    assert reader.active() == []


@pytest.mark.engine
def test_sigterm_cancels_the_running_postgres_query_and_exits_143(reader, tmp_path):
    config = source_config(tmp_path, reader.reader_url(), metric=SLOW_POSTGRES)
    process = _start(config, tmp_path / "r")
    _wait_until(lambda: reader.active(seconds=1), process)
    assert len(reader.active()) == 1
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "stopped by SIGTERM" in err and "cancelled" in err and "Traceback" not in err
    # No query of readout's still runs on the server (pg_sleep(60) would otherwise run on).
    deadline = time.monotonic() + 5
    while reader.active() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reader.active() == []


# --------------------------------------------------------------------------- Spark


@pytest.mark.engine
@pytest.mark.slow
@pytest.mark.skipif(not java_available(), reason="Spark needs Java 17 (make setup installs it)")
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_slow_spark_query_is_cancelled_after_timeout_seconds(tmp_path):
    files = export_demo(tmp_path, "parquet")
    tables = ", ".join(f'{t} = "{p}"' for t, p in files.items())
    # Every row sleeps half a second in the executors (Java's Thread.sleep through Spark SQL's
    # reflect): slow on any machine, where a large range() is planned away or scanned in seconds
    # by many cores.
    slow = (
        "SELECT user_id AS unit, ts, 1 AS value FROM orders "
        "WHERE reflect('java.lang.Thread', 'sleep', CAST(500 AS BIGINT)) = 'null'"
    )
    config = source_config(
        tmp_path, "pyspark://", f"timeout_seconds = 8\ntables = {{ {tables} }}", slow
    )
    started = time.perf_counter()
    result = invoke("run", "--config", str(config), "--output", str(tmp_path / "r"))
    assert result.exit_code == 1, result.output
    assert "timeout_seconds = 8" in result.output and "source 'warehouse'" in result.output
    assert time.perf_counter() - started < 120
    from readout.sources import spark_session

    tracker = spark_session({}).sparkContext.statusTracker()
    deadline = time.monotonic() + 20
    while tracker.getActiveJobsIds() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tracker.getActiveJobsIds() == []


def test_a_bundle_written_before_masking_is_masked_when_read(tmp_path):
    """An old or hand-edited bundle whose data label holds a password never shows it."""
    from readout import wording
    from readout.bundle import read

    fixture = (
        Path(__file__).resolve().parents[1] / "fixtures" / "bundles" / "checkout-redesign.json"
    )
    bundle = json.loads(fixture.read_text())
    bundle["data_file"] = "source 'warehouse' (postgresql://reader:Hunter2Secret@db/x)"
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    read_back = read(path)
    assert read_back["data_file"] == "source 'warehouse' (postgresql://reader:***@db/x)"
    assert "Hunter2Secret" not in json.dumps(wording.readout_text(read_back), default=str)
