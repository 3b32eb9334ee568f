"""A/B and A/B/n tests: one metric from a data file, or several from a warehouse.

A data file has one row per unit (``group``, ``metric``); a warehouse experiment names its
``assignments`` and a list of ``[[experiments.metrics]]`` with roles (one primary, secondary
metrics, guardrails). Either way the engine returns per-arm sufficient statistics and every
metric gets an exact posterior per arm (``analyses.ab_metrics``): nothing row-level leaves
the engine. Only the Student-t model (``robust = true``) reads rows and samples with NUTS.

Every treatment is compared with the control in each metric's good direction: probability
of being better, expected loss of shipping it, relative and absolute lift with their HDIs,
the ROPE probabilities and the traditional test beside it. The verdict: the primary metric
decides (ship, keep the control, keep collecting, no meaningful difference), a guardrail
that shows harm beyond its tolerance stops a ship, and a failed health check (sample-ratio
mismatch, units exposed to several arms, sampler diagnostics) withholds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from analyses import ab_metrics, figures, forecast, stats
from analyses.ab_metrics import Metric
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
#: Verdicts of an A/A test (both arms get the same experience): does the pipeline pass?
AA_VERDICTS = {"aa_passed": Tone.GOOD, "aa_failed": Tone.BAD}
#: Share of units exposed to more than one arm above which the verdict is withheld.
MAX_MULTIPLE_ARMS = 0.01
#: The sceptical prior of the sensitivity check: arms within this relative distance of each
#: other (when no ROPE is set).
SCEPTICAL_SCALE = 0.02


class Decision(BaseModel):
    """Thresholds of the verdict.

    The default ``min_prob_better`` of 0.97 makes "ship" coincide with the lower end of a
    94% interval of the lift lying above zero, so the verdict agrees with the interval shown.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_prob_better: float = Field(0.97, gt=0.5, lt=1.0)
    max_expected_loss: float = Field(0.005, ge=0.0)
    rope: float | None = Field(None, gt=0.0, lt=1.0)


