"""What every part of an ``ab_test`` readout's words shares.

Verdict and status labels, arm labels, units and the sentences of a comparison (lift, chance,
loss, ROPE, a metric's status).
"""

from __future__ import annotations

from analyses.ab_test.results import AbBundle, Comparison, Metric
from analyses.core.results import Summary, given
from readout.wording import common as shared
from readout.wording.numbers import (
    Formatter,
    Units,
    a_prob,
    between,
    capital,
    decimals_for,
    estimate,
    field,
    hdi_range,
    interval,
    number,
    rel_places,
    relative,
    signed,
    small,
    span,
    width,
)

VERDICT_LABELS = {
    "ship": "Ship",
    "keep_control": "Keep control",
    "keep_collecting": "Keep collecting data",
    "no_difference": "No meaningful difference",
    "withheld": "Verdict withheld",
    "higher": "Clearly higher",
    "lower": "Clearly lower",
    "unclear": "No clear difference yet",
    "aa_passed": "A/A check passed",
    "aa_failed": "A/A check failed",
    "no_clear_difference": "No clear difference",
}


def answers(bundle: AbBundle) -> str:
    """What the verdict answers, for the "How to read" box: shipping only in a randomised test."""
    if bundle.aa_test:
        return "whether the arms, which get the same experience, look alike as they should"
    if bundle.observational:
        return "how the groups differ (they were not assigned, so not why)"
    return "whether to ship"


#: How the failed health checks are named in the reason.
CHECK_NAMES = {
    "srm": "the sample-ratio check",
    "exposures": "the check for units in several arms",
    "excluded": "the check for units left out",
    "diagnostics": "the sampler diagnostics",
}


STATUS_WORDS = {
    "ok": "no harm beyond its tolerance",
    "harm": "harm beyond its tolerance",
    "unclear": "possible harm beyond its tolerance (not yet clear)",
    "better": "better",
    "worse": "worse",
}


def with_arm_labels(bundle: AbBundle) -> AbBundle:
    """The bundle with arm names replaced by the config's ``arm_labels`` (for wording only).

    Quantile metrics get their full names too ("90th percentile of each user's ...").
    """
    from readout.wording.ab_test.quantile import with_quantile_names

    bundle = with_quantile_names(bundle)
    labels = bundle.spec.get("arm_labels") or {}
    if not labels:
        return bundle

    def name(arm):
        return labels.get(arm, arm) if arm is not None else None

    def pair(record):
        return record.model_copy(update={"arm": name(record.arm), "vs": name(record.vs)})

    def relabel(metric):
        parts = field(metric, "parts")
        return metric.model_copy(
            update={
                "arms": tuple(a.model_copy(update={"name": name(a.name)}) for a in metric.arms),
                "comparisons": tuple(pair(c) for c in metric.comparisons),
                **({"parts": tuple(pair(p) for p in parts)} if parts else {}),
            }
        )

    update = {
        "control": name(bundle.control),
        "primary": name(bundle.primary),
        "decision": bundle.decision.model_copy(update={"arm": name(field(bundle.decision, "arm"))}),
        "frequentist": pair(bundle.frequentist),
        "metrics": tuple(relabel(m) for m in bundle.metrics),
    }
    if field(bundle, "sensitivity"):
        update["sensitivity"] = tuple(
            s.model_copy(update={"arm": name(s.arm)}) for s in bundle.sensitivity
        )
    return relabel(bundle).model_copy(update=update)


def metric_units(metric: Metric) -> Units:
    """How a metric's values are written: prefix, suffix, percent for rates."""
    return Units(
        prefix=field(metric, "value_prefix", "") or "",
        suffix=field(metric, "value_suffix", "") or "",
        percent=metric.kind == "binary",
    )


def metric_name(metric: Metric) -> str:
    """A metric as sentences name it (the typical value for a log-scale metric)."""
    if metric.kind == "log":
        return f"typical (geometric-mean) {metric.label}"
    return metric.label


def deciding_label(bundle: AbBundle) -> str:
    """The label of the guardrail that decided the verdict (the config calls it by its name)."""
    name = bundle.decision.deciding_metric
    return next((m.label for m in bundle.metrics if m.name == name), name)


def higher_word(metric: Metric) -> str:
    """The metric's good direction in a word: higher or lower."""
    return "higher" if metric.higher_is_better else "lower"


