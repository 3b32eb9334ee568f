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
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from analyses.core import pooling, stats
from analyses.core.base import (
    Analysis,
    BaseSpec,
    DataError,
    Fit,
    Settings,
    Tone,
    prior_data,
    sample,
    sampled,
)
from analyses.core.inputs import (
    Column,
    Experiment,
    Fetched,
    MetricSpec,
    Request,
    Rows,
    Summary,
    Value,
)
from analyses.hierarchical_figures import MAX_POINTS, plot
from analyses.hierarchical_schema import RESULT_SCHEMA
from analyses.hierarchical_units import (
    _baselines,
    _highlights,
    _record,
    _shrinkage_by_size,
    _unit_table,
)

#: Draws of the spreads and group means over which every unit is summarised.
SUMMARY_DRAWS = 2000


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
        p = prior_data(mu_mean=prior.mu_mean, mu_sd=prior.mu_sd, scale=prior.scale)
        mu = pm.Normal("mu", p["mu_mean"], p["mu_sd"])
        sigma_unit = pm.HalfNormal("sigma_unit", p["scale"])
        if len(groups) > 1:
            sigma_group = pm.HalfNormal("sigma_group", p["scale"])
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
    names = [v for v in ("mu", "sigma_group", "sigma_unit", "mu_group") if v in trace["posterior"]]
    post, diagnostics = sampled(trace, names, "NUTS on the full non-centred model (PyMC)")

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