class Priors(BaseModel):
    """Prior settings; ``None`` means scaled to the pooled data (stated in the report)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(1.0, gt=0.0)
    beta: float = Field(1.0, gt=0.0)
    mu_mean: float | None = None
    mu_sd: float | None = Field(None, gt=0.0)
    sigma: float | None = Field(None, gt=0.0)
    nu_rate: float = Field(0.1, gt=0.0)


class Spec(BaseSpec):
    """Config keys of an ``ab_test`` experiment (a data file, or a warehouse)."""

    analysis: Literal["ab_test"]
    control: str | int
    group: str | None = None
    metric: str | None = None
    metric_type: Literal["binary", "continuous"] | None = None
    log_transform: bool = False
    robust: bool = False
    assignments: str | None = Field(None, min_length=1)
    metrics: list[MetricSpec] = []
    segments: list[str] = []
    observational: bool = False
    aa_test: bool = False
    expected_split: dict[str, float] | None = None
    metric_label: str | None = None
    unit_label: str = Field("user", min_length=1)
    arm_labels: dict[str, str] = {}
    value_prefix: str = ""
    value_suffix: str = ""
    decision: Decision = Decision()
    priors: Priors = Priors()

    @model_validator(mode="after")
    def _one_input(self) -> Spec:
        if self.data is not None:
            missing = [k for k in ("group", "metric", "metric_type") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a data file needs {', '.join(missing)} (the columns to compare)")
            if self.assignments or self.metrics:
                raise ValueError(
                    "give either data (a file) or source, assignments and [[experiments.metrics]]"
                )
            if self.log_transform and self.metric_type != "continuous":
                raise ValueError('log_transform needs metric_type = "continuous"')
            if self.robust and self.metric_type != "continuous":
                raise ValueError('robust needs metric_type = "continuous"')
            if self.robust and self.segments:
                raise ValueError("segments cannot be used with robust = true")
        else:
            if not self.assignments or not self.metrics:
                raise ValueError(
                    "a warehouse experiment needs assignments and at least one "
                    "[[experiments.metrics]] (or give data = a file)"
                )
            if any(getattr(self, k) is not None for k in ("group", "metric", "metric_type")):
                raise ValueError("group, metric and metric_type are for a data file")
            if self.robust or self.log_transform:
                raise ValueError("robust and log_transform are for a data file")
            names = [m.name for m in self.metrics]
            if len(set(names)) != len(names):
                raise ValueError("two metrics have the same name")
            primary = [m.name for m in self.metrics if m.role == "primary"]
            if len(primary) > 1 or (not primary and len(self.metrics) > 1):
                raise ValueError('exactly one metric needs role = "primary"')
        if self.aa_test and self.observational:
            raise ValueError(
                "an A/A test is randomised: aa_test and observational exclude each other"
            )
        if self.expected_split is not None and any(v <= 0 for v in self.expected_split.values()):
            raise ValueError("every share in expected_split must be above zero")
        return self

    @property
    def warehouse(self) -> bool:
        """Whether the experiment is read from a warehouse (assignments and metrics)."""
        return self.data is None


def metric_list(spec: Spec) -> list[Metric]:
    """The metrics of an experiment, the primary first."""
    if not spec.warehouse:
        kind = (
            "binary"
            if spec.metric_type == "binary"
            else "log"
            if spec.log_transform
            else "continuous"
        )
        label = spec.metric_label or (
            "conversion rate" if spec.metric_type == "binary" else spec.metric
        )
        return [
            Metric(
                name=spec.metric,
                label=label,
                kind=kind,
                prefix=spec.value_prefix,
                suffix=spec.value_suffix,
            )
        ]
    out = []
    for m in spec.metrics:
        role = "primary" if len(spec.metrics) == 1 else m.role
        out.append(
            Metric(
                name=m.name,
                label=m.label or m.name.replace("_", " "),
                kind=m.kind,
                role=role,
                higher_is_better=m.higher_is_better,
                tolerated_harm=m.tolerated_harm,
                prefix=m.value_prefix,
                suffix=m.value_suffix,
                covariate=m.covariate_days is not None,
            )
        )
    return sorted(out, key=lambda m: m.role != "primary")


# --------------------------------------------------------------------------- data


def request(spec: Spec) -> Request:
    """What to fetch: per-arm statistics (or, for ``robust``, the rows)."""
    if spec.warehouse:
        return {
            "stats": Experiment(
                assignments=spec.assignments, metrics=tuple(spec.metrics), by=tuple(spec.segments)
            )
        }
    arm = Column("group", spec.group, "text", rules=())
    if spec.metric_type == "binary":
        rules: tuple = ("finite", "binary")
        fix = 'code conversions as 1 and non-conversions as 0, or set metric_type = "continuous"'
    elif spec.log_transform:
        rules = ("finite", "positive")
        fix = (
            "remove those rows, or set log_transform = false (zero spend is better modelled "
            "separately from the amount spent)"
        )
    else:
        rules, fix = ("finite",), ""
    value = Column("metric", spec.metric, rules=rules, fix=fix)
    if spec.robust:
        return {"rows": Rows((arm, value))}
    stats_kind = ("logs",) if spec.log_transform else ("moments",)
    segments = tuple(Column("segments", s, "text", rules=()) for s in spec.segments)
    return {
        "stats": Summary(
            by=(arm, *segments),
            values=(Value(spec.metric, spec.metric, stats_kind),),
            checks=(value,),
        )
    }


@dataclass
class ArmData:
    """Per-arm statistics of every metric, per segment level too, ready to model."""

    arms: list[str]
    metrics: list[Metric]
    stats: dict[str, dict[str, dict[str, float]]]
    levels: dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]] = field(
        default_factory=dict
    )
    rows: dict[str, np.ndarray] | None = None
    exposures: dict[str, int] | None = None


STAT_KEYS = ("n", "sum", "sum2", "npos", "sumlog", "sumlog2", "num", "den", "num2", "den2")
STAT_KEYS += ("numden", "x", "x2", "xy", "xn", "x2n")


def _records(frame: dict[str, np.ndarray], arm_column: str, metrics: list[Metric], by: list[str]):
    """One statistics record per row of a summary: (arm, levels, {metric: stats})."""
    for i in range(len(frame["n"])):
        arm = str(frame[arm_column][i])
        levels = {b: str(frame[b][i]) for b in by}
        per_metric = {}
        for m in metrics:
            record = {"units": float(frame["n"][i])}
            for key in STAT_KEYS:
                column = f"{m.name}__{key}"
                if column in frame:
                    value = frame[column][i]
                    record[key] = 0.0 if value is None or np.isnan(value) else float(value)
            if m.kind == "ratio":
                record["n"] = record["units"]
            if m.kind == "log":  # the logs of every (positive) value
                record["n"] = record["npos"]
            per_metric[m.name] = record
        yield arm, levels, per_metric


def _add(into: dict[str, float], record: dict[str, float]) -> None:
    for key, value in record.items():
        into[key] = into.get(key, 0.0) + value


def load(
    spec: Spec, fetched: Fetched, files: Mapping[str, Path] | None = None
) -> tuple[ArmData, list[dict]]:
    """Per-arm statistics (and per segment level), checked for what a comparison needs.

    Raises
    ------
    DataError
        An absent control, fewer than two arms, arms that do not match expected_split, an
        arm without enough values of a metric, a ratio whose denominator sums to zero.
    """
    source = fetched.source
    metrics = metric_list(spec)
    control = str(spec.control)
    arm_column = "arm" if spec.warehouse else spec.group
    exposures = fetched.extras.get("stats")
    if spec.robust:
        frame = fetched.parts["rows"]
        arm_of = frame[spec.group].astype(str)
        rows = {a: frame[spec.metric][arm_of == a].astype(float) for a in dict.fromkeys(arm_of)}
        arms = _arm_order(control, list(rows), spec, source)
        stats_ = {metrics[0].name: {a: _moments_of(rows[a]) for a in arms}}
        data = ArmData(arms, metrics, stats_, rows=rows)
    else:
        frame = fetched.parts["stats"]
        totals: dict[str, dict[str, dict[str, float]]] = {m.name: {} for m in metrics}
        levels: dict = {s: {m.name: {} for m in metrics} for s in spec.segments}
        for arm, lv, per_metric in _records(frame, arm_column, metrics, spec.segments):
            for name, record in per_metric.items():
                _add(totals[name].setdefault(arm, {}), record)
                for segment, level in lv.items():
                    _add(levels[segment][name].setdefault(level, {}).setdefault(arm, {}), record)
        seen = list(next(iter(totals.values())))
        arms = _arm_order(control, seen, spec, source)
        data = ArmData(arms, metrics, totals, levels, exposures=exposures)
    _enough(data, spec, source)
    return data, []


def _moments_of(y: np.ndarray) -> dict[str, float]:
    return {
        "units": float(y.size),
        "n": float(y.size),
        "sum": float(y.sum()),
        "sum2": float((y**2).sum()),
        "npos": float((y > 0).sum()),
        "sumlog": float(np.log(y[y > 0]).sum()),
        "sumlog2": float((np.log(y[y > 0]) ** 2).sum()),
    }


def _arm_order(control: str, seen: list[str], spec: Spec, source: str) -> list[str]:
    column = "arm" if spec.warehouse else spec.group
    if control not in seen:
        raise DataError(
            source,
            f"control value '{control}' does not occur in column '{column}' "
            f"(values found: {', '.join(sorted(seen))})",
            "set control to one of those values",
        )
    if spec.expected_split is not None:
        absent = [a for a in spec.expected_split if a not in seen]
        if absent:
            raise DataError(
                source,
                f"arm '{absent[0]}' in expected_split has no rows in column '{column}'",
                "check the arm's spelling or that its data were exported",
            )
        unplanned = [a for a in seen if a not in spec.expected_split]
        if unplanned:
            raise DataError(
                source,
                f"arm '{unplanned[0]}' occurs in column '{column}' but not in expected_split",
                "add it to expected_split or remove its rows",
            )
    if len(seen) < 2:
        raise DataError(
            source,
            f"column '{column}' has one arm only ('{seen[0]}'); a test needs two or more",
            "check the group column, or that every arm's data were exported",
        )
    return [control] + sorted(a for a in seen if a != control)


def _enough(data: ArmData, spec: Spec, source: str) -> None:
    """Every arm has enough values of every metric to estimate it."""
    for metric in data.metrics:
        need = 1 if metric.kind in ("binary", "ratio") else 3
        for arm in data.arms:
            s = data.stats[metric.name].get(arm, {})
            have = s.get("npos" if metric.kind in ab_metrics.HURDLE_KINDS else "n", 0.0)
            if have < need:
                what = f"'{metric.name}'" if not spec.warehouse else f"metric '{metric.name}'"
                raise DataError(
                    source,
                    f"arm '{arm}' has only {int(have)} value(s) of {what}",
                    f"collect more data; this metric needs at least {need} per arm",
                )
            if metric.kind == "ratio" and s.get("den", 0.0) == 0:
                raise DataError(
                    source,
                    f"the denominator of metric '{metric.name}' sums to zero in arm '{arm}'",
                    "check the metric's query",
                )
        if metric.kind in ("binary", "ratio"):
            continue
        # A continuous model needs values that vary: within every arm for the Student-t
        # model (each arm has its own spread), within some arm for the others (one prior
        # spread, learned from all arms, serves every arm).
        of = (
            ab_metrics.log_moments
            if metric.kind in ("log", *ab_metrics.HURDLE_KINDS)
            else ab_metrics.moments
        )
        per_arm = {arm: of(data.stats[metric.name][arm]) for arm in data.arms}
        flat = [arm for arm, m in per_arm.items() if m.ss <= 1e-12 * m.n * (1.0 + m.mean**2)]
        if (spec.robust and flat) or len(flat) == len(per_arm):
            arm = flat[0]
            value = per_arm[arm].mean
            shown = (
                f"{np.exp(value):g}"
                if metric.kind in ("log", *ab_metrics.HURDLE_KINDS)
                else f"{value:g}"
            )
            what = f"'{metric.name}'" if not spec.warehouse else f"metric '{metric.name}'"
            raise DataError(
                source,
                f"every value of {what} in arm '{arm}' is {shown}: the Student-t model needs "
                "values that vary within each arm"
                if spec.robust
                else f"{what} does not vary within any arm (in arm '{arm}' every value is "
                f"{shown}): a continuous model needs values that vary",
                'check the column (a yes/no outcome takes metric_type = "binary")',
            )


# --------------------------------------------------------------------------- fit


def _exact_diagnostics(draws: int, method: str) -> dict[str, Any]:
    """Independent draws: R-hat is 1 and the effective sample size is their number."""
    return {
        "r_hat_max": 1.0,
        "ess_bulk_min": float(draws),
        "divergences": 0,
        "ok": True,
        **stats.limits(),
        "method": method,
    }


METHODS = {
    "binary": "exact Beta posterior",
    "continuous": "exact normal-inverse-gamma posterior",
    "count": "exact normal-inverse-gamma posterior",
    "revenue": "exact hurdle posterior (share who paid x log-normal amount)",
    "log": "exact normal-inverse-gamma posterior of the logs",
    "lognormal": "exact hurdle log-normal posterior",
    "ratio": "delta method (normal approximation)",
}


def robust_model(spec: Spec, data: ArmData) -> tuple[Any, dict[str, float]]:
    """The Student-t PyMC model of the rows (``robust = true``) and its data-scaled prior."""
    from analyses.ab_models import student_t_model

    arms = data.arms
    y = np.concatenate([data.rows[a] for a in arms])
    if data.metrics[0].kind == "log":  # log_transform: the Student-t model of the logs
        y = np.log(y)
    index = np.concatenate([np.full(data.rows[a].size, i) for i, a in enumerate(arms)])
    spread = float(np.std(y, ddof=1))
    p = spec.priors
    prior = {
        "mu_mean": p.mu_mean if p.mu_mean is not None else float(np.mean(y)),
        "mu_sd": p.mu_sd if p.mu_sd is not None else 2.0 * spread,
        "sigma_sd": 2.0 * (p.sigma if p.sigma is not None else spread),
        "nu_rate": p.nu_rate,
    }
    return student_t_model(y, index, arms, prior), prior


def _robust(spec: Spec, data: ArmData, settings: Settings) -> tuple[dict, dict]:
    """The Student-t model of the rows, sampled with NUTS."""
    arms = data.arms
    model, prior = robust_model(spec, data)
    with model:
        trace = sample(settings)
    posterior = trace["posterior"].to_dataset()
    divergences = int(trace["sample_stats"]["diverging"].sum())
    diagnostics = {**stats.convergence(posterior, divergences), "method": "NUTS (PyMC)"}
    mu = posterior["mu"].transpose("chain", "draw", "arm").values.reshape(-1, len(arms))
    if data.metrics[0].kind == "log":
        # On the log scale the location is the log of the typical (geometric-mean) value.
        draws = {a: {"value": np.exp(mu[:, i]), "mu": mu[:, i]} for i, a in enumerate(arms)}
    else:
        draws = {a: {"value": mu[:, i]} for i, a in enumerate(arms)}
    return draws, {"prior": {"kind": "studentt", **prior}, "diagnostics": diagnostics}


def _status(metric: Metric, comparison: dict, decision: Decision) -> str:
    """How a metric reads for the headline arm: for secondary metrics and guardrails."""
    threshold = decision.min_prob_better
    if metric.role == "guardrail":
        harm = comparison["prob_harm"]
        return "harm" if harm >= threshold else "ok" if harm <= 1 - threshold else "unclear"
    low, high = sorted(metric.direction * h for h in comparison["lift_rel"]["hdi"])
    if comparison["prob_better"] >= threshold and low > 0:
        return "better"
    if comparison["prob_better"] <= 1 - threshold and high < 0:
        return "worse"
    return "unclear"


def fit(spec: Spec, data: ArmData, settings: Settings) -> Fit:
    """Posteriors and comparisons of every metric, health checks, segments, sensitivity."""
    rng = np.random.default_rng(settings.seed)
    prob, arms = settings.ci_prob, data.arms
    priors = ab_metrics.Priors(**spec.priors.model_dump(exclude={"nu_rate"}))
    rope = spec.decision.rope
    metric_rows, all_draws = [], {}
    diagnostics = _exact_diagnostics(settings.exact_draws, "")
    for metric in data.metrics:
        stats_ = data.stats[metric.name]
        if spec.robust:
            draws, info = _robust(spec, data, settings)
            diagnostics = info["diagnostics"]
            summary = {
                "arms": [
                    {
                        "name": a,
                        "n": int(stats_[a]["units"]),
                        "observed": ab_metrics.observed(metric, stats_[a]),
                        **stats.summary(draws[a]["value"], prob),
                    }
                    for a in arms
                ],
                "comparisons": [
                    {
                        **ab_metrics.compare(metric, draws, arms[0], a, prob, rope),
                        "frequentist": ab_metrics.frequentist(metric, stats_[arms[0]], stats_[a]),
                    }
                    for a in arms[1:]
                ],
                "prior": info["prior"],
                "prior_influence": None,
            }
        else:
            summary, draws = ab_metrics.summarise(
                metric, stats_, arms, priors, settings.exact_draws, prob, rope, rng
            )
        all_draws[metric.name] = draws
        headline = max(summary["comparisons"], key=lambda c: c["prob_better"])
        row = {
            "name": metric.name,
            "label": metric.label,
            "role": metric.role,
            "kind": metric.kind,
            "higher_is_better": metric.higher_is_better,
            "tolerated_harm": metric.tolerated_harm,
            "value_prefix": metric.prefix,
            "value_suffix": metric.suffix,
            "method": METHODS[metric.kind] if not spec.robust else "NUTS (PyMC), Student-t",
            **summary,
        }
        if metric.role != "primary":
            row["status"] = _status(metric, headline, spec.decision)
        else:
            verdict = decide_comparisons(
                summary["comparisons"], spec.decision, spec.observational, metric.higher_is_better
            )
            row["status"] = verdict["verdict"]
        metric_rows.append(row)
    primary_metric = data.metrics[0]
    primary = metric_rows[0]
    if not spec.robust:
        kinds = sorted({METHODS[m.kind] for m in data.metrics})
        diagnostics["method"] = "; ".join(kinds) + " (independent draws)"
    headline = max(primary["comparisons"], key=lambda c: c["prob_better"])
    results: dict[str, Any] = {
        "mode": "warehouse" if spec.warehouse else "file",
        "metric_type": spec.metric_type or primary_metric.kind,
        "log_transform": spec.log_transform,
        "robust": spec.robust,
        "observational": spec.observational,
        "aa_test": spec.aa_test,
        "unit_label": spec.unit_label,
        "control": arms[0],
        "arm_labels": spec.arm_labels,
        "value_label": primary_metric.label,
        "prior": primary["prior"],
        "prior_influence": primary["prior_influence"],
        "arms": primary["arms"],
        "comparisons": primary["comparisons"],
        "primary": headline["arm"],
        "srm": _srm(spec, data),
        "exposures": _exposures(data),
        "frequentist": {**headline["frequentist"], "arm": headline["arm"], "vs": arms[0]},
        "metrics": metric_rows,
    }
    results["segments"], results["segment_spread"] = _segments(spec, data, headline["arm"], prob)
    if not spec.robust:
        results["sensitivity"] = _sensitivity(spec, data, primary_metric, settings, rope)
    results["forecast"] = _forecast(spec, data, all_draws[primary_metric.name], primary, settings)
    tree = _posterior_tree(data, all_draws)
    tables = {}
    if results["segments"]:
        import pandas as pd

        tables["segments"] = pd.DataFrame(
            [
                {
                    "metric": r["metric"],
                    "segment": r["segment"],
                    "level": r["level"],
                    "units": r["n"],
                    "own_lift": r["own"]["mean"] if r["own"] else None,
                    "own_low": r["own"]["hdi"][0] if r["own"] else None,
                    "own_high": r["own"]["hdi"][1] if r["own"] else None,
                    "pooled_lift": r["pooled"]["mean"],
                    "pooled_low": r["pooled"]["hdi"][0],
                    "pooled_high": r["pooled"]["hdi"][1],
                    "prob_positive": r["prob_positive"],
                    "shrinkage": r["shrinkage"],
                    "few_units": r["few_units"],
                }
                for r in results["segments"]
            ]
        )
    return Fit(results=results, posterior=tree, diagnostics=diagnostics, tables=tables)


def _forecast(
    spec: Spec, data: ArmData, draws: dict, primary: dict, settings: Settings
) -> dict[str, Any] | None:
    """For an undecided randomised test: the chance of a verdict after 7, 14 and 28 more days.

    Needs first-exposure times (a warehouse experiment) spanning at least a day. With it, the
    expected loss of deciding now either way, relative to the control's value.
    """
    if spec.observational or spec.aa_test or primary["status"] != "keep_collecting":
        return None
    exposures = data.exposures or {}
    rate = forecast.traffic(
        exposures.get("first_exposure", float("nan")),
        exposures.get("last_exposure", float("nan")),
        exposures.get("units", 0) - exposures.get("multiple_arms", 0),
    )
    if rate is None:
        return None
    metric = data.metrics[0]
    units = {a: data.stats[metric.name][a]["units"] for a in data.arms}

    def verdict_of(comparisons: list[dict[str, Any]]) -> str:
        return decide_comparisons(comparisons, spec.decision, False, metric.higher_is_better)[
            "verdict"
        ]

    rng = np.random.default_rng(settings.seed + 2)
    horizons = forecast.forecast(
        draws,
        units,
        data.arms,
        metric.direction,
        rate["units_per_day"],
        settings.ci_prob,
        verdict_of,
        rng,
    )
    headline = max(primary["comparisons"], key=lambda c: c["prob_better"])
    c, t = draws[data.arms[0]]["value"], draws[headline["arm"]]["value"]
    d = metric.direction
    return {
        **rate,
        "arm": headline["arm"],
        "horizons": horizons,
        "loss_ship": headline["expected_loss_rel"],
        "loss_keep": stats.expected_loss(d * t, d * c) / abs(float(np.mean(c))),
        "simulations": forecast.SIMULATIONS,
    }


def _srm(spec: Spec, data: ArmData) -> dict[str, Any]:
    """The sample-ratio check.

    With how many units each arm lacks against the planned split and, for a conversion metric, the
    lift if the missing units had all converted or none.
    """
    if spec.observational:
        return {"p_value": None, "ok": True, "applicable": False}
    metric = data.metrics[0]
    per_arm = data.stats[metric.name]
    units = [int(per_arm[a]["units"]) for a in data.arms]
    split = spec.expected_split or {a: 1.0 for a in data.arms}
    shares = np.array([split[a] for a in data.arms]) / sum(split.values())
    # The planned sizes if the largest arm (relative to its share) lost nobody.
    total = max(u / s for u, s in zip(units, shares, strict=True))
    missing = [max(int(round(total * s - u)), 0) for u, s in zip(units, shares, strict=True)]
    out = {
        **stats.sample_ratio_test(units, list(shares)),
        "applicable": True,
        "expected_split": list(map(float, shares)),
        "missing": missing,
    }
    if metric.kind == "binary" and len(data.arms) == 2:
        (c, t), (mc, mt) = (per_arm[a] for a in data.arms), missing
        rate = lambda k, n: k / n if n else float("nan")  # noqa: E731
        low = rate(t["sum"], t["n"] + mt) / rate(c["sum"] + mc, c["n"] + mc) - 1
        high = rate(t["sum"] + mt, t["n"] + mt) / rate(c["sum"], c["n"] + mc) - 1
        out["worst_case_lift"] = [float(low), float(high)]
    return out


def _exposures(data: ArmData) -> dict[str, Any] | None:
    if data.exposures is None:
        return None
    units, multi = data.exposures["units"], data.exposures["multiple_arms"]
    share = multi / units if units else 0.0
    return {
        "units": units,
        "multiple_arms": multi,
        "share": share,
        "limit": MAX_MULTIPLE_ARMS,
        "ok": share <= MAX_MULTIPLE_ARMS,
    }


def _segments(
    spec: Spec, data: ArmData, arm: str, prob: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every metric's segment levels (own and pooled lifts) and each segment's spread."""
    rows, spreads = [], []
    for segment, per_metric in data.levels.items():
        for metric in data.metrics:
            levels, spread = ab_metrics.segment_rows(
                metric, per_metric[metric.name], data.arms[0], arm, segment, prob
            )
            rows += levels
            if spread is not None:
                spreads.append(spread)
    return rows, spreads


