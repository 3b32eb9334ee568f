"""Hierarchical partial pooling of one effect measured on many units (creators, markets).

Each unit ``i`` has an estimate ``y_i`` with standard error ``se_i`` (given, or computed
from raw per-user rows as a difference in means with Welch's standard error). The model:

    effect_i ~ Normal(mu_group[g_i], sigma_unit)
    mu_group ~ Normal(mu, sigma_group)          (one level only when there is no group)
    y_i      ~ Normal(effect_i, se_i)

The default ``marginal`` method integrates the unit effects out,
``y_i ~ Normal(mu_group[g_i], sqrt(sigma_unit^2 + se_i^2))``, samples only the
hyperparameters with NUTS, and then summarises every unit from its exact normal conditional
``effect_i | y, hyper``, chunk by chunk, so memory does not grow with draws x units.
``method = "full"`` samples the plain non-centred model; the tests check the two agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from analyses import figures, stats
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
from analyses.checks import no_missing, numeric_column, require_columns

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import pandas as pd
    from matplotlib.figure import Figure

#: Units summarised at once from their conditionals (draws x CHUNK floats in memory).
CHUNK = 2000
#: Hyperparameter draws (evenly spaced) over which every unit is summarised.
SUMMARY_DRAWS = 1000
#: Units listed per role in the bundle and the report ("creators that matter").
TOP_N = 5
#: Units drawn in the shrinkage plot (a random sample beyond this).
MAX_POINTS = 3000


class Spec(BaseSpec):
    """Config keys of a ``hierarchical`` experiment.

    Either raw rows (``arm``, ``control``, ``metric``) or pre-summarised rows
    (``estimate``, ``std_error``, optionally ``users``).
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


