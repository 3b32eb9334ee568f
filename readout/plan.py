"""``readout plan NAME``: how long an A/B test needs, from its primary metric's recent history.

The history is read from the experiment's own warehouse queries, in one aggregate query
pushed into the engine (only per-arm counts and sums come back):

* the period: the ``history_days`` (28) days before ``until`` (default: today, UTC), that is
  from midnight ``history_days`` days before ``until`` to midnight at the start of ``until``;
* the units: those the assignments query names as first exposed in the period (a unit
  logged in more than one arm is left out), all arms: their number over the days their
  exposures span is the traffic (units a day);
* the baseline: the primary metric of the control arm's units whose window had closed by
  ``until`` (exposed at least ``window_days`` before it), computed per unit as a readout
  computes it (the same window, aggregate and cap). The control's units alone, so a running
  treatment does not move the baseline; an assignments query without the control's name
  (a population read before any experiment) gives all its units.

From it :func:`analyses.ab_test.plan.plan` simulates the experiment under the readout's
decision rule (fixed and sequential); the advice (``planned_days``) goes into a small
self-contained page, ``<output>/<name>/plan.html`` (its numbers in ``plan.json`` beside it),
and a few lines on the terminal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from analyses.ab_test import plan as planning
from analyses.ab_test.forecast import traffic
from analyses.ab_test.plan_results import Plan
from analyses.core.inputs import Experiment as ExperimentPart
from analyses.core.inputs import MetricSpec
from readout import store
from readout.errors import DataError

#: Days of history read before ``until`` by default.
HISTORY_DAYS = 28
#: The page written beside the experiment's readouts, and its numbers (codes and numbers only).
PLAN_PAGE = "plan.html"
PLAN_NUMBERS = "plan.json"


@dataclass(frozen=True)
class Made:
    """A plan: its numbers, its page, and the lines printed on the terminal."""

    result: dict[str, Any]
    page: Path
    summary: list[str]


def period(
    until: str | None, history_days: int, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The history's start and end: the ``history_days`` days up to the end of ``until``.

    ``until`` (YYYY-MM-DD, UTC) is the last day read (default: today); the period ends at
    the midnight after it, or now if that is sooner (a window closes only in the past), and
    starts ``history_days`` midnights before that midnight.
    """
    now = now or datetime.now(UTC)
    last = date.fromisoformat(until) if until else now.date()
    midnight = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    return midnight - timedelta(days=history_days), min(midnight, now)


def _days_of(start: datetime, end: datetime) -> str:
    """The period as its first and last day: ``2026-11-01 to 2026-11-28``."""
    return f"{start:%Y-%m-%d} to {end - timedelta(microseconds=1):%Y-%m-%d}"


def _experiment(config, name: str, config_path: Path):
    experiment = next((e for e in config.experiments if e.name == name), None)
    if experiment is None:
        raise DataError(
            str(config_path),
            f"there is no experiment named '{name}'",
            f"use one of {', '.join(e.name for e in config.experiments)}",
        )
    spec = experiment.spec
    if spec.analysis != "ab_test":
        raise DataError(
            str(config_path),
            f"'{name}' is an experiment of analysis {spec.analysis}; planning is for A/B tests",
            'name an experiment with analysis = "ab_test"',
        )
    if not spec.warehouse:
        raise DataError(
            str(config_path),
            f"'{name}' reads a data file without exposure times, so it has no history to plan from",
            "plan an experiment read from a warehouse (source, assignments and "
            "[[experiments.metrics]])",
        )
    if spec.observational or spec.aa_test:
        kind = "an observational comparison" if spec.observational else "an A/A test"
        raise DataError(
            str(config_path),
            f"'{name}' is {kind}: it never ships, so there is no chance of a win to plan for",
            "plan a randomised A/B test",
        )
    return experiment


def primary_metric(spec) -> MetricSpec:
    """The experiment's primary metric (the only one, or the one with role = "primary")."""
    if len(spec.metrics) == 1:
        return spec.metrics[0]
    return next(m for m in spec.metrics if m.role == "primary")


def read_history(experiment, metric: MetricSpec, start: datetime, end: datetime):
    """Run the history query on the experiment's engine: per-arm numbers, and its SQL."""
    from readout.data import engine_of, where_of
    from readout.queries import history

    spec = experiment.spec
    part = ExperimentPart(assignments=spec.assignments, metrics=(metric,))
    with engine_of(experiment, {}) as engine:  # a warehouse: no file columns to type
        return history(engine, part, metric, where_of(experiment), start, end)