def _sensitivity(
    spec: Spec, data: ArmData, metric: Metric, settings: Settings, rope: float | None
) -> list[dict[str, Any]]:
    """The primary metric's verdict under a flat and a sceptical prior."""
    scale = rope if rope is not None else SCEPTICAL_SCALE
    out = []
    stats_ = data.stats[metric.name]
    for name, priors in (
        ("flat", ab_metrics.flat(metric)),
        ("sceptical", ab_metrics.sceptical(metric, stats_, data.arms, scale)),
    ):
        rng = np.random.default_rng(settings.seed + 1)
        summary, _ = ab_metrics.summarise(
            metric, stats_, data.arms, priors, settings.exact_draws, settings.ci_prob, rope, rng
        )
        verdict = decide_comparisons(
            summary["comparisons"], spec.decision, spec.observational, metric.higher_is_better
        )
        best = max(summary["comparisons"], key=lambda c: c["prob_better"])
        out.append(
            {
                "prior": name,
                "scale": scale if name == "sceptical" else None,
                "verdict": verdict["verdict"],
                "arm": best["arm"],
                "prob_better": best["prob_better"],
                "lift_rel": best["lift_rel"],
            }
        )
    return out


def _posterior_tree(data: ArmData, all_draws: dict) -> xr.DataTree:
    """Each metric's draws per arm and lifts over the control, for ``posterior.nc``."""
    import xarray as xr

    groups = {}
    arms = data.arms
    for i, metric in enumerate(data.metrics):
        draws = all_draws[metric.name]
        value = np.stack([draws[a]["value"] for a in arms], axis=-1)[None]
        control = value[..., :1]
        variables = {
            "value": (("chain", "draw", "arm"), value),
            "lift_abs": (("chain", "draw", "treatment"), value[..., 1:] - control),
            "lift_rel": (("chain", "draw", "treatment"), value[..., 1:] / control - 1),
        }
        if "mu" in draws[arms[0]]:
            mu = np.stack([draws[a]["mu"] for a in arms], axis=-1)[None]
            variables["lift_log"] = (("chain", "draw", "treatment"), mu[..., 1:] - mu[..., :1])
        dataset = xr.Dataset(variables, coords={"arm": arms, "treatment": arms[1:]})
        groups["posterior" if i == 0 else f"metrics/{metric.name}"] = dataset
    return xr.DataTree.from_dict(groups)


