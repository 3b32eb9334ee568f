"""A/B and A/B/n tests on a binary (conversion) or continuous (e.g. spend) metric.

Binary metrics use the exact Beta posterior of each arm's rate (no MCMC). Continuous
metrics use a PyMC model per arm, Normal or Student-t, optionally on the log scale, with
weakly informative priors scaled to the data. Every treatment arm is compared with the
control: probability of being better, expected loss of shipping it, relative and absolute
lift with their HDIs, the ROPE probability when a minimum worthwhile effect is set, and the
traditional test beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

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
from analyses.checks import no_missing, numeric_column, require_columns, row_numbers

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import pandas as pd
    import xarray as xr
    from matplotlib.figure import Figure

#: Verdicts of a randomised test and their tones.
VERDICTS = {
    "ship": Tone.GOOD,
    "keep_control": Tone.BAD,
    "keep_collecting": Tone.NEUTRAL,
    "no_difference": Tone.NEUTRAL,
    "withheld": Tone.WITHHELD,
}
#: Verdicts of an observational comparison: nothing was assigned, so nothing is shipped.
OBSERVATIONAL_VERDICTS = {
    "higher": Tone.NEUTRAL,
    "lower": Tone.NEUTRAL,
    "unclear": Tone.NEUTRAL,
}


class Decision(BaseModel):
    """Thresholds of the verdict.

    The default ``min_prob_better`` of 0.97 makes "ship" coincide with the lower end of a
    94% interval of the lift lying above zero, so the verdict agrees with the interval shown.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_prob_better: float = Field(0.97, gt=0.5, lt=1.0)
    max_expected_loss: float = Field(0.005, ge=0.0)
    rope: float | None = Field(None, gt=0.0)


