"""Fit an A/B test: every metric's posterior per arm, its comparisons, segments, sensitivity.

A data file has one row per unit (``group``, ``metric``); a warehouse experiment names its
``assignments`` and a list of ``[[experiments.metrics]]`` with roles (one primary, secondary
metrics, guardrails). Either way the engine returns per-arm sufficient statistics and every
metric gets an exact posterior per arm (:mod:`analyses.ab_test.metrics`): nothing row-level
leaves the engine. Only the Student-t model (``robust = true``, :mod:`analyses.ab_test.robust`)
reads rows.

Every treatment is compared with the control in each metric's good direction: probability
of being better, expected loss of shipping it, relative and absolute lift with their HDIs,
the ROPE probabilities and the traditional test beside it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from pydantic import MISSING

from analyses.ab_test import health, metrics, planned, quantile, segments
from analyses.ab_test.data import ArmData
from analyses.ab_test.decide import decide_comparisons, metric_status
from analyses.ab_test.forecast import forecast_primary
from analyses.ab_test.metrics import Metric, Summarised
from analyses.ab_test.results import (
    AbResults,
    Arm,
    HeadlineTest,
    Segment,
    SegmentSpread,
    Sensitivity,
)
from analyses.ab_test.results import Metric as MetricResult
from analyses.ab_test.robust import fit_robust
from analyses.ab_test.spec import Spec
from analyses.core import stats
from analyses.core.base import Fit, Settings
from analyses.core.draws import Draws
from analyses.core.results import Diagnostics, KeyNumbers, given

#: The sceptical prior of the sensitivity check: arms within this relative distance of each
#: other (when no ROPE is set).
SCEPTICAL_SCALE = 0.02


# --------------------------------------------------------------------------- fit


def _exact_diagnostics(draws: int, method: str) -> Diagnostics:
    """Independent draws: R-hat is 1 and the effective sample size is their number."""
    return Diagnostics(
        r_hat_max=1.0,
        ess_bulk_min=float(draws),
        divergences=0,
        ok=True,
        **stats.limits(),
        method=method,
        exact=True,
    )


METHODS = {
    "binary": "exact Beta posterior",
    "continuous": "exact normal-inverse-gamma posterior",
    "count": "exact normal-inverse-gamma posterior",
    "revenue": "exact hurdle posterior (share who paid x log-normal amount)",
    "log": "exact normal-inverse-gamma posterior of the logs",
    "lognormal": "exact hurdle log-normal posterior",
    "ratio": "delta method (normal approximation)",
    "quantile": "Bayesian bootstrap over units (Dirichlet weights on a histogram)",
}


def fit(spec: Spec, data: ArmData, settings: Settings) -> Fit[AbResults]:
    """Posteriors and comparisons of every metric, health checks, segments, sensitivity."""
    rng = np.random.default_rng(settings.seed)
    prob, arms = settings.ci_prob, data.arms
    priors = metrics.Priors(**spec.priors.model_dump(exclude={"nu_rate"}))
    rope = spec.decision.rope
    metric_rows, all_draws = [], {}
    diagnostics = None
    for metric in data.metrics:
        stats_ = data.stats[metric.name]
        if spec.robust:
            draws, prior, diagnostics = fit_robust(spec, data, settings)
            seen = metrics.observed(metric, stats_[arms[0]])
            summary = Summarised(
                arms=[
                    Arm(
                        name=a,
                        n=int(stats_[a]["units"]),
                        observed=metrics.observed(metric, stats_[a]),
                        **stats.summary(draws[a]["value"], prob),
                    )
                    for a in arms
                ],
                comparisons=[
                    metrics.compare(
                        metric,
                        draws,
                        arms[0],
                        a,
                        prob,
                        rope,
                        seen,
                        metrics.frequentist(metric, stats_[arms[0]], stats_[a]),
                    )
                    for a in arms[1:]
                ],
                prior=prior,
                prior_influence=None,
            )
        elif metric.kind == "quantile":
            summary, draws = quantile.summarise(
                metric, data.histograms[metric.name], metric.quantile, arms,
                settings.exact_draws, prob, rope, rng,
            )  # fmt: skip
        else:
            summary, draws = metrics.summarise(
                metric,
                stats_,
                arms,
                priors,
                settings.exact_draws,
                prob,
                rope,
                rng,
                strata=_strata(spec, data, metric),
            )
        all_draws[metric.name] = draws
        if metric.role != "primary":
            headline = max(summary.comparisons, key=lambda c: c.prob_better)
            status = metric_status(metric, headline, spec.decision)
        else:
            status = decide_comparisons(
                summary.comparisons, spec.decision, spec.observational, metric.higher_is_better
            ).verdict
        metric_rows.append(
            MetricResult(
                name=metric.name,
                label=metric.label,
                role=metric.role,
                kind=metric.kind,
                higher_is_better=metric.higher_is_better,
                tolerated_harm=metric.tolerated_harm,
                value_prefix=metric.prefix,
                value_suffix=metric.suffix,
                method=(
                    f"Student-t; {diagnostics.method}" if spec.robust else _method(metric, summary)
                ),
                status=status,
                **dict(summary),
                **({"quantile": metric.quantile} if metric.kind == "quantile" else {}),
            )
        )
    # A planned experiment (issue 21): its progress, and statuses by the sequential rule.
    progress = planned.progress(spec, data.exposures, data.as_of, data.until)
    metric_rows, look = planned.annotate(spec, data.stats, metric_rows, progress)
    primary_metric = data.metrics[0]
    primary = metric_rows[0]
    if not spec.robust:
        kinds = sorted({m.method for m in metric_rows})
        diagnostics = _exact_diagnostics(
            settings.exact_draws, "; ".join(kinds) + " (independent draws)"
        )
    headline = max(primary.comparisons, key=lambda c: c.prob_better)
    segments, spreads = _segments(spec, data, headline.arm, prob)
    results = AbResults(
        mode="warehouse" if spec.warehouse else "file",
        metric_type=spec.metric_type or primary_metric.kind,
        log_transform=spec.log_transform,
        robust=spec.robust,
        observational=spec.observational,
        aa_test=spec.aa_test,
        unit_label=spec.unit_label,
        control=arms[0],
        arm_labels=spec.arm_labels,
        value_label=primary_metric.label,
        prior=primary.prior,
        prior_influence=primary.prior_influence,
        arms=primary.arms,
        comparisons=primary.comparisons,
        primary=headline.arm,
        srm=health.srm(spec, data),
        exposures=health.exposures(data),
        excluded=health.excluded(data),
        frequentist=HeadlineTest(**dict(headline.frequentist), arm=headline.arm, vs=arms[0]),
        metrics=metric_rows,
        segments=segments,
        segment_spread=spreads,
        sensitivity=(
            MISSING
            if spec.robust
            else _sensitivity(spec, data, primary_metric, settings, rope, look)
        ),
        forecast=forecast_primary(
            spec, data, all_draws[primary_metric.name], primary, settings, progress, look
        ),
        progress=progress if spec.planned else MISSING,
    )
    tree = _posterior_tree(data, all_draws)
    tables = {}
    if results.segments:
        import pandas as pd

        tables["segments"] = pd.DataFrame(
            [
                {
                    "metric": r.metric,
                    "segment": r.segment,
                    "level": r.level,
                    "units": r.n,
                    "own_lift": r.own.mean if r.own else None,
                    "own_low": r.own.hdi[0] if r.own else None,
                    "own_high": r.own.hdi[1] if r.own else None,
                    "pooled_lift": r.pooled.mean,
                    "pooled_low": r.pooled.hdi[0],
                    "pooled_high": r.pooled.hdi[1],
                    "prob_positive": r.prob_positive,
                    "shrinkage": r.shrinkage,
                    "few_units": r.few_units,
                }
                for r in results.segments
            ]
        )
    from analyses.ab_test.data import traffic_warnings

    stalled = traffic_warnings(data) if results.forecast not in (None, MISSING) else []
    return Fit(
        results=results, posterior=tree, diagnostics=diagnostics, warnings=stalled, tables=tables
    )


def _segments(
    spec: Spec, data: ArmData, arm: str, prob: float
) -> tuple[list[Segment], list[SegmentSpread]]:
    """Every metric's segment levels (own and pooled lifts) and each segment's spread."""
    rows, spreads = [], []
    for segment, per_metric in data.levels.items():
        for metric in data.metrics:
            levels, spread = segments.segment_rows(
                metric, per_metric[metric.name], data.arms[0], arm, segment, prob
            )
            rows += levels
            if spread is not None:
                spreads.append(spread)
    return rows, spreads


def _method(metric: Metric, summary: Summarised) -> str:
    """How a metric's posterior is computed (post-stratified: a normal per arm)."""
    found = summary.post_stratified
    if given(found) and found.applied:
        return f"post-stratified by {found.segment} (normal approximation)"
    return METHODS[metric.kind]


