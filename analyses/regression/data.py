"""The regression's data: the columns to fetch, checked rows, and the rows to predict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyses.core.base import DataError
from analyses.core.inputs import Column, Fetched, Request, Rows
from analyses.regression.spec import Spec

#: Rows needed per coefficient (features plus intercept).
MIN_ROWS_PER_COEFFICIENT = 5


def binomial_error(share: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Standard error of a share from ``count`` trials, floored for shares of 0 or 1.

    ``sqrt(p (1 - p) / n)`` with ``p`` kept within ``[0.5 / n, 1 - 0.5 / n]``, so a share of
    0 out of 10 still carries the uncertainty of about half an event.
    """
    p = np.clip(share, 0.5 / count, 1 - 0.5 / count)
    return np.sqrt(p * (1 - p) / count)


def request(spec: Spec) -> Request:
    """The target, the features and the error columns row by row; and the rows to predict."""
    target_rules: tuple = ("finite", "unit_interval") if spec.count else ("finite",)
    columns = [
        Column(
            "target",
            spec.target,
            rules=target_rules,
            fix="use target_error for targets that are not shares" if spec.count else "",
        ),
        *(
            Column("features", f, fix="make the column numeric (encode categories as 0/1)")
            for f in spec.features
        ),
    ]
    if spec.target_error:
        columns.append(
            Column(
                "target_error",
                spec.target_error,
                rules=("finite", "positive"),
                fix="give every row a positive measurement error",
            )
        )
    if spec.count:
        columns.append(
            Column(
                "count",
                spec.count,
                rules=("finite", "positive", "integer"),
                fix="give every row the whole, positive number of trials behind its share",
            )
        )
    if spec.id_column:
        columns.append(Column("id_column", spec.id_column, "text", rules=()))
    parts: Request = {"rows": Rows(tuple(columns))}
    if spec.predict:
        new = [
            Column("features", f, fix="make the column numeric (encode categories as 0/1)")
            for f in spec.features
        ]
        for key, column, rules in (
            ("id_column", spec.id_column, ()),
            ("count", spec.count, ("finite", "positive", "integer")),
            ("target_error", spec.target_error, ("finite", "positive")),
        ):
            if column:
                kind = "text" if key == "id_column" else "number"
                new.append(Column(key, column, kind, rules=rules, optional=True))
        parts["predict"] = Rows(tuple(new), input=spec.predict)
    return parts


@dataclass(frozen=True)
class Data:
    """What a regression fits: the checked rows and, if asked for, the rows to predict."""

    y: np.ndarray
    x: np.ndarray
    error: np.ndarray | None = None
    count: np.ndarray | None = None
    ids: np.ndarray | None = None
    predict: dict[str, np.ndarray] | None = None


def load(
    spec: Spec, fetched: Fetched, files: Mapping[str, Path] | None = None
) -> tuple[Data, list[dict]]:
    """The target, features, errors and counts as arrays; and the rows to predict.

    Raises
    ------
    DataError
        Constant features or target, too few rows for the number of features, shares times
        counts that are not whole numbers of events (missing, non-numeric, non-finite and
        out-of-range values are refused by the engine's checks).
    """
    source = fetched.source
    rows = fetched.parts["rows"]
    y = rows[spec.target].astype(float)
    x = np.column_stack([rows[f].astype(float) for f in spec.features])
    constant = [f for f, col in zip(spec.features, x.T, strict=True) if np.ptp(col) == 0]
    if constant:
        raise DataError(
            source,
            f"feature '{constant[0]}' is constant ({x[0, spec.features.index(constant[0])]:g} "
            "in every row), so its effect cannot be estimated",
            "remove it from features",
        )
    if spec.count is None and np.ptp(y) == 0:
        raise DataError(
            source,
            f"target '{spec.target}' is constant ({y[0]:g} in every row): there is no "
            "variation for the features to explain",
            "check the target column",
        )
    need = MIN_ROWS_PER_COEFFICIENT * (len(spec.features) + 1)
    if len(y) < need:
        raise DataError(
            source,
            f"{len(y)} rows are too few for {len(spec.features)} feature(s) (at least "
            f"{MIN_ROWS_PER_COEFFICIENT} per coefficient, so {need})",
            "collect more rows or use fewer features",
        )
    count = rows[spec.count].astype(float) if spec.count else None
    if count is not None:
        events = y * count
        off = np.flatnonzero(np.abs(events - np.round(events)) > 0.01)
        if len(off):
            where = (
                f", in rows {', '.join(str(i + 2) for i in off[:5])}" if fetched.row_numbers else ""
            )
            raise DataError(
                source,
                f"{len(off)} share(s) times their count are not whole numbers of events{where}",
                f"give {spec.target} as events / {spec.count}",
            )
    predict = fetched.parts.get("predict")
    return (
        Data(
            y=y,
            x=x,
            error=rows[spec.target_error].astype(float) if spec.target_error else None,
            count=count,
            ids=rows[spec.id_column].astype(str) if spec.id_column else None,
            predict=predict,
        ),
        [],
    )


def input_files(spec: Spec) -> list[str]:
    """The predict file, whose rows change the results."""
    return [spec.predict] if spec.predict else []