class Priors(BaseModel):
    """Prior settings; ``None`` means scaled to the data (stated in the report)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(1.0, gt=0.0)
    beta: float = Field(1.0, gt=0.0)
    mu_mean: float | None = None
    mu_sd: float | None = Field(None, gt=0.0)
    sigma_sd: float | None = Field(None, gt=0.0)
    nu_rate: float = Field(0.1, gt=0.0)


class Spec(BaseSpec):
    """Config keys of an ``ab_test`` experiment."""

    analysis: Literal["ab_test"]
    group: str
    control: str | int
    metric: str
    metric_type: Literal["binary", "continuous"]
    log_transform: bool = False
    robust: bool = False
    observational: bool = False
    expected_split: dict[str, float] | None = None
    metric_label: str | None = None
    arm_labels: dict[str, str] = {}
    value_prefix: str = ""
    value_suffix: str = ""
    decision: Decision = Decision()
    priors: Priors = Priors()


def load(
    spec: Spec, frame: pd.DataFrame, source: str, files: Mapping[str, Path] | None = None
) -> tuple[pd.DataFrame, list[dict]]:
    """Check the rows and return a frame with columns ``arm`` (str) and ``y`` (float).

    Raises
    ------
    DataError
        For a missing column, missing values, an absent control, fewer than two arms, an
        empty arm, non-0/1 values in a binary metric or non-positive values on the log scale.
    """
    import pandas as pd

    require_columns(frame, source, {"group": spec.group, "metric": spec.metric})
    no_missing(frame, source, [spec.group, spec.metric])
    arm = frame[spec.group].astype(str)
    arms = list(dict.fromkeys(arm))
    control = str(spec.control)
    if control not in arms:
        raise DataError(
            source,
            f"control value '{control}' does not occur in column '{spec.group}' "
            f"(values found: {', '.join(sorted(arms))})",
            "set control to one of those values",
        )
    if spec.expected_split is not None:
        empty = [name for name in spec.expected_split if name not in arms]
        if empty:
            raise DataError(
                source,
                f"arm '{empty[0]}' in expected_split has no rows in column '{spec.group}'",
                "check the arm's spelling or that its data were exported",
            )
        unplanned = [name for name in arms if name not in spec.expected_split]
        if unplanned:
            raise DataError(
                source,
                f"arm '{unplanned[0]}' occurs in column '{spec.group}' but not in expected_split",
                "add it to expected_split or remove its rows",
            )
    if len(arms) < 2:
        raise DataError(
            source,
            f"column '{spec.group}' has one arm only ('{arms[0]}'); a test needs two or more",
            "check the group column, or that every arm's data were exported",
        )
    y = pd.Series(numeric_column(frame, source, "metric", spec.metric), index=frame.index)
    if spec.metric_type == "binary":
        bad = frame.index[~y.isin([0, 1])]
        if len(bad):
            raise DataError(
                source,
                f"binary metric '{spec.metric}' has {len(bad)} value(s) other than 0 and 1, "
                f"in rows {row_numbers(bad)}",
                'code conversions as 1 and non-conversions as 0, or set metric_type = "continuous"',
            )
    elif spec.log_transform:
        bad = frame.index[y <= 0]
        if len(bad):
            raise DataError(
                source,
                f"metric '{spec.metric}' has {len(bad)} value(s) at or below zero, in rows "
                f"{row_numbers(bad)}; log_transform needs positive values",
                "remove those rows, or set log_transform = false (zero spend is better "
                "modelled separately from the amount spent)",
            )
    out = pd.DataFrame({"arm": arm.to_numpy(), "y": y.to_numpy(dtype=float)})
    if spec.metric_type == "continuous":
        sizes = out.groupby("arm").size()
        small = sizes[sizes < 3]
        if len(small):
            raise DataError(
                source,
                f"arm '{small.index[0]}' has only {int(small.iloc[0])} row(s) of '{spec.metric}'",
                "collect more data; a continuous metric needs at least 3 rows per arm",
            )
    return out, []


def _arm_order(spec: Spec, frame: pd.DataFrame) -> list[str]:
    control = str(spec.control)
    return [control] + sorted(a for a in frame["arm"].unique() if a != control)


def _exact_binary(
    spec: Spec, frame: pd.DataFrame, arms: list[str], settings: Settings
) -> tuple[dict[str, np.ndarray], dict]:
    """Draw each arm's rate from its exact Beta posterior (four independent "chains").

    The draws are independent by construction, so R-hat is 1 and the effective sample size
    is the number of draws; they are reported as such rather than estimated.
    """
    rng = np.random.default_rng(settings.seed)
    chains = 4
    per_chain = settings.exact_draws // chains
    y = frame["y"].to_numpy()
    arm = frame["arm"].to_numpy()
    conversions = np.array([y[arm == a].sum() for a in arms])
    sizes = np.array([(arm == a).sum() for a in arms])
    rate = rng.beta(
        spec.priors.alpha + conversions,
        spec.priors.beta + sizes - conversions,
        size=(chains, per_chain, len(arms)),
    )
    prior = {"kind": "beta", "alpha": spec.priors.alpha, "beta": spec.priors.beta}
    diagnostics = {
        "r_hat_max": 1.0,
        "ess_bulk_min": float(chains * per_chain),
        "divergences": 0,
        "ok": True,
        **stats.limits(),
        "method": "exact Beta posterior (independent draws)",
    }
    return {"value": rate}, {"prior": prior, "diagnostics": diagnostics}


def continuous_priors(spec: Spec, y: np.ndarray) -> dict[str, float]:
    """Weakly informative priors scaled to the pooled data unless the config sets them."""
    centre, spread = float(np.mean(y)), float(np.std(y, ddof=1))
    return {
        "mu_mean": spec.priors.mu_mean if spec.priors.mu_mean is not None else centre,
        "mu_sd": spec.priors.mu_sd if spec.priors.mu_sd is not None else 2.0 * spread,
        "sigma_sd": spec.priors.sigma_sd if spec.priors.sigma_sd is not None else 2.0 * spread,
        "nu_rate": spec.priors.nu_rate,
    }


def _mcmc_continuous(
    spec: Spec, frame: pd.DataFrame, arms: list[str], settings: Settings
) -> tuple[dict[str, np.ndarray], dict]:
    """Sample each arm's location and scale with NUTS."""
    import pymc as pm

    y = frame["y"].to_numpy()
    if spec.log_transform:
        y = np.log(y)
    index = frame["arm"].map({a: i for i, a in enumerate(arms)}).to_numpy()
    prior = continuous_priors(spec, y)
    with pm.Model(coords={"arm": arms}):
        mu = pm.Normal("mu", mu=prior["mu_mean"], sigma=prior["mu_sd"], dims="arm")
        sigma = pm.HalfNormal("sigma", sigma=prior["sigma_sd"], dims="arm")
        if spec.robust:
            nu = pm.Exponential("nu_minus_one", lam=prior["nu_rate"]) + 1
            pm.StudentT("y", nu=nu, mu=mu[index], sigma=sigma[index], observed=y)
        else:
            pm.Normal("y", mu=mu[index], sigma=sigma[index], observed=y)
        trace = sample(
            settings,
        )
    posterior = trace["posterior"].to_dataset()
    divergences = int(trace["sample_stats"]["diverging"].sum())
    diagnostics = {
        **stats.convergence(posterior, divergences),
        "method": "NUTS (PyMC)",
    }
    draws = {
        name: posterior[name].transpose("chain", "draw", ...).values for name in posterior.data_vars
    }
    draws["value"] = np.exp(draws["mu"]) if spec.log_transform else draws["mu"]
    prior = {"kind": "studentt" if spec.robust else "normal", **prior}
    return draws, {"prior": prior, "diagnostics": diagnostics}


