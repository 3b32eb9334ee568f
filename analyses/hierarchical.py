"""Hierarchical partial pooling of one effect measured on many units (creators, markets).

Each unit ``i`` has an estimate ``y_i`` with standard error ``se_i``: given, or computed in
the engine from raw rows (each unit's difference in means between the arms, with Welch's
standard error, from per unit x arm counts and sums). The model::

    effect_i ~ Normal(mu_group[g_i], sigma_unit)
    mu_group ~ Normal(mu, sigma_group)          (one level only when there is no group)
    y_i      ~ Normal(effect_i, se_i)

The default ``marginal`` method integrates the unit effects, the group means and ``mu``
out exactly and computes the posterior of the two spreads on a grid (``analyses.pooling``):
no sampler, no Monte Carlo error in the average, the new-unit prediction or the group
means. ``method = "full"`` samples the plain non-centred PyMC model; the tests check that
both agree, and both against an independent numerical integration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from analyses import figures, pooling, stats
from analyses.base import (
    INTERVAL_SCHEMA,
    PROB_SCHEMA,
    SUMMARY_SCHEMA,
    Analysis,
    BaseSpec,
    DataError,
    Fit,
    Settings,
    Tone,
    sample,
)
from analyses.inputs import (
    Column,
    Experiment,
    Fetched,
    MetricSpec,
    Request,
    Rows,
    Summary,
    Value,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

#: Draws of the spreads and group means over which every unit is summarised.
SUMMARY_DRAWS = 2000
#: Units listed per role in the bundle and the report ("creators that matter").
TOP_N = 5
#: Units drawn in the shrinkage plot (a random sample beyond this, highlighted ones always).
MAX_POINTS = 3000


class Spec(BaseSpec):
    """Config keys of a ``hierarchical`` experiment.

    Raw rows (``arm``, ``control``, ``metric``), pre-summarised rows (``estimate``,
    ``std_error``, optionally ``users``), or a warehouse (``source``, ``assignments``, one
    ``[[experiments.metrics]]``, ``control``; ``unit`` and ``group`` are columns of the
    assignments).
    """

    analysis: Literal["hierarchical"]
    unit: str
    group: str | None = None
    arm: str | None = None
    control: str | int | None = None
    metric: str | None = None
    estimate: str | None = None
    std_error: str | None = None
    users: str | None = None
    assignments: str | None = Field(None, min_length=1)
    metrics: list[MetricSpec] = []
    min_users_per_arm: int = Field(2, ge=2)
    method: Literal["marginal", "full"] = "marginal"
    group_parameterisation: Literal["auto", "centred", "non_centred"] = "auto"
    unit_label: str = "unit"
    group_label: str = "group"
    metric_label: str = "effect"
    value_prefix: str = ""
    value_suffix: str = ""

    @model_validator(mode="after")
    def _one_input_kind(self) -> Spec:
        if self.source is not None:
            if not self.assignments or len(self.metrics) != 1 or self.control is None:
                raise ValueError(
                    "a warehouse experiment needs assignments, control and exactly one "
                    "[[experiments.metrics]]"
                )
            if any(v is not None for v in (self.arm, self.metric, self.estimate)):
                raise ValueError("arm, metric and estimate are for a data file")
            return self
        if self.assignments or self.metrics:
            raise ValueError("assignments and metrics need source = a warehouse source")
        raw = [self.arm, self.control, self.metric]
        summary = [self.estimate, self.std_error]
        if any(v is not None for v in summary):
            if not all(v is not None for v in summary) or any(v is not None for v in raw):
                raise ValueError(
                    "give either estimate and std_error (pre-summarised rows) "
                    "or arm, control and metric (raw rows), not a mix"
                )
        elif not all(v is not None for v in raw):
            raise ValueError(
                "give arm, control and metric (raw rows) or estimate and std_error "
                "(pre-summarised rows)"
            )
        return self

    @property
    def summarised(self) -> bool:
        """True when the data are one row per unit with an estimate and its error."""
        return self.estimate is not None


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
    """One row per unit: its estimate, standard error, users and group."""

    unit: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    group: np.ndarray
    users: np.ndarray | None = None

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


# --------------------------------------------------------------------------- model

#: With at least this many units in every group, the group means are well determined by the
#: data and a centred group level samples better; with fewer, a non-centred one avoids funnels.
CENTRED_MIN_UNITS = 20


def centred_groups(spec: Spec, units: Units) -> bool:
    """Whether the full model's group level is centred (``auto``: every group has enough)."""
    if spec.group_parameterisation != "auto":
        return spec.group_parameterisation == "centred"
    _, counts = np.unique(units.group, return_counts=True)
    return int(counts.min()) >= CENTRED_MIN_UNITS