def _strata(spec: Spec, data: ArmData, metric: Metric):
    """The ``post_stratify`` segment and the metric's statistics per level, or ``None``."""
    if spec.post_stratify is None or spec.post_stratify not in data.levels:
        return None
    return spec.post_stratify, data.levels[spec.post_stratify][metric.name]


def _sensitivity(
    spec: Spec,
    data: ArmData,
    metric: Metric,
    settings: Settings,
    rope: float | None,
    look: dict | None = None,
) -> list[Sensitivity]:
    """The primary metric's verdict under a flat and a sceptical prior (and the user's).

    A planned test's rows are decided by the verdict's own sequential rule (``look``: today's
    evidence bar, and ``no_clear_difference`` at or after the planned end), issue 21.

    The flat and sceptical rows read the data without the user's prior on the lift; with
    one (``prior_mean``, ``prior_sd``) a third row, "user", reads them with it.
    """
    scale = rope if rope is not None else SCEPTICAL_SCALE
    out = []
    stats_ = data.stats[metric.name]
    own = replace(metric, prior_mean=None, prior_sd=None)
    cases = [
        ("flat", own, metrics.flat(metric)),
        ("sceptical", own, metrics.sceptical(metric, stats_, data.arms, scale)),
    ]
    if metric.prior_mean is not None:
        cases.append(
            ("user", metric, metrics.Priors(**spec.priors.model_dump(exclude={"nu_rate"})))
        )
    for name, read_as, priors in cases:
        rng = np.random.default_rng(settings.seed + 1)
        summary, _ = metrics.summarise(
            read_as,
            stats_,
            data.arms,
            priors,
            settings.exact_draws,
            settings.ci_prob,
            rope,
            rng,
            strata=_strata(spec, data, metric),
        )
        rule = spec.decision if look is None else planned.rule_today(spec.decision, look)
        verdict = decide_comparisons(
            summary.comparisons, rule, spec.observational, metric.higher_is_better
        )
        if look is not None:
            verdict = planned._sequential(verdict, look)
        best = max(summary.comparisons, key=lambda c: c.prob_better)
        out.append(
            Sensitivity(
                prior=name,
                scale=scale if name == "sceptical" else None,
                verdict=verdict.verdict,
                arm=best.arm,
                prob_better=best.prob_better,
                lift_rel=best.lift_rel,
                lift_abs=best.lift_abs,
            )
        )
    return out