# --------------------------------------------------------------------------- decision


def decide_comparisons(
    comparisons: list[dict],
    decision: Decision,
    observational: bool = False,
    higher_is_better: bool = True,
) -> dict[str, Any]:
    """The verdict of healthy comparisons with the control, as a code and its numbers.

    ``no_difference`` when a ROPE is set and every arm's HDI of the relative lift lies
    inside ±ROPE (the HDI+ROPE rule, so the verdict agrees with the interval shown);
    ``ship`` when the arm most likely to be better reaches ``min_prob_better``, the HDI of
    its lift lies on the good side of zero, and its expected loss (relative to the control)
    is within ``max_expected_loss``; ``keep_control`` when every arm is that likely to be
    worse and every HDI lies on the bad side; otherwise ``keep_collecting``. An
    observational comparison ships nothing: its verdicts are ``higher``, ``lower`` and
    ``unclear``, and the expected loss of shipping plays no part.
    """
    d = 1.0 if higher_is_better else -1.0
    good = [sorted(d * h for h in c["lift_rel"]["hdi"]) for c in comparisons]
    best_i = max(range(len(comparisons)), key=lambda i: comparisons[i]["prob_better"])
    best = comparisons[best_i]
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
    if best["prob_better"] >= threshold and good[best_i][0] > 0 and loss_ok:
        verdict = "higher" if observational else "ship"
        return {"verdict": verdict, "reason_code": "clear_winner", **numbers}
    if all(
        c["prob_better"] <= 1 - threshold and g[1] < 0
        for c, g in zip(comparisons, good, strict=True)
    ):
        verdict = "lower" if observational else "keep_control"
        return {"verdict": verdict, "reason_code": "all_worse", **numbers, "arm": None}
    if best["prob_better"] >= threshold and good[best_i][0] <= 0:
        code = "interval_includes_zero"
    elif best["prob_better"] >= threshold:
        code = "loss_too_high"
    else:
        code = "not_enough_evidence"
    return {"verdict": "unclear" if observational else "keep_collecting", "reason_code": code} | (
        numbers
    )


