"""The tables of an ``ab_test`` readout: each arm, each comparison, the scorecard, segments."""

from __future__ import annotations

from analyses.ab_test.decide import stopped_by_guardrail
from analyses.ab_test.judgement import (
    primary_status,
    programme_primary_verdict,
    verdict_by_programme,
)
from analyses.ab_test.results import AbBundle, Segment, SegmentSpread
from analyses.core.judgement import spread_class
from analyses.core.results import given
from readout import store
from readout.wording.ab_test.common import (
    STATUS_WORDS,
    VERDICT_LABELS,
    arm_word,
    comparison_of,
    control_word,
    lift_text,
    metric_name,
    metric_units,
    share_text,
    units_word,
)
from readout.wording.ab_test.model import PRIMARY_SAYS, confidence, test_interval
from readout.wording.numbers import (
    NBSP,
    capital,
    decimals_for,
    estimate,
    field,
    interval,
    number,
    p_value,
    prob,
    rel_places,
    relative,
    span,
    width,
)
from readout.wording.pieces import Table


def table_set(bundle: AbBundle) -> dict[str, Table]:
    """Every table of the report: arms, comparisons, scorecard, segments."""
    ci = interval(bundle)
    primary = bundle.metrics[0]
    units = metric_units(primary)
    observational = bundle.observational
    withheld = bundle.decision.verdict == "withheld"
    diagnosis = " (for diagnosis only)" if withheld else ""
    many = any(given(a.prob_best) for a in bundle.metrics[0].arms)
    arm_head = "Group" if observational else "Arm"
    head = [arm_head, capital(units_word(bundle)), "Observed", "Model estimate", ci]
    # A failed health check shows the estimates for diagnosis, never a chance of winning.
    many = many and not withheld
    if many:
        head.append("Chance of being best")
    rows = []
    for arm in bundle.metrics[0].arms:
        places = units.places(width(arm))
        marker = " (reference)" if observational else " (control)"
        is_control = arm.name == bundle.control and arm.name != marker[2:-1]
        rows.append(
            [
                arm.name + (marker if is_control else ""),
                f"{arm.n:,}",
                units.value(arm.observed, places),
                units.value(arm.mean, places),
                span(arm.hdi, units.value, places),
            ]
            + ([prob(arm.prob_best)] if many else [])
        )
    rope = field(bundle.decision.thresholds, "rope")
    word = "difference" if observational else "lift"
    chances = not withheld
    comp_head = ["Comparison"]
    if chances:
        comp_head.append("Chance higher" if observational else "Chance better")
    comp_head += [f"Relative {word} ({ci})", f"Absolute {word}"]
    meaningful = chances and rope is not None and not observational
    if meaningful:
        comp_head.append(f"Chance lift > {relative(rope, 1, False)}")
    loss = chances and not observational and not field(bundle, "aa_test")
    if loss:
        comp_head.append("Expected loss (share of control)")
    level = confidence(bundle.metrics[0].comparisons[0].frequentist)
    comp_head.append(f"Traditional: p ({level} CI)")
    comp_rows = []
    for comp in bundle.metrics[0].comparisons:
        lift = comp.lift_rel
        ab = comp.lift_abs
        test = comp.frequentist
        row = [f"{comp.arm} vs {comp.vs}"]
        if chances:
            row.append(prob(comp.prob_better))
        if lift is None:  # the control's value is 0: the absolute lift, with its interval
            places = units.places(width(ab))
            row += [
                "not defined (control at 0)",
                f"{units.diff(ab.mean, places)} ({span(ab.hdi, units.diff, places)})",
            ]
        else:
            places = rel_places(lift)
            row += [
                f"{relative(lift.mean, places)} ({span(lift.hdi, relative, places)})",
                units.diff(ab.mean, units.places(width(ab))),
            ]
        if meaningful:
            row.append(prob(comp.prob_meaningful) if given(comp.prob_meaningful) else "–")
        if loss:
            row.append(share_text(comp.expected_loss_rel, approx=False))
        row.append(f"{p_value(test.p_value)} ({test_interval(test, units, ' (log)')})")
        comp_rows.append([cell.replace(" percentage points", " pp") for cell in row])
    # Where the programme decided, these are the experiment's own numbers: said so.
    alone = _on_its_own(bundle)
    tables = {
        "arms": Table(f"Each {arm_word(bundle)} on its own{diagnosis}", head, rows),
        "comparisons": Table(
            f"Each {arm_word(bundle)} against {control_word(bundle)}{diagnosis}{alone}",
            comp_head,
            comp_rows,
        ),
    }
    if len(bundle.metrics) > 1:
        tables["scorecard"] = _scorecard(bundle)
    if _primary_segments(bundle):
        tables["segments"] = _segments_table(bundle)
    return tables


