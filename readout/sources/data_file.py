"""A data file (CSV or Parquet) read into an in-memory DuckDB table ``data``."""

from __future__ import annotations

import csv
from pathlib import Path

from readout.errors import DataError
from readout.sources.engine import Engine
from readout.sources.opening import duckdb_connection, ibis_duckdb, literal

FILE_TABLE, FILE_ROWS = "data", "data_rows"
ROW_COLUMN = "__row"


def header_of(path: Path, delimiter: str = ",") -> list[str]:
    """The column names of a CSV file's first line."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        return next(csv.reader(fh, delimiter=delimiter), [])


#: Column separators a ``.csv`` file may use instead of commas (read as such, with a note).
DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
#: How much of a CSV file's start is looked at for separators other than commas.
SNIFFED_BYTES = 1 << 20
#: A number written with a decimal comma (``1,5``, ``-0,25``) or a whole number.
DECIMAL_COMMA = r"[-+]?([0-9]+|[0-9]*,[0-9]+)"


def _delimiter(native, path: Path) -> str:
    """The file's column separator as DuckDB's sniffer finds it (a comma unless it is sure).

    A file whose start (:data:`SNIFFED_BYTES`, more than the sniffer samples of a file of
    short lines) has a comma and none of the other separators (:data:`DELIMITERS`) is a
    comma's: with none of them in what it reads, the sniffer finds a comma or nothing sure
    (the tests compare the two, a title line before a semicolon's header too). It is asked
    only where one of them is there, or no separator at all (one column): 20-50 ms less a
    file.
    """
    import duckdb

    with path.open("rb") as fh:
        start = fh.read(SNIFFED_BYTES)
    if b"," in start and not any(d.encode() in start for d in DELIMITERS):
        return ","
    try:
        found = native.execute(f"SELECT Delimiter FROM sniff_csv({literal(path)})").fetchone()
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
            f"SELECT bool_and(regexp_full_match(trim({column}), {literal(DECIMAL_COMMA)})), "
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
    types = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in text_columns if c in header)
    options = f"header = true, delim = {literal(delimiter)}, sample_size = -1" + (
        f", types = {{{types}}}" if types else ""
    )
    read = f"CREATE OR REPLACE TABLE {FILE_TABLE} AS SELECT * FROM read_csv({literal(path)}, "
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
    native = duckdb_connection(None, False, path.parent)
    notes: list[dict] = []
    try:
        if suffix == ".csv":
            notes = _read_csv(native, path, text_columns, source)
        else:
            native.execute(
                f"CREATE TABLE {FILE_TABLE} AS SELECT * FROM read_parquet({literal(path)})"
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
        label=source, backend="duckdb", native=native, _opener=ibis_duckdb(native), notes=notes
    )


def _names(native) -> list[str]:
    return [r[0] for r in native.execute(f"DESCRIBE {FILE_TABLE}").fetchall()]