def decide(spec: Spec, results: dict[str, Any], diagnostics: dict[str, Any]) -> dict[str, Any]:
    """The verdict of a readout.

    Withheld when a health check failed; otherwise the primary metric decides, and a ship
    stops at a guardrail that shows harm beyond its tolerance (keep the control) or might
    (keep collecting). ``deciding_metric`` names the metric that decided.
    """
    exposures = results.get("exposures") or {"ok": True}
    failed = [
        check
        for check, ok in (
            ("srm", results["srm"]["ok"]),
            ("exposures", exposures["ok"]),
            ("diagnostics", diagnostics["ok"]),
        )
        if not ok
    ]
    metrics = results["metrics"]
    primary = metrics[0]
    if failed:
        return {
            "verdict": "withheld",
            "reason_code": "health_failed",
            "failed_checks": failed,
            "arm": None,
            "deciding_metric": None,
            "thresholds": spec.decision.model_dump(),
        }
    if spec.aa_test:
        return _decide_aa(spec, primary)
    verdict = decide_comparisons(
        primary["comparisons"], spec.decision, spec.observational, primary["higher_is_better"]
    )
    verdict["deciding_metric"] = primary["name"]
    if verdict["verdict"] != "ship":
        return verdict
    for metric in metrics[1:]:
        if metric["role"] != "guardrail":
            continue
        comparison = next(c for c in metric["comparisons"] if c["arm"] == verdict["arm"])
        status = _status(
            Metric(
                metric["name"],
                metric["label"],
                metric["kind"],
                "guardrail",
                metric["higher_is_better"],
                metric["tolerated_harm"],
            ),
            comparison,
            spec.decision,
        )
        if status in ("harm", "unclear"):
            return {
                **verdict,
                "verdict": "keep_control" if status == "harm" else "keep_collecting",
                "reason_code": "guardrail_harm" if status == "harm" else "guardrail_unclear",
                "deciding_metric": metric["name"],
                "prob_harm": comparison["prob_harm"],
                "tolerated_harm": metric["tolerated_harm"],
            }
    return verdict