def _scorecard(bundle: AbBundle) -> Table:
    ci = interval(bundle)
    arm, control = bundle.primary, bundle.control
    chances = bundle.decision.verdict != "withheld"
    head = ["Metric", "Role", control, arm, f"Lift ({ci})"]
    head += ["Chance better", "Status"] if chances else []
    rows = []
    for metric in bundle.metrics:
        comp = comparison_of(metric, arm)
        units = metric_units(metric)
        arms = {a.name: a for a in metric.arms}
        places = units.places(width(arms[arm]))
        role = metric.role
        if metric.role == "guardrail":
            sign = "+" if not metric.higher_is_better else "-"
            role += f" (≤{NBSP}{sign}{relative(metric.tolerated_harm, 1, False)})"
        elif not metric.higher_is_better:
            role += " (lower is better)"
        status = metric.status
        by_programme = verdict_by_programme(bundle)
        if metric.role == "primary":
            if by_programme:  # the primary's verdict on the numbers the verdict read
                status = programme_primary_verdict(bundle)
            status = primary_status(status, bundle.decision, by_programme)
        if status == "better" and metric.role == "primary":
            label = "better (a guardrail stops the ship)"
        elif metric.role == "primary" and stopped_by_guardrail(bundle.decision):
            # Not the verdict: what the primary says, the guardrail having decided (review 4).
            label = (
                PRIMARY_SAYS.get(status, VERDICT_LABELS.get(status, status).lower())
                + (" given past experiments" if by_programme else "")
                + "; a guardrail decides"
            )
        elif metric.role == "primary":
            label = VERDICT_LABELS.get(status, status)
            if by_programme:  # the verdict read its lift given the programme's experiments
                label += " (given past experiments)"
        elif metric.role != "guardrail" and status == "unclear":
            label = "not yet clear"  # a secondary metric: no harm is at stake
        elif metric.role == "guardrail" and status == "unclear" and given(comp.prob_harm):
            # Not "possible harm" on a change that is most likely better: the chance of harm
            # beyond the tolerance, with its direction (review finding 11).
            label = (
                f"not yet clear: {prob(comp.prob_harm)} chance of a "
                f"{'rise' if not metric.higher_is_better else 'fall'} beyond "
                f"{'+' if not metric.higher_is_better else '-'}"
                f"{relative(metric.tolerated_harm, 1, False)}"
            )
        else:
            label = STATUS_WORDS.get(status, status).split(" (")[0]
        rows.append(
            [
                capital(metric_name(metric))
                # Its means are adjusted for the same metric before exposure: said where shown.
                + (" (CUPED-adjusted)" if given(metric.variance_reduction) else ""),
                role,
                units.value(arms[control].mean, places),
                units.value(arms[arm].mean, places),
                lift_text(bundle, metric, comp, quoted=False),
                *([prob(comp.prob_better), capital(label)] if chances else []),
            ]
        )
        if metric.role == "primary" and by_programme and given(comp.programme) and chances:
            rows[-1][4:6] = _given_the_programme(bundle, metric, comp)
    title = f"Every metric, {arm} against {control}"
    return Table(title if chances else f"{title} (for diagnosis only)", head, rows)


def _given_the_programme(bundle: AbBundle, metric, comp) -> list[str]:
    """The primary's lift and chance cells where the programme decided.

    The numbers the verdict read, labelled, with the experiment's own beside them.
    """
    from analyses.ab_test.programme import as_decided

    read = as_decided(comp)
    return [
        f"{lift_text(bundle, metric, read, quoted=False)} given the programme; "
        f"{lift_text(bundle, metric, comp, quoted=False)} on its own",
        f"{prob(read.prob_better)} given the programme; {prob(comp.prob_better)} on its own",
    ]


#: At most this many levels of a segment in the report's table (all are in the CSV beside it).
SEGMENT_ROWS = 40


def _primary_segments(bundle: AbBundle) -> list[Segment]:
    primary = bundle.metrics[0].name
    return [s for s in bundle.segments if s.metric == primary]


def _segments_table(bundle: AbBundle) -> Table:
    ci = interval(bundle)
    rows = []
    labels = {m.name: m for m in bundle.metrics}
    primary = bundle.metrics[0].name
    chances = bundle.decision.verdict != "withheld"
    shown = _primary_segments(bundle)
    if len(shown) > SEGMENT_ROWS:
        shown = sorted(sorted(shown, key=lambda s: -s.n)[:SEGMENT_ROWS], key=_segment_key)
    for seg in shown:
        own, pooled = seg.own, seg.pooled
        places = decimals_for(100 * width(pooled))
        own_places = decimals_for(100 * width(own)) if own else places
        rows.append(
            [
                f"{seg.segment} = {seg.level}",
                f"{seg.n:,}" + (" (few)" if field(seg, "few_units") else ""),
                f"{relative(own.mean, own_places)} ({span(own.hdi, relative, own_places)})"
                if own
                else "not defined (control at 0)"
                if field(seg, "no_own") == "control_zero"
                else "too few for its own",
                f"{relative(pooled.mean, places)} ({span(pooled.hdi, relative, places)})",
                relative(field(seg, "shrinkage", 0.0), 0, False),
                *([prob(seg.prob_positive)] if chances else []),
            ]
        )
    alone = " (the experiment on its own)" if _on_its_own(bundle) else ""
    return Table(
        f"Segments{alone}: each level's own lift of {bundle.primary} in "
        f"{labels[primary].label}, and pooled across levels",
        [
            "Segment",
            capital(units_word(bundle)),
            f"Own lift ({ci})",
            f"Pooled lift ({ci})",
            "Pulled",
            *(["Chance lift > 0"] if chances else []),
        ],
        rows,
    )