def _frequentist(spec: Spec, frame: pd.DataFrame, control: str, arm: str) -> dict:
    a = frame.loc[frame["arm"] == control, "y"].to_numpy()
    b = frame.loc[frame["arm"] == arm, "y"].to_numpy()
    if spec.metric_type == "binary":
        test = stats.two_proportion_ztest(int(a.sum()), a.size, int(b.sum()), b.size)
        return {**test, "scale": "absolute"}
    if spec.log_transform:
        return {**stats.welch_ttest(np.log(a), np.log(b)), "scale": "log"}
    return {**stats.welch_ttest(a, b), "scale": "absolute"}


def decide_comparisons(
    comparisons: list[dict], decision: Decision, observational: bool = False
) -> dict[str, Any]:
    """The verdict of healthy comparisons with the control, as a code and its numbers.

    ``no_difference`` when a ROPE is set and every arm's HDI of the relative lift lies
    inside ±ROPE (the HDI+ROPE rule, so the verdict agrees with the interval shown);
    ``ship`` when the arm most likely to be better reaches ``min_prob_better``, the HDI of
    its lift lies above zero, and its expected loss (relative to the control) is within
    ``max_expected_loss``; ``keep_control`` when every arm is that likely to be worse and
    every HDI lies below zero; otherwise ``keep_collecting``. An observational comparison
    ships nothing: its verdicts are ``higher``, ``lower`` and ``unclear``, and the expected
    loss of shipping plays no part.
    """
    best = max(comparisons, key=lambda c: c["prob_better"])
    threshold = decision.min_prob_better
    numbers = {
        "arm": best["arm"],
        "prob_better": best["prob_better"],
        "lift_rel_hdi": best["lift_rel"]["hdi"],
        "expected_loss_rel": best["expected_loss_rel"],
        "thresholds": decision.model_dump(),
    }
    rope = decision.rope
    if rope is not None and all(
        -rope < c["lift_rel"]["hdi"][0] and c["lift_rel"]["hdi"][1] < rope for c in comparisons
    ):
        widest = max(max(abs(h) for h in c["lift_rel"]["hdi"]) for c in comparisons)
        return {"verdict": "no_difference", "reason_code": "inside_rope", "widest": widest} | {
            **numbers,
            "arm": None,
        }
    loss_ok = observational or best["expected_loss_rel"] <= decision.max_expected_loss
    if best["prob_better"] >= threshold and best["lift_rel"]["hdi"][0] > 0 and loss_ok:
        verdict = "higher" if observational else "ship"
        return {"verdict": verdict, "reason_code": "clear_winner", **numbers}
    if all(c["prob_better"] <= 1 - threshold and c["lift_rel"]["hdi"][1] < 0 for c in comparisons):
        verdict = "lower" if observational else "keep_control"
        return {"verdict": verdict, "reason_code": "all_worse", **numbers, "arm": None}
    if best["prob_better"] >= threshold and best["lift_rel"]["hdi"][0] <= 0:
        code = "interval_includes_zero"
    elif best["prob_better"] >= threshold:
        code = "loss_too_high"
    else:
        code = "not_enough_evidence"
    return {"verdict": "unclear" if observational else "keep_collecting", "reason_code": code} | (
        numbers
    )


def decide(spec: Spec, results: dict[str, Any], diagnostics: dict[str, Any]) -> dict[str, Any]:
    """The verdict of a readout: withheld when a health check failed, else by the numbers."""
    failed = [
        check
        for check, ok in (("srm", results["srm"]["ok"]), ("diagnostics", diagnostics["ok"]))
        if not ok
    ]
    if failed:
        return {
            "verdict": "withheld",
            "reason_code": "health_failed",
            "failed_checks": failed,
            "arm": None,
            "thresholds": spec.decision.model_dump(),
        }
    return decide_comparisons(results["comparisons"], spec.decision, spec.observational)


def _value_label(spec: Spec) -> str:
    """Axis label of an arm's value: the metric's name and, on the log scale, its kind."""
    label = spec.metric_label or (
        "conversion rate" if spec.metric_type == "binary" else spec.metric
    )
    label = label[0].upper() + label[1:]
    if spec.log_transform:
        return (
            f"{label}, geometric mean ({spec.value_prefix or ''}{spec.value_suffix or ''})".replace(
                " ()", ""
            )
        )
    return label


