"""Words of an ``ab_test`` readout: A/B and A/B/n tests, randomised, A/A or observational.

Every number comes from the bundle; the sentences change with the verdict's code, each
metric's direction (higher or lower is better) and the kind of comparison:

* randomised: "ship", expected loss, the arms and the control;
* A/A: whether the check passed, and what identical arms look like;
* observational: groups and a reference group, "higher" and "lower", never "ship" or a loss.
"""

from __future__ import annotations

from analyses.ab_test.decide import stopped_by_guardrail
from analyses.ab_test.judgement import (
    programme_primary_verdict,
    short_of_split,
    verdict_by_programme,
)
from analyses.ab_test.results import AbBundle, Comparison, Metric
from analyses.core import judgement
from analyses.core.results import DataWarning, given
from readout.wording import programme as programme_words
from readout.wording.ab_test import planned
from readout.wording.ab_test.captions import figures as _figures
from readout.wording.ab_test.common import (
    CHECK_NAMES,
    VERDICT_LABELS,
    answers,
    arm_word,
    chance_sentence,
    comparison_of,
    deciding_label,
    higher_word,
    left_out_sentence,
    lift_format,
    lift_sentence,
    loss_sentence,
    metric_name,
    metric_status_sentence,
    metric_units,
    rope_sentence,
    share_text,
    units_word,
    with_arm_labels,
)
from readout.wording.ab_test.health import (
    exposure_problem,
    health_sizes,
    left_out_problem,
    srm_problem,
)
from readout.wording.ab_test.model import (
    check_lines,
    frequentist_sentence,
    prior_sentences,
    sensitivity_text,
)
from readout.wording.ab_test.notes import (
    forecast_section,
    forecast_sentence,
    note_sentences,
    stalled,
)
from readout.wording.ab_test.tables import segments_intro, table_set
from readout.wording.common import diagnostic_problems
from readout.wording.numbers import (
    a_prob,
    capital,
    estimate,
    field,
    interval,
    p_value,
    prob,
    rel_places,
    relative,
)
from readout.wording.pieces import Body, Text

GLOSSARY = {
    "Probability of being better": (
        "the share of posterior draws in which the variant beats the control, in the metric's "
        "good direction (lower is better for a metric such as load time)."
    ),
    "Expected loss": (
        "what shipping the variant costs on average if it is in fact worse, counting zero "
        "where it is better; given as a share of the control's value."
    ),
    "ROPE": (
        "region of practical equivalence: lifts smaller than the minimum worthwhile effect "
        "count as no change."
    ),
    "Guardrail": (
        "a metric the change must not harm beyond a tolerated amount, whatever the primary "
        "metric says."
    ),
    "Sample-ratio mismatch": (
        "arm sizes that differ from the planned split by more than chance allows: a sign that "
        "assignment or logging is broken."
    ),
}
#: An A/B test's data problems stop the readout (exit 2); its warnings are about segments
#: that cannot break the metrics down as configured (never dropped without a word).
WARNINGS = {
    "segment_empty": lambda w, b: (
        f"Segment column '{w.segment}' is empty for every one of the {w.units:,} "
        f"{units_word(b)}, so there is no breakdown by it; check that the assignments query "
        "returns its values."
    ),
    "segment_one_level": lambda w, b: (
        f"Segment column '{w.segment}' has one value only ('{w.level}'), so there is no "
        "breakdown by it."
    ),
    "segment_missing": lambda w, b: (
        f"{w.units:,} {units_word(b)} ({relative(w.share, 1, False)}) have no value in "
        f"segment column '{w.segment}'; they are kept, as the level “{w.level}”."
    ),
    "metric_waiting": lambda w, b: _metric_waiting(w, b),
    "no_recent_traffic": lambda w, b: (
        f"No new {units_word(b)} have been exposed since {w.last_exposure}, {w.count} days "
        f"before this readout (as of {w.as_of}): the experiment has stalled. Check that "
        "assignment is still running; any forecast assumes it resumes at its earlier rate."
    ),
}