def full_model(spec: Spec, units: Units, groups: list[str], prior: pooling.PoolingPrior):
    """The plain non-centred PyMC model of every unit's effect (``method = "full"``)."""
    import pymc as pm
    import pytensor.tensor as pt

    g = np.searchsorted(groups, units.group)
    with pm.Model(coords={"group": groups, "unit": list(units.unit)}) as model:
        mu = pm.Normal("mu", prior.mu_mean, prior.mu_sd)
        sigma_unit = pm.HalfNormal("sigma_unit", prior.scale)
        if len(groups) > 1:
            sigma_group = pm.HalfNormal("sigma_group", prior.scale)
            if centred_groups(spec, units):
                mu_group = pm.Normal("mu_group", mu, sigma_group, dims="group")
            else:
                z_group = pm.Normal("z_group", 0.0, 1.0, dims="group")
                mu_group = pm.Deterministic("mu_group", mu + sigma_group * z_group, dims="group")
        else:
            mu_group = pm.Deterministic("mu_group", pt.stack([mu]), dims="group")
        z_unit = pm.Normal("z_unit", 0.0, 1.0, dims="unit")
        index = pm.Data("group_index", g.astype("int64"))
        effect = pm.Deterministic("effect", mu_group[index] + sigma_unit * z_unit, dims="unit")
        pm.Normal("y", effect, pm.Data("se", units.se), observed=pm.Data("y_data", units.estimate))
    return model


def _exact(spec, units, groups, g, prior, settings):
    """The exact (grid-integrated) posterior and its summaries."""
    pooled = pooling.fit(units.estimate, units.se, g, len(groups), prior)
    exact = pooling.summaries(pooled, len(units), settings.ci_prob)
    rng = np.random.default_rng(settings.seed)
    drawn = pooling.draws(pooled, SUMMARY_DRAWS, rng)
    diagnostics = {
        "r_hat_max": 1.0,
        "ess_bulk_min": float(SUMMARY_DRAWS),
        "divergences": 0,
        "ok": bool(pooled.edge_mass < pooling.EDGE),
        **stats.limits(),
        "method": (
            "exact: unit effects and averages integrated out, the spreads by numerical "
            f"integration on a grid of {len(pooled.nodes.weight):,} points"
        ),
        "grid_points": int(len(pooled.nodes.weight)),
        "edge_mass": pooled.edge_mass,
    }
    return pooled, exact, drawn, diagnostics


def _full(spec, units, groups, g, prior, settings):
    """The non-centred PyMC model, sampled; summaries from its draws."""
    with full_model(spec, units, groups, prior):
        trace = sample(settings, target_accept=0.95)
    post = trace["posterior"].to_dataset()
    divergences = int(trace["sample_stats"]["diverging"].sum())
    names = [v for v in ("mu", "sigma_group", "sigma_unit", "mu_group") if v in post]
    diagnostics = {
        **stats.convergence(post[names], divergences),
        "method": "NUTS on the full non-centred model (PyMC)",
    }

    def flat(name):
        return post[name].stack(s=("chain", "draw")).transpose("s", ...).values

    prob = settings.ci_prob
    mu, sigma_unit = flat("mu"), flat("sigma_unit")
    mu_group = flat("mu_group").reshape(-1, len(groups))
    effect = flat("effect")
    sigma_group = flat("sigma_group") if "sigma_group" in post else np.zeros_like(mu)
    new = mu + np.sqrt(sigma_group**2 + sigma_unit**2) * np.random.default_rng(
        settings.seed
    ).standard_normal(mu.size)
    average = effect.mean(axis=1)
    exact = {
        "mu": {**stats.summary(mu, prob), "prob_positive": stats.prob_greater(mu, 0.0)},
        "average": {
            **stats.summary(average, prob),
            "prob_positive": stats.prob_greater(average, 0.0),
        },
        "new_unit": {**stats.summary(new, prob), "prob_positive": stats.prob_greater(new, 0.0)},
        "groups": [
            {
                **stats.summary(mu_group[:, i], prob),
                "prob_positive": stats.prob_greater(mu_group[:, i], 0.0),
                "new_unit": stats.summary(mu_group[:, i], prob),
            }
            for i in range(len(groups))
        ],
        "sigma_unit": stats.summary(sigma_unit, prob),
    }
    if len(groups) > 1:
        exact["sigma_group"] = stats.summary(sigma_group, prob)
    drawn = {"mu": mu, "mu_group": mu_group, "sigma_unit": sigma_unit, "sigma_group": sigma_group}
    return effect, exact, drawn, diagnostics


