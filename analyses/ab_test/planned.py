"""A planned experiment read every day: its progress, and the sequential verdict (issue 21).

An experiment with ``planned_days`` (and optionally ``start`` and ``planned_units``) is read
as of a day. This module turns that day and the data into ``progress`` (day 9 of 28, 41% of
the planned units) and decides a look by the rule of :mod:`analyses.core.sequential`: before
the planned end the chance of being better must reach an O'Brien-Fleming boundary, a
guardrail's harm stops the experiment at a Pocock boundary, and at and after the end the
fixed rule applies (at 97.5%), where no winner is a conclusion: ``no_clear_difference``.

The verdict is made by the same :func:`~analyses.ab_test.decide.decide_comparisons` the
calibration (:mod:`analyses.ab_test.sequential_calibration`) read its 8,000 A/A experiments
through, with ``min_prob_better`` set to the look's threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from analyses.ab_test.decide import Many, decide_comparisons, guardrail_stops, verdicts
from analyses.ab_test.metrics import Metric
from analyses.ab_test.results import AbDecision, AbResults, Thresholds
from analyses.ab_test.results import Metric as MetricResult
from analyses.ab_test.spec import Decision, Spec
from analyses.core import sequential
from analyses.core.results import given, plain

#: The forecast's horizons in days (the planned end is always one of a planned experiment's).
HORIZONS = (7, 14, 28)


def primary_window(spec: Spec) -> float:
    """The primary metric's window in days (the evidence lags the calendar by it)."""
    primary = next((m for m in spec.metrics if m.role == "primary"), spec.metrics[0])
    return float(primary.window_days)


def progress(
    spec: Spec, exposures: dict[str, Any] | None, as_of: str | None, until: str | None = None
) -> dict | None:
    """How far along a planned experiment is as of ``as_of``; ``None`` without a plan.

    Day 1 is ``start``, else the day (UTC) of the first exposure; the day of ``as_of`` is
    the day the readout reads. ``fraction`` is the share of ``planned_units`` exposed, or
    without them the share of the planned days gone. ``until``: the planned end the data
    were cut at, after it (``read_until``).
    """
    if not spec.planned or as_of is None:
        return None
    exposures = exposures or {}
    first = exposures.get("first_exposure", float("nan"))
    if spec.start is not None:
        start = spec.start
    elif first == first:  # not NaN
        start = datetime.fromtimestamp(first, UTC).date()
    else:
        return None
    today = date.fromisoformat(as_of[:10])
    day = max((today - start).days + 1, 0)
    units = int(exposures.get("units", 0))
    planned_units = spec.planned_units
    fraction = units / planned_units if planned_units else day / spec.planned_days
    return {
        "day": day,
        "planned_days": spec.planned_days,
        "start": start.isoformat(),
        "end": (start + timedelta(days=spec.planned_days - 1)).isoformat(),
        "units": units,
        "planned_units": planned_units,
        "fraction": fraction,
        "fraction_basis": "units" if planned_units else "days",
        "at_end": day >= spec.planned_days,
        "read_until": until,
    }


def look(spec: Spec, progress_: dict | None, counted_units: float) -> dict | None:
    """The sequential rule's numbers at this look (``None``: the fixed rule decides).

    Only a randomised test with a plan is read sequentially; ``counted_units`` are the
    primary metric's units whose windows have closed.
    """
    if progress_ is None or spec.aa_test or spec.observational:
        return None
    return sequential.look(
        progress_["day"],
        progress_["planned_days"],
        spec.decision.min_prob_better,
        primary_window(spec),
        float(counted_units) if spec.planned_units else None,
        float(spec.planned_units) if spec.planned_units else None,
    )


def look_of(spec: Spec, results: AbResults) -> dict | None:
    """:func:`look` from a readout's results: its progress and the primary's counted units."""
    if not given(results.progress) or results.progress is None:
        return None
    counted = sum(a.n for a in results.metrics[0].arms)
    return look(spec, plain(results.progress), counted)


def rule_today(decision: Decision, numbers: dict[str, Any]) -> Decision:
    """The decision's thresholds with the chance of being better today's look needs."""
    return decision.model_copy(update={"min_prob_better": numbers["evidence_needed"]})


def _sequential(verdict: AbDecision, numbers: dict[str, Any]) -> AbDecision:
    """:func:`analyses.core.sequential.sequential_verdict` on a typed decision."""
    return AbDecision.model_validate(sequential.sequential_verdict(plain(verdict), numbers))