def _metric_waiting(w: DataWarning, b: AbBundle) -> str:
    """A metric left out because every unit is inside its window, with the real date."""
    since = (
        planned.waiting_since(w.as_of, w.window_days)
        if given(w.as_of) and given(w.window_days)
        else None
    )
    if since is None:  # a bundle from before the warning carried its day
        return (
            f"Metric '{w.column}' is left out of this readout: every one of the "
            f"{w.units:,} {units_word(b)} exposed so far is still inside its window. It counts "
            "once their windows close."
        )
    return (
        f"Metric '{w.column}' is left out of this readout: the {w.units:,} {units_word(b)} "
        f"exposed after {since} are not counted yet, and that is every one exposed so far "
        f"(a {units_word(b, False)} counts once its {w.window_days:g}-day window has "
        "closed)."
    )


# --------------------------------------------------------------------------- small helpers


# --------------------------------------------------------------------------- sentences


def _primary_alone(bundle: AbBundle) -> str:
    """The primary metric's verdict before a guardrail's say, on the numbers the verdict read."""
    if verdict_by_programme(bundle):
        return programme_primary_verdict(bundle)
    return bundle.metrics[0].status


def _reason(bundle: AbBundle) -> str:
    decision = bundle.decision
    thresholds = decision.thresholds
    primary = bundle.metrics[0]
    best = comparison_of(primary, bundle.primary)
    arm, vs = best.arm, best.vs
    name = metric_name(primary)
    verdict, code = decision.verdict, decision.reason_code
    need = prob(thresholds.min_prob_better)
    direction = higher_word(primary)
    if verdict == "withheld":
        failed = [CHECK_NAMES[c] for c in decision.failed_checks]
        return (
            f"{capital(' and '.join(failed))} failed, so a comparison of the arms could be "
            "misleading; find and fix the cause, then rerun before deciding."
        )
    if verdict == "aa_passed":
        return (
            f"Both arms get the same experience, and the {interval(bundle)} of every "
            "difference includes zero, as it should: the pipeline shows no sign of a problem."
        )
    if verdict == "aa_failed":
        return (
            f"Both arms get the same experience, yet the {interval(bundle)} of the difference "
            f"for {decision.arm} excludes zero"
            + (
                f" or reaches beyond ±{relative(thresholds.rope, 1, False)}"
                if field(thresholds, "rope")
                else ""
            )
            + f". Identical arms do this in about {_aa_misses(bundle)} of 100 A/A tests; check "
            "assignment, logging and the metric before trusting other readouts."
        )
    sequential = planned.reason(bundle)
    if sequential is not None:
        return sequential
    if code == "guardrail_harm" and _primary_alone(bundle) != "ship":
        # Harm keeps the control whatever the primary says (issue 23): no "but" after it.
        return (
            f"The guardrail {deciding_label(bundle)} shows harm beyond its "
            f"{relative(decision.tolerated_harm, 1, False)} tolerance with "
            f"{prob(decision.prob_harm)} probability, which keeps the control whatever "
            f"{name} shows ({arm} beats {vs} on it with {prob(best.prob_better)} probability)."
        )
    if code == "guardrail_harm":
        return (
            f"{arm} beats {vs} on {name} with {prob(best.prob_better)} probability, but the "
            f"guardrail {deciding_label(bundle)} shows harm beyond its "
            f"{relative(decision.tolerated_harm, 1, False)} tolerance with "
            f"{prob(decision.prob_harm)} probability."
        )
    if code == "guardrail_unclear":
        return (
            f"{arm} beats {vs} on {name} with {prob(best.prob_better)} probability, but the "
            f"guardrail {deciding_label(bundle)} might be harmed beyond its "
            f"{relative(decision.tolerated_harm, 1, False)} tolerance "
            f"({prob(decision.prob_harm)} chance); more data will tell."
        )
    if verdict == "higher":
        return (
            f"The {name} is {direction} for {arm} than for {vs} with "
            f"{prob(best.prob_better)} probability, at or above the {need} this report "
            "asks for."
        )
    if verdict == "ship":
        return (
            f"{arm} beats {vs} with {prob(best.prob_better)} probability (at least {need} "
            f"needed), and shipping it risks an expected loss of "
            f"{share_text(best.expected_loss_rel)} of {vs}'s {name} (limit "
            f"{share_text(thresholds.max_expected_loss, False)})."
        )
    if verdict == "lower":
        return (
            f"Every group's {name} is {'lower' if direction == 'higher' else 'higher'} than "
            f"{vs}'s with at least {need} probability."
        )
    if verdict == "keep_control":
        return (
            f"Every variant is likely worse than {vs}: even the best, {arm}, beats it with "
            f"only {prob(best.prob_better)} probability."
        )
    if verdict == "no_difference":
        return (
            f"The whole {interval(bundle)} of every lift lies within "
            f"±{relative(thresholds.rope, 1, False)} (the largest distance from zero is "
            f"{relative(decision.widest, rel_places(best.lift_rel), False)}), and changes "
            "smaller than that are not worth acting on."
        )
    if code == "interval_includes_zero":
        return (
            f"{arm} beats {vs} with {prob(best.prob_better)} probability, but the "
            f"{interval(bundle)} of its lift still reaches zero, so the data do not yet rule "
            "out no effect."
        )
    if code == "loss_too_high":
        return (
            f"{arm} beats {vs} with {prob(best.prob_better)} probability, but shipping it "
            f"still risks an expected loss of {share_text(best.expected_loss_rel)} "
            f"of {vs}'s {name}, above the "
            f"{share_text(thresholds.max_expected_loss, False)} limit."
        )
    return (
        f"The most promising {arm_word(bundle) if bundle.observational else 'variant'}, "
        f"{arm}, is {direction} than {vs} with {prob(best.prob_better)} probability, short "
        f"of the {need} needed for a clear answer."
    )