def fit(spec: Spec, units: Units, settings: Settings) -> Fit:
    """Fit the pooling model and summarise units, groups, spreads, baselines."""
    import xarray as xr

    groups = sorted(set(units.group))
    g = np.searchsorted(groups, units.group)
    prob = settings.ci_prob
    prior = pooling.PoolingPrior.scaled(units.estimate, units.se)
    y, se = units.estimate, units.se
    if spec.method == "full":
        effect, exact, drawn, diagnostics = _full(spec, units, groups, g, prior, settings)
        tau2, s2 = drawn["sigma_unit"][:, None] ** 2, se[None, :] ** 2
        summary = {
            "mean": effect.mean(axis=0),
            "hdi": stats.hdi_columns(effect, prob),
            "prob_positive": (effect > 0).mean(axis=0),
            "shrinkage": (s2 / (s2 + tau2)).mean(axis=0),
        }
        pooled = None
    else:
        pooled, exact, drawn, diagnostics = _exact(spec, units, groups, g, prior, settings)
        summary = pooling.unit_summaries(
            y, se, g, drawn["mu_group"], drawn["sigma_unit"], prob, settings.seed
        )
    table = _unit_table(units, summary, exact, g, prob)
    picks = _highlights(table)
    if pooled is not None:  # the units shown in the report are summarised exactly
        for i, row in zip(picks, pooling.unit_exact(pooled, y, se, g, picks, prob), strict=True):
            table.loc[i, ["mean", "prob_positive", "shrinkage"]] = [
                row["mean"],
                row["prob_positive"],
                row["shrinkage"],
            ]
            table.loc[i, ["hdi_low", "hdi_high"]] = row["hdi"]
    group_rows = []
    for i, name in enumerate(groups):
        rows = table[table["group"] == name]
        group_rows.append(
            {
                "group": name,
                "units": int(len(rows)),
                "users": int(rows["users"].sum()) if rows["users"].notna().all() else None,
                **exact["groups"][i],
                "complete_pooling": {
                    "mean": float(rows["complete_mean"].iloc[0]),
                    "hdi": [
                        float(rows["complete_low"].iloc[0]),
                        float(rows["complete_high"].iloc[0]),
                    ],
                },
            }
        )
    hyper = {"mu": exact["mu"], "sigma_unit": exact["sigma_unit"]}
    if "sigma_group" in exact:
        hyper["sigma_group"] = exact["sigma_group"]
    results = {
        "unit_label": spec.unit_label,
        "group_label": spec.group_label,
        "grouped": len(groups) > 1,
        "n_units": int(len(table)),
        "plotted_units": int(min(len(table), MAX_POINTS)),
        "n_users": int(table["users"].sum()) if table["users"].notna().all() else None,
        "prior": {"mu_mean": prior.mu_mean, "mu_sd": prior.mu_sd, "sigma_scale": prior.scale},
        "prior_influence": prior.influence(exact) if "sd" in exact["mu"] else None,
        "average": exact["average"],
        "new_unit": {k: exact["new_unit"][k] for k in ("mean", "hdi", "prob_positive")},
        "units": [_record(table.loc[i], roles) for i, roles in picks.items()],
        "groups": group_rows,
        "hyper": hyper,
        "counts": {
            "threshold": stats.STRONG_EVIDENCE,
            "positive": int((table["prob_positive"] >= stats.STRONG_EVIDENCE).sum()),
            "negative": int((table["prob_positive"] <= 1 - stats.STRONG_EVIDENCE).sum()),
        },
        "baselines": _baselines(table),
        "shrinkage_by_size": _shrinkage_by_size(table),
    }
    draws = {k: v for k, v in drawn.items() if k != "mu_group" and v is not None}
    posterior = xr.Dataset(
        {
            **{k: (("chain", "draw"), np.asarray(v)[None]) for k, v in draws.items()},
            "mu_group": (("chain", "draw", "group"), drawn["mu_group"][None]),
        },
        coords={"group": groups},
    )
    tree = {"posterior": posterior}
    if pooled is not None:
        tree["grid"] = xr.Dataset(
            {"density": (("sigma_unit", "sigma_group"), pooled.density)},
            coords={"sigma_unit": pooled.tau_u_grid, "sigma_group": pooled.tau_g_grid},
        )
    return Fit(
        results=results,
        posterior=xr.DataTree.from_dict(tree),
        diagnostics=diagnostics,
        tables={"units": table},
    )


