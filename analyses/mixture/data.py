"""The mixture's data: the values, row by row, checked for what a mixture needs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from analyses.core.base import DataError
from analyses.core.inputs import Column, Fetched, Request, Rows
from analyses.mixture.spec import Spec

#: Observations needed per component.
MIN_ROWS_PER_COMPONENT = 10


def request(spec: Spec) -> Request:
    """The value column, row by row (a mixture needs every value)."""
    return {"rows": Rows((Column("value", spec.value),))}


def load(
    spec: Spec, fetched: Fetched, files: Mapping[str, Path] | None = None
) -> tuple[np.ndarray, list[dict]]:
    """The values as an array of finite numbers.

    Raises
    ------
    DataError
        A constant column, or too few rows for the number of components (missing,
        non-numeric and non-finite values are refused by the engine's checks).
    """
    source = fetched.source
    y = fetched.parts["rows"][spec.value].astype(float)
    if np.unique(y).size < 2:
        raise DataError(
            source,
            f"column '{spec.value}' is constant ({y[0]:g} in every row): there is nothing to "
            "separate into groups",
            "check the column",
        )
    need = MIN_ROWS_PER_COMPONENT * max(spec.counts)
    if len(y) < need:
        raise DataError(
            source,
            f"{len(y)} rows are too few for {max(spec.counts)} components "
            f"(at least {MIN_ROWS_PER_COMPONENT} per component, so {need})",
            "collect more data or ask for fewer components",
        )
    return y, []