def decide_look(spec: Spec, metrics: Sequence[MetricResult], numbers: dict) -> AbDecision:
    """The verdict of a planned randomised test at this look.

    1. The primary decides at today's threshold (``numbers["evidence_needed"]``).
    2. Every guardrail, at every look: harm beyond its tolerance reaching the harm boundary
       keeps the control (``guardrail_harm``), even when the primary is undecided; a ship
       needs every guardrail ``ok`` (an ``unclear`` one: keep collecting).
    3. :func:`analyses.core.sequential.sequential_verdict` adds the codes of the rule: at
       or after the planned end an undecided primary is ``no_clear_difference``.
    """
    primary = metrics[0]
    verdict = decide_comparisons(
        primary.comparisons, rule_today(spec.decision, numbers), False, primary.higher_is_better
    ).model_copy(
        update={
            "thresholds": Thresholds.model_validate(spec.decision.model_dump()),
            "deciding_metric": primary.name,
        }
    )
    verdict = guardrail_stops(
        verdict,
        metrics,
        lambda _, comparison: sequential.guardrail_status(comparison.prob_harm, numbers),
    )
    return _sequential(verdict, numbers)


def annotate(
    spec: Spec,
    stats: dict[str, dict[str, dict[str, float]]],
    rows: list[MetricResult],
    progress_: dict | None,
) -> tuple[list[MetricResult], dict | None]:
    """Each metric's ``waiting`` units and window; a planned test's statuses by its rule.

    Returns the rows and the sequential look's numbers (``None``: the fixed rule decides).
    With them the primary metric's status is the look's verdict on it alone and each
    guardrail's status its harm boundary's, so the scorecard agrees with the decision.
    """
    windows = {m.name: m.window_days for m in spec.metrics}
    rows = [
        row.model_copy(
            update={
                "waiting": int(sum(s.get("waiting", 0.0) for s in stats[row.name].values())),
                "window_days": float(windows[row.name]),
            }
        )
        if row.name in windows
        else row
        for row in rows
    ]
    numbers = look(spec, progress_, sum(a.n for a in rows[0].arms))
    if numbers is None:
        return rows, None
    primary = rows[0]
    verdict = decide_comparisons(
        primary.comparisons, rule_today(spec.decision, numbers), False, primary.higher_is_better
    )
    rows[0] = primary.model_copy(update={"status": _sequential(verdict, numbers).verdict})
    headline = max(primary.comparisons, key=lambda c: c.prob_better).arm
    for i, row in enumerate(rows[1:], start=1):
        if row.role == "guardrail":
            comparison = next(c for c in row.comparisons if c.arm == headline)
            status = sequential.guardrail_status(comparison.prob_harm, numbers)
            rows[i] = row.model_copy(update={"status": status})
    return rows, numbers


def rule_ahead(
    spec: Spec, metric: Metric, numbers: dict[str, Any], rate: float, waiting: float
) -> tuple[tuple[int, ...], Callable[[int], tuple[float, Callable]]]:
    """The forecast of a planned test: its horizons, and per horizon the units and the rule.

    Horizons stop at the planned end (which is always one). Units that will have counted
    ``h`` days from now: today's ``waiting`` ones as their windows close (evenly over the
    window), then the units exposed from today up to the planned end at today's rate, never
    units exposed after it. The rule is the sequential one at that look: the evidence it
    will need (:func:`analyses.core.sequential.evidence_ahead`), and at the planned end an
    undecided primary becomes ``no_clear_difference``.
    """
    day, end = numbers["day"], numbers["planned_days"]
    window = float(numbers["window_days"])
    left = max(int(round(end - day)), 1)
    horizons = tuple(sorted({h for h in HORIZONS if h < left} | {left}))

    def rule_at(h: int) -> tuple[float, Callable]:
        closing = waiting * min(h / window, 1.0) if window > 0 else 0.0
        exposed = rate * max(0.0, min(h, end - day + window) - window)
        needed = float(sequential.evidence_ahead(numbers, [h], rate)[0])
        at_end = day + h >= end
        rule = rule_today(spec.decision, {"evidence_needed": needed})

        def verdict_of(many: Many) -> np.ndarray:
            verdict, code = verdicts(many, rule, False, metric.higher_is_better)
            ended = (verdict == "keep_collecting") & np.isin(code, sequential.UNDECIDED) & at_end
            return np.where(ended, sequential.NO_CLEAR_DIFFERENCE, verdict)

        return closing + exposed, verdict_of

    return horizons, rule_at