def key_numbers(results: dict[str, Any]) -> dict[str, Any]:
    """The numbers a history of readouts follows: the average effect over the units."""
    return {
        "label": f"average effect over the {results['unit_label']}s",
        "scale": "value",
        "mean": results["average"]["mean"],
        "hdi": results["average"]["hdi"],
        "prob": results["average"]["prob_positive"],
        "prob_label": "chance the average effect is positive",
        "n": results["n_units"],
        "n_label": f"{results['unit_label']}s",
    }


def _unit_table(units: Units, summary, exact, g, prob) -> pd.DataFrame:
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


def _record(row: pd.Series, roles: list[str]) -> dict[str, Any]:
    import pandas as pd

    users = row["users"]
    return {
        "unit": str(row["unit"]),
        "group": str(row["group"]),
        "n": None if pd.isna(users) else int(users),
        "raw_estimate": float(row["raw_estimate"]),
        "raw_se": float(row["raw_se"]),
        "mean": float(row["mean"]),
        "hdi": [float(row["hdi_low"]), float(row["hdi_high"])],
        "prob_positive": float(row["prob_positive"]),
        "shrinkage": float(row["shrinkage"]),
        "group_mean": float(row["group_mean"]),
        "roles": roles,
    }


def _highlights(table: pd.DataFrame) -> dict[int, list[str]]:
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


def _baselines(table: pd.DataFrame) -> dict[str, Any]:
    """Average interval width of each approach (the reader sees what pooling buys)."""
    return {
        "no_pooling": {"mean_width": float((table["no_pool_high"] - table["no_pool_low"]).mean())},
        "complete_pooling": {
            "mean_width": float((table["complete_high"] - table["complete_low"]).mean())
        },
        "partial_pooling": {"mean_width": float((table["hdi_high"] - table["hdi_low"]).mean())},
    }


