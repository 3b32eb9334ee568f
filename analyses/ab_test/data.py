"""The A/B analysis's data: what to fetch, and per-arm statistics ready to model.

From a file's summary, a warehouse's one query, or the rows of a Student-t fit; checked for what
a comparison needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from analyses.ab_test import metrics
from analyses.ab_test.metrics import Metric
from analyses.ab_test.quantile import Bins, histograms_of
from analyses.ab_test.spec import Spec
from analyses.ab_test.variance import RATIO_PRE_KEYS
from analyses.core.base import DataError, NothingYet
from analyses.core.inputs import (
    Column,
    Experiment,
    Fetched,
    Histogram,
    Request,
    Rows,
    Summary,
    Value,
)


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
                prior_mean=m.prior_mean,
                prior_sd=m.prior_sd,
                quantile=m.quantile,
            )
        )
    return sorted(out, key=lambda m: m.role != "primary")


# --------------------------------------------------------------------------- data


def request(spec: Spec) -> Request:
    """What to fetch: per-arm statistics (or, for ``robust``, the rows)."""
    if spec.warehouse:
        part = Experiment(
            assignments=spec.assignments, metrics=tuple(spec.metrics), by=tuple(spec.segments)
        )
        if any(m.kind == "quantile" for m in spec.metrics):
            return {"stats": part, "quantiles": Histogram(part)}
        return {"stats": part}
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
    # A unit without a segment value is kept, in the level MISSING_LEVEL (and counted).
    segments = tuple(Column("segments", s, "text", rules=(), required=False) for s in spec.segments)
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
    #: What the data were read as of (:attr:`~analyses.core.inputs.Fetched.as_of`), and
    #: the planned end they were cut at after it (``until``).
    as_of: str | None = None
    until: str | None = None
    #: A quantile metric's binned values: metric -> arm -> bins (:mod:`.quantile`).
    histograms: dict[str, dict[str, Bins]] = field(default_factory=dict)


#: The segment level of units without a value in the segment's column (NULL or empty).
MISSING_LEVEL = "(missing)"

STAT_KEYS = ("n", "sum", "sum2", "npos", "sumlog", "sumlog2", "num", "den", "num2", "den2")
STAT_KEYS += ("numden", "x", "x2", "xy", "xn", "x2n", "waiting")
STAT_KEYS += RATIO_PRE_KEYS  # a ratio's pre-period (CUPED, issue 27)


def _records(frame: dict[str, np.ndarray], arm_column: str, metrics: list[Metric], by: list[str]):
    """One statistics record per row of a summary: (arm, levels, {metric: stats})."""
    for i in range(len(frame["n"])):
        arm = str(frame[arm_column][i])
        levels = {b: _level(frame[b][i]) for b in by}
        per_metric = {}
        for m in metrics:
            record = {"units": float(frame["n"][i])}
            for key in STAT_KEYS:
                column = f"{m.name}__{key}"
                if column in frame:
                    value = frame[column][i]
                    record[key] = 0.0 if value is None or np.isnan(value) else float(value)
            # Units whose window has not closed yet are not counted (their value is NULL).
            record["units"] -= record.get("waiting", 0.0)
            if m.kind == "ratio":
                record["n"] = record["units"]
            if m.kind == "log":  # the logs of every (positive) value
                record["n"] = record["npos"]
            per_metric[m.name] = record
        yield arm, levels, per_metric


def _level(value) -> str:
    """A segment level as text; a missing value (NULL, NaN, empty) is :data:`MISSING_LEVEL`."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
        return MISSING_LEVEL
    return str(value)


def _segment_warnings(spec: Spec, data: ArmData) -> list[dict]:
    """Segments that cannot break the metrics down, or have units without a level: counted.

    Never silently dropped: a column empty for every unit, a column with one value only, and
    units without a value (kept, in the level "(missing)").
    """
    warnings = []
    metric = data.metrics[0].name
    for segment in spec.segments:
        sizes = {
            level: int(sum(a.get("units", 0) for a in arms.values()))
            for level, arms in data.levels[segment][metric].items()
        }
        total = sum(sizes.values())
        missing = sizes.get(MISSING_LEVEL, 0)
        named = [level for level in sizes if level != MISSING_LEVEL]
        if not named:
            warnings.append({"code": "segment_empty", "segment": segment, "units": total})
        elif len(sizes) < 2:
            warnings.append({"code": "segment_one_level", "segment": segment, "level": named[0]})
        elif missing:
            warnings.append(
                {
                    "code": "segment_missing",
                    "segment": segment,
                    "units": missing,
                    "share": missing / total if total else 0.0,
                    "level": MISSING_LEVEL,
                }
            )
    return warnings


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
        data = ArmData(
            arms,
            metrics,
            totals,
            levels,
            exposures=exposures,
            as_of=fetched.as_of,
            until=fetched.until,
            histograms=histograms_of(fetched.parts.get("quantiles")),
        )
    data, waiting = _waiting(data, source, {m.name: m.window_days for m in spec.metrics})
    _enough(data, spec, source)
    return data, waiting + (_segment_warnings(spec, data) if data.levels else [])