def _posterior_tree(data: ArmData, all_draws: dict) -> Draws:
    """Each metric's draws per arm and lifts over the control (numpy; ``posterior.nc``'s)."""
    groups = {}
    coords = {}
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
        path = "posterior" if i == 0 else f"metrics/{metric.name}"
        groups[path] = variables
        coords[path] = {"arm": list(arms), "treatment": list(arms[1:])}
    return Draws(groups, coords)


def key_numbers(results: AbResults) -> KeyNumbers:
    """The numbers a history of readouts follows: the headline comparison's lift.

    The absolute lift where a relative one is not defined (a control at 0).
    """
    comp = next(c for c in results.comparisons if c.arm == results.primary)
    relative = comp.lift_rel is not None
    lift = metrics.headline_lift(comp)
    units = {}
    if not relative:  # in the metric's own units: percentage points of a rate
        metric = results.metrics[0]
        units = {
            "percent": metric.kind == "binary",
            "value_prefix": metric.value_prefix,
            "value_suffix": metric.value_suffix,
        }
    return KeyNumbers(
        quantity="lift_rel" if relative else "lift_abs",
        arm=comp.arm,
        vs=comp.vs,
        unit=results.unit_label,
        scale="relative" if relative else "absolute",
        mean=lift.mean,
        hdi=lift.hdi,
        prob=comp.prob_better,
        n=sum(a.n for a in results.arms),
        **units,
    )