def _decide_aa(spec: Spec, primary: dict[str, Any]) -> dict[str, Any]:
    """Decide an A/A test: passed when the arms look alike.

    It passes when every arm's interval of the lift includes zero (and lies inside the ROPE
    when one is set); identical arms do so in most such tests.
    """
    rope = spec.decision.rope
    outside = [
        c
        for c in primary["comparisons"]
        if not (c["lift_rel"]["hdi"][0] <= 0 <= c["lift_rel"]["hdi"][1])
        or (rope is not None and max(abs(h) for h in c["lift_rel"]["hdi"]) >= rope)
    ]
    widest = max(max(abs(h) for h in c["lift_rel"]["hdi"]) for c in primary["comparisons"])
    numbers = {
        "arm": outside[0]["arm"] if outside else None,
        "widest": widest,
        "deciding_metric": primary["name"],
        "thresholds": spec.decision.model_dump(),
    }
    if outside:
        return {
            "verdict": "aa_failed",
            "reason_code": "difference_between_identical_arms",
            **numbers,
        }
    return {"verdict": "aa_passed", "reason_code": "arms_alike", **numbers}


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
        "n_label": f"{results.get('unit_label', 'user')}s",
    }


# --------------------------------------------------------------------------- figures


def plot(fit: Fit, ci_prob: float) -> dict[str, Figure]:
    """Posterior of each arm's relative lift and of each arm's value.

    HDIs shaded; with several metrics, a scorecard of every metric's lift.

    The lift chart's legend marks the share of each curve above zero (the probability of
    being better, formatted as in the prose: never 0% or 100%), unless a health check failed:
    then no chance of being better is shown anywhere.
    """
    results = fit.results
    healthy = (
        results["srm"]["ok"]
        and (results.get("exposures") or {"ok": True})["ok"]
        and fit.diagnostics["ok"]
    )
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
        word = "above" if results.get("metrics", [{}])[0].get("higher_is_better", True) else "below"
        label = f"{name(comp['arm'])} vs {name(comp['vs'])}" + (
            f": {share} {word} 0" if healthy else ""
        )
        figures.density(ax, draws, hdi, figures.colour(i, skip_grey=True), label)
    ax.axvline(0, color="black", lw=1, ls="--")
    ax.set_xlabel(
        f"Relative difference from the reference group (%); shaded: {interval}"
        if results["observational"]
        else f"Relative lift over control (%); shaded: {interval}"
    )
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
    label = label[0].upper() + label[1:]
    ax.set_xlabel(f"{label} (%); shaded: {interval}" if binary else f"{label}; shaded: {interval}")
    figures.tidy(ax, legend=True)
    out["arms"] = figures.finish(fig)
    if len(results.get("metrics", [])) > 1:
        out["scorecard"] = _scorecard_figure(results, interval)
    if results.get("forecast") and healthy:
        out["forecast"] = _forecast_figure(results["forecast"], name)
    return out