def _shrinkage_by_size(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Median shrinkage by unit size (users; nothing when users are unknown)."""
    if not table["users"].notna().all():
        return []
    edges, labels = [0, 100, 500, np.inf], ["under 100", "100 to 500", "over 500"]
    out = []
    for label, low, high in zip(labels, edges[:-1], edges[1:], strict=True):
        rows = table[(table["users"] >= low) & (table["users"] < high)]
        if len(rows):
            out.append(
                {
                    "bucket": label,
                    "units": int(len(rows)),
                    "median_shrinkage": float(rows["shrinkage"].median()),
                }
            )
    return out


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


# --------------------------------------------------------------------------- decision

VERDICTS = {
    "positive": Tone.GOOD,
    "negative": Tone.BAD,
    "unclear": Tone.NEUTRAL,
    "withheld": Tone.WITHHELD,
}


def group_verdict(summary: dict[str, Any], threshold: float = stats.STRONG_EVIDENCE) -> str:
    """Where to roll out.

    ``positive`` when the group's average is clearly above zero, ``negative`` when clearly below,
    otherwise ``unclear``.
    """
    low, high = summary["hdi"]
    if low > 0 and summary["prob_positive"] >= threshold:
        return "positive"
    if high < 0 and summary["prob_positive"] <= 1 - threshold:
        return "negative"
    return "unclear"


def decide(spec: Spec, results: dict[str, Any], diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Positive.

    Negative or unclear from the HDI of the average over the units; each group's own verdict beside
    it. Withheld when the computation's checks failed.
    """
    low, high = results["average"]["hdi"]
    numbers = {
        "average_hdi": [low, high],
        "prob_positive": results["average"]["prob_positive"],
        "groups": {g["group"]: group_verdict(g) for g in results["groups"]}
        if results["grouped"]
        else {},
    }
    if not diagnostics["ok"]:
        return {"verdict": "withheld", "reason_code": "health_failed", **numbers}
    verdict = group_verdict(results["average"])
    code = {
        "positive": "interval_above_zero",
        "negative": "interval_below_zero",
        "unclear": "interval_includes_zero",
    }[verdict]
    return {"verdict": verdict, "reason_code": code, **numbers}


# --------------------------------------------------------------------------- figures

#: Plain names of the hyperparameters, for diagnostic panels.
PARAMETER_NAMES = {
    "mu": "overall average",
    "sigma_group": "spread between groups",
    "sigma_unit": "spread between units",
}


def plot(fit: Fit, ci_prob: float) -> dict[str, Figure]:
    """Shrinkage plot (every highlighted unit drawn and labelled).

    Group estimates, and the posterior of the spreads (on the grid, or rank plots of the chains).
    """
    results, table, posterior = fit.results, fit.tables["units"], fit.posterior
    out: dict[str, Figure] = {}
    groups = [g["group"] for g in results["groups"]]
    color = {g: figures.colour(i, skip_grey=True) for i, g in enumerate(groups)}
    highlighted = {u["unit"]: u for u in results["units"]}
    labelled = table["unit"].isin(list(highlighted))
    rest = table[~labelled]
    sample_size = max(MAX_POINTS - int(labelled.sum()), 0)
    if len(rest) > sample_size:
        rest = rest.sample(sample_size, random_state=0)
    shown = table[labelled]
    import pandas as pd

    shown = pd.concat([rest, shown])
    size = shown["users"] if shown["users"].notna().all() else 1 / shown["raw_se"] ** 2
    area = 10 + 120 * (size / size.max()) ** 0.5
    fig, ax = figures.new_figure(7, 4.4)
    for g in groups:
        rows = shown["group"] == g
        ax.scatter(
            shown.loc[rows, "raw_estimate"],
            shown.loc[rows, "mean"],
            s=area[rows],
            color=color[g],
            alpha=0.45,
            lw=0,
            label=g if results["grouped"] else None,
            rasterized=True,
        )
    low = min(shown["raw_estimate"].min(), shown["mean"].min())
    high = max(shown["raw_estimate"].max(), shown["mean"].max())
    pad = 0.04 * (high - low)
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--")
    for row in results["groups"]:
        ax.axhline(row["mean"], color=color[row["group"]], lw=0.8, alpha=0.8)
    # Named: the stories told below (circled) and the units pooling moved most (squared), so
    # the most-shrunk units, the point of the chart, are always drawn and labelled.
    named = []
    for unit in results["units"]:
        story = any(r.startswith("story") for r in unit["roles"])
        if not story and "mover" not in unit["roles"]:
            continue
        named.append((unit["raw_estimate"], unit["mean"], unit["unit"]))
        ax.scatter(
            [unit["raw_estimate"]],
            [unit["mean"]],
            s=30,
            marker="o" if story else "s",
            facecolor="none",
            edgecolor="black",
        )
    ax.set_xlim(low - pad, high + 4 * pad)
    ax.set_xlabel("Own estimate (no pooling)")
    ax.set_ylabel("Pooled estimate")
    if results["grouped"]:
        ax.legend(
            frameon=False, fontsize=7, ncol=min(5, len(groups)), loc="upper left", markerscale=0.6
        )
    figures.tidy(ax, keep_left=True)
    out["shrinkage"] = figures.finish(fig)
    figures.label_points(ax, named)

    fig, ax = figures.new_figure(7, 0.9 + 0.32 * len(groups))
    for i, row in enumerate(results["groups"]):
        ax.plot(row["hdi"], [i, i], color=color[row["group"]], lw=3)
        ax.plot(row["mean"], i, "o", color=color[row["group"]])
        ax.plot(row["complete_pooling"]["mean"], i, "x", color="black", ms=5)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(groups)), groups)
    ax.set_xlabel(
        f"Group average effect: dot and bar = partial pooling ({figures.ci_label(ci_prob)}), "
        "x = complete pooling"
    )
    figures.tidy(ax, keep_left=True)
    out["groups"] = figures.finish(fig)
    out["diagnostics"] = _diagnostics_figure(posterior, results)
    return out