def _summarise_raw(spec: Spec, frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list]:
    """Per-unit difference in means and Welch standard error from raw rows."""
    import pandas as pd

    no_missing(frame, source, [spec.unit, spec.group, spec.arm])
    y = numeric_column(frame, source, "metric", spec.metric)
    arm = frame[spec.arm].astype(str).to_numpy()
    control = str(spec.control)
    arms = sorted(set(arm))
    if control not in arms:
        raise DataError(
            source,
            f"control value '{control}' does not occur in column '{spec.arm}' "
            f"(values found: {', '.join(arms)})",
            "set control to one of those values",
        )
    if len(arms) != 2:
        raise DataError(
            source,
            f"column '{spec.arm}' has {len(arms)} arm(s) ({', '.join(arms)}); pooling "
            "compares one treatment with the control",
            "keep two arms in the data, or split the experiment",
        )
    treated = arm != control
    data = pd.DataFrame({"unit": frame[spec.unit].astype(str), "t": treated, "y": y})
    if spec.group:
        data["group"] = frame[spec.group].astype(str)
        per_unit = data.groupby("unit")["group"].nunique()
        mixed = per_unit[per_unit > 1]
        if len(mixed):
            raise DataError(
                source,
                f"{spec.unit_label} '{mixed.index[0]}' appears in {int(mixed.iloc[0])} "
                f"different values of column '{spec.group}' ({len(mixed)} such unit(s))",
                f"give each {spec.unit_label} one {spec.group_label}",
            )
    stats_ = data.groupby(["unit", "t"])["y"].agg(["size", "mean", "var"]).unstack("t")
    n_c = stats_[("size", False)].fillna(0).astype(int)
    n_t = stats_[("size", True)].fillna(0).astype(int)
    too_few = (n_c < spec.min_users_per_arm) | (n_t < spec.min_users_per_arm)
    warnings = []
    if too_few.any():
        dropped = list(too_few.index[too_few])
        empty = int(((n_c == 0) | (n_t == 0)).sum())
        warnings.append(
            {
                "code": "units_too_few_users",
                "count": len(dropped),
                "empty_arm": empty,
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
    var_c = stats_[("var", False)][keep]
    var_t = stats_[("var", True)][keep]
    # A unit whose users all gave the same value has no spread of its own; borrow the arm's.
    arm_var = data.groupby("t")["y"].var()
    flat = int(((var_c <= 0) | (var_t <= 0)).sum())
    var_c = var_c.where(var_c > 0, arm_var[False])
    var_t = var_t.where(var_t > 0, arm_var[True])
    if flat:
        warnings.append({"code": "units_no_spread", "count": flat})
    out = pd.DataFrame(
        {
            "unit": stats_.index[keep],
            "estimate": (stats_[("mean", True)] - stats_[("mean", False)])[keep].to_numpy(),
            "se": np.sqrt(var_t / n_t[keep] + var_c / n_c[keep]).to_numpy(),
            "users": (n_c + n_t)[keep].to_numpy(),
        }
    )
    if spec.group:
        groups = data.groupby("unit")["group"].first()
        out["group"] = groups.loc[out["unit"]].to_numpy()
    return out, warnings


def _load_summary(spec: Spec, frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list]:
    import pandas as pd

    no_missing(frame, source, [spec.unit, spec.group])
    out = pd.DataFrame(
        {
            "unit": frame[spec.unit].astype(str).to_numpy(),
            "estimate": numeric_column(frame, source, "estimate", spec.estimate),
            "se": pd.to_numeric(frame[spec.std_error], errors="coerce").to_numpy(dtype=float),
        }
    )
    if spec.users:
        out["users"] = numeric_column(frame, source, "users", spec.users)
    if spec.group:
        out["group"] = frame[spec.group].astype(str).to_numpy()
    duplicated = out["unit"][out["unit"].duplicated()]
    if len(duplicated):
        raise DataError(
            source,
            f"column '{spec.unit}' repeats {len(duplicated)} unit(s), e.g. "
            f"'{duplicated.iloc[0]}'; pre-summarised data need one row per unit",
            "remove the duplicates, or give raw rows with arm, control and metric",
        )
    bad = ~(out["se"] > 0) | ~np.isfinite(out["se"])
    warnings = []
    if bad.all():
        raise DataError(
            source,
            f"column '{spec.std_error}' has no positive standard errors",
            "give each unit's standard error (a positive number)",
        )
    if bad.any():
        warnings.append(
            {
                "code": "bad_std_error",
                "count": int(bad.sum()),
                "column": spec.std_error,
                "examples": out["unit"][bad].head(5).tolist(),
            }
        )
        out = out[~bad].reset_index(drop=True)
    return out, warnings


def load(
    spec: Spec, frame: pd.DataFrame, source: str, files: Mapping[str, Path] | None = None
) -> tuple[pd.DataFrame, list[dict]]:
    """One row per unit: ``unit``, ``estimate``, ``se``, and ``users``/``group`` if known.

    Raises
    ------
    DataError
        Missing columns or values, duplicate units, a group column with a single value, no
        usable standard errors, or fewer than three usable units.
    """
    columns = {"unit": spec.unit, "group": spec.group}
    if spec.summarised:
        columns |= {"estimate": spec.estimate, "std_error": spec.std_error, "users": spec.users}
    else:
        columns |= {"arm": spec.arm, "metric": spec.metric}
    require_columns(frame, source, columns)
    units, warnings = (_load_summary if spec.summarised else _summarise_raw)(spec, frame, source)
    if spec.group and units["group"].nunique() < 2:
        raise DataError(
            source,
            f"column '{spec.group}' (group) has one value only ('{units['group'].iloc[0]}'), "
            "so there is nothing to pool between groups",
            "remove the group key to pool all units in one level",
        )
    if len(units) < 3:
        raise DataError(source, "fewer than 3 units to pool", "pool at least 3 units")
    return units.reset_index(drop=True), warnings


# --------------------------------------------------------------------------- model


def priors(units: pd.DataFrame) -> dict[str, float]:
    """Weakly informative priors scaled to the spread of the estimates."""
    y = units["estimate"].to_numpy()
    spread = float(np.std(y, ddof=1)) or float(units["se"].mean())
    return {"mu_mean": float(np.median(y)), "mu_sd": 2 * spread, "sigma_scale": spread}


#: With at least this many units in every group, the group means are well determined by the
#: data and a centred group level samples better; with fewer, a non-centred one avoids funnels.
CENTRED_MIN_UNITS = 20


def centred_groups(spec: Spec, units: pd.DataFrame) -> bool:
    """Whether the group level is centred (``auto``: every group has enough units)."""
    if spec.group_parameterisation != "auto":
        return spec.group_parameterisation == "centred"
    return int(units.groupby("group").size().min()) >= CENTRED_MIN_UNITS


def _sample(spec: Spec, units: pd.DataFrame, groups: list[str], settings: Settings):
    import pymc as pm
    import pytensor.tensor as pt

    prior = priors(units)
    y, se = units["estimate"].to_numpy(), units["se"].to_numpy()
    g = units["group"].map({k: i for i, k in enumerate(groups)}).to_numpy()
    coords = {"group": groups, "unit": units["unit"].to_numpy()}
    with pm.Model(coords=coords):
        mu = pm.Normal("mu", prior["mu_mean"], prior["mu_sd"])
        sigma_unit = pm.HalfNormal("sigma_unit", prior["sigma_scale"])
        if len(groups) > 1:
            sigma_group = pm.HalfNormal("sigma_group", prior["sigma_scale"])
            if centred_groups(spec, units):
                mu_group = pm.Normal("mu_group", mu, sigma_group, dims="group")
            else:
                z_group = pm.Normal("z_group", 0.0, 1.0, dims="group")
                mu_group = pm.Deterministic("mu_group", mu + sigma_group * z_group, dims="group")
        else:
            mu_group = pm.Deterministic("mu_group", pt.stack([mu]), dims="group")
        if spec.method == "full":
            z_unit = pm.Normal("z_unit", 0.0, 1.0, dims="unit")
            effect = pm.Deterministic("effect", mu_group[g] + sigma_unit * z_unit, dims="unit")
            pm.Normal("y", effect, se, observed=y)
        else:
            pm.Normal("y", mu_group[g], pt.sqrt(sigma_unit**2 + se**2), observed=y)
        trace = sample(
            settings,
            target_accept=0.9,
        )
    return trace, prior


def unit_summaries(
    y: np.ndarray,
    se: np.ndarray,
    g: np.ndarray,
    mu_group: np.ndarray,
    sigma_unit: np.ndarray,
    prob: float,
    seed: int,
) -> dict[str, np.ndarray]:
    """Summaries of every unit's effect from its normal conditional given the hyperparameters.

    Given the hyperparameters, unit ``i``'s effect is normal with mean
    ``m_i = B_i * mu_group[g_i] + (1 - B_i) * y_i`` and variance ``(1 - B_i) * se_i^2``,
    where ``B_i = se_i^2 / (se_i^2 + sigma_unit^2)`` is the pull toward the group mean.

    Parameters
    ----------
    y, se, g
        Each unit's estimate, standard error and group index.
    mu_group
        Draws of the group means, shape (draws, groups).
    sigma_unit
        Draws of the spread between units, shape (draws,).

    Returns
    -------
    dict
        Over at most :data:`SUMMARY_DRAWS` evenly spaced hyperparameter draws: ``mean``,
        ``prob_positive`` and ``shrinkage`` average the exact conditionals; ``hdi``
        (units x 2) comes from one draw of each unit per hyperparameter draw;
        ``average_draws`` are draws of the average effect over these units. Given the
        hyperparameters the unit effects are independent normals, so their sum is normal
        with mean ``sum(m_i)`` and variance ``sum(var_i)``: drawn exactly, unit by unit
        never needed.
    """
    from scipy import special

    rng = np.random.default_rng(seed)
    keep = np.linspace(0, len(sigma_unit) - 1, min(len(sigma_unit), SUMMARY_DRAWS))
    keep = keep.round().astype(int)
    mu_group, tau2 = mu_group[keep], sigma_unit[keep, None] ** 2
    out = {k: np.empty(len(y)) for k in ("mean", "prob_positive", "shrinkage")}
    out["hdi"] = np.empty((len(y), 2))
    sum_mean, sum_var = np.zeros(len(keep)), np.zeros(len(keep))
    for start in range(0, len(y), CHUNK):
        part = slice(start, start + CHUNK)
        s2 = se[part][None, :] ** 2
        pull = s2 / (s2 + tau2)
        m = pull * mu_group[:, g[part]] + (1 - pull) * y[part][None, :]
        var = (1 - pull) * s2
        sd = np.sqrt(var)
        out["mean"][part] = m.mean(axis=0)
        out["prob_positive"][part] = special.ndtr(m / sd).mean(axis=0)
        out["shrinkage"][part] = pull.mean(axis=0)
        out["hdi"][part] = stats.hdi_columns(m + sd * rng.standard_normal(m.shape), prob)
        sum_mean += m.sum(axis=1)
        sum_var += var.sum(axis=1)
    out["average_draws"] = (sum_mean + np.sqrt(sum_var) * rng.standard_normal(len(keep))) / len(y)
    return out


def fit(spec: Spec, units: pd.DataFrame, settings: Settings) -> Fit:
    """Fit the hierarchical model and summarise units, groups, hyperparameters, baselines."""
    units = units.copy()
    if "group" not in units:
        units["group"] = "all"
    groups = sorted(units["group"].unique())
    trace, prior = _sample(spec, units, groups, settings)
    post = trace["posterior"].to_dataset()
    divergences = int(trace["sample_stats"]["diverging"].sum())
    hyper_names = [v for v in ("mu", "sigma_group", "sigma_unit", "mu_group") if v in post]
    diagnostics = {
        **stats.convergence(post[hyper_names], divergences),
        "method": (
            "NUTS on the hyperparameters, unit effects integrated out (exact conditionals)"
            if spec.method == "marginal"
            else "NUTS on the full non-centred model"
        ),
    }
    prob = settings.ci_prob
    flat = lambda name: post[name].stack(s=("chain", "draw")).transpose("s", ...).values  # noqa: E731
    mu_group = flat("mu_group").reshape(-1, len(groups))
    sigma_unit = flat("sigma_unit")
    y, se = units["estimate"].to_numpy(), units["se"].to_numpy()
    g = units["group"].map({k: i for i, k in enumerate(groups)}).to_numpy()
    if spec.method == "full":
        effect = flat("effect")
        tau2, s2 = sigma_unit[:, None] ** 2, se[None, :] ** 2
        summary = {
            "mean": effect.mean(axis=0),
            "hdi": stats.hdi_columns(effect, prob),
            "prob_positive": (effect > 0).mean(axis=0),
            "shrinkage": (s2 / (s2 + tau2)).mean(axis=0),
            "average_draws": effect.mean(axis=1),
        }
    else:
        summary = unit_summaries(y, se, g, mu_group, sigma_unit, prob, settings.seed)
    table = _unit_table(units, summary, mu_group, g, prob)
    group_rows = []
    for i, name in enumerate(groups):
        rows = table[table["group"] == name]
        group_rows.append(
            {
                "group": name,
                "units": int(len(rows)),
                "users": int(rows["users"].sum()) if rows["users"].notna().all() else None,
                **stats.summary(mu_group[:, i], prob),
                "complete_pooling": {
                    "mean": float(rows["complete_mean"].iloc[0]),
                    "hdi": [
                        float(rows["complete_low"].iloc[0]),
                        float(rows["complete_high"].iloc[0]),
                    ],
                },
            }
        )
    hyper = {"mu": stats.summary(flat("mu"), prob), "sigma_unit": stats.summary(sigma_unit, prob)}
    if "sigma_group" in post:
        hyper["sigma_group"] = stats.summary(flat("sigma_group"), prob)
    results = {
        "unit_label": spec.unit_label,
        "group_label": spec.group_label,
        "grouped": len(groups) > 1,
        "n_units": int(len(table)),
        "plotted_units": int(min(len(table), MAX_POINTS)),
        "n_users": int(table["users"].sum()) if table["users"].notna().all() else None,
        "prior": prior,
        "average": {
            **stats.summary(summary["average_draws"], prob),
            "prob_positive": stats.prob_greater(summary["average_draws"], 0.0),
        },
        "units": _highlights(table),
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
    import xarray as xr

    tree = xr.DataTree.from_dict({"posterior": post[[*hyper_names, "sigma_unit"]]})
    return Fit(results=results, posterior=tree, diagnostics=diagnostics, tables={"units": table})


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


def _unit_table(units, summary, mu_group, g, prob) -> pd.DataFrame:
    """Every unit with its own, pooled and complete-pooling estimates (the CSV)."""
    import pandas as pd

    table = pd.DataFrame(
        {
            "unit": units["unit"].to_numpy(),
            "group": units["group"].to_numpy(),
            "users": units["users"].to_numpy() if "users" in units else np.nan,
            "raw_estimate": units["estimate"].to_numpy(),
            "raw_se": units["se"].to_numpy(),
            "mean": summary["mean"],
            "hdi_low": summary["hdi"][:, 0],
            "hdi_high": summary["hdi"][:, 1],
            "prob_positive": summary["prob_positive"],
            "shrinkage": summary["shrinkage"],
            "group_mean": mu_group.mean(axis=0)[g],
        }
    )
    own = stats.normal_interval(table["raw_estimate"], table["raw_se"], prob)
    table["no_pool_low"], table["no_pool_high"] = own[:, 0], own[:, 1]
    weights = 1 / table["raw_se"] ** 2
    pooled = (table["raw_estimate"] * weights).groupby(table["group"]).sum() / weights.groupby(
        table["group"]
    ).sum()
    pooled_se = 1 / np.sqrt(weights.groupby(table["group"]).sum())
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


def _highlights(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The units that matter: strongest evidence either way, largest movers, and stories."""
    picks: dict[int, list[str]] = {}

    def add(index, role):
        for i in index:
            picks.setdefault(int(i), []).append(role)

    add(table["prob_positive"].nlargest(TOP_N).index, "positive")
    add(table["prob_positive"].nsmallest(TOP_N).index, "negative")
    moved = (table["raw_estimate"] - table["mean"]).abs()
    add(moved.nlargest(TOP_N).index, "mover")
    size = table["users"] if table["users"].notna().all() else 1 / table["raw_se"] ** 2
    add([size.idxmin()], "story_small")
    add([size.idxmax()], "story_large")
    middle = (size - size.median()).abs().idxmin()
    add([middle], "story_typical")
    return [_record(table.loc[i], roles) for i, roles in picks.items()]


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
    """Median shrinkage by unit size (users, or the standard error when users are unknown)."""
    if table["users"].notna().all():
        edges, key = [0, 100, 500, np.inf], "users"
        labels = ["under 100", "100 to 500", "over 500"]
    else:
        return []
    out = []
    for label, low, high in zip(labels, edges[:-1], edges[1:], strict=True):
        rows = table[(table[key] >= low) & (table[key] < high)]
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


def decide(spec: Spec, results: dict[str, Any], diagnostics: dict[str, Any]) -> dict[str, Any]:
    """Positive, negative or unclear from the HDI of the average over the units.

    Withheld when the sampler's checks failed.
    """
    low, high = results["average"]["hdi"]
    numbers = {"average_hdi": [low, high], "prob_positive": results["average"]["prob_positive"]}
    if not diagnostics["ok"]:
        return {"verdict": "withheld", "reason_code": "health_failed", **numbers}
    if low > 0:
        return {"verdict": "positive", "reason_code": "interval_above_zero", **numbers}
    if high < 0:
        return {"verdict": "negative", "reason_code": "interval_below_zero", **numbers}
    return {"verdict": "unclear", "reason_code": "interval_includes_zero", **numbers}


# --------------------------------------------------------------------------- figures

#: Plain names of the hyperparameters, for diagnostic panels.
PARAMETER_NAMES = {
    "mu": "overall average",
    "sigma_group": "spread between groups",
    "sigma_unit": "spread between units",
}


def plot(fit: Fit, ci_prob: float) -> dict[str, Figure]:
    """Shrinkage plot, group estimates, and hyperparameter traces."""
    results, table, posterior = fit.results, fit.tables["units"], fit.posterior
    out: dict[str, Figure] = {}
    groups = [g["group"] for g in results["groups"]]
    color = {g: figures.colour(i, skip_grey=True) for i, g in enumerate(groups)}
    shown = table if len(table) <= MAX_POINTS else table.sample(MAX_POINTS, random_state=0)
    size = shown["users"] if shown["users"].notna().all() else 1 / shown["raw_se"] ** 2
    area = 8 + 120 * (size / size.max()) ** 0.5
    fig, ax = figures.new_figure(7, 4.2)
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
    low = min(shown["raw_estimate"].quantile(0.01), shown["mean"].min())
    high = max(shown["raw_estimate"].quantile(0.99), shown["mean"].max())
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--")
    for row in results["groups"]:
        ax.axhline(row["mean"], color=color[row["group"]], lw=0.8, alpha=0.8)
    ax.set_xlim(low, high)
    ax.set_xlabel("Own estimate (no pooling)")
    ax.set_ylabel("Pooled estimate")
    if results["grouped"]:
        ax.legend(
            frameon=False, fontsize=7, ncol=min(5, len(groups)), loc="upper left", markerscale=0.6
        )
    figures.tidy(ax, keep_left=True)
    out["shrinkage"] = figures.finish(fig)

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

    post = posterior["posterior"].to_dataset()
    names = [v for v in ("mu", "sigma_group", "sigma_unit") if v in post]
    fig, axes = figures.new_grid(len(names), 2, 7, 1.5 * len(names) + 0.4)
    for (rank_ax, dens_ax), name in zip(axes, names, strict=True):
        values = post[name].transpose("chain", "draw").values
        ranks = stats.ranks(values)
        bins = np.linspace(0, ranks.size, 21)
        for chain, chain_ranks in zip(values, ranks, strict=True):
            rank_ax.hist(chain_ranks, bins=bins, histtype="step")
            dens_ax.hist(chain, bins=40, histtype="step", density=True)
        rank_ax.axhline(ranks.shape[1] / 20, color="black", lw=0.8, ls="--")
        rank_ax.set_ylabel(PARAMETER_NAMES[name], fontsize=8)
        rank_ax.set_yticks([])
        dens_ax.set_yticks([])
    axes[-1][0].set_xlabel("rank of each draw among all chains (one line per chain)")
    axes[-1][1].set_xlabel("posterior (one line per chain)")
    out["diagnostics"] = figures.finish(fig)
    return out


# --------------------------------------------------------------------------- schema


RESULT_SCHEMA: dict[str, Any] = {
    "required": ["units", "groups", "hyper", "baselines", "n_units", "average"],
    "properties": {
        "average": SUMMARY_SCHEMA,
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
            "items": {"type": "object", "required": ["group", "mean", "hdi"]},
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
    version="2",
    spec=Spec,
    result_schema=RESULT_SCHEMA,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts=VERDICTS,
    warning_codes=("units_too_few_users", "units_no_spread", "bad_std_error"),
    figures=("shrinkage", "groups", "diagnostics"),
)