def _headline(bundle: AbBundle) -> str:
    verdict = bundle.decision.verdict
    arm, control = field(bundle.decision, "arm"), bundle.control
    primary = bundle.metrics[0]
    name = capital(metric_name(primary))
    if verdict == "higher":
        return f"{name} is {higher_word(primary)} for {arm}."
    if verdict == "lower":
        return f"{name} is best for {control}."
    if verdict == "ship":
        return f"Ship {arm}."
    if verdict == "keep_control":
        same = control.strip().lower() in ("control", "the control")
        return "Keep the control." if same else f"Keep the control, {control}."
    if verdict == "aa_passed":
        return "A/A check passed: the arms look alike."
    if verdict == "aa_failed":
        return "A/A check failed: identical arms differ."
    if verdict == "no_clear_difference":
        days = bundle.decision.sequential.planned_days
        return f"No clear difference after the planned {days} days."
    return VERDICT_LABELS[verdict] + "."


# --------------------------------------------------------------------------- the body


def body(bundle: AbBundle) -> Body:
    """Sentences, tables and figure text of an ``ab_test`` bundle."""
    bundle = with_arm_labels(bundle)
    primary_metric = bundle.metrics[0]
    units = metric_units(primary_metric)
    primary = comparison_of(primary_metric, bundle.primary)
    verdict = bundle.decision.verdict
    observational = bundle.observational
    if verdict == "withheld":
        key = health_sizes(bundle)
    elif field(bundle, "aa_test"):
        key = _aa_sentences(bundle, primary_metric, primary)
    elif programme_words.verdict_by_programme(bundle):
        # The verdict read the programme's numbers: page 1 leads with them.
        decided = programme_words.as_decided(bundle)
        read = comparison_of(decided.metrics[0], bundle.primary)
        key = programme_words.sentences(bundle)
        chance = chance_sentence(decided, decided.metrics[0], read)
        key.append(programme_words.given_chance(chance, primary.prob_better))
        if not observational:
            key.append(loss_sentence(decided, decided.metrics[0], read))
    else:
        key = [chance_sentence(bundle, primary_metric, primary)]
        key.append(lift_sentence(bundle, primary_metric, primary))
        key.extend(programme_words.sentences(bundle))  # the programme's estimate, if read
        if not observational:
            key.append(loss_sentence(bundle, primary_metric, primary))
    if verdict != "withheld" and not field(bundle, "aa_test"):
        rule = planned.rule_sentence(bundle)
        if rule:
            key.append(rule)
        # Where the programme decided, a chance the verdict did not read is the experiment's
        # own: said so (the programme's numbers have no chance of a worthwhile lift or best).
        alone = programme_words.verdict_by_programme(bundle)
        if field(bundle.decision.thresholds, "rope") is not None and not observational:
            key.append(programme_words.on_its_own(rope_sentence(bundle, primary), alone))
        if verdict == "keep_collecting" and field(bundle, "forecast"):
            key.append(forecast_sentence(bundle))
        if len(bundle.metrics[0].arms) > 2:
            leader = max(bundle.metrics[0].arms, key=lambda a: a.prob_best)
            key.append(
                programme_words.on_its_own(
                    f"Of all {len(bundle.arms)} {arm_word(bundle)}s, {leader.name} is the "
                    f"most likely to be best ({prob(leader.prob_best)} chance).",
                    alone,
                )
            )
        for metric in bundle.metrics[1:]:
            key.append(
                metric_status_sentence(bundle, metric, comparison_of(metric, bundle.primary))
            )
    health = diagnostic_problems(bundle)
    if field(bundle, "excluded") and not bundle.excluded.ok:
        health.insert(0, left_out_problem(bundle))
    if field(bundle, "exposures") and not bundle.exposures.ok:
        health.insert(0, exposure_problem(bundle))
    if not bundle.srm.ok:
        health.insert(0, srm_problem(bundle))
    notes = note_sentences(bundle)
    waiting = planned.waiting_sentence(bundle)
    if waiting:
        notes.insert(0, waiting)
    left_out = left_out_sentence(bundle)
    if left_out and bundle.excluded.ok:  # a failed check says it in the health alert
        notes.insert(0, left_out)
    # The other arms' lifts read the experiment alone (the programme reads the headline's);
    # named as another arm than the primary's, so that they do not read as the worked example
    # of the table above them (review finding 9: signup-page's C vs A).
    own = programme_words.verdict_by_programme(bundle)
    others = [
        f"{c.arm}, not the primary arm {primary.arm}: "
        + _lower_first(programme_words.on_its_own(lift_sentence(bundle, primary_metric, c), own))
        for c in bundle.metrics[0].comparisons
        if c.arm != primary.arm
    ]
    sensitivity, sensitivity_table = sensitivity_text(bundle)
    tables = table_set(bundle)
    if sensitivity_table is not None:
        tables["sensitivity"] = sensitivity_table
    return Body(
        headline=_headline(programme_words.as_decided(bundle)),
        reason=capital(_reason(programme_words.as_decided(bundle))),
        key_sentences=key,
        health=health,
        notes=notes,
        sections={
            "other_comparisons": others,
            "frequentist": [frequentist_sentence(bundle, units)],
            "model": prior_sentences(bundle) + programme_words.model_sentences(bundle),
            "sensitivity": sensitivity,
            "checks": check_lines(bundle),
            "segments": segments_intro(bundle),
            "forecast": forecast_section(bundle) if verdict == "keep_collecting" else [],
            **({"progress": [line]} if (line := planned.progress_line(bundle)) else {}),
            **({"decided_by": lines} if (lines := programme_words.verdict_line(bundle)) else {}),
        },
        tables=tables,
        figures=_figures(bundle),
        example=(
            "chance that the group's value is higher"
            if observational
            else "chance that B is better"
        ),
        answers=answers(bundle),
    )