#: Whole days without a new exposure before the as-of day after which a readout says so.
QUIET_DAYS = 3


def traffic_warnings(data: ArmData) -> list[dict]:
    """``no_recent_traffic`` when the last exposure is ``QUIET_DAYS`` or more days old.

    Compares the day (UTC) of the last exposure with the day the data were read as of (or
    cut at); an undecided experiment whose assignment stopped is named (the fit asks only
    when it forecasts: a decided experiment's traffic may well have ended).
    """
    from datetime import UTC, date, datetime

    last = (data.exposures or {}).get("last_exposure", float("nan"))
    read = data.until or data.as_of
    if read is None or not last == last:  # no exposure times (a file), or no as-of day
        return []
    last_day = datetime.fromtimestamp(float(last), UTC).date()
    quiet = (date.fromisoformat(read[:10]) - last_day).days
    if quiet < QUIET_DAYS:
        return []
    return [
        {
            "code": "no_recent_traffic",
            "last_exposure": last_day.isoformat(),
            "count": quiet,
            "as_of": read[:10],
        }
    ]


def _waiting(
    data: ArmData, source: str, windows: Mapping[str, float] | None = None
) -> tuple[ArmData, list[dict]]:
    """Metrics none of whose units in some arm have a closed window yet.

    The primary metric: nothing to read yet (:class:`NothingYet`, no fault). Another
    metric: left out of this readout, with a warning saying when its first units count.
    """
    kept, warnings = [], []
    windows = windows or {}
    for metric in data.metrics:
        per_arm = data.stats[metric.name]
        if all(per_arm.get(a, {}).get("units", 0.0) > 0 for a in data.arms):
            kept.append(metric)
            continue
        waiting = int(sum(s.get("waiting", 0.0) for s in per_arm.values()))
        if not waiting:
            kept.append(metric)  # not a matter of time: _enough names the problem
            continue
        if metric is data.metrics[0]:
            raise NothingYet(
                source,
                f"nothing to read yet: every one of the {waiting:,} unit(s) exposed so far is "
                f"still inside the {metric.label} window, so no unit counts in the primary "
                "metric",
                "wait: the first units count once their window has closed (a readout as of a "
                "later day reads them)",
            )
        warnings.append(
            {
                "code": "metric_waiting",
                "column": metric.name,
                "units": waiting,
                # The moment the windows are counted from: the planned end's, or the look's.
                **({"as_of": read_as_of} if (read_as_of := data.until or data.as_of) else {}),
                **({"window_days": float(windows[metric.name])} if metric.name in windows else {}),
            }
        )
    if len(kept) == len(data.metrics):
        return data, warnings
    names = {m.name for m in kept}
    levels = {s: {m: v for m, v in per.items() if m in names} for s, per in data.levels.items()}
    stats_ = {m: v for m, v in data.stats.items() if m in names}
    return replace(data, metrics=kept, stats=stats_, levels=levels), warnings


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
        # A rate needs one unit; a ratio's delta method two (a spread); a mean three, and a
        # hurdle's amount three payers (their spread, with the prior's).
        need = {"binary": 1, "ratio": 2}.get(metric.kind, 3)
        for arm in data.arms:
            s = data.stats[metric.name].get(arm, {})
            hurdle = metric.kind in metrics.HURDLE_KINDS
            have = s.get("npos" if hurdle else "n", 0.0)
            if have < need:
                what = f"'{metric.name}'" if not spec.warehouse else f"metric '{metric.name}'"
                if hurdle and have == 0:
                    raise DataError(
                        source,
                        f"no unit in arm '{arm}' has a positive value of {what}"
                        + (" (no one paid)" if metric.kind == "revenue" else "")
                        + ", so the amount per payer cannot be estimated for it",
                        "if no one paying is the finding, compare the share who paid: a "
                        'binary metric (kind = "binary", aggregate = "any")',
                    )
                if have == 0:
                    raise DataError(
                        source,
                        f"arm '{arm}' has no value of {what} (no unit had an event in its window)",
                        "check the metric's query and window_days",
                    )
                values = "positive value(s) (payers)" if hurdle else "value(s)"
                raise DataError(
                    source,
                    f"arm '{arm}' has only {int(have)} {values} of {what}: a spread cannot be "
                    f"estimated from fewer than {need}",
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
            metrics.log_moments
            if metric.kind in ("log", *metrics.HURDLE_KINDS)
            else metrics.moments
        )
        per_arm = {arm: of(data.stats[metric.name][arm]) for arm in data.arms}
        flat = [arm for arm, m in per_arm.items() if m.ss <= 1e-12 * m.n * (1.0 + m.mean**2)]
        if (spec.robust and flat) or len(flat) == len(per_arm):
            arm = flat[0]
            value = per_arm[arm].mean
            shown = (
                f"{np.exp(value):g}"
                if metric.kind in ("log", *metrics.HURDLE_KINDS)
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
                'check the column (a yes/no outcome takes metric_type = "binary")'
                if not spec.warehouse
                else "check the metric's query and window_days (a yes/no outcome is "
                'kind = "binary")',
            )