def _segments_file(bundle: AbBundle) -> str:
    files = {t.key: t.file for t in field(bundle, "tables", [])}
    return files.get("segments", store.table_file("segments"))


def _segment_key(seg: Segment) -> tuple[str, str]:
    return seg.segment, seg.level


def _spread_sentence(bundle: AbBundle, spread: SegmentSpread) -> str:
    """Whether a segment's levels really differ: the spread of their true lifts."""
    sigma, overall = spread.sigma, spread.overall
    places = rel_places(sigma)
    shared = spread_class(sigma.hdi) == "unclear"
    return (
        f"Do the levels of {spread.segment} differ? Their true lifts spread by about "
        f"{number(100 * sigma.mean, places)} percentage points (a standard deviation; "
        f"{interval(bundle)} {span(sigma.hdi, lambda x, p: number(100 * x, p), places)}) "
        f"around the overall lift{_on_its_own(bundle)} of "
        f"{estimate(bundle, overall, relative, rel_places(overall))}. "
        + (
            "That interval reaches zero: the levels may well share one lift, and the "
            "differences between their own lifts are mostly noise."
            if shared
            else "That interval stays clear of zero: the levels really differ."
        )
    )


def _on_its_own(bundle: AbBundle) -> str:
    """' (on its own)' where the programme's numbers decided a verdict not withheld."""
    return " (on its own)" if verdict_by_programme(bundle) else ""


def segments_intro(bundle: AbBundle) -> list[str]:
    """How to read the segments table, whether levels differ, the small levels."""
    if not field(bundle, "segments"):
        return []
    primary = bundle.metrics[0].name
    if not _primary_segments(bundle):  # e.g. a control at 0 in every level
        return [
            f"The {metric_name(bundle.metrics[0])} cannot be broken down by "
            f"{', '.join(bundle.spec.get('segments', []))}: fewer than two levels have a "
            "relative lift of their own (too few units in an arm, or a control at 0). The "
            f"other metrics' segments are in {_segments_file(bundle)} beside this report."
        ]
    out = [
        "Each level's own lift is noisy when the level is small; the pooled lift borrows "
        'strength from the other levels of the same segment (partial pooling). "Pulled" is '
        "how far a level's estimate moved from its own lift toward the overall lift: the "
        "noisier its own lift (fewer users) against the spread between levels, the further. "
        "Read a level's pooled lift, not its own, before acting on it."
    ]
    if _on_its_own(bundle):
        out.append(
            "These lifts, own and pooled, read the experiment on its own: the levels are not "
            f"read given the programme's {bundle.programme_prior.experiments} experiments, "
            "whose estimate the verdict reads."
        )
    out += [
        _spread_sentence(bundle, spread)
        for spread in field(bundle, "segment_spread", [])
        if spread.metric == primary
    ]
    units = units_word(bundle)
    zero = [s for s in _primary_segments(bundle) if field(s, "no_own") == "control_zero"]
    if zero:
        names = ", ".join(s.level for s in zero[:8]) + (" and more" if len(zero) > 8 else "")
        out.append(
            f"In {names} the control's {metric_name(bundle.metrics[0])} is 0, so a lift "
            "relative to it is not defined there; the pooled lift is the one the model expects "
            "for a level it has not seen."
        )
    few = [
        s
        for s in _primary_segments(bundle)
        if field(s, "few_units") and field(s, "no_own") != "control_zero"
    ]
    if few:
        without = [s for s in few if s.own is None]
        names = ", ".join(f"{s.level} ({s.n:,})" for s in few[:8])
        more = f" and {len(few) - 8} more" if len(few) > 8 else ""
        spreads = field(bundle, "segment_spread", ())
        below = spreads[0].few_units_below if spreads else 100
        out.append(
            f"Levels with fewer than {below:,} {units}, marked (few), stay in the model: "
            f"{names}{more}. "
            + (
                (
                    f"It has too few {units} in an arm for a lift of its own; it shows the lift "
                    "the model expects for a level it has not seen."
                    if len(few) == 1
                    else f"{len(without)} of them have too few {units} in an arm for a lift of "
                    "their own; those show the lift the model expects for a level it has not "
                    "seen."
                )
                if without
                else "Their pooled lifts lean on the other levels."
            )
        )
    shown = len(_primary_segments(bundle))
    files = {t.key: t for t in field(bundle, "tables", [])}
    if shown > SEGMENT_ROWS and "segments" in files:
        out.append(
            f"The table shows the {SEGMENT_ROWS} largest of {shown:,} levels; all are in "
            f"{files['segments'].file} beside this report."
        )
    elif "segments" in files and len(bundle.metrics) > 1:
        out.append(f"Every metric's segments are in {files['segments'].file} beside this report.")
    return out