def _aa_misses(bundle: AbBundle) -> int:
    """In how many of 100 A/A tests identical arms' interval excludes zero: 1 - ci_prob."""
    return round(100 * (1 - bundle.ci_prob))


def _aa_sentences(bundle: AbBundle, metric: Metric, comp: Comparison) -> list[str]:
    lift, fmt, places = lift_format(metric, comp)
    inside = judgement.inside(lift.hdi, 0.0)
    misses = _aa_misses(bundle)
    scale = "relative " if comp.lift_rel is not None else ""
    out = [
        f"The {scale}difference between {comp.arm} and {comp.vs} is "
        f"{estimate(bundle, lift, fmt, places)}: the interval "
        + (
            f"includes zero, as it does for identical arms in about {100 - misses} of 100 A/A "
            "tests."
            if inside
            else f"excludes zero, which identical arms do in only about {misses} of 100 A/A tests."
        ),
        f"There is {a_prob(comp.prob_better)} chance that the {metric_name(metric)} is "
        f"higher for {comp.arm} than for {comp.vs}. For identical arms this chance is as "
        "likely to lie anywhere between 0% and 100% as near 50%, so a number like this is no "
        "sign of a difference.",
    ]
    if field(bundle.decision.thresholds, "rope") is not None:
        out.append(rope_sentence(bundle, comp))
    return out