def _posterior_tree(draws: dict[str, np.ndarray], arms: list[str]) -> xr.DataTree:
    """The posterior draws as a DataTree for ``posterior.nc``."""
    import xarray as xr

    dims = {1: ("chain", "draw"), 2: ("chain", "draw", "arm"), 3: ("chain", "draw", "arm")}
    data = {}
    for name, values in draws.items():
        if name.startswith("lift_"):
            data[name] = (("chain", "draw", "treatment"), values)
        else:
            data[name] = (dims[values.ndim - 1], values)
    coords = {"arm": arms, "treatment": arms[1:]}
    return xr.DataTree.from_dict({"posterior": xr.Dataset(data, coords=coords)})


def fit(spec: Spec, frame: pd.DataFrame, settings: Settings) -> Fit:
    """Fit the per-arm posteriors and summarise comparisons, health and the decision."""
    arms = _arm_order(spec, frame)
    control = arms[0]
    if spec.metric_type == "binary":
        draws, info = _exact_binary(spec, frame, arms, settings)
    else:
        draws, info = _mcmc_continuous(spec, frame, arms, settings)
    value = draws["value"]
    draws["lift_abs"] = value[..., 1:] - value[..., :1]
    draws["lift_rel"] = value[..., 1:] / value[..., :1] - 1
    if spec.log_transform:
        draws["lift_log"] = draws["mu"][..., 1:] - draws["mu"][..., :1]
    prob = settings.ci_prob
    # Arms (and treatments) as rows, all draws of all chains as columns.
    flat = {name: d.reshape(-1, d.shape[-1]).T for name, d in draws.items() if d.ndim == 3}
    y, arm_of = frame["y"].to_numpy(), frame["arm"].to_numpy()
    best = stats.prob_best(flat["value"])
    arm_rows = []
    for i, a in enumerate(arms):
        rows = y[arm_of == a]
        observed = float(np.exp(np.log(rows).mean())) if spec.log_transform else rows.mean()
        row = {
            "name": a,
            "n": int(rows.size),
            "observed": float(observed),
            **stats.summary(flat["value"][i], prob),
        }
        if len(arms) > 2:
            row["prob_best"] = float(best[i])
        arm_rows.append(row)
    comparisons = []
    base = flat["value"][0]
    for j, t in enumerate(arms[1:]):
        treated = flat["value"][j + 1]
        lift_rel = flat["lift_rel"][j]
        loss = stats.expected_loss(base, treated)
        row = {
            "arm": t,
            "vs": control,
            "prob_better": stats.prob_greater(treated, base),
            "expected_loss": loss,
            "expected_loss_rel": loss / float(base.mean()),
            "lift_abs": stats.summary(flat["lift_abs"][j], prob),
            "lift_rel": stats.summary(lift_rel, prob),
            "frequentist": _frequentist(spec, frame, control, t),
        }
        if spec.log_transform:
            row["lift_log"] = stats.summary(flat["lift_log"][j], prob)
        if spec.decision.rope is not None:
            row["prob_meaningful"] = stats.prob_greater(lift_rel, spec.decision.rope)
            row["prob_in_rope"] = float(np.mean(np.abs(lift_rel) < spec.decision.rope))
        comparisons.append(row)
    if spec.observational:
        srm = {"p_value": None, "ok": True, "applicable": False}
    else:
        split = spec.expected_split or {a: 1.0 for a in arms}
        srm = {
            **stats.sample_ratio_test([r["n"] for r in arm_rows], [split[a] for a in arms]),
            "applicable": True,
            "expected_split": [split[a] / sum(split.values()) for a in arms],
        }
    diagnostics = info["diagnostics"]
    # The headline comparison: the arm most likely to beat the control.
    primary = max(comparisons, key=lambda c: c["prob_better"])
    headline = primary["arm"]
    results = {
        "metric_type": spec.metric_type,
        "log_transform": spec.log_transform,
        "robust": spec.robust,
        "observational": spec.observational,
        "control": control,
        "arm_labels": spec.arm_labels,
        "value_label": _value_label(spec),
        "prior": info["prior"],
        "arms": arm_rows,
        "comparisons": comparisons,
        "primary": headline,
        "srm": srm,
        "frequentist": {**primary["frequentist"], "arm": headline, "vs": control},
    }
    return Fit(results=results, posterior=_posterior_tree(draws, arms), diagnostics=diagnostics)