def metric_of(bundle: AbBundle, comp: Comparison) -> Metric:
    """The metric a comparison belongs to (the primary, unless found among the others)."""
    return next(
        (m for m in bundle.metrics if any(c is comp for c in m.comparisons)),
        bundle.metrics[0],
    )


def comparison_of(metric: Metric, arm: str) -> Comparison:
    """The metric's comparison of ``arm`` with the control."""
    return next(c for c in metric.comparisons if c.arm == arm)


def share_text(x: float, approx: bool = True) -> str:
    """A share such as an expected loss relative to the control: ``about 0.04%``, ``18%``.

    Two decimals below 1%, whole percents from there (a large loss needs no finer digits).
    """
    places = 0 if round(100 * x, 2) >= 1 else 2
    return small(100 * x, places, lambda v, p: number(v, p) + "%", approx)


def units_word(bundle: AbBundle, plural: bool = True) -> str:
    """What a unit is called ("users")."""
    word = field(bundle, "unit_label") or "user"
    return word + "s" if plural else word


def arm_word(bundle: AbBundle) -> str:
    """An arm, or a group for an observational comparison."""
    return "group" if bundle.observational else "arm"


def control_word(bundle: AbBundle) -> str:
    """The control, or the reference group for an observational comparison."""
    return "the reference group" if bundle.observational else "the control"


def _labels(bundle: AbBundle) -> dict[str, str]:
    return {m.name: m.label for m in bundle.metrics}


def left_out_clauses(bundle: AbBundle) -> list[str]:
    """Each reason units (and events) were left out, with its count (the shared clauses)."""
    return shared.left_out_clauses(bundle.excluded, units_word(bundle), _labels(bundle))


def left_out_sentence(bundle: AbBundle) -> str | None:
    """One sentence: how many units were left out, why, whether that matters (shared)."""
    excluded = field(bundle, "excluded")
    return shared.left_out_sentence(excluded, units_word(bundle), _labels(bundle))


def lift_format(metric: Metric, comp: Comparison) -> tuple[Summary, Formatter, int]:
    """The lift a comparison is read by, its formatter and decimals.

    Relative (``+12%``); absolute in the metric's units (``+0.4 percentage points``) where a
    relative lift is not defined, the control's value being 0.
    """
    rel = comp.lift_rel
    if rel is not None:
        return rel, relative, rel_places(rel)
    units = metric_units(metric)
    absolute = comp.lift_abs
    return absolute, units.diff, units.places(width(absolute))


def lift_text(bundle: AbBundle, metric: Metric, comp: Comparison, quoted: bool = True) -> str:
    """``+12% (94% HDI +8% to +16%)``, or its absolute form where relative is not defined."""
    lift, fmt, places = lift_format(metric, comp)
    if quoted:
        return f"{fmt(lift.mean, places)} ({hdi_range(bundle, lift.hdi, fmt, places)})"
    # In a table cell: percentage points as "pp".
    text = f"{fmt(lift.mean, places)} ({span(lift.hdi, fmt, places)})"
    return text.replace(" percentage points", " pp")


def no_relative(bundle: AbBundle, metric: Metric, vs: str) -> str:
    """Why a lift relative to the control is not defined, as a clause."""
    units = metric_units(metric)
    control = next(a for a in metric.arms if a.name == vs)
    name = metric_name(metric)
    if control.observed == 0:
        zero = f"{vs}'s {name} is 0 in these data"
        if metric.kind == "binary":
            zero = (
                f"none of {vs}'s {control.n:,} {units_word(bundle)} converted"
                if control.n > 1
                else f"{vs}'s only {units_word(bundle, False)} did not convert"
            )
        return f"{zero}, so a lift relative to it is not defined"
    places = units.places(width(control))
    return (
        f"{vs}'s {name} may be 0 or below ({interval(bundle)} "
        f"{span(control.hdi, units.value, places)}), so a lift relative to it is not defined"
    )