#: Verdicts in the forecast chart: order, colour and legend label.
FORECAST_BARS = (
    ("ship", "#2f855a", "ship"),
    ("keep_control", "#c53030", "keep control"),
    ("no_difference", "#4a5568", "no meaningful difference"),
)


def _forecast_figure(result: dict[str, Any], name) -> Figure:
    """Stacked bars: the chance of each verdict after 7, 14 and 28 more days."""
    horizons = result["horizons"]
    fig, ax = figures.new_figure(7, 0.9 + 0.45 * len(horizons))
    rows = [f"+{h['days']} days" for h in horizons]
    left = [0.0] * len(horizons)
    for verdict, colour, label in FORECAST_BARS:
        shares = [100 * h["verdicts"].get(verdict, 0.0) for h in horizons]
        if max(shares) < 0.5:  # invisible at this scale; the total beside the bar counts it
            continue
        label = label.replace("ship", f"ship {name(result['arm'])}")
        ax.barh(rows, shares, left=left, color=colour, height=0.55, label=label)
        left = [a + b for a, b in zip(left, shares, strict=True)]
    for y, total in enumerate(left):
        ax.text(total + 1, y, figures.prob(total / 100), va="center", fontsize=9)
    ax.set_xlim(0, 112)
    ax.invert_yaxis()
    ax.set_xlabel("Chance of a clear answer (%)")
    figures.tidy(ax, keep_left=True, legend=True)
    return figures.finish(fig)