def key_numbers(results: dict[str, Any]) -> dict[str, Any]:
    """The numbers a history of readouts follows: the headline comparison's lift."""
    comp = next(c for c in results["comparisons"] if c["arm"] == results["primary"])
    return {
        "label": f"relative lift of {comp['arm']} over {comp['vs']}",
        "scale": "relative",
        "mean": comp["lift_rel"]["mean"],
        "hdi": comp["lift_rel"]["hdi"],
        "prob": comp["prob_better"],
        "prob_label": f"chance {comp['arm']} is better",
        "n": sum(a["n"] for a in results["arms"]),
        "n_label": "users",
    }


def plot(fit: Fit, ci_prob: float) -> dict[str, Figure]:
    """Posterior of each arm's relative lift and of each arm's value, HDIs shaded.

    The lift chart's legend marks the share of each curve above zero (the probability of
    being better, formatted as in the prose: never 0% or 100%).
    """
    results = fit.results
    post = fit.posterior["posterior"].to_dataset()
    labels = results.get("arm_labels") or {}
    name = lambda arm: labels.get(arm, arm)  # noqa: E731
    interval = figures.ci_label(ci_prob)
    out: dict[str, Figure] = {}
    fig, ax = figures.new_figure()
    for i, comp in enumerate(results["comparisons"]):
        draws = post["lift_rel"].sel(treatment=comp["arm"]).values.ravel() * 100
        hdi = [h * 100 for h in comp["lift_rel"]["hdi"]]
        share = figures.prob(comp["prob_better"])
        label = f"{name(comp['arm'])} vs {name(comp['vs'])}: {share} above 0"
        figures.density(ax, draws, hdi, figures.colour(i, skip_grey=True), label)
    ax.axvline(0, color="black", lw=1, ls="--")
    ax.set_xlabel(f"Relative lift over control (%); shaded: {interval}")
    figures.tidy(ax, legend=True)
    out["lift"] = figures.finish(fig)

    fig, ax = figures.new_figure()
    binary = results["metric_type"] == "binary"
    scale = 100 if binary else 1
    for i, arm in enumerate(results["arms"]):
        draws = post["value"].sel(arm=arm["name"]).values.ravel() * scale
        interval_arm = [h * scale for h in arm["hdi"]]
        figures.density(ax, draws, interval_arm, figures.colour(i), name(arm["name"]))
    label = results.get("value_label", "value")
    ax.set_xlabel(f"{label} (%); shaded: {interval}" if binary else f"{label}; shaded: {interval}")
    figures.tidy(ax, legend=True)
    out["arms"] = figures.finish(fig)
    return out


_TEST = {
    "type": "object",
    "required": ["test", "p_value", "ci"],
    "properties": {
        "test": {"type": "string"},
        "p_value": PROB_SCHEMA,
        "ci": INTERVAL_SCHEMA,
    },
}

RESULT_SCHEMA: dict[str, Any] = {
    "required": ["arms", "comparisons", "srm", "frequentist"],
    "properties": {
        "arms": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "required": ["name", "n", "mean", "hdi"],
                "properties": {
                    "name": {"type": "string"},
                    "n": {"type": "integer", "minimum": 1},
                    "mean": {"type": "number"},
                    "hdi": INTERVAL_SCHEMA,
                    "prob_best": PROB_SCHEMA,
                },
            },
        },
        "comparisons": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["arm", "vs", "prob_better", "expected_loss", "lift_abs", "lift_rel"],
                "properties": {
                    "arm": {"type": "string"},
                    "vs": {"type": "string"},
                    "prob_better": PROB_SCHEMA,
                    "expected_loss": {"type": "number", "minimum": 0},
                    "lift_abs": SUMMARY_SCHEMA,
                    "lift_rel": SUMMARY_SCHEMA,
                    "lift_log": SUMMARY_SCHEMA,
                    "prob_meaningful": PROB_SCHEMA,
                    "prob_in_rope": PROB_SCHEMA,
                    "frequentist": _TEST,
                },
            },
        },
        "srm": {
            "type": "object",
            "required": ["p_value", "ok"],
            "properties": {"p_value": {"type": ["number", "null"]}, "ok": {"type": "boolean"}},
        },
        "frequentist": _TEST,
    },
}


ANALYSIS = Analysis(
    name="ab_test",
    version="2",
    spec=Spec,
    result_schema=RESULT_SCHEMA,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts={**VERDICTS, **OBSERVATIONAL_VERDICTS},
    figures=("lift", "arms"),
)