def lift_sentence(bundle: AbBundle, metric: Metric, comp: Comparison) -> str:
    """The HDI of the lift, in words a reader can act on."""
    ci, name = interval(bundle), metric_name(metric)
    units = metric_units(metric)
    arm, vs = comp.arm, comp.vs
    rel = comp.lift_rel
    if metric.kind == "log":
        ratio = [1 + h for h in rel.hdi]
        arms = {a.name: a for a in metric.arms}
        a_t, a_c = arms[arm], arms[vs]
        vplaces = units.places(width(a_t))
        diff, log = comp.lift_abs, comp.lift_log
        return (
            f"Given the data and our assumptions, there is a {ci[:3]} probability that the "
            f"{name} for {arm} is {between(ratio, number, decimals_for(ratio[1] - ratio[0]))} "
            f"times that for {vs} ({ci}): about "
            f"{units.value(a_t.mean, vplaces)} against {units.value(a_c.mean, vplaces)}, "
            f"a difference of {estimate(bundle, diff, units.diff, units.places(width(diff)))}. "
            "On the log scale the difference is "
            f"{estimate(bundle, log, signed(number), decimals_for(width(log)))}."
        )
    absolute = comp.lift_abs
    word = "difference" if bundle.observational else "lift"
    if rel is None:
        aplaces = units.places(width(absolute))
        return (
            f"{capital(no_relative(bundle, metric, vs))}. Given the data and our assumptions, "
            f"there is a {ci[:3]} probability that the true {word} of {arm} over {vs} in "
            f"{name} lies {between(absolute.hdi, units.diff, aplaces)} ({ci}; best estimate "
            f"{units.diff(absolute.mean, aplaces)})."
        )
    places = rel_places(rel)
    return (
        f"Given the data and our assumptions, there is a {ci[:3]} probability that the true "
        f"{word} of {arm} over {vs} lies {between(rel.hdi, relative, places)} ({ci}; best "
        f"estimate {relative(rel.mean, places)}), that is "
        f"{between(absolute.hdi, units.diff, units.places(width(absolute)))} in {name}."
    )


def chance_sentence(bundle: AbBundle, metric: Metric, comp: Comparison) -> str:
    """The probability of being better, in the metric's own direction."""
    name = metric_name(metric)
    direction = higher_word(metric)
    better = "" if metric.higher_is_better else " (better)"
    return (
        f"There is {a_prob(comp.prob_better)} chance that the {name} is {direction}{better} "
        f"for {comp.arm} than for {comp.vs}."
    )


def loss_sentence(bundle: AbBundle, metric: Metric, comp: Comparison) -> str:
    """The expected loss of shipping, on the same (relative) scale as its limit."""
    limit = bundle.decision.thresholds.max_expected_loss
    return (
        f"If we ship {comp.arm}, we expect to give up {share_text(comp.expected_loss_rel)} "
        f"of {comp.vs}'s {metric_name(metric)} on average (the limit is "
        f"{share_text(limit, False)}), allowing for the chance that {comp.arm} is in fact worse."
    )


def rope_sentence(bundle: AbBundle, comp: Comparison) -> str:
    """The chance that the lift is worth acting on, and that it is too small to matter."""
    rope = bundle.decision.thresholds.rope
    if not given(comp.prob_meaningful):  # no relative lift: the control's value is 0
        return (
            f"The minimum worthwhile effect of {relative(rope, 1)} is relative, and "
            f"{no_relative(bundle, metric_of(bundle, comp), comp.vs)}: it cannot be "
            "assessed here."
        )
    return (
        f"There is {a_prob(comp.prob_meaningful)} chance that the lift exceeds the "
        f"minimum worthwhile effect of {relative(rope, 1)}, and "
        f"{a_prob(comp.prob_in_rope)} chance that it lies within ±{relative(rope, 1, False)} "
        "(too small to matter)."
    )


def metric_status_sentence(bundle: AbBundle, metric: Metric, comp: Comparison) -> str:
    """A secondary metric or guardrail in one sentence: its lift and what it means."""
    status = metric.status
    name = capital(metric_name(metric))
    change = lift_text(bundle, metric, comp)
    if comp.lift_rel is None:
        change += f", as {no_relative(bundle, metric, comp.vs)}"
    if metric.role == "guardrail":
        tolerance = relative(metric.tolerated_harm, 1, False)
        harm = "rise" if not metric.higher_is_better else "fall"
        # A relative tolerance cannot be applied to a control at 0: any change counts as harm.
        beyond = "by more" if comp.lift_rel is not None else "at all"
        return (
            f"Guardrail {metric.label} (may {harm} by at most {tolerance}): {change}; "
            f"{a_prob(comp.prob_harm)} chance that it {harm}s {beyond}, so "
            f"{STATUS_WORDS[status]}."
        )
    better = "lower" if not metric.higher_is_better else "higher"
    return (
        f"{name} ({metric.role}): {change}; {a_prob(comp.prob_better)} chance it is "
        f"{better} for {comp.arm}."
    )
