"""Column checks the analyses share: every message names the file, the column and the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyses.base import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def row_numbers(positions, limit: int = 5) -> str:
    """Spreadsheet row numbers (the header is row 1) of the first few offending rows."""
    positions = list(positions)
    shown = ", ".join(str(int(i) + 2) for i in positions[:limit])
    more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
    return shown + more


def require_columns(frame: pd.DataFrame, source: str, columns: dict[str, str | None]) -> None:
    """Every configured column (config key -> column name, ``None`` when unset) exists."""
    for key, column in columns.items():
        if column is not None and column not in frame.columns:
            raise DataError(
                source,
                f"column '{column}' (from {key} = \"{column}\") is missing; the file has "
                f"columns {', '.join(map(str, frame.columns))}",
                f"set {key} to one of those columns or add the column to the file",
            )


def no_missing(frame: pd.DataFrame, source: str, columns: list[str | None]) -> None:
    """No empty cells in these columns (``None`` entries are skipped)."""
    for column in filter(None, columns):
        missing = frame.index[frame[column].isna()]
        if len(missing):
            raise DataError(
                source,
                f"column '{column}' has {len(missing)} missing value(s), in rows "
                f"{row_numbers(missing)}",
                "fill them in or remove those rows",
            )


def numeric_column(
    frame: pd.DataFrame, source: str, key: str, column: str, fix: str = "make the column numeric"
) -> np.ndarray:
    """A configured column that must exist, be complete and hold numbers, as floats."""
    import pandas as pd

    require_columns(frame, source, {key: column})
    no_missing(frame, source, [column])
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = frame.index[values.isna()]
    if len(bad):
        raise DataError(
            source,
            f"column '{column}' ({key}) has {len(bad)} non-numeric value(s), in rows "
            f"{row_numbers(bad)}",
            fix,
        )
    return values.to_numpy(dtype=float)
