"""The hierarchical analysis's data: what to fetch, and one estimate per unit.

From raw rows or a warehouse (each unit's difference in means between the arms, with
Welch's standard error, from per unit x arm sums computed in the engine), or given
(``estimate``, ``std_error``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyses.core.base import DataError
from analyses.core.inputs import Column, Experiment, Fetched, Request, Rows, Summary, Value
from analyses.hierarchical.spec import Spec

# --------------------------------------------------------------------------- data


def request(spec: Spec) -> Request:
    """Per unit x arm statistics from raw rows or a warehouse; or the summarised rows."""
    unit = Column("unit", spec.unit, "text", rules=())
    group = (Column("group", spec.group, "text", rules=()),) if spec.group else ()
    if spec.source is not None:
        by = (spec.unit,) + ((spec.group,) if spec.group else ())
        return {"stats": Experiment(spec.assignments, tuple(spec.metrics), by)}
    if spec.summarised:
        columns = (
            unit,
            *group,
            Column("estimate", spec.estimate),
            Column("std_error", spec.std_error, required=False),
        )
        if spec.users:
            columns += (Column("users", spec.users, rules=("finite", "nonnegative")),)
        return {"rows": Rows(columns)}
    metric = Column("metric", spec.metric)
    return {
        "stats": Summary(
            by=(unit, *group, Column("arm", spec.arm, "text", rules=())),
            values=(Value("y", spec.metric),),
            checks=(metric,),
        )
    }


@dataclass
class Units:
    """One row per unit: its estimate, standard error, users and group.

    ``counted``: from a warehouse, what its query left out, as the engine counted it
    (:func:`analyses.core.health.left_out` reads it); ``None`` for a data file.
    """

    unit: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    group: np.ndarray
    users: np.ndarray | None = None
    counted: dict | None = None

    def __len__(self) -> int:
        return len(self.unit)


def load(
    spec: Spec, fetched: Fetched, files: Mapping[str, Path] | None = None
) -> tuple[Units, list[dict]]:
    """One row per unit: ``estimate``, ``se``, and ``users``/``group`` if known.

    Raises
    ------
    DataError
        An absent control, other than two arms, a unit in two groups, duplicate units, a
        group column with a single value, no usable standard errors, fewer than three units.
    """
    source = fetched.source
    if spec.summarised:
        units, warnings = _load_summary(spec, fetched.parts["rows"], source)
    else:
        units, warnings = _summarise(spec, fetched, source)
    if spec.group and len(set(units.group)) < 2:
        raise DataError(
            source,
            f"column '{spec.group}' (group) has one value only ('{units.group[0]}'), "
            "so there is nothing to pool between groups",
            "remove the group key to pool all units in one level",
        )
    if len(units) < 3:
        raise DataError(source, "fewer than 3 units to pool", "pool at least 3 units")
    return units, warnings


def _summarise(spec: Spec, fetched: Fetched, source: str) -> tuple[Units, list]:
    """Per-unit difference in means and Welch standard error from per unit x arm sums."""
    frame = fetched.parts["stats"]
    warehouse = spec.source is not None
    arm_col = "arm" if warehouse else spec.arm
    value = spec.metrics[0].name if warehouse else "y"
    arm = frame[arm_col].astype(str)
    control = str(spec.control)
    arms = sorted(set(arm))
    if control not in arms:
        raise DataError(
            source,
            f"control value '{control}' does not occur in column '{arm_col}' "
            f"(values found: {', '.join(arms)})",
            "set control to one of those values",
        )
    if len(arms) != 2:
        raise DataError(
            source,
            f"column '{arm_col}' has {len(arms)} arm(s) ({', '.join(arms)}); pooling "
            "compares one treatment with the control",
            "keep two arms in the data, or split the experiment",
        )
    unit = frame[spec.unit].astype(str)
    group = frame[spec.group].astype(str) if spec.group else np.full(len(unit), "all")
    groups_of: dict[str, set] = {}
    for u, g in zip(unit, group, strict=True):
        groups_of.setdefault(u, set()).add(g)
    mixed = [u for u, gs in groups_of.items() if len(gs) > 1]
    if mixed:
        raise DataError(
            source,
            f"{spec.unit_label} '{mixed[0]}' appears in {len(groups_of[mixed[0]])} different "
            f"values of column '{spec.group}' ({len(mixed)} such unit(s))",
            f"give each {spec.unit_label} one {spec.group_label}",
        )
    names = sorted(groups_of)
    index = {u: i for i, u in enumerate(names)}
    k = len(names)
    n = np.zeros((k, 2))
    s1 = np.zeros((k, 2))
    s2 = np.zeros((k, 2))
    treated = (arm != control).astype(int)
    rows = np.array([index[u] for u in unit])
    count = frame[f"{value}__n"].astype(float)
    np.add.at(n, (rows, treated), np.nan_to_num(count))
    np.add.at(s1, (rows, treated), np.nan_to_num(frame[f"{value}__sum"].astype(float)))
    np.add.at(s2, (rows, treated), np.nan_to_num(frame[f"{value}__sum2"].astype(float)))
    too_few = (n < spec.min_users_per_arm).any(axis=1)
    warnings = []
    if too_few.any():
        dropped = [names[i] for i in np.flatnonzero(too_few)]
        warnings.append(
            {
                "code": "units_too_few_users",
                "count": len(dropped),
                "empty_arm": int(((n == 0).any(axis=1)).sum()),
                "minimum": spec.min_users_per_arm,
                "examples": dropped[:5],
            }
        )
    keep = ~too_few
    if keep.sum() < 3:
        raise DataError(
            source,
            f"only {int(keep.sum())} {spec.unit_label}(s) have at least "
            f"{spec.min_users_per_arm} users in each arm",
            "pool at least 3 units, or lower min_users_per_arm",
        )
    n, s1, s2 = n[keep], s1[keep], s2[keep]
    mean = s1 / n
    var = np.maximum(s2 - s1**2 / n, 0.0) / (n - 1)
    # A unit whose users all gave the same value has no spread of its own; borrow the arm's.
    arm_var = np.maximum(s2.sum(0) - s1.sum(0) ** 2 / n.sum(0), 0.0) / (n.sum(0) - 1)
    flat = var <= 0
    if flat.any():
        warnings.append({"code": "units_no_spread", "count": int(flat.any(axis=1).sum())})
        var = np.where(flat, arm_var[None, :], var)
    kept = [names[i] for i in np.flatnonzero(keep)]
    group_of = np.array([next(iter(groups_of[u])) for u in kept])
    units = Units(
        unit=np.array(kept, dtype=object),
        estimate=mean[:, 1] - mean[:, 0],
        se=np.sqrt(var[:, 1] / n[:, 1] + var[:, 0] / n[:, 0]),
        group=group_of,
        users=n.sum(axis=1),
        counted=fetched.extras.get("stats") if warehouse else None,
    )
    return units, warnings


def _load_summary(spec: Spec, frame: dict[str, np.ndarray], source: str) -> tuple[Units, list]:
    unit = frame[spec.unit].astype(str)
    duplicated = [u for u, c in zip(*np.unique(unit, return_counts=True), strict=True) if c > 1]
    if duplicated:
        raise DataError(
            source,
            f"column '{spec.unit}' repeats {len(duplicated)} unit(s), e.g. "
            f"'{duplicated[0]}'; pre-summarised data need one row per unit",
            "remove the duplicates, or give raw rows with arm, control and metric",
        )
    se = frame[spec.std_error].astype(float)
    bad = ~(se > 0) | ~np.isfinite(se)
    if bad.all():
        raise DataError(
            source,
            f"column '{spec.std_error}' has no positive standard errors",
            "give each unit's standard error (a positive number)",
        )
    warnings = []
    if bad.any():
        warnings.append(
            {
                "code": "bad_std_error",
                "count": int(bad.sum()),
                "column": spec.std_error,
                "examples": list(unit[bad][:5]),
            }
        )
    keep = ~bad
    group = frame[spec.group].astype(str) if spec.group else np.full(len(unit), "all")
    units = Units(
        unit=unit[keep].astype(object),
        estimate=frame[spec.estimate].astype(float)[keep],
        se=se[keep],
        group=group[keep],
        users=frame[spec.users].astype(float)[keep] if spec.users else None,
    )
    return units, warnings
