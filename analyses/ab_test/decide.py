"""The A/B analysis's verdict from numbers.

A metric's status, the comparisons' verdict, the guardrails, the health checks and A/A tests:
stored as codes and numbers, worded elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from analyses.ab_test.metrics import Metric, headline_lift
from analyses.ab_test.results import AbDecision, AbResults, Comparison, Status, Verdict
from analyses.ab_test.results import Metric as MetricResult
from analyses.ab_test.spec import Decision, Spec
from analyses.core.base import Tone
from analyses.core.results import Diagnostics, Interval, given

#: Verdicts of a randomised test and their tones.
VERDICTS = {
    "ship": Tone.GOOD,
    "keep_control": Tone.BAD,
    "keep_collecting": Tone.NEUTRAL,
    "no_difference": Tone.NEUTRAL,
    "withheld": Tone.WITHHELD,
    "no_clear_difference": Tone.NEUTRAL,
}
#: A randomised test's verdicts when a winner ships, every arm is worse, neither.
VERDICT_WORDS = ("ship", "keep_control", "keep_collecting")
#: Verdicts of an observational comparison: nothing was assigned, so nothing is shipped.
OBSERVATIONAL_VERDICTS = {
    "higher": Tone.NEUTRAL,
    "lower": Tone.NEUTRAL,
    "unclear": Tone.NEUTRAL,
}
#: Verdicts of an A/A test (both arms get the same experience): does the pipeline pass?
AA_VERDICTS = {"aa_passed": Tone.GOOD, "aa_failed": Tone.BAD}


class Lift(Protocol):
    """What a verdict reads of a lift: its interval."""

    hdi: Interval


class Compared(Protocol):
    """What a verdict reads of a comparison: a :class:`~analyses.ab_test.results.Comparison`.

    The forecast's simulated comparisons are read many at once (:class:`Many`).
    """

    arm: str
    prob_better: float
    expected_loss_rel: float
    lift_rel: Lift | None
    lift_abs: Lift | None


# --------------------------------------------------------------------------- decision


def metric_status(metric: Metric, comparison: Comparison, decision: Decision) -> Status:
    """How a metric reads for the headline arm: for secondary metrics and guardrails."""
    threshold = decision.min_prob_better
    if metric.role == "guardrail":
        harm = comparison.prob_harm
        return "harm" if harm >= threshold else "ok" if harm <= 1 - threshold else "unclear"
    low, high = sorted(metric.direction * h for h in headline_lift(comparison).hdi)
    if comparison.prob_better >= threshold and low > 0:
        return "better"
    if comparison.prob_better <= 1 - threshold and high < 0:
        return "worse"
    return "unclear"


@dataclass(frozen=True, slots=True)
class Many:
    """Many sets of comparisons with the control at once: the forecast's simulated readouts.

    Each array has one row per arm compared with the control and one column per set.
    ``low`` and ``high`` are the interval of the lift each comparison is read by (relative,
    or absolute where relative is not defined: ``relative`` is then False for that row, and
    the ROPE, relative, cannot read it).
    """

    prob_better: np.ndarray
    expected_loss_rel: np.ndarray
    low: np.ndarray
    high: np.ndarray
    relative: np.ndarray | bool = True


def verdicts(
    many: Many,
    decision: Decision,
    observational: bool = False,
    higher_is_better: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The verdict of healthy comparisons with the control and its reason code, per column.

    ``no_difference`` when a ROPE is set and every arm's HDI of the relative lift lies
    inside ±ROPE (the HDI+ROPE rule, so the verdict agrees with the interval shown);
    ``ship`` when the arm most likely to be better reaches ``min_prob_better``, the HDI of
    its lift lies on the good side of zero, and its expected loss (relative to the control)
    is within ``max_expected_loss``; ``keep_control`` when every arm is that likely to be
    worse and every HDI lies on the bad side; otherwise ``keep_collecting``. An
    observational comparison ships nothing: its verdicts are ``higher``, ``lower`` and
    ``unclear``, and the expected loss of shipping plays no part. Where a relative lift is
    not defined (a control at 0) its absolute lift's HDI stands in, and the ROPE (relative)
    cannot say "no meaningful difference". The arm most likely to be better is the first of
    the highest chances; an interval with an end that is not a number lies on neither side
    of zero.

    The one rule every verdict reads, on all the forecast's simulated readouts at once:
    :func:`comparisons_verdict` reads one readout's comparisons through it. Returns two
    arrays of strings, the verdicts and the reason codes.
    """
    pb = np.atleast_2d(np.asarray(many.prob_better, dtype=float))
    loss = np.atleast_2d(np.asarray(many.expected_loss_rel, dtype=float))
    low = np.atleast_2d(np.asarray(many.low, dtype=float))
    high = np.atleast_2d(np.asarray(many.high, dtype=float))
    d = 1.0 if higher_is_better else -1.0
    good_low, good_high = np.minimum(d * low, d * high), np.maximum(d * low, d * high)
    # The first of the highest chances, as Python's ``max`` picks it everywhere else (the
    # decision's numbers, the guardrails' arm): a chance that is not a number never
    # replaces another, and stays the best only where it comes first.
    best = np.where(np.isnan(pb[0]), 0, np.argmax(np.where(np.isnan(pb), -np.inf, pb), axis=0))
    cols = np.arange(pb.shape[1])
    best_pb, best_low = pb[best, cols], good_low[best, cols]
    threshold = decision.min_prob_better
    rope = decision.rope
    relative = np.broadcast_to(np.asarray(many.relative, dtype=bool).reshape(-1, 1), pb.shape)
    if rope is None:
        inside = np.zeros(pb.shape[1], dtype=bool)
    else:
        inside = np.all(relative & (-rope < low) & (high < rope), axis=0)
    loss_ok = observational or loss[best, cols] <= decision.max_expected_loss
    evident = best_pb >= threshold
    ship = evident & (best_low > 0) & loss_ok
    worse = np.all((pb <= 1 - threshold) & (good_high < 0), axis=0)
    named = ("higher", "lower", "unclear") if observational else VERDICT_WORDS
    verdict = np.select([inside, ship, worse], ["no_difference", *named[:2]], named[2])
    code = np.select(
        [inside, ship, worse, evident & (best_low <= 0), evident],
        ["inside_rope", "clear_winner", "all_worse", "interval_includes_zero", "loss_too_high"],
        "not_enough_evidence",
    )
    return verdict, code