def _diagnostics_figure(posterior, results) -> Figure:
    if "grid" in posterior.children:
        grid = posterior["grid"].to_dataset()
        panels = ["sigma_unit"] + (["sigma_group"] if results["grouped"] else [])
        fig, axes = figures.new_grid(1, len(panels), 7, 2.6)
        density = grid["density"].values
        for ax, name in zip(axes[0], panels, strict=True):
            values = grid[name].values
            mass = density.sum(axis=1 if name == "sigma_unit" else 0)
            step = values[1] - values[0] if len(values) > 1 else 1.0
            ax.fill_between(values, mass / step, color="#bee3f8")
            ax.plot(values, mass / step, color="#2b6cb0", lw=1.5)
            ax.set_xlabel(PARAMETER_NAMES[name], fontsize=9)
            figures.tidy(ax)
        return figures.finish(fig)
    post = posterior["posterior"].to_dataset()
    names = [v for v in ("mu", "sigma_group", "sigma_unit") if v in post and post[v].size > 1]
    fig, axes = figures.new_grid(len(names), 2, 7, 1.6 * len(names) + 0.5)
    for (rank_ax, dens_ax), name in zip(axes, names, strict=True):
        values = post[name].transpose("chain", "draw").values
        ranks = stats.ranks(values)
        bins = np.linspace(0, ranks.size, 21)
        for chain, chain_ranks in zip(values, ranks, strict=True):
            rank_ax.hist(chain_ranks, bins=bins, histtype="step")
            dens_ax.hist(chain, bins=40, histtype="step", density=True)
        rank_ax.axhline(ranks.shape[1] / 20, color="black", lw=0.8, ls="--")
        rank_ax.set_ylabel(PARAMETER_NAMES[name], fontsize=9)
        rank_ax.set_yticks([])
        dens_ax.set_yticks([])
    axes[-1][0].set_xlabel("rank of each draw among all chains (one line per chain)", fontsize=9)
    axes[-1][1].set_xlabel("posterior (one line per chain)", fontsize=9)
    return figures.finish(fig)


# --------------------------------------------------------------------------- schema

_SUMMARY_P = {
    "type": "object",
    "required": ["mean", "hdi", "prob_positive"],
    "properties": {
        "mean": {"type": "number"},
        "hdi": INTERVAL_SCHEMA,
        "prob_positive": PROB_SCHEMA,
    },
}

RESULT_SCHEMA: dict[str, Any] = {
    "required": ["units", "groups", "hyper", "baselines", "n_units", "average", "new_unit"],
    "properties": {
        "average": _SUMMARY_P,
        "new_unit": _SUMMARY_P,
        "n_units": {"type": "integer", "minimum": 3},
        "units": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "unit",
                    "group",
                    "n",
                    "raw_estimate",
                    "raw_se",
                    "mean",
                    "hdi",
                    "prob_positive",
                    "shrinkage",
                ],
                "properties": {
                    "unit": {"type": "string"},
                    "group": {"type": "string"},
                    "n": {"type": ["integer", "null"]},
                    "raw_estimate": {"type": "number"},
                    "raw_se": {"type": "number", "exclusiveMinimum": 0},
                    "mean": {"type": "number"},
                    "hdi": INTERVAL_SCHEMA,
                    "prob_positive": PROB_SCHEMA,
                    "shrinkage": PROB_SCHEMA,
                },
            },
        },
        "groups": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["group", "mean", "hdi", "prob_positive", "new_unit"],
            },
        },
        "hyper": {
            "type": "object",
            "required": ["mu", "sigma_unit"],
            "properties": {
                "mu": SUMMARY_SCHEMA,
                "sigma_group": SUMMARY_SCHEMA,
                "sigma_unit": SUMMARY_SCHEMA,
            },
        },
        "baselines": {
            "type": "object",
            "required": ["no_pooling", "complete_pooling"],
        },
    },
}


ANALYSIS = Analysis(
    name="hierarchical",
    version="4",
    spec=Spec,
    result_schema=RESULT_SCHEMA,
    request=request,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts=VERDICTS,
    warning_codes=("units_too_few_users", "units_no_spread", "bad_std_error"),
    figures=("shrinkage", "groups", "diagnostics"),
)