def baseline_of(
    rows: dict[str, np.ndarray],
    metric: MetricSpec,
    control: str,
    where: str,
    start: datetime,
    end: datetime,
    history_days: int,
) -> tuple[planning.Baseline, dict[str, Any]]:
    """The metric's baseline and the traffic, from the history query's per-arm rows."""
    from analyses.ab_test.conjugate import RatioMoments, ratio_estimate

    arms = [str(a) for a in rows.get("arm", [])]
    n = np.asarray(rows.get("n", []), dtype=float)
    fix = (
        f"check the assignments query, or read another period (--until, --history-days; "
        f"this one is {_days_of(start, end)})"
    )
    if not len(arms) or n.sum() == 0:
        raise DataError(
            where,
            f"no history data: no unit was first exposed in the {history_days} days from "
            f"{_days_of(start, end)}",
            fix,
        )
    span = traffic(
        float(np.nanmin(rows["exposed_first"])), float(np.nanmax(rows["exposed_last"])), n.sum()
    )
    if span is None:
        raise DataError(
            where,
            "no history data: the units' exposures span less than a day, too little to "
            "measure the traffic",
            fix,
        )
    use = [i for i, a in enumerate(arms) if a == str(control)] or list(range(len(arms)))

    def total(column: str) -> float:
        values = np.asarray(rows.get(column, np.zeros(len(arms))), dtype=float)
        return float(np.nansum(values[use]))

    m = metric.name
    counted = total("counted")
    if counted < 2:
        raise DataError(
            where,
            f"no history data: no unit's {metric.window_days:g}-day window of metric "
            f"'{m}' had closed by {end:%Y-%m-%d %H:%M} UTC",
            fix,
        )
    if metric.kind == "ratio":
        moments = RatioMoments(
            counted,
            total(f"{m}__num"),
            total(f"{m}__den"),
            total(f"{m}__num2"),
            total(f"{m}__den2"),
            total(f"{m}__numden"),
        )
        try:
            mean, se = ratio_estimate(moments)
        except ValueError:
            raise DataError(where, f"metric '{m}': its denominator sums to zero", fix) from None
        kind, sd, units = "mean", se * np.sqrt(counted), counted
    else:
        units = total(f"{m}__n")
        if units < 2:
            raise DataError(where, f"no history data: metric '{m}' has no values", fix)
        mean = total(f"{m}__sum") / units
        var = max(total(f"{m}__sum2") / units - mean**2, 0.0) * units / (units - 1)
        kind, sd = ("binary" if metric.kind == "binary" else "mean"), float(np.sqrt(var))
    problem = None
    if kind == "binary" and not 0 < mean < 1:
        problem = f"metric '{m}' was {'never' if mean <= 0 else 'always'} reached in the history"
    elif kind == "mean" and (mean == 0 or sd == 0):
        problem = f"metric '{m}' has {'a mean of 0' if mean == 0 else 'no spread'} in the history"
    if problem:
        raise DataError(where, f"{problem}: a relative lift cannot be planned for", fix)
    baseline = planning.Baseline(
        kind=kind,
        mean=float(mean),
        sd=float(sd),
        units=float(units),
        units_per_day=float(span["units_per_day"]),
        arms=max(len(arms), 2),
        window_days=float(metric.window_days),
        higher_is_better=metric.higher_is_better,
    )
    history = {
        "start": start.date().isoformat(),
        "end": f"{end:%Y-%m-%d %H:%M}",
        "days": history_days,
        "units": float(n.sum()),
        "exposure_days": float(span["days"]),
        "arms": arms,
        "baseline_from": "control" if len(use) < len(arms) or arms == [str(control)] else "all",
        "units_measured": float(units),
    }
    return baseline, history


def make_plan(
    config,
    name: str,
    output: Path,
    min_effect: float | None = None,
    until: str | None = None,
    history_days: int = HISTORY_DAYS,
) -> Made:
    """Read the history, plan, write ``<output>/<name>/plan.html``; the lines to print.

    Raises
    ------
    DataError
        An unknown experiment, one that is not a randomised A/B test read from a warehouse,
        no history data, or bad SQL (exit 2).
    ConfigError
        The output folder is not readout's, or another readout is writing it (exit 2).
    ConnectionError
        The engine cannot be reached (exit 1).
    """
    from readout import render
    from readout.data import where_of
    from readout.files import atomic_write_text
    from readout.wording import plan as words

    experiment = _experiment(config, name, config.path)
    spec = experiment.spec
    metric = primary_metric(spec)
    store.check_free(output)  # refused now, not after the history's query and the simulation
    start, end = period(until, history_days)
    rows, sql = read_history(experiment, metric, start, end)
    where = where_of(experiment).label
    baseline, history = baseline_of(rows, metric, spec.control, where, start, end, history_days)
    effect = min_effect if min_effect is not None else spec.decision.rope
    effect = effect if effect is not None else planning.DEFAULT_MIN_EFFECT
    numbers = planning.plan(
        baseline,
        effect,
        spec.decision,
        seed=experiment.settings.seed,
        prob=experiment.settings.ci_prob,
        prior=(spec.priors.alpha, spec.priors.beta),
    )
    result = numbers.model_dump(mode="json") | {
        "experiment": spec.name,
        "title": spec.title,
        "metric": {
            "name": metric.name,
            "label": metric.label or metric.name.replace("_", " "),
            "kind": metric.kind,
            "higher_is_better": metric.higher_is_better,
            "window_days": metric.window_days,
            "covariate_days": metric.covariate_days,
            "prefix": metric.value_prefix,
            "suffix": metric.value_suffix,
        },
        "min_effect_from": "option"
        if min_effect is not None
        else "rope"
        if spec.decision.rope is not None
        else "default",
        "history": history,
        "unit_label": spec.unit_label,
        "source": experiment.data_label(),
        "sql": sql,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    typed = Plan.model_validate(result)
    text = words.text(typed)
    page = output / spec.name / PLAN_PAGE
    html = render.page("plan.html.j2", plan=typed, text=text)
    with store.owning(output, "plan"):  # the query ran unlocked; the writes take turns
        page.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(page.with_name(PLAN_NUMBERS), json.dumps(result, indent=1))
        atomic_write_text(page, html)
    return Made(result, page, words.summary(typed) + [f"readout: wrote {page}"])


__all__ = ["HISTORY_DAYS", "PLAN_NUMBERS", "PLAN_PAGE", "Made", "make_plan", "period"]