def comparisons_verdict(
    comparisons: Sequence[Compared],
    decision: Decision,
    observational: bool = False,
    higher_is_better: bool = True,
) -> tuple[Verdict, str]:
    """The verdict of one readout's healthy comparisons with the control and its reason code.

    The rule of :func:`verdicts`; :func:`decide_comparisons` adds the numbers behind it.
    """
    lifts = [headline_lift(c).hdi for c in comparisons]
    many = Many(
        prob_better=np.array([[c.prob_better] for c in comparisons], dtype=float),
        expected_loss_rel=np.array([[c.expected_loss_rel] for c in comparisons], dtype=float),
        low=np.array([[h[0]] for h in lifts], dtype=float),
        high=np.array([[h[1]] for h in lifts], dtype=float),
        relative=np.array([c.lift_rel is not None for c in comparisons]),
    )
    verdict, code = verdicts(many, decision, observational, higher_is_better)
    return str(verdict[0]), str(code[0])  # type: ignore[return-value]


def decide_comparisons(
    comparisons: Sequence[Compared],
    decision: Decision,
    observational: bool = False,
    higher_is_better: bool = True,
) -> AbDecision:
    """The verdict of healthy comparisons with the control, with the numbers behind it.

    The rule is :func:`comparisons_verdict`'s; the numbers are those of the arm most likely
    to be better.
    """
    verdict, code = comparisons_verdict(comparisons, decision, observational, higher_is_better)
    best = max(comparisons, key=lambda c: c.prob_better)
    numbers = {
        "arm": best.arm,
        "prob_better": best.prob_better,
        "lift_rel_hdi": best.lift_rel.hdi if best.lift_rel is not None else None,
        "expected_loss_rel": best.expected_loss_rel,
        "thresholds": decision.model_dump(),
    }
    if verdict == "no_difference":
        widest = max(max(abs(h) for h in c.lift_rel.hdi) for c in comparisons)
        return AbDecision(
            verdict=verdict, reason_code=code, widest=widest, **numbers | {"arm": None}
        )
    if code == "all_worse":
        return AbDecision(verdict=verdict, reason_code=code, **numbers | {"arm": None})
    return AbDecision(verdict=verdict, reason_code=code, **numbers)


def failed_checks(results: AbResults, diagnostics: Diagnostics) -> list[str]:
    """The health checks that failed: sample ratio, multiple exposures, units left out, sampler.

    Any of them withholds the verdict (and every chance of being better, in words and figures).
    """
    excluded = results.excluded if given(results.excluded) else None
    return [
        check
        for check, ok in (
            ("srm", results.srm.ok),
            ("exposures", results.exposures is None or results.exposures.ok),
            ("excluded", excluded is None or excluded.ok),
            ("diagnostics", diagnostics.ok),
        )
        if not ok
    ]


def decide(spec: Spec, results: AbResults, diagnostics: Diagnostics) -> AbDecision:
    """The verdict of a readout.

    Withheld when a health check failed; otherwise the primary metric decides, a guardrail
    that shows harm beyond its tolerance keeps the control whatever the primary says, and a
    ship stops at one that might (keep collecting). ``deciding_metric`` names the metric
    that decided.
    """
    failed = failed_checks(results, diagnostics)
    metrics = results.metrics
    primary = metrics[0]
    if failed:
        return AbDecision(
            verdict="withheld",
            reason_code="health_failed",
            failed_checks=failed,
            arm=None,
            deciding_metric=None,
            thresholds=spec.decision.model_dump(),
        )
    if spec.aa_test:
        return _decide_aa(spec, primary)
    from analyses.ab_test import planned  # it decides through this module's functions

    look = planned.look_of(spec, results)
    if look is not None:  # a planned test read before its end, or at it: issue 21's rule
        return planned.decide_look(spec, metrics, look)
    verdict = decide_comparisons(
        primary.comparisons, spec.decision, spec.observational, primary.higher_is_better
    ).model_copy(update={"deciding_metric": primary.name})
    return guardrail_stops(verdict, metrics, lambda metric, c: _fixed_status(spec, metric, c))


