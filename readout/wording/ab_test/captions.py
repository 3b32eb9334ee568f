"""Words of an A/B readout's figures: each chart's caption and alt text."""

from __future__ import annotations

from analyses.ab_test.programme import as_decided
from analyses.ab_test.results import AbBundle
from analyses.core.results import given
from readout.wording import programme as programme_words
from readout.wording.ab_test.common import (
    arm_word,
    comparison_of,
    control_word,
    lift_format,
    metric_name,
    metric_units,
    no_relative,
)
from readout.wording.ab_test.notes import (
    days_list,
    stalled,
)
from readout.wording.numbers import (
    estimate,
    field,
    hdi_range,
    interval,
    prob,
    rel_places,
    relative,
    span,
    width,
)
from readout.wording.pieces import Figure


def figures(bundle: AbBundle) -> dict[str, Figure]:
    """Each figure's caption and alt text, by its key in the bundle."""
    ci = interval(bundle)
    primary = bundle.metrics[0]
    name = metric_name(primary)
    units = metric_units(primary)
    word = "difference" if bundle.observational else "lift"
    side = "above" if primary.higher_is_better else "below"
    # A withheld verdict's charts are for diagnosis: said so, and no chance of a finding.
    withheld = bundle.decision.verdict == "withheld"
    diagnosis = "For diagnosis only (the verdict is withheld). " if withheld else ""
    parts = []
    for comp in bundle.metrics[0].comparisons:
        lift, fmt, places = lift_format(primary, comp)
        share = "" if withheld else f"{prob(comp.prob_better)} of the curve lies {side} zero, "
        parts.append(
            f"{comp.arm} over {comp.vs}: {share}" + hdi_range(bundle, lift.hdi, fmt, places)
        )
    relative_lift = all(c.lift_rel is not None for c in primary.comparisons)
    scale = "relative" if relative_lift else "absolute"
    why = "" if relative_lift else f" ({no_relative(bundle, primary, bundle.control)})"
    arm_parts = [
        f"{arm.name} {estimate(bundle, arm, units.value, units.places(width(arm)))}"
        for arm in bundle.metrics[0].arms
    ]
    out = {
        "lift": Figure(
            caption=(
                f"{diagnosis}Posterior of the {scale} {word} in {name} over "
                f"{control_word(bundle)}{why}. The shaded band is the {ci}; the dashed line "
                "marks no change."
            ),
            alt=f"Density chart of the {scale} {word} in {name}. " + "; ".join(parts) + ".",
        ),
        "arms": Figure(
            caption=f"{diagnosis}Posterior of each {arm_word(bundle)}'s {name}, with its {ci} "
            "shaded.",
            alt=f"Density chart of each {arm_word(bundle)}'s {name}: " + "; ".join(arm_parts) + ".",
        ),
    }
    if programme_words.verdict_by_programme(bundle) and relative_lift:
        out["lift"] = programme_lift_figure(bundle, name, ci, side)
    if field(bundle, "forecast") and bundle.decision.verdict == "keep_collecting":
        result = bundle.forecast
        out["forecast"] = Figure(
            caption=(
                f"The chance of a clear answer after {days_list(result.horizons)} more days "
                + (
                    "at the current traffic"
                    if stalled(bundle) is None
                    else "if traffic resumes at the rate it had (it has stopped)"
                )
                + ", split by the verdict it would be."
            ),
            alt="Bar chart of the chance of a verdict: "
            + "; ".join(f"{prob(h.prob_decision)} within {h.days} days" for h in result.horizons)
            + ".",
        )
    if len(bundle.metrics) > 1:
        arm = bundle.primary
        items = []
        # Where the programme decided, the primary's row is the estimate the verdict read.
        by_programme = programme_words.verdict_by_programme(bundle)
        read = programme_words.as_decided(bundle) if by_programme else bundle
        for metric in read.metrics:
            lift = comparison_of(metric, arm).lift_rel
            given_words = (
                " given the programme" if by_programme and metric.role == "primary" else ""
            )
            items.append(
                f"{metric.label}{given_words} ({metric.role}) "
                + (
                    f"{relative(lift.mean, rel_places(lift))} "
                    f"({span(lift.hdi, relative, rel_places(lift))})"
                    if lift is not None
                    else "relative lift not defined (control at 0)"
                )
            )
        out["scorecard"] = Figure(
            caption=(
                f"{diagnosis}Every metric's relative lift of {arm} over {bundle.control}: dot "
                f"and bar are the estimate and its {ci}, drawn toward better (a lower-is-better "
                "metric's change with its sign turned), so right is better for every metric; "
                "a red tick marks a guardrail's tolerated harm."
            ),
            alt=f"Interval chart of {len(bundle.metrics)} metrics' lifts: "
            + "; ".join(items)
            + ".",
        )
    return out


def programme_lift_figure(bundle: AbBundle, name: str, ci: str, side: str) -> Figure:
    """The lift chart's words where the programme decided.

    The chart draws the numbers the verdict read
    (:func:`analyses.ab_test.figures.programme_lift`), the experiment's own beside them.
    """
    primary = bundle.metrics[0]
    parts = []
    for comp in primary.comparisons:
        if not given(comp.programme):
            continue
        read = as_decided(comp)
        lift, fmt, places = lift_format(primary, read)
        parts.append(
            f"{comp.arm} over {comp.vs} given the programme: {prob(read.prob_better)} of the "
            f"curve lies {side} zero, "
            + hdi_range(bundle, lift.hdi, fmt, places)
            + f"; on its own, {prob(comp.prob_better)}"
        )
    experiments = bundle.programme_prior.experiments
    return Figure(
        caption=(
            f"Posterior of the relative lift in {name} over {control_word(bundle)} given this "
            f"programme's {experiments} experiments (solid, its {ci} shaded): what the verdict "
            "reads. The dotted curve is the experiment on its own; the dashed line marks no "
            "change."
        ),
        alt=f"Density chart of the relative lift in {name}. " + "; ".join(parts) + ".",
    )
