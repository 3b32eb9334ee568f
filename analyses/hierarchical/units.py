"""The hierarchical analysis's unit table.

Every unit's own, pooled and complete-pooling estimates (the CSV), the units a report names,
the no-pooling and complete-pooling baselines, shrinkage by size, and recovery of known effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analyses.core import stats
from analyses.core.base import DataError
from analyses.hierarchical.results import Baselines, Group, SizeBucket, Unit, Width
from analyses.hierarchical.spec import Spec

if TYPE_CHECKING:
    import pandas as pd

    from analyses.hierarchical.data import Units


#: Units listed per role in the bundle and the report ("creators that matter").
TOP_N = 5


def unit_table(units: Units, summary, exact, g, prob) -> pd.DataFrame:
    """Every unit with its own, pooled and complete-pooling estimates (the CSV)."""
    import pandas as pd

    group_means = np.array([row["mean"] for row in exact["groups"]])
    table = pd.DataFrame(
        {
            "unit": units.unit.astype(str),
            "group": units.group.astype(str),
            "users": units.users if units.users is not None else np.nan,
            "raw_estimate": units.estimate,
            "raw_se": units.se,
            "mean": summary["mean"],
            "hdi_low": summary["hdi"][:, 0],
            "hdi_high": summary["hdi"][:, 1],
            "prob_positive": summary["prob_positive"],
            "shrinkage": summary["shrinkage"],
            "group_mean": group_means[g],
        }
    )
    own = stats.normal_interval(table["raw_estimate"], table["raw_se"], prob)
    table["no_pool_low"], table["no_pool_high"] = own[:, 0], own[:, 1]
    weights = 1 / table["raw_se"] ** 2
    by_group = weights.groupby(table["group"])
    pooled = (table["raw_estimate"] * weights).groupby(table["group"]).sum() / by_group.sum()
    pooled_se = 1 / np.sqrt(by_group.sum())
    table["complete_mean"] = table["group"].map(pooled).to_numpy()
    interval = stats.normal_interval(table["complete_mean"], table["group"].map(pooled_se), prob)
    table["complete_low"], table["complete_high"] = interval[:, 0], interval[:, 1]
    return table


def record(row: pd.Series, roles: list[str]) -> Unit:
    """One unit of the table as the bundle lists it, with its roles in the report."""
    import pandas as pd

    users = row["users"]
    return Unit(
        unit=str(row["unit"]),
        group=str(row["group"]),
        n=None if pd.isna(users) else int(users),
        raw_estimate=float(row["raw_estimate"]),
        raw_se=float(row["raw_se"]),
        mean=float(row["mean"]),
        hdi=(float(row["hdi_low"]), float(row["hdi_high"])),
        prob_positive=float(row["prob_positive"]),
        shrinkage=float(row["shrinkage"]),
        group_mean=float(row["group_mean"]),
        roles=tuple(roles),
    )


def highlights(table: pd.DataFrame) -> dict[int, list[str]]:
    """The units that matter.

    Strongest evidence either way (sorted by it, never in both lists), largest movers, and three
    stories whose pull toward the average is visible.
    """
    picks: dict[int, list[str]] = {}

    def add(index, role):
        for i in index:
            picks.setdefault(int(i), []).append(role)

    prob = table["prob_positive"]
    add(prob[prob > 0.5].sort_values(ascending=False).index[:TOP_N], "positive")
    add(prob[prob < 0.5].sort_values().index[:TOP_N], "negative")
    moved = (table["raw_estimate"] - table["mean"]).abs()
    add(moved.nlargest(TOP_N).index, "mover")
    size = table["users"] if table["users"].notna().all() else 1 / table["raw_se"] ** 2
    pull = moved / table["raw_se"]  # how far pooling moved a unit, in its own standard errors
    small = size <= size.quantile(0.2)
    large = size >= size.quantile(0.8)
    middle = ~small & ~large
    for mask, role in ((small, "story_small"), (middle, "story_typical"), (large, "story_large")):
        candidates = pull[mask] if mask.any() else pull
        add([candidates.idxmax()], role)
    return picks


def baselines(table: pd.DataFrame) -> Baselines:
    """Average interval width of each approach (the reader sees what pooling buys)."""

    def width(low: str, high: str) -> Width:
        return Width(mean_width=float((table[high] - table[low]).mean()))

    return Baselines(
        no_pooling=width("no_pool_low", "no_pool_high"),
        complete_pooling=width("complete_low", "complete_high"),
        partial_pooling=width("hdi_low", "hdi_high"),
    )


def shrinkage_by_size(table: pd.DataFrame) -> tuple[SizeBucket, ...]:
    """Median shrinkage by unit size (users; nothing when users are unknown)."""
    if not table["users"].notna().all():
        return ()
    edges, labels = [0, 100, 500, np.inf], ["under 100", "100 to 500", "over 500"]
    out = []
    for label, low, high in zip(labels, edges[:-1], edges[1:], strict=True):
        rows = table[(table["users"] >= low) & (table["users"] < high)]
        if len(rows):
            out.append(
                SizeBucket(
                    bucket=label,
                    units=int(len(rows)),
                    median_shrinkage=float(rows["shrinkage"].median()),
                )
            )
    return tuple(out)


def group_table(groups: tuple[Group, ...]) -> pd.DataFrame:
    """Every group's numbers, as the page's table of groups gives them (the groups' CSV).

    A page shows at most :data:`~analyses.hierarchical.decide.GROUPS_SHOWN` groups; this
    table has them all, each with its verdict (:func:`~analyses.hierarchical.decide.group_where`).
    """
    import pandas as pd

    from analyses.hierarchical.decide import group_where

    return pd.DataFrame(
        {
            "group": [g.group for g in groups],
            "units": [g.units for g in groups],
            "users": [np.nan if g.users is None else g.users for g in groups],
            "mean": [g.mean for g in groups],
            "hdi_low": [g.hdi[0] for g in groups],
            "hdi_high": [g.hdi[1] for g in groups],
            "prob_positive": [g.prob_positive for g in groups],
            "new_unit_low": [g.new_unit.hdi[0] for g in groups],
            "new_unit_high": [g.new_unit.hdi[1] for g in groups],
            "complete_mean": [g.complete_pooling.mean for g in groups],
            "verdict": [group_where(g) for g in groups],
        }
    )


def recovery(table: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
    """MSE, interval coverage and width of no, complete and partial pooling against truth.

    Parameters
    ----------
    table
        The per-unit table (``units.csv``) of a readout.
    truth
        True effects indexed by unit.

    Returns
    -------
    DataFrame
        One row per (bucket, method) with ``mse``, ``coverage`` and ``width``.
    """
    import pandas as pd

    true = truth.reindex(table["unit"].astype(str)).to_numpy()
    methods = {
        "no pooling": ("raw_estimate", "no_pool_low", "no_pool_high"),
        "complete pooling": ("complete_mean", "complete_low", "complete_high"),
        "hierarchical": ("mean", "hdi_low", "hdi_high"),
    }
    buckets = {"all": np.ones(len(table), bool)}
    if table["users"].notna().all():
        users = table["users"].to_numpy()
        buckets |= {
            "under 100": users < 100,
            "100 to 500": (users >= 100) & (users <= 500),
            "over 500": users > 500,
        }
    rows = []
    for bucket, mask in buckets.items():
        for method, (mean, low, high) in methods.items():
            est, lo, hi, t = (
                table[mean].to_numpy()[mask],
                table[low].to_numpy()[mask],
                table[high].to_numpy()[mask],
                true[mask],
            )
            rows.append(
                {
                    "bucket": bucket,
                    "units": int(mask.sum()),
                    "method": method,
                    "mse": float(np.mean((est - t) ** 2)),
                    "coverage": float(np.mean((lo <= t) & (t <= hi))),
                    "width": float(np.mean(hi - lo)),
                }
            )
    return pd.DataFrame(rows)


def recover(
    spec: Spec,
    tables: Mapping[str, Path],
    truth: pd.DataFrame,
    truth_label: str,
    unit_column: str | None = None,
    truth_column: str = "true_effect",
) -> pd.DataFrame:
    """``readout recovery``: a readout's unit table against known true effects.

    Parameters
    ----------
    spec
        The experiment's config keys.
    tables
        The readout's full tables by key (their CSV files); this needs ``units``.
    truth
        One row per unit: its id (``unit_column``, default the experiment's ``unit``) and
        its true effect (``truth_column``).
    truth_label
        How messages name the truth file.

    Returns
    -------
    DataFrame
        ``users`` (the size bucket), ``units``, ``method``, ``MSE``, ``coverage``,
        ``width``: one row per bucket and method (:func:`recovery`).

    Raises
    ------
    DataError
        A column missing from the truth file, or a readout without its unit table.
    """
    import pandas as pd

    unit = unit_column or spec.unit
    for column in (unit, truth_column):
        if column not in truth.columns:
            raise DataError(
                truth_label,
                f"column '{column}' is missing",
                "pass --unit-column / --truth-column",
            )
    if "units" not in tables or not Path(tables["units"]).is_file():
        raise DataError(
            spec.name,
            "the latest readout has no unit table",
            f"run `readout run --only {spec.name} --force` first",
        )
    units = pd.read_csv(tables["units"], dtype={"unit": str})
    table = recovery(units, truth.set_index(truth[unit].astype(str))[truth_column])
    return table.rename(columns={"bucket": "users", "mse": "MSE"})