def _fixed_status(spec: Spec, metric: MetricResult, comparison: Comparison) -> Status:
    """A guardrail's status by the fixed rule (:func:`metric_status`)."""
    config = Metric(
        metric.name,
        metric.label,
        metric.kind,
        "guardrail",
        metric.higher_is_better,
        metric.tolerated_harm,
    )
    return metric_status(config, comparison, spec.decision)


# --------------------------------------------------------------------------- guardrails

#: The reason codes of a verdict a guardrail decided: harm beyond its tolerance keeps the
#: control, a chance of it holds a ship back, and at a planned test's end that chance keeps
#: the control (:data:`analyses.core.sequential.GUARDRAIL_UNCLEAR_AT_END`).
GUARDRAIL_STOPS = ("guardrail_harm", "guardrail_unclear", "guardrail_unclear_at_end")
#: The verdicts harm beyond a guardrail's tolerance turns into keep-the-control: a randomised
#: test's primary that does not already keep it (an observational one ships nothing).
STOPPABLE = ("ship", "keep_collecting", "no_difference")


def guardrail_stops(
    verdict: AbDecision,
    metrics: Sequence[MetricResult],
    status_of: Callable[[MetricResult, Comparison], str],
) -> AbDecision:
    """The verdict with the guardrails' say: the one place a guardrail overrules the primary.

    Each guardrail is read for the verdict's arm (else the arm most likely to be better) by
    ``status_of`` (``harm``, ``ok`` or ``unclear``: the fixed rule's or a look's). Harm
    beyond the tolerance keeps the control (``guardrail_harm``) whatever the primary says
    (:data:`STOPPABLE`: a ship, keep collecting, no difference; issues 21 and 23) and
    whichever numbers decided it (its own or the programme's,
    :mod:`analyses.ab_test.programme`); only a primary that already keeps the control
    (every arm worse) keeps its own reason. Harm
    outranks a guardrail that only might harm, which holds a ship back (keep collecting,
    ``guardrail_unclear``). ``deciding_metric`` then names the guardrail, with its
    ``prob_harm`` and tolerance.
    """
    arm = verdict.arm or max(metrics[0].comparisons, key=lambda c: c.prob_better).arm
    harm = unclear = None
    for metric in metrics[1:]:
        if metric.role != "guardrail":
            continue
        comparison = next(c for c in metric.comparisons if c.arm == arm)
        status = status_of(metric, comparison)
        if status == "harm" and harm is None:
            harm = (metric, comparison)
        elif status == "unclear" and unclear is None:
            unclear = (metric, comparison)
    if harm is not None and verdict.verdict in STOPPABLE:
        verdict_, code, (metric, comparison) = "keep_control", "guardrail_harm", harm
    elif unclear is not None and verdict.verdict == "ship":
        verdict_, code, (metric, comparison) = "keep_collecting", "guardrail_unclear", unclear
    else:
        return verdict
    return verdict.model_copy(
        update={
            "verdict": verdict_,
            "reason_code": code,
            "deciding_metric": metric.name,
            "prob_harm": comparison.prob_harm,
            "tolerated_harm": metric.tolerated_harm,
        }
    )


def harming_guardrails(metrics: Sequence[MetricResult]) -> list[MetricResult]:
    """The guardrails whose status (the fixed rule's or a look's) is harm beyond tolerance."""
    return [m for m in metrics if m.role == "guardrail" and m.status == "harm"]


def stopped_by_guardrail(decision: AbDecision) -> bool:
    """Whether a guardrail decided the verdict (the primary metric alone may say ship)."""
    return decision.reason_code in GUARDRAIL_STOPS


def _decide_aa(spec: Spec, primary: MetricResult) -> AbDecision:
    """Decide an A/A test: passed when the arms look alike.

    It passes when every arm's interval of the lift includes zero (and lies inside the ROPE
    when one is set); identical arms do so in most such tests.
    """
    rope = spec.decision.rope
    outside = [
        c
        for c in primary.comparisons
        if not (headline_lift(c).hdi[0] <= 0 <= headline_lift(c).hdi[1])
        or (rope is not None and c.lift_rel is not None and max(map(abs, c.lift_rel.hdi)) >= rope)
    ]
    widest = max(max(abs(h) for h in headline_lift(c).hdi) for c in primary.comparisons)
    numbers = {
        "arm": outside[0].arm if outside else None,
        "widest": widest,
        "deciding_metric": primary.name,
        "thresholds": spec.decision.model_dump(),
    }
    if outside:
        return AbDecision(
            verdict="aa_failed", reason_code="difference_between_identical_arms", **numbers
        )
    return AbDecision(verdict="aa_passed", reason_code="arms_alike", **numbers)
