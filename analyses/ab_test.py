"""A/B and A/B/n tests: one metric from a data file, or several from a warehouse.

A data file has one row per unit (``group``, ``metric``); a warehouse experiment names its
``assignments`` and a list of ``[[experiments.metrics]]`` with roles (one primary, secondary
metrics, guardrails). Either way the engine returns per-arm sufficient statistics and every
metric gets an exact posterior per arm (``analyses.ab_metrics``): nothing row-level leaves
the engine. Only the Student-t model (``robust = true``) reads rows: importance sampling
from a Laplace approximation, checked by Pareto k-hat, or NUTS where that check fails.

Every treatment is compared with the control in each metric's good direction: probability
of being better, expected loss of shipping it, relative and absolute lift with their HDIs,
the ROPE probabilities and the traditional test beside it. The verdict: the primary metric
decides (ship, keep the control, keep collecting, no meaningful difference), a guardrail
that shows harm beyond its tolerance stops a ship, and a failed health check (sample-ratio
mismatch, units exposed to several arms, sampler diagnostics) withholds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from analyses import ab_metrics, forecast, stats
from analyses.ab_data import ArmData, load, request
from analyses.ab_decide import _status, decide, decide_comparisons
from analyses.ab_figures import plot
from analyses.ab_metrics import Metric
from analyses.ab_schema import RESULT_SCHEMA
from analyses.base import (
    Analysis,
    BaseSpec,
    Fit,
    Settings,
    Tone,
    sample,
    sampled,
)
from analyses.inputs import (
    MetricSpec,
)

if TYPE_CHECKING:
    import xarray as xr

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
#: Share of assigned units left out (no unit, arm or exposure time, or exposed after the
#: cut-off), or of the units' events left out (no time), above which the verdict is
#: withheld. The same 1% as for multiple exposures, for the same reason: units lost to a
#: logging fault are rarely lost at random (a new code path that fails to log hits one arm),
#: and 1% of units missing from one arm is as large as the imbalances the sample-ratio check
#: is there to catch, and as the lifts a test is run to find.
MAX_LEFT_OUT = 0.01
#: The sceptical prior of the sensitivity check: arms within this relative distance of each
#: other (when no ROPE is set).
SCEPTICAL_SCALE = 0.02


#: Columns the experiment's query makes of its own: no metric or segment may take their names.
QUERY_COLUMNS = (
    "unit",
    "arm",
    "exposed_at",
    "n",
    "n_arms",
    "multi",
    "exposed_first",
    "exposed_last",
)


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
            for i, name in enumerate(names):
                if name in names[:i]:
                    raise ValueError(
                        f"two metrics are named '{name}' ([[experiments.metrics]] "
                        f"#{names.index(name) + 1} and #{i + 1}): give each a unique name"
                    )
            clash = [n for n in names if n in (*QUERY_COLUMNS, *self.segments) or "__" in n]
            if clash:
                raise ValueError(
                    f"metric name '{clash[0]}' is taken by a column of the experiment's query "
                    f"({', '.join(QUERY_COLUMNS)}, the segments) or holds '__': rename it"
                )
            twice = [s for i, s in enumerate(self.segments) if s in self.segments[:i]]
            if twice:
                raise ValueError(f"segments lists '{twice[0]}' twice")
            reserved = [s for s in self.segments if s in QUERY_COLUMNS]
            if reserved:
                raise ValueError(
                    f"segments lists '{reserved[0]}', a name the experiment's query uses "
                    f"({', '.join(QUERY_COLUMNS)}): name another column"
                )
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


def _robust_inputs(spec: Spec, data: ArmData) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """The Student-t model's values, each value's arm (0, 1, ...) and data-scaled prior."""
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
    return y, index, prior


def robust_model(spec: Spec, data: ArmData) -> tuple[Any, dict[str, float]]:
    """The Student-t PyMC model of the rows (``robust = true``) and its data-scaled prior."""
    from analyses.ab_models import student_t_model

    y, index, prior = _robust_inputs(spec, data)
    return student_t_model(y, index, data.arms, prior), prior


def _importance(
    y: np.ndarray, index: np.ndarray, prior: dict[str, float], settings: Settings
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Each arm's location by PSIS from a Laplace approximation; ``None`` if not trusted.

    The model is fitted to standardised values (its priors rescaled with them: the model is
    unchanged, only its units) so that the optimiser and the Hessian work on numbers of
    order one; the locations are scaled back.
    """
    from analyses import importance
    from analyses.ab_models import student_t_log_density

    centre, scale = float(np.mean(y)), float(np.std(y))
    if not scale > 0:
        return None
    z = (y - centre) / scale
    standard = {
        "mu_mean": (prior["mu_mean"] - centre) / scale,
        "mu_sd": prior["mu_sd"] / scale,
        "sigma_sd": prior["sigma_sd"] / scale,
        "nu_rate": prior["nu_rate"],
    }
    arms = int(index.max()) + 1
    by_arm = [z[index == j] for j in range(arms)]
    start = np.r_[
        [np.median(v) for v in by_arm],
        [np.log(max(float(np.std(v)), 1e-3)) for v in by_arm],
        np.log(9.0),
    ]
    found = importance.sample(
        lambda theta: student_t_log_density(theta, z, index, standard),
        start,
        settings.chains * settings.draws,
        np.random.default_rng(settings.seed),
    )
    if found is None:
        return None
    return centre + scale * found.values[:, :arms], importance.diagnostics(found)