def _scorecard_figure(results: dict[str, Any], interval: str) -> Figure:
    """Every metric's relative lift of the headline arm with its HDI; guardrails' tolerances."""
    metrics = results["metrics"]
    arm = results["primary"]
    fig, ax = figures.new_figure(7, 0.8 + 0.42 * len(metrics))
    for i, metric in enumerate(metrics):
        comp = next(c for c in metric["comparisons"] if c["arm"] == arm)
        y = len(metrics) - 1 - i
        low, high = (100 * h for h in comp["lift_rel"]["hdi"])
        colour = figures.colour(i, skip_grey=True)
        ax.plot([low, high], [y, y], color=colour, lw=3)
        ax.plot(100 * comp["lift_rel"]["mean"], y, "o", color=colour)
        if metric["role"] == "guardrail":
            limit = -100 * metric["tolerated_harm"] * (1 if metric["higher_is_better"] else -1)
            ax.plot([limit, limit], [y - 0.35, y + 0.35], color="#9b2c2c", lw=1.5)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_yticks(
        range(len(metrics)),
        [f"{m['label']} ({m['role']})" for m in reversed(metrics)],
    )
    ax.set_xlabel(f"Relative lift of {arm} over the control (%); bar: {interval}")
    figures.tidy(ax, keep_left=True)
    return figures.finish(fig)


# --------------------------------------------------------------------------- schema

_TEST = {
    "type": "object",
    "required": ["test", "p_value", "ci"],
    "properties": {
        "test": {"type": "string"},
        "p_value": PROB_SCHEMA,
        "ci": INTERVAL_SCHEMA,
    },
}
_ARMS = {
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
}
_COMPARISONS = {
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
            "prob_harm": PROB_SCHEMA,
            "frequentist": _TEST,
        },
    },
}

RESULT_SCHEMA: dict[str, Any] = {
    "required": ["arms", "comparisons", "srm", "frequentist", "metrics"],
    "properties": {
        "arms": _ARMS,
        "comparisons": _COMPARISONS,
        "srm": {
            "type": "object",
            "required": ["p_value", "ok"],
            "properties": {"p_value": {"type": ["number", "null"]}, "ok": {"type": "boolean"}},
        },
        "exposures": {
            "type": ["object", "null"],
            "required": ["units", "multiple_arms", "ok"],
        },
        "frequentist": _TEST,
        "metrics": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": [
                    "name",
                    "label",
                    "role",
                    "kind",
                    "higher_is_better",
                    "arms",
                    "comparisons",
                    "status",
                ],
                "properties": {
                    "name": {"type": "string"},
                    "role": {"enum": ["primary", "secondary", "guardrail"]},
                    "arms": _ARMS,
                    "comparisons": _COMPARISONS,
                    "variance_reduction": {"type": "number", "minimum": 0, "maximum": 1},
                    "unadjusted": _COMPARISONS,
                    "parts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["arm", "vs", "paying", "per_payer"],
                            "properties": {
                                part: {
                                    "type": "object",
                                    "required": ["control", "treatment", "lift_rel", "prob_higher"],
                                    "properties": {
                                        "control": SUMMARY_SCHEMA,
                                        "treatment": SUMMARY_SCHEMA,
                                        "lift_rel": SUMMARY_SCHEMA,
                                        "prob_higher": PROB_SCHEMA,
                                    },
                                }
                                for part in ("paying", "per_payer")
                            },
                        },
                    },
                },
            },
        },
        "forecast": {
            "type": ["object", "null"],
            "required": ["units_per_day", "days", "arm", "horizons", "loss_ship", "loss_keep"],
            "properties": {
                "units_per_day": {"type": "number", "exclusiveMinimum": 0},
                "horizons": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["days", "units", "prob_decision", "verdicts"],
                        "properties": {"prob_decision": PROB_SCHEMA},
                    },
                },
            },
        },
        "segments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["metric", "segment", "level", "n", "own", "pooled", "prob_positive"],
                "properties": {
                    "own": {"anyOf": [SUMMARY_SCHEMA, {"type": "null"}]},
                    "pooled": SUMMARY_SCHEMA,
                    "prob_positive": PROB_SCHEMA,
                    "shrinkage": PROB_SCHEMA,
                    "few_units": {"type": "boolean"},
                },
            },
        },
        "segment_spread": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["metric", "segment", "levels", "sigma", "overall"],
                "properties": {"sigma": SUMMARY_SCHEMA, "overall": SUMMARY_SCHEMA},
            },
        },
        "queries": {
            "type": "array",
            "items": {"type": "object", "required": ["name", "sql"]},
        },
    },
}


ANALYSIS = Analysis(
    name="ab_test",
    version="5",
    spec=Spec,
    result_schema=RESULT_SCHEMA,
    request=request,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts={**VERDICTS, **OBSERVATIONAL_VERDICTS, **AA_VERDICTS},
    figures=("lift", "arms", "scorecard", "forecast"),
)