def history(bundle: AbBundle) -> str:
    """One line of key numbers for the experiment's history table."""
    bundle = with_arm_labels(bundle)
    decision = bundle.decision
    if decision.verdict == "withheld":
        # The size of the problem, never a chance of being better (it cannot be trusted).
        srm, units = bundle.srm, units_word(bundle)
        parts = []
        if field(srm, "applicable") and not srm.ok:
            # Short of the planned split of all units (the health box's first number).
            arms = bundle.metrics[0].arms
            short = [
                f"{a.name} {round(s):,} {units} short of the planned split"
                for a, s in zip(
                    arms, short_of_split(arms, field(srm, "expected", [])), strict=False
                )
                if round(s) > 0
            ]
            parts.append(
                f"Sample-ratio mismatch ({p_value(srm.p_value)})"
                + (f": {', '.join(short)}" if short else "")
            )
        exposures = field(bundle, "exposures")
        if exposures and not exposures.ok:
            parts.append(f"{exposures.multiple_arms:,} {units} in more than one arm")
        excluded = field(bundle, "excluded")
        if excluded and not excluded.ok:
            parts.append(
                f"{excluded.units:,} {units} left out ({relative(excluded.share, 1, False)})"
                if excluded.units
                else "events without a time left out"
            )
        return "; ".join(parts) or "Sampler checks failed"
    # The numbers the verdict read: the programme's where it decided.
    read = programme_words.as_decided(bundle)
    comp = {c.arm: c for c in read.metrics[0].comparisons}[bundle.primary]
    lift, fmt, places = lift_format(read.metrics[0], comp)
    line = planned.history_prefix(bundle) + (
        f"{comp.arm} vs {comp.vs}{programme_words.history_words(bundle)}: "
        + (
            # Groups observed, not assigned: higher and a difference, as the page says (review 9).
            f"{prob(comp.prob_better)} chance "
            f"{'higher' if read.metrics[0].higher_is_better else 'lower'}; relative difference "
            if bundle.observational
            else f"{prob(comp.prob_better)} chance better; lift "
        )
        + estimate(bundle, lift, fmt, places)
    )
    if stopped_by_guardrail(decision):
        line += (
            f"; guardrail {deciding_label(bundle)}: {prob(decision.prob_harm)} chance of harm "
            f"beyond {relative(decision.tolerated_harm, 1, False)}"
        )
    stop = stalled(bundle)
    if stop is not None:
        line += f"; traffic stopped: no new {units_word(bundle)} since {stop.last_exposure}"
    return line


def subject(bundle: AbBundle, text: Text) -> str:
    """The verdict as it ends an email subject: ``ship B``."""
    if bundle.decision.verdict == "ship":
        return f"ship {with_arm_labels(bundle).decision.arm}"
    return text.verdict_label[0].lower() + text.verdict_label[1:]


def _lower_first(sentence: str) -> str:
    return sentence[0].lower() + sentence[1:]