def _robust(spec: Spec, data: ArmData, settings: Settings) -> tuple[dict, dict]:
    """The Student-t model of the rows: importance sampling, or NUTS where it fails."""
    arms = data.arms
    y, index, prior = _robust_inputs(spec, data)
    found = _importance(y, index, prior, settings)
    if found is not None:
        mu, diagnostics = found
    else:
        from analyses.ab_models import student_t_model

        with student_t_model(y, index, arms, prior):
            posterior, diagnostics = sampled(sample(settings))
        mu = posterior["mu"].transpose("chain", "draw", "arm").values.reshape(-1, len(arms))
    if data.metrics[0].kind == "log":
        # On the log scale the location is the log of the typical (geometric-mean) value.
        draws = {a: {"value": np.exp(mu[:, i]), "mu": mu[:, i]} for i, a in enumerate(arms)}
    else:
        draws = {a: {"value": mu[:, i]} for i, a in enumerate(arms)}
    return draws, {"prior": {"kind": "studentt", **prior}, "diagnostics": diagnostics}


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
                        **ab_metrics.compare(
                            metric,
                            draws,
                            arms[0],
                            a,
                            prob,
                            rope,
                            ab_metrics.observed(metric, stats_[arms[0]]),
                        ),
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
            "method": (
                f"Student-t; {diagnostics['method']}" if spec.robust else METHODS[metric.kind]
            ),
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
        "excluded": _excluded(data),
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
    expected loss of stopping now and keeping the control (relative to the control's value; that
    of shipping is the comparison's own ``expected_loss_rel``).
    """
    if spec.observational or spec.aa_test or primary["status"] != "keep_collecting":
        return None
    if any(c["lift_rel"] is None for c in primary["comparisons"]):
        return None  # the forecast simulates relative lifts; a control at 0 has none
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
        "horizons": horizons,
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
        # The relative lift if the missing units had all converted or none; not defined when
        # a control rate in it would be 0.
        if c["sum"] > 0 and t["n"] + mt > 0:
            low = (t["sum"] / (t["n"] + mt)) / ((c["sum"] + mc) / (c["n"] + mc)) - 1
            high = ((t["sum"] + mt) / (t["n"] + mt)) / (c["sum"] / (c["n"] + mc)) - 1
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


def _excluded(data: ArmData) -> dict[str, Any] | None:
    """What the warehouse query left out and why: a health check with its size.

    Assignment rows without a unit (counted as rows: they name no unit), units without an
    arm or an exposure time, or first exposed after the run's cut-off; and per metric, events
    without a unit (counted, never a fault: they belong to no one in the experiment) and the
    experiment's events without a time. Exposures after an explicit cut-off (a readout as of
    an earlier day) are counted apart (``later``) and are no fault: those units had not been
    assigned yet at that moment, so ``units``, ``assigned`` and ``share`` leave them out.
    """
    found = data.exposures
    if found is None or "excluded" not in found:
        return None
    reasons = dict(found["excluded"])
    cutoff = found.get("cutoff")
    # Units exposed after an explicit cut-off had not been assigned yet at that moment.
    later = reasons["exposed_future"] if cutoff is not None else 0
    faults = sum(reasons.values()) - later
    assigned = found["units"] + faults
    share = faults / assigned if assigned else 0.0
    events = []
    for name, counted in found.get("events", {}).items():
        if counted["unit_missing"] or counted["ts_missing"]:
            total = counted["events"]
            events.append(
                {
                    "metric": name,
                    **counted,
                    "share": counted["ts_missing"] / total if total else 0.0,
                }
            )
    worst = max([share] + [e["share"] for e in events])
    return {
        "units": faults,
        "assigned": assigned,
        "share": share,
        "limit": MAX_LEFT_OUT,
        "ok": worst <= MAX_LEFT_OUT,
        "reasons": reasons,
        "cutoff": cutoff,
        "later": later,
        "events": events,
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
                "lift_abs": best["lift_abs"],
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


def key_numbers(results: dict[str, Any]) -> dict[str, Any]:
    """The numbers a history of readouts follows: the headline comparison's lift.

    The absolute lift where a relative one is not defined (a control at 0).
    """
    comp = next(c for c in results["comparisons"] if c["arm"] == results["primary"])
    relative = comp["lift_rel"] is not None
    lift = ab_metrics.headline_lift(comp)
    out = {
        "label": f"{'relative' if relative else 'absolute'} lift of {comp['arm']} over "
        f"{comp['vs']}",
        "scale": "relative" if relative else "absolute",
        "mean": lift["mean"],
        "hdi": lift["hdi"],
        "prob": comp["prob_better"],
        "prob_label": f"chance {comp['arm']} is better",
        "n": sum(a["n"] for a in results["arms"]),
        "n_label": f"{results.get('unit_label', 'user')}s",
    }
    if not relative:  # in the metric's own units: percentage points of a rate
        metric = results["metrics"][0]
        out |= {
            "percent": metric["kind"] == "binary",
            "value_prefix": metric["value_prefix"],
            "value_suffix": metric["value_suffix"],
        }
    return out


ANALYSIS = Analysis(
    name="ab_test",
    version="8",
    spec=Spec,
    result_schema=RESULT_SCHEMA,
    request=request,
    load=load,
    fit=fit,
    decide=decide,
    plot=plot,
    key_numbers=key_numbers,
    verdicts={**VERDICTS, **OBSERVATIONAL_VERDICTS, **AA_VERDICTS},
    warning_codes=("segment_empty", "segment_one_level", "segment_missing"),
    figures=("lift", "arms", "scorecard", "forecast"),
)
