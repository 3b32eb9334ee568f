"""Read an experiment's data file (CSV or Parquet) and hash it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from readout.errors import DataError


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_table(path: Path, key: str = "data") -> pd.DataFrame:
    """Read a CSV or Parquet file, or raise :class:`DataError` naming it and the fix."""
    if not path.is_file():
        raise DataError(
            str(path),
            f"data file not found (from {key} = ...)",
            "check the path, which is relative to the config file, or run `make data`",
        )
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(str(path), f"cannot be read ({exc})", "check the file's format") from exc
    raise DataError(str(path), f"unsupported file type '{suffix}'", "use a .csv or .parquet file")
