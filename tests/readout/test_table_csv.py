"""The full tables beside a report: the same bytes as pandas writes, however they are written."""

import numpy as np
import pandas as pd
import pytest

from readout import files

STRINGS = ["a,b", 'q"u', "new\nline", "ünï", None, " spaced ", "x", "-0"]
NUMBERS = [1e-05, 1e-300, np.nan, np.inf, -0.0, 1.2345678901234568e17, 0.1, -np.inf]


@pytest.mark.parametrize(
    "frame",
    [
        # A unit table: names, counts with gaps, estimates (DuckDB writes it).
        pd.DataFrame(
            {
                "unit": STRINGS,
                "users": [48.0, np.nan, 3, 4, 5, 6, 7, 8],
                "mean": NUMBERS,
                "n": np.arange(8) - 3,
                "f32": np.linspace(0, 1, 8, dtype=np.float32),
                "missing": [np.nan] * 8,
            }
        ),
        pd.DataFrame({"x": np.random.default_rng(1).normal(size=5000), "y": np.arange(5000)}),
        # Where DuckDB would write other text, pandas does: an empty string, booleans,
        # mixed objects, dates, a single column.
        pd.DataFrame({"unit": ["", "a"], "v": [1.0, 2.0]}),
        pd.DataFrame({"ok": [True, False], "v": [1.0, 2.0]}),
        pd.DataFrame({"o": [1.5, "x"], "v": [1.0, 2.0]}),
        pd.DataFrame({"d": pd.to_datetime(["2026-01-01", "2026-01-02"]), "v": [1.0, 2.0]}),
        pd.DataFrame({"only": [np.nan, 1.0]}),
    ],
)
def test_a_table_is_written_as_pandas_writes_it(frame, tmp_path):
    files.write_csv(frame, tmp_path / "table.csv")
    assert (tmp_path / "table.csv").read_text() == frame.to_csv(index=False)
